-- Routing graph for network coverage (stats, method=network).
--
-- route_edges holds one edge per linestring part of every road that is not
-- cancelled; route_vertices the distinct part endpoints (rounded to 1e-7°,
-- about 1 cm). Roads are noded at shared endpoints only: two roads that cross
-- without sharing a vertex are not connected. Edge cost is the geodesic
-- length in metres (ST_Length on geography), the same in both directions.
--
-- Any write to roads (including imports and plain SQL) bumps
-- route_graph_state.generation through a statement trigger; the graph is
-- stale while generation > built_generation, and the next network query
-- rebuilds it with lastmile.route_graph_rebuild(). Counting generations
-- (rather than a dirty flag) keeps an edit that commits during a rebuild
-- from being lost.

CREATE TABLE lastmile.route_vertices (
    id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    x    double precision NOT NULL,
    y    double precision NOT NULL,
    UNIQUE (x, y)
);

CREATE TABLE lastmile.route_edges (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    road_id bigint NOT NULL,
    part    integer NOT NULL,
    source  bigint NOT NULL,
    target  bigint NOT NULL,
    cost    double precision NOT NULL,
    -- copied from the road so that snapping (KNN on the geography index)
    -- filters on this table alone
    status       text NOT NULL,
    completed_on date,
    geom    geometry(LineString, 4326) NOT NULL
);
CREATE INDEX route_edges_road ON lastmile.route_edges (road_id);
CREATE INDEX route_edges_geog ON lastmile.route_edges USING gist ((geom::geography));

CREATE TABLE lastmile.route_graph_state (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    generation       bigint NOT NULL DEFAULT 1,
    built_generation bigint NOT NULL DEFAULT 0,
    built_at   timestamptz,
    edges      bigint NOT NULL DEFAULT 0,
    vertices   bigint NOT NULL DEFAULT 0
);
INSERT INTO lastmile.route_graph_state DEFAULT VALUES;

CREATE FUNCTION lastmile.route_graph_mark_dirty() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lastmile.route_graph_state SET generation = generation + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER roads_route_graph_dirty
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON lastmile.roads
    FOR EACH STATEMENT EXECUTE FUNCTION lastmile.route_graph_mark_dirty();

-- Rebuilds the graph from roads when it is stale (or always with force).
-- Serialised by an advisory lock; returns true when it rebuilt.
CREATE FUNCTION lastmile.route_graph_rebuild(force boolean DEFAULT false) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    g bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(7283746);
    SELECT generation INTO g FROM lastmile.route_graph_state;
    IF NOT force AND g <= (SELECT built_generation FROM lastmile.route_graph_state) THEN
        RETURN false;
    END IF;
    TRUNCATE lastmile.route_edges, lastmile.route_vertices RESTART IDENTITY;
    CREATE TEMP TABLE route_parts ON COMMIT DROP AS
        SELECT r.id AS road_id, d.path[1] AS part, d.geom, r.status, r.completed_on,
               round(ST_X(ST_StartPoint(d.geom))::numeric, 7)::float8 AS x1,
               round(ST_Y(ST_StartPoint(d.geom))::numeric, 7)::float8 AS y1,
               round(ST_X(ST_EndPoint(d.geom))::numeric, 7)::float8 AS x2,
               round(ST_Y(ST_EndPoint(d.geom))::numeric, 7)::float8 AS y2
        FROM lastmile.roads r, ST_Dump(ST_Multi(r.geom)) d
        WHERE r.status <> 'cancelled';
    INSERT INTO lastmile.route_vertices (x, y)
        SELECT x1, y1 FROM route_parts UNION SELECT x2, y2 FROM route_parts;
    INSERT INTO lastmile.route_edges (road_id, part, source, target, cost, status, completed_on, geom)
        SELECT p.road_id, p.part, vs.id, vt.id, ST_Length(p.geom::geography), p.status, p.completed_on, p.geom
        FROM route_parts p
        JOIN lastmile.route_vertices vs ON vs.x = p.x1 AND vs.y = p.y1
        JOIN lastmile.route_vertices vt ON vt.x = p.x2 AND vt.y = p.y2;
    UPDATE lastmile.route_graph_state SET built_generation = g, built_at = now(),
        edges = (SELECT count(*) FROM lastmile.route_edges),
        vertices = (SELECT count(*) FROM lastmile.route_vertices);
    ANALYZE lastmile.route_edges;
    RETURN true;
END
$$;

-- Precomputed nearest qualifying road per village (stats fast path for
-- straight-line coverage of villages by roads at national scale).
-- village_access holds, per definition ('any' completed road, 'hardened',
-- 'graded', 'all_season' — the predicates are rendered from the catalog by
-- the stats package), the exact geodesic distance from each village to the
-- nearest completed road satisfying it, and that road's id. It is built on
-- first use (access_state.built) and then maintained incrementally: while
-- built, statement triggers on roads and villages log the ids of changed
-- features in access_changes; the next question applies them (villages whose
-- nearest road changed are recomputed; villages nearer to a changed road
-- than to their recorded one are updated).
CREATE TABLE lastmile.access_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    built     boolean NOT NULL DEFAULT false,
    built_at  timestamptz
);
INSERT INTO lastmile.access_state DEFAULT VALUES;

CREATE TABLE lastmile.village_access (
    definition text NOT NULL,
    village_id bigint NOT NULL,
    distance_m double precision,
    road_id    bigint,
    PRIMARY KEY (definition, village_id)
);
CREATE INDEX village_access_road ON lastmile.village_access (road_id);

CREATE TABLE lastmile.access_changes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    layer      text NOT NULL,
    feature_id bigint NOT NULL
);

CREATE FUNCTION lastmile.access_log_new() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT built FROM lastmile.access_state) THEN
        INSERT INTO lastmile.access_changes (layer, feature_id) SELECT TG_TABLE_NAME, id FROM new_rows;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION lastmile.access_log_old() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT built FROM lastmile.access_state) THEN
        INSERT INTO lastmile.access_changes (layer, feature_id) SELECT TG_TABLE_NAME, id FROM old_rows;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION lastmile.access_unbuild() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lastmile.access_state SET built = false WHERE built;
    RETURN NULL;
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['roads', 'villages'] LOOP
        EXECUTE format($f$
            CREATE TRIGGER %1$s_access_ins AFTER INSERT ON lastmile.%1$I
                REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lastmile.access_log_new();
            CREATE TRIGGER %1$s_access_upd AFTER UPDATE ON lastmile.%1$I
                REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lastmile.access_log_new();
            CREATE TRIGGER %1$s_access_del AFTER DELETE ON lastmile.%1$I
                REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION lastmile.access_log_old();
            CREATE TRIGGER %1$s_access_trunc AFTER TRUNCATE ON lastmile.%1$I
                FOR EACH STATEMENT EXECUTE FUNCTION lastmile.access_unbuild();
        $f$, t);
    END LOOP;
END
$$;
