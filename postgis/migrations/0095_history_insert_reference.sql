-- An insert's history row refers to the inserted row instead of copying it
-- (issue 19): a first load of 1 M roads no longer writes a second copy of
-- every row as jsonb and of every geometry into feature_history.
--
-- From now on the history row of an INSERT has new_row and new_geom NULL
-- (the rows written before keep their copies: an insert recorded by 0001 or
-- 0040 always has new_row). Its image is not lost, because nothing changes
-- without history: the inserted row stays as it was until the next write of
-- that feature, whose history row holds it as its old image (old_row,
-- old_geom); a feature not written since is still that row in its table.
-- The view lastmile.feature_history_full reads the history as it was
-- recorded before (the same columns, the same values), taking an insert's
-- image from the next history row of the feature or, when there is none,
-- from the layer's table; every reader of history images reads it.
--
-- Writes that bypass the triggers would break this; the ones lastmile knows
-- of are handled: a TRUNCATE of a layer (no delete rows) first copies the
-- images in (feature_history_materialize, a BEFORE TRUNCATE trigger), and so
-- does every later migration before it runs (postgis.Migrate), since one may
-- add, drop or retype a layer's columns and change what the table shows.

DO $$
DECLARE
    t text;
    cur text := '';
BEGIN
    -- the current row, one branch per layer table (each runs only for
    -- its layer's rows: a one-time filter on h.layer)
    FOREACH t IN ARRAY ARRAY['roads', 'water_pipelines', 'power_upgrades', 'house_renovations',
                             'relocation_sites', 'villages', 'admin_areas', 'hazard_zones', 'facilities']
    LOOP
        cur := cur || CASE WHEN cur = '' THEN '' ELSE ' UNION ALL ' END || format(
            'SELECT to_jsonb(t) - ''geom'' - ''geom_3857'', t.geom FROM lastmile.%1$I t WHERE h.layer = %1$L AND t.id = h.feature_id', t);
    END LOOP;
    EXECUTE format($v$
        CREATE VIEW lastmile.feature_history_full AS
        SELECT h.id, h.layer, h.feature_id, h.op, h.version, h.old_row,
               CASE WHEN NOT i.ref THEN h.new_row WHEN nx.id IS NOT NULL THEN nx.old_row ELSE c.row_image END AS new_row,
               h.old_geom,
               (CASE WHEN NOT i.ref THEN h.new_geom WHEN nx.id IS NOT NULL THEN nx.old_geom ELSE c.geom END)::geometry(Geometry, 4326) AS new_geom,
               h.actor, h.request_id, h.source, h.at, h.precondition
          FROM lastmile.feature_history h
               CROSS JOIN LATERAL (SELECT h.op = 'insert' AND h.new_row IS NULL AS ref) i
               LEFT JOIN LATERAL (
                   SELECT n.id, n.old_row, n.old_geom FROM lastmile.feature_history n
                    WHERE i.ref AND n.layer = h.layer AND n.feature_id = h.feature_id AND n.id > h.id
                    ORDER BY n.id LIMIT 1) nx ON true
               LEFT JOIN LATERAL (
                   SELECT * FROM (%s) c(row_image, geom) WHERE i.ref AND nx.id IS NULL) c ON true
    $v$, cur);
END
$$;

COMMENT ON VIEW lastmile.feature_history_full IS
    'feature_history with every insert''s row image and geometry (an insert recorded since migration 0095 refers to them: the next history row of the feature or its current row)';

-- Copies the images of the inserts of layer (every layer when NULL) into
-- their history rows; returns how many.
CREATE FUNCTION lastmile.feature_history_materialize(p_layer text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    UPDATE lastmile.feature_history h
       SET new_row = f.new_row, new_geom = f.new_geom
      FROM lastmile.feature_history_full f
     WHERE f.id = h.id AND h.op = 'insert' AND h.new_row IS NULL AND f.new_row IS NOT NULL
       AND (p_layer IS NULL OR h.layer = p_layer);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

CREATE FUNCTION lastmile.history_before_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM lastmile.feature_history_materialize(TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION lastmile.record_history_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    cols_o text;
    cols_n text;
    actor text := lastmile.current_actor();
    request_id text := nullif(current_setting('lastmile.request_id', true), '');
    source text := nullif(current_setting('lastmile.source', true), '');
    precondition text := nullif(current_setting('lastmile.precondition', true), '');
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- no image: the row itself (see feature_history_full)
        INSERT INTO lastmile.feature_history
            (layer, feature_id, op, version, actor, request_id, source, precondition)
        SELECT TG_TABLE_NAME, n.id, 'insert', n.version, actor, request_id, source, precondition
          FROM new_rows n;
        RETURN NULL;
    END IF;
    SELECT string_agg(format('o.%I', attname), ', ' ORDER BY attnum),
           string_agg(format('n.%I', attname), ', ' ORDER BY attnum)
      INTO cols_o, cols_n
      FROM pg_attribute
     WHERE attrelid = TG_RELID AND attnum > 0 AND NOT attisdropped
       AND attname NOT IN ('geom', 'geom_3857');
    IF TG_OP = 'UPDATE' THEN
        EXECUTE format($q$
            INSERT INTO lastmile.feature_history
                (layer, feature_id, op, version, old_row, new_row, old_geom, new_geom, actor, request_id, source, precondition)
            SELECT $1, n.id, 'update', n.version, to_jsonb(orow), to_jsonb(nr), o.geom, n.geom, $2, $3, $4, $5
              FROM old_rows o JOIN new_rows n ON n.id = o.id
                   CROSS JOIN LATERAL (SELECT %s) orow CROSS JOIN LATERAL (SELECT %s) nr$q$, cols_o, cols_n)
        USING TG_TABLE_NAME, actor, request_id, source, precondition;
    ELSE
        EXECUTE format($q$
            INSERT INTO lastmile.feature_history
                (layer, feature_id, op, version, old_row, new_row, old_geom, new_geom, actor, request_id, source, precondition)
            SELECT $1, o.id, 'delete', o.version, to_jsonb(orow), NULL, o.geom, NULL, $2, $3, $4, $5
              FROM old_rows o CROSS JOIN LATERAL (SELECT %s) orow$q$, cols_o)
        USING TG_TABLE_NAME, actor, request_id, source, precondition;
    END IF;
    RETURN NULL;
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['roads', 'water_pipelines', 'power_upgrades', 'house_renovations',
                             'relocation_sites', 'villages', 'admin_areas', 'hazard_zones', 'facilities']
    LOOP
        EXECUTE format('CREATE TRIGGER %1$s_history_trunc BEFORE TRUNCATE ON lastmile.%1$I
            FOR EACH STATEMENT EXECUTE FUNCTION lastmile.history_before_truncate()', t);
    END LOOP;
END
$$;
