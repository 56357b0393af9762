-- What each write through the feature API required of the feature's version
-- (issue 15): QGIS and other OGC API Features clients never send If-Match,
-- so a write without one is applied, and the history says it was
-- unconditional.
--
--   'if-match'  an If-Match with the feature's version (one of a list) matched
--   'any'       If-Match: * (the feature existed, at whatever version)
--   'none'      no If-Match: applied to the version it found (a create is
--               always 'none')
--   NULL        a write outside the feature API (an import, plain SQL), or
--               one made before this migration
--
-- The store sets lastmile.precondition in its transaction (like
-- lastmile.actor); record_history_rows copies it into each row it writes.
-- Rows already in the history keep NULL: nothing is rewritten.

ALTER TABLE lastmile.feature_history
    ADD COLUMN precondition text CHECK (precondition IN ('if-match', 'any', 'none'));

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
    SELECT string_agg(format('o.%I', attname), ', ' ORDER BY attnum),
           string_agg(format('n.%I', attname), ', ' ORDER BY attnum)
      INTO cols_o, cols_n
      FROM pg_attribute
     WHERE attrelid = TG_RELID AND attnum > 0 AND NOT attisdropped
       AND attname NOT IN ('geom', 'geom_3857');
    IF TG_OP = 'INSERT' THEN
        EXECUTE format($q$
            INSERT INTO lastmile.feature_history
                (layer, feature_id, op, version, old_row, new_row, old_geom, new_geom, actor, request_id, source, precondition)
            SELECT $1, n.id, 'insert', n.version, NULL, to_jsonb(nr), NULL, n.geom, $2, $3, $4, $5
              FROM new_rows n CROSS JOIN LATERAL (SELECT %s) nr$q$, cols_n)
        USING TG_TABLE_NAME, actor, request_id, source, precondition;
    ELSIF TG_OP = 'UPDATE' THEN
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
