-- Line overviews of water pipelines and power lines, built like
-- road_overview (0090) by the same code (tiles/overview.go, one line
-- overview per catalog layer that declares one): per county (the first 6
-- digits of admin_code, '' without one), per zoom band, per tile of the
-- band's first zoom (the one holding the line's centre) and per value of
-- the kept columns — the status, the class of the zoom rules' numeric field
-- (the highest threshold the value meets: diameter 300 / 100 mm, voltage
-- 35 / 10 kV) and, for power, the kind — the lines visible in the band,
-- each simplified in EPSG:3857 to a pixel of the band's last zoom, collected
-- into one MultiLineString with their number. Power points (transformers)
-- are drawn from the rows.
--
-- Kept current from overview_changes as road_overview is: overview_log now
-- logs the admin code and geometry of every layer but villages (which log
-- their admin code or code), and the triggers are added to both tables.
-- Overviews already built are rebuilt whole by the next refresh (the new
-- tables are empty).

CREATE TABLE lastmile.water_pipeline_overview (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    area           text NOT NULL,
    band           integer NOT NULL,
    cx             integer NOT NULL,
    cy             integer NOT NULL,
    minzoom        integer NOT NULL,
    status         text,
    diameter_class integer,
    pipelines      integer NOT NULL,
    geom_3857      geometry(MultiLineString, 3857) NOT NULL,
    UNIQUE NULLS NOT DISTINCT (area, band, cx, cy, status, diameter_class)
);
CREATE INDEX water_pipeline_overview_geom ON lastmile.water_pipeline_overview USING gist (geom_3857);
CREATE INDEX water_pipeline_overview_area ON lastmile.water_pipeline_overview (area);

CREATE TABLE lastmile.power_upgrade_overview (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    area          text NOT NULL,
    band          integer NOT NULL,
    cx            integer NOT NULL,
    cy            integer NOT NULL,
    minzoom       integer NOT NULL,
    kind          text,
    status        text,
    voltage_class double precision,
    lines         integer NOT NULL,
    geom_3857     geometry(MultiLineString, 3857) NOT NULL,
    UNIQUE NULLS NOT DISTINCT (area, band, cx, cy, kind, status, voltage_class)
);
CREATE INDEX power_upgrade_overview_geom ON lastmile.power_upgrade_overview USING gist (geom_3857);
CREATE INDEX power_upgrade_overview_area ON lastmile.power_upgrade_overview (area);

-- The rows of a cell (band, tile of the band's first zoom) in every county:
-- an archive update re-renders the tiles of the rows of the cells holding
-- its edits (a row's count changes in all its tiles).
CREATE INDEX road_overview_cell ON lastmile.road_overview (band, cx, cy);
CREATE INDEX water_pipeline_overview_cell ON lastmile.water_pipeline_overview (band, cx, cy);
CREATE INDEX power_upgrade_overview_cell ON lastmile.power_upgrade_overview (band, cx, cy);

CREATE OR REPLACE FUNCTION lastmile.overview_log() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    st lastmile.overview_state;
    n  bigint := 0;
BEGIN
    SELECT * INTO st FROM lastmile.overview_state;
    IF NOT st.built OR st.full_rebuild THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE lastmile.overview_state SET full_rebuild = true;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT count(*) INTO n FROM old_rows;
    ELSE
        SELECT count(*) INTO n FROM new_rows;
    END IF;
    IF n > 50000 THEN
        UPDATE lastmile.overview_state SET full_rebuild = true;
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME = 'villages' THEN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            INSERT INTO lastmile.overview_changes (layer, area) SELECT TG_TABLE_NAME, coalesce(admin_code, code, '') FROM old_rows;
        END IF;
        IF TG_OP IN ('UPDATE', 'INSERT') THEN
            INSERT INTO lastmile.overview_changes (layer, area) SELECT TG_TABLE_NAME, coalesce(admin_code, code, '') FROM new_rows;
        END IF;
    ELSE
        -- a line layer (roads, water_pipelines, power_upgrades): the
        -- geometry too (a road's finds the villages whose coverage it changes)
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            INSERT INTO lastmile.overview_changes (layer, area, geom_3857)
            SELECT TG_TABLE_NAME, coalesce(admin_code, ''), geom_3857 FROM old_rows;
        END IF;
        IF TG_OP IN ('UPDATE', 'INSERT') THEN
            INSERT INTO lastmile.overview_changes (layer, area, geom_3857)
            SELECT TG_TABLE_NAME, coalesce(admin_code, ''), geom_3857 FROM new_rows;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['water_pipelines', 'power_upgrades']
    LOOP
        EXECUTE format('CREATE TRIGGER %1$s_overview_ins AFTER INSERT ON lastmile.%1$I
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lastmile.overview_log()', t);
        EXECUTE format('CREATE TRIGGER %1$s_overview_upd AFTER UPDATE ON lastmile.%1$I
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lastmile.overview_log()', t);
        EXECUTE format('CREATE TRIGGER %1$s_overview_del AFTER DELETE ON lastmile.%1$I
            REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION lastmile.overview_log()', t);
        EXECUTE format('CREATE TRIGGER %1$s_overview_trunc AFTER TRUNCATE ON lastmile.%1$I
            FOR EACH STATEMENT EXECUTE FUNCTION lastmile.overview_log()', t);
    END LOOP;
END
$$;

UPDATE lastmile.overview_state SET full_rebuild = true WHERE built;
