-- village_access is built without blocking writers (at national scale the
-- build takes minutes). The build turns `logging` on first — from then on
-- the triggers log every changed road and village, as they do while the
-- table is built — waits for the writers that began before (a brief SHARE
-- lock), then computes the table while writers go on; what they changed
-- meanwhile is in the log and applied after the build, exactly as after any
-- edit. What cannot be logged (a statement of more than 50 000 rows, a
-- TRUNCATE) bumps `generation`: a build it overlapped is void and done again.
ALTER TABLE lastmile.access_state
    ADD COLUMN logging    boolean NOT NULL DEFAULT false,
    ADD COLUMN generation bigint  NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION lastmile.access_log_new() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT built OR logging FROM lastmile.access_state) THEN
        IF (SELECT count(*) FROM new_rows) > 50000 THEN
            UPDATE lastmile.access_state SET built = false, generation = generation + 1;
        ELSE
            INSERT INTO lastmile.access_changes (layer, feature_id) SELECT TG_TABLE_NAME, id FROM new_rows;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION lastmile.access_log_old() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT built OR logging FROM lastmile.access_state) THEN
        IF (SELECT count(*) FROM old_rows) > 50000 THEN
            UPDATE lastmile.access_state SET built = false, generation = generation + 1;
        ELSE
            INSERT INTO lastmile.access_changes (layer, feature_id) SELECT TG_TABLE_NAME, id FROM old_rows;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION lastmile.access_unbuild() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lastmile.access_state SET built = false, generation = generation + 1;
    RETURN NULL;
END
$$;
