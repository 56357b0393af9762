-- Incremental refresh of the routing graph.
--
-- A write to roads now also logs the written road ids in
-- route_changes, and route_graph_rebuild() replaces only those roads' edges
-- (their old edges deleted, their current parts added, new endpoints added
-- to route_vertices) instead of rebuilding the whole graph. A statement that
-- writes more than 50 000 roads, a TRUNCATE, or any write while the graph
-- is not built (or already due for a full rebuild) asks for a full rebuild
-- instead (full_generation): it is faster than 50 000 edge replacements,
-- and the log stays small, and empty while nobody asks network questions.
-- Vertices left without edges stay: they are never reached, and the next
-- full rebuild drops them.

ALTER TABLE lastmile.route_graph_state
    ADD COLUMN full_generation bigint NOT NULL DEFAULT 1;
-- writes before this migration were not logged: a stale graph is rebuilt whole
UPDATE lastmile.route_graph_state SET full_generation = generation;

CREATE TABLE lastmile.route_changes (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    road_id bigint NOT NULL
);

-- One function for every event: the transition table (if any) is passed
-- as the rows written.
CREATE OR REPLACE FUNCTION lastmile.route_graph_mark_dirty() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    n       bigint := 50001;
    logging boolean;
BEGIN
    -- ids are logged only while the graph is built and no full rebuild is
    -- pending; otherwise (or for a bulk statement) the next refresh is full
    SELECT built_generation > 0 AND full_generation <= built_generation INTO logging
    FROM lastmile.route_graph_state;
    IF logging AND TG_OP = 'DELETE' THEN
        SELECT count(*) INTO n FROM old_rows;
    ELSIF logging AND TG_OP <> 'TRUNCATE' THEN
        SELECT count(*) INTO n FROM new_rows;
    END IF;
    IF n = 0 THEN
        RETURN NULL;
    END IF;
    IF n > 50000 THEN
        UPDATE lastmile.route_graph_state
        SET generation = generation + 1, full_generation = generation + 1;
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        INSERT INTO lastmile.route_changes (road_id) SELECT id FROM old_rows;
    ELSE
        INSERT INTO lastmile.route_changes (road_id) SELECT id FROM new_rows;
    END IF;
    UPDATE lastmile.route_graph_state SET generation = generation + 1;
    RETURN NULL;
END
$$;

DROP TRIGGER roads_route_graph_dirty ON lastmile.roads;
CREATE TRIGGER roads_route_ins AFTER INSERT ON lastmile.roads
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lastmile.route_graph_mark_dirty();
CREATE TRIGGER roads_route_upd AFTER UPDATE ON lastmile.roads
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lastmile.route_graph_mark_dirty();
CREATE TRIGGER roads_route_del AFTER DELETE ON lastmile.roads
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION lastmile.route_graph_mark_dirty();
CREATE TRIGGER roads_route_trunc AFTER TRUNCATE ON lastmile.roads
    FOR EACH STATEMENT EXECUTE FUNCTION lastmile.route_graph_mark_dirty();

-- The linestring parts of road r with their endpoints rounded to 1e-7°.
CREATE FUNCTION lastmile.route_parts_of(r lastmile.roads)
RETURNS TABLE (road_id bigint, part int, geom geometry, status text, completed_on date,
               x1 float8, y1 float8, x2 float8, y2 float8)
LANGUAGE sql IMMUTABLE AS $$
    SELECT r.id, d.path[1], d.geom, r.status, r.completed_on,
           round(ST_X(ST_StartPoint(d.geom))::numeric, 7)::float8,
           round(ST_Y(ST_StartPoint(d.geom))::numeric, 7)::float8,
           round(ST_X(ST_EndPoint(d.geom))::numeric, 7)::float8,
           round(ST_Y(ST_EndPoint(d.geom))::numeric, 7)::float8
    FROM ST_Dump(ST_Multi(r.geom)) d
$$;

-- Brings the graph up to date (or rebuilds it whole with force); returns
-- true when it changed anything. Serialised by an advisory lock. A write
-- that commits meanwhile is never lost: its generation stays above the
-- built one, and its logged ids stay in route_changes until a refresh
-- whose DELETE sees them.
CREATE OR REPLACE FUNCTION lastmile.route_graph_rebuild(force boolean DEFAULT false) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    st   lastmile.route_graph_state;
    whole boolean;
    ids  bigint[];
    removed_edges  bigint := 0;
    added_edges    bigint;
    added_vertices bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(7283746);
    SELECT * INTO st FROM lastmile.route_graph_state;
    IF NOT force AND st.generation <= st.built_generation THEN
        RETURN false;
    END IF;
    whole := force OR st.built_generation = 0 OR st.full_generation > st.built_generation;
    IF whole THEN
        DELETE FROM lastmile.route_changes;
        TRUNCATE lastmile.route_edges, lastmile.route_vertices RESTART IDENTITY;
    ELSE
        WITH c AS (DELETE FROM lastmile.route_changes RETURNING road_id)
        SELECT coalesce(array_agg(DISTINCT road_id), '{}') INTO ids FROM c;
        DELETE FROM lastmile.route_edges WHERE road_id = ANY(ids);
        GET DIAGNOSTICS removed_edges = ROW_COUNT;
    END IF;
    -- the parts to add: of every road, or of the logged ones (two
    -- statements, so that the second uses the primary key)
    CREATE TEMP TABLE route_parts (road_id bigint, part int, geom geometry, status text, completed_on date,
        x1 float8, y1 float8, x2 float8, y2 float8) ON COMMIT DROP;
    IF whole THEN
        INSERT INTO route_parts SELECT p.* FROM lastmile.roads r, lastmile.route_parts_of(r) p
        WHERE r.status <> 'cancelled';
    ELSE
        INSERT INTO route_parts SELECT p.* FROM lastmile.roads r, lastmile.route_parts_of(r) p
        WHERE r.id = ANY(ids) AND r.status <> 'cancelled';
    END IF;
    ANALYZE route_parts; -- else a few parts may be joined to the vertices by a scan of them all
    INSERT INTO lastmile.route_vertices (x, y)
        SELECT x1, y1 FROM route_parts UNION SELECT x2, y2 FROM route_parts
        ON CONFLICT (x, y) DO NOTHING;
    GET DIAGNOSTICS added_vertices = ROW_COUNT;
    INSERT INTO lastmile.route_edges (road_id, part, source, target, cost, status, completed_on, geom)
        SELECT p.road_id, p.part, vs.id, vt.id, ST_Length(p.geom::geography), p.status, p.completed_on, p.geom
        FROM route_parts p
        JOIN lastmile.route_vertices vs ON vs.x = p.x1 AND vs.y = p.y1
        JOIN lastmile.route_vertices vt ON vt.x = p.x2 AND vt.y = p.y2;
    GET DIAGNOSTICS added_edges = ROW_COUNT;
    -- counts kept as running sums: counting 10 M edges would cost seconds
    UPDATE lastmile.route_graph_state SET built_generation = st.generation, built_at = now(),
        edges = CASE WHEN whole THEN 0 ELSE edges - removed_edges END + added_edges,
        vertices = CASE WHEN whole THEN 0 ELSE vertices END + added_vertices;
    IF whole THEN
        ANALYZE lastmile.route_edges;
    END IF;
    RETURN true;
END
$$;
