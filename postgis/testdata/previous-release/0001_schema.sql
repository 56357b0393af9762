-- lastmile schema: the tables of DESIGN.md §3.
-- Geometry is stored in EPSG:4326 (geom) with a generated Web Mercator copy
-- for tiles (geom_3857) and, on line layers, a generated geodesic length.

CREATE EXTENSION IF NOT EXISTS postgis SCHEMA public;
CREATE EXTENSION IF NOT EXISTS pgrouting SCHEMA public;

-- Common columns, copied into every table with LIKE … INCLUDING ALL and
-- dropped at the end of this migration.
CREATE TABLE lastmile.common_columns (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ext_id       text UNIQUE,
    name         text,
    admin_code   text CHECK (admin_code ~ '^[0-9]{12}$'),
    status       text NOT NULL DEFAULT 'completed'
                 CHECK (status IN ('planned', 'under_construction', 'completed', 'cancelled')),
    started_on   date,
    completed_on date,
    funding_yuan numeric(14,2) CHECK (funding_yuan >= 0),
    props        jsonb NOT NULL DEFAULT '{}'::jsonb,
    version      integer NOT NULL DEFAULT 1,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    updated_by   text,
    CONSTRAINT completed_after_started CHECK (completed_on IS NULL OR started_on IS NULL OR completed_on >= started_on)
);

CREATE TABLE lastmile.roads (
    LIKE lastmile.common_columns INCLUDING ALL,
    road_class text CHECK (road_class IN ('county', 'township', 'village', 'group')),
    tech_grade text CHECK (tech_grade IN ('expressway', 'class1', 'class2', 'class3', 'class4', 'substandard')),
    surface    text CHECK (surface IN ('earth', 'gravel', 'stone', 'cement', 'asphalt')),
    width_m    double precision CHECK (width_m >= 0 AND width_m <= 100),
    geom       geometry(Geometry, 4326) NOT NULL
               CHECK (GeometryType(geom) IN ('LINESTRING', 'MULTILINESTRING'))
);

CREATE TABLE lastmile.water_pipelines (
    LIKE lastmile.common_columns INCLUDING ALL,
    diameter_mm       integer CHECK (diameter_mm >= 0 AND diameter_mm <= 5000),
    material          text,
    households_served integer CHECK (households_served >= 0),
    source_name       text,
    geom              geometry(Geometry, 4326) NOT NULL
                      CHECK (GeometryType(geom) IN ('LINESTRING', 'MULTILINESTRING'))
);

CREATE TABLE lastmile.power_upgrades (
    LIKE lastmile.common_columns INCLUDING ALL,
    kind         text NOT NULL CHECK (kind IN ('line', 'transformer')),
    voltage_kv   double precision CHECK (voltage_kv >= 0 AND voltage_kv <= 1100),
    capacity_kva double precision CHECK (capacity_kva >= 0),
    geom         geometry(Geometry, 4326) NOT NULL
                 CHECK (GeometryType(geom) IN ('LINESTRING', 'MULTILINESTRING', 'POINT'))
);

CREATE TABLE lastmile.house_renovations (
    LIKE lastmile.common_columns INCLUDING ALL,
    danger_grade text CHECK (danger_grade IN ('C', 'D')),
    work         text CHECK (work IN ('repair', 'rebuild')),
    households   integer CHECK (households >= 0),
    persons      integer CHECK (persons >= 0),
    subsidy_yuan numeric(14,2) CHECK (subsidy_yuan >= 0),
    geom         geometry(Point, 4326) NOT NULL
);

CREATE TABLE lastmile.relocation_sites (
    LIKE lastmile.common_columns INCLUDING ALL,
    capacity_households  integer CHECK (capacity_households >= 0),
    relocated_households integer CHECK (relocated_households >= 0),
    facilities           text,
    geom                 geometry(Geometry, 4326) NOT NULL
                         CHECK (GeometryType(geom) IN ('POLYGON', 'MULTIPOLYGON', 'POINT'))
);

CREATE TABLE lastmile.villages (
    LIKE lastmile.common_columns INCLUDING ALL,
    code            text CHECK (code ~ '^[0-9]{12}$'),
    population      integer CHECK (population >= 0),
    poor_households integer CHECK (poor_households >= 0),
    poor_population integer CHECK (poor_population >= 0),
    is_poor_village boolean,
    geom            geometry(Point, 4326) NOT NULL
);

CREATE TABLE lastmile.admin_areas (
    LIKE lastmile.common_columns INCLUDING ALL,
    level       text NOT NULL CHECK (level IN ('province', 'prefecture', 'county', 'township', 'village')),
    code        text NOT NULL UNIQUE CHECK (code ~ '^[0-9]{12}$'),
    parent_code text CHECK (parent_code ~ '^[0-9]{12}$'),
    geom        geometry(MultiPolygon, 4326) NOT NULL
);

CREATE TABLE lastmile.hazard_zones (
    LIKE lastmile.common_columns INCLUDING ALL,
    kind     text NOT NULL CHECK (kind IN ('landslide', 'debris_flow', 'flood', 'subsidence')),
    severity text CHECK (severity IN ('low', 'medium', 'high')),
    geom     geometry(MultiPolygon, 4326) NOT NULL
);

