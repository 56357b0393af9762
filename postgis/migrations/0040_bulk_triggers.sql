-- Bulk-friendly stamp and history triggers (issue 5): the same guarantees as
-- 0001 — version, updated_at and updated_by are honest whoever writes, an
-- update that changes nothing is skipped, every insert, update and delete
-- leaves one feature_history row with the same contents — at a fraction of
-- the cost per row of a bulk statement.
--
-- * Inserts are stamped by column defaults (version 1, now(), the actor);
--   the BEFORE INSERT trigger only runs, through its WHEN clause, for a
--   writer that supplies other values, and overwrites them.
-- * Updates keep a row-level BEFORE trigger (it must bump NEW.version and
--   skip no-op updates), but it no longer turns the geometries into JSON:
--   to_jsonb of a geometry is ST_AsGeoJSON, four of them per row in 0001.
--   The geometry is compared with = (exact), the rest as jsonb.
-- * History is written once per statement from the transition tables, one
--   INSERT … SELECT instead of a plpgsql call and an INSERT per row, again
--   without turning geometries into JSON: the row images are built from the
--   table's columns other than geom and geom_3857.
-- * Feature ids are stable: an update may not change id (history pairs the
--   old and new images of a row by id, and history, access and routing
--   tables refer to features by id).

CREATE FUNCTION lastmile.stamp_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := 1;
    NEW.updated_at := now();
    NEW.updated_by := lastmile.current_actor();
    RETURN NEW;
END
$$;

CREATE FUNCTION lastmile.stamp_update() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    o record;
    n record;
BEGIN
    IF NEW.id IS DISTINCT FROM OLD.id THEN
        RAISE EXCEPTION 'the id of a % feature cannot change', TG_TABLE_NAME
            USING ERRCODE = 'check_violation', COLUMN = 'id', TABLE = TG_TABLE_NAME;
    END IF;
    IF NEW.geom IS NOT DISTINCT FROM OLD.geom THEN
        o := OLD;
        n := NEW;
        o.geom := NULL;
        o.geom_3857 := NULL;
        n.geom := NULL;
        n.geom_3857 := NULL;
        IF lastmile.row_content(to_jsonb(n)) = lastmile.row_content(to_jsonb(o)) THEN
            RETURN NULL;
        END IF;
    END IF;
    NEW.version := OLD.version + 1;
    NEW.updated_at := now();
    NEW.updated_by := lastmile.current_actor();
    RETURN NEW;
END
$$;

-- After an INSERT, UPDATE or DELETE statement: one history row per row
-- written, from the transition tables new_rows and old_rows.
CREATE FUNCTION lastmile.record_history_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    cols_o text;
    cols_n text;
    actor text := lastmile.current_actor();
    request_id text := nullif(current_setting('lastmile.request_id', true), '');
    source text := nullif(current_setting('lastmile.source', true), '');
BEGIN
    SELECT string_agg(format('o.%I', attname), ', ' ORDER BY attnum),
           string_agg(format('n.%I', attname), ', ' ORDER BY attnum)
      INTO cols_o, cols_n
      FROM pg_attribute
     WHERE attrelid = TG_RELID AND attnum > 0 AND NOT attisdropped
       AND attname NOT IN ('geom', 'geom_3857');
    IF TG_OP = 'INSERT' THEN
        EXECUTE format($q$
            INSERT INTO lastmile.feature_history
                (layer, feature_id, op, version, old_row, new_row, old_geom, new_geom, actor, request_id, source)
            SELECT $1, n.id, 'insert', n.version, NULL, to_jsonb(nr), NULL, n.geom, $2, $3, $4
              FROM new_rows n CROSS JOIN LATERAL (SELECT %s) nr$q$, cols_n)
        USING TG_TABLE_NAME, actor, request_id, source;
    ELSIF TG_OP = 'UPDATE' THEN
        EXECUTE format($q$
            INSERT INTO lastmile.feature_history
                (layer, feature_id, op, version, old_row, new_row, old_geom, new_geom, actor, request_id, source)
            SELECT $1, n.id, 'update', n.version, to_jsonb(orow), to_jsonb(nr), o.geom, n.geom, $2, $3, $4
              FROM old_rows o JOIN new_rows n ON n.id = o.id
                   CROSS JOIN LATERAL (SELECT %s) orow CROSS JOIN LATERAL (SELECT %s) nr$q$, cols_o, cols_n)
        USING TG_TABLE_NAME, actor, request_id, source;
    ELSE
        EXECUTE format($q$
            INSERT INTO lastmile.feature_history
                (layer, feature_id, op, version, old_row, new_row, old_geom, new_geom, actor, request_id, source)
            SELECT $1, o.id, 'delete', o.version, to_jsonb(orow), NULL, o.geom, NULL, $2, $3, $4
              FROM old_rows o CROSS JOIN LATERAL (SELECT %s) orow$q$, cols_o)
        USING TG_TABLE_NAME, actor, request_id, source;
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
        EXECUTE format($f$
            DROP TRIGGER %1$s_stamp ON lastmile.%1$I;
            DROP TRIGGER %1$s_history ON lastmile.%1$I;
            ALTER TABLE lastmile.%1$I ALTER COLUMN updated_by SET DEFAULT lastmile.current_actor();
            CREATE TRIGGER %1$s_stamp BEFORE INSERT ON lastmile.%1$I
                FOR EACH ROW
                WHEN (NEW.version IS DISTINCT FROM 1 OR NEW.updated_at IS DISTINCT FROM now()
                      OR NEW.updated_by IS DISTINCT FROM lastmile.current_actor())
                EXECUTE FUNCTION lastmile.stamp_insert();
            CREATE TRIGGER %1$s_stamp_upd BEFORE UPDATE ON lastmile.%1$I
                FOR EACH ROW EXECUTE FUNCTION lastmile.stamp_update();
            CREATE TRIGGER %1$s_history AFTER INSERT ON lastmile.%1$I
                REFERENCING NEW TABLE AS new_rows
                FOR EACH STATEMENT EXECUTE FUNCTION lastmile.record_history_rows();
            CREATE TRIGGER %1$s_history_upd AFTER UPDATE ON lastmile.%1$I
                REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                FOR EACH STATEMENT EXECUTE FUNCTION lastmile.record_history_rows();
            CREATE TRIGGER %1$s_history_del AFTER DELETE ON lastmile.%1$I
                REFERENCING OLD TABLE AS old_rows
                FOR EACH STATEMENT EXECUTE FUNCTION lastmile.record_history_rows();
        $f$, t);
    END LOOP;
END
$$;

DROP FUNCTION lastmile.stamp_row();
DROP FUNCTION lastmile.record_history();
