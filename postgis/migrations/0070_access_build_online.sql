-- village_access is built without blocking writers (at national scale the
-- build takes minutes). The build turns `logging` on first — from then on
-- the triggers log every changed road and village, as they do while the
-- table is built — waits for the writers that began before (a brief SHARE
-- lock), then computes the table while writers go on; what they changed
-- meanwhile is in the log and applied after the build, exactly as after any
-- edit. A statement of more than 50 000 rows is not logged row by row: it
-- marks the table unbuilt (rebuilt next, faster than 50 000 updates) and,
-- like a TRUNCATE, bumps `generation`, so a build it overlapped is void and
-- done again.
ALTER TABLE lastmile.access_state
    ADD COLUMN logging    boolean NOT NULL DEFAULT false,
    ADD COLUMN generation bigint  NOT NULL DEFAULT 0;

-- One function for the insert, update and delete triggers (the rows
-- written are new_rows, or old_rows for a delete).
CREATE FUNCTION lastmile.access_log() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    IF NOT (SELECT built OR logging FROM lastmile.access_state) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        SELECT count(*) INTO n FROM old_rows;
    ELSE
        SELECT count(*) INTO n FROM new_rows;
    END IF;
    IF n > 50000 THEN
        UPDATE lastmile.access_state SET built = false, generation = generation + 1;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO lastmile.access_changes (layer, feature_id) SELECT TG_TABLE_NAME, id FROM old_rows;
    ELSE
        INSERT INTO lastmile.access_changes (layer, feature_id) SELECT TG_TABLE_NAME, id FROM new_rows;
    END IF;
    RETURN NULL;
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['roads', 'villages'] LOOP
        EXECUTE format($f$
            DROP TRIGGER %1$s_access_ins ON lastmile.%1$I;
            DROP TRIGGER %1$s_access_upd ON lastmile.%1$I;
            DROP TRIGGER %1$s_access_del ON lastmile.%1$I;
            CREATE TRIGGER %1$s_access_ins AFTER INSERT ON lastmile.%1$I
                REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lastmile.access_log();
            CREATE TRIGGER %1$s_access_upd AFTER UPDATE ON lastmile.%1$I
                REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lastmile.access_log();
            CREATE TRIGGER %1$s_access_del AFTER DELETE ON lastmile.%1$I
                REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION lastmile.access_log();
        $f$, t);
    END LOOP;
END
$$;
DROP FUNCTION lastmile.access_log_new();
DROP FUNCTION lastmile.access_log_old();

CREATE OR REPLACE FUNCTION lastmile.access_unbuild() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lastmile.access_state SET built = false, generation = generation + 1;
    RETURN NULL;
END
$$;