CREATE TABLE lastmile.facilities (
    LIKE lastmile.common_columns INCLUDING ALL,
    kind text NOT NULL CHECK (kind IN ('school', 'clinic', 'hospital', 'market', 'bus_stop', 'water_source')),
    geom geometry(Point, 4326) NOT NULL
);

DROP TABLE lastmile.common_columns;

-- Every insert, update and delete of an asset table leaves a row here.
CREATE TABLE lastmile.feature_history (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    layer      text NOT NULL,
    feature_id bigint NOT NULL,
    op         text NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
    version    integer NOT NULL,
    old_row    jsonb,
    new_row    jsonb,
    old_geom   geometry(Geometry, 4326),
    new_geom   geometry(Geometry, 4326),
    actor      text NOT NULL,
    request_id text,
    source     text,
    at         timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX feature_history_feature ON lastmile.feature_history (layer, feature_id, id);

-- Columns the server maintains, left out when comparing rows.
CREATE FUNCTION lastmile.row_content(r jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT r - 'version' - 'updated_at' - 'updated_by' - 'geom_3857' - 'length_m'
$$;

CREATE FUNCTION lastmile.current_actor() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('lastmile.actor', true), ''), session_user::text)
$$;

-- Before a write: keep version, updated_at and updated_by honest whoever
-- writes (API, import or plain SQL). An update that changes nothing is
-- skipped, so re-importing the same file changes nothing.
CREATE FUNCTION lastmile.stamp_row() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF lastmile.row_content(to_jsonb(NEW)) = lastmile.row_content(to_jsonb(OLD)) THEN
            RETURN NULL;
        END IF;
        NEW.version := OLD.version + 1;
    ELSE
        NEW.version := 1;
    END IF;
    NEW.updated_at := now();
    NEW.updated_by := lastmile.current_actor();
    RETURN NEW;
END
$$;

-- After a write: record it.
CREATE FUNCTION lastmile.record_history() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    o jsonb;
    n jsonb;
BEGIN
    IF TG_OP <> 'INSERT' THEN o := to_jsonb(OLD) - 'geom' - 'geom_3857'; END IF;
    IF TG_OP <> 'DELETE' THEN n := to_jsonb(NEW) - 'geom' - 'geom_3857'; END IF;
    INSERT INTO lastmile.feature_history
        (layer, feature_id, op, version, old_row, new_row, old_geom, new_geom, actor, request_id, source)
    VALUES (
        TG_TABLE_NAME,
        coalesce((n ->> 'id')::bigint, (o ->> 'id')::bigint),
        lower(TG_OP),
        coalesce((n ->> 'version')::int, (o ->> 'version')::int),
        o, n,
        CASE WHEN TG_OP <> 'INSERT' THEN OLD.geom END,
        CASE WHEN TG_OP <> 'DELETE' THEN NEW.geom END,
        lastmile.current_actor(),
        nullif(current_setting('lastmile.request_id', true), ''),
        nullif(current_setting('lastmile.source', true), '')
    );
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
            ALTER TABLE lastmile.%1$I
                ADD CONSTRAINT %1$s_geom_valid CHECK (ST_IsValid(geom)),
                ADD CONSTRAINT %1$s_geom_not_empty CHECK (NOT ST_IsEmpty(geom)),
                ADD CONSTRAINT %1$s_geom_in_range CHECK (
                    ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180 AND
                    ST_YMin(geom) >= -85.0511 AND ST_YMax(geom) <= 85.0511),
                ADD COLUMN geom_3857 geometry(Geometry, 3857)
                    GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED;
            CREATE INDEX %1$s_geom ON lastmile.%1$I USING gist (geom);
            CREATE INDEX %1$s_geom_3857 ON lastmile.%1$I USING gist (geom_3857);
            CREATE INDEX %1$s_geog ON lastmile.%1$I USING gist ((geom::geography));
            CREATE INDEX %1$s_status ON lastmile.%1$I (status, completed_on);
            CREATE TRIGGER %1$s_stamp BEFORE INSERT OR UPDATE ON lastmile.%1$I
                FOR EACH ROW EXECUTE FUNCTION lastmile.stamp_row();
            CREATE TRIGGER %1$s_history AFTER INSERT OR UPDATE OR DELETE ON lastmile.%1$I
                FOR EACH ROW EXECUTE FUNCTION lastmile.record_history();
        $f$, t);
    END LOOP;
END
$$;

-- Geodesic length of line features, in metres on the WGS84 ellipsoid.
ALTER TABLE lastmile.roads
    ADD COLUMN length_m double precision GENERATED ALWAYS AS (ST_Length(geom::geography)) STORED;
ALTER TABLE lastmile.water_pipelines
    ADD COLUMN length_m double precision GENERATED ALWAYS AS (ST_Length(geom::geography)) STORED;
ALTER TABLE lastmile.power_upgrades
    ADD COLUMN length_m double precision GENERATED ALWAYS AS (ST_Length(geom::geography)) STORED;
