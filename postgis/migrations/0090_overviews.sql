-- Overviews: the generalised features low-zoom tiles draw instead of rows
-- (layer/zoom.go declares them; tiles/overview.go fills them).
--
-- road_overview holds, per county (the first 6 digits of a road's
-- admin_code, '' without one), per zoom band, per tile of the band's first
-- zoom (the one holding the road's centre) and per value of the kept
-- fields, the roads visible in that band collected into one line, each road
-- simplified in EPSG:3857 to a pixel of the band's last zoom (for drawing
-- only: lengths are never read from it). village_overview holds one point
-- per county and per township (the first 6 or 9 digits of a village's
-- admin_code, else of its own code) with its villages, population and villages
-- within 2 km (geodesic) of an all-season road.
--
-- Both are built on first use (overview_state.built) and then kept current
-- from overview_changes: while built, statement triggers on roads and
-- villages log the areas (and, for roads, the geometries) that a write
-- touched; the next refresh recomputes only those areas. A statement that
-- writes more than 50 000 rows, or a TRUNCATE, asks for a full rebuild.

CREATE TABLE lastmile.overview_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    built     boolean NOT NULL DEFAULT false,
    full_rebuild boolean NOT NULL DEFAULT false,
    built_at  timestamptz
);
INSERT INTO lastmile.overview_state DEFAULT VALUES;

CREATE TABLE lastmile.overview_changes (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    layer     text NOT NULL,
    area      text NOT NULL,                -- the feature's admin_code ('' without one)
    geom_3857 geometry(Geometry, 3857)      -- roads: the geometry written or removed
);

CREATE TABLE lastmile.road_overview (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    area       text NOT NULL,
    band       integer NOT NULL,
    cx         integer NOT NULL,   -- the tile of zoom band holding the road's centre:
    cy         integer NOT NULL,   -- one row never spans much more than a tile
    minzoom    integer NOT NULL,
    road_class text,
    tech_grade text,
    surface    text,
    status     text,
    roads      integer NOT NULL,
    geom_3857  geometry(MultiLineString, 3857) NOT NULL,
    UNIQUE NULLS NOT DISTINCT (area, band, cx, cy, road_class, tech_grade, surface, status)
);
CREATE INDEX road_overview_geom ON lastmile.road_overview USING gist (geom_3857);
CREATE INDEX road_overview_area ON lastmile.road_overview (area);

CREATE TABLE lastmile.village_overview (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    level      text NOT NULL,
    code       text NOT NULL,
    name       text,
    villages   integer NOT NULL,
    population bigint NOT NULL,
    covered    integer NOT NULL,
    geom_3857  geometry(Point, 3857) NOT NULL,
    UNIQUE (level, code)
);
CREATE INDEX village_overview_geom ON lastmile.village_overview USING gist (geom_3857);

CREATE FUNCTION lastmile.overview_log() RETURNS trigger
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
    IF TG_TABLE_NAME = 'roads' THEN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            INSERT INTO lastmile.overview_changes (layer, area, geom_3857)
            SELECT 'roads', coalesce(admin_code, ''), geom_3857 FROM old_rows;
        END IF;
        IF TG_OP IN ('UPDATE', 'INSERT') THEN
            INSERT INTO lastmile.overview_changes (layer, area, geom_3857)
            SELECT 'roads', coalesce(admin_code, ''), geom_3857 FROM new_rows;
        END IF;
    ELSE
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            INSERT INTO lastmile.overview_changes (layer, area) SELECT TG_TABLE_NAME, coalesce(admin_code, code, '') FROM old_rows;
        END IF;
        IF TG_OP IN ('UPDATE', 'INSERT') THEN
            INSERT INTO lastmile.overview_changes (layer, area) SELECT TG_TABLE_NAME, coalesce(admin_code, code, '') FROM new_rows;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['roads', 'villages']
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
