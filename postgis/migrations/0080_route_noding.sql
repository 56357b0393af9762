-- The routing graph noded the way routers node OpenStreetMap (osm2pgrouting,
-- OSRM): a road is split at every vertex it shares with another road, or
-- with itself, wherever that vertex lies on either line — not only at line
-- ends. Vertices are compared after rounding to 1e-7° (about 1 cm). Roads
-- that cross without a shared vertex (bridges, tunnels) stay unconnected.
--
-- A graph vertex (route_vertices) is a rounded position that is a part's
-- first or last point, or that occurs more than once among the points of
-- all parts (consecutive repeats after rounding count once). An edge is the
-- stretch of a part between two consecutive graph vertices on it; its cost
-- is its geodesic length (ST_Length on geography).
--
-- Node tolerance (route_graph_state.node_tolerance_m, default 0: never
-- silent): for bureau data whose lines stop a little short of another road
-- or overshoot it. When above 0, a dangling end (a part's end point that
-- no other point shares) within that many metres (geodesic) of another part
-- is joined to it: the nearest point of that part is inserted as a vertex
-- there and the dangling part extended to it by a straight segment (whose
-- geodesic length is part of the edge cost). The number of such joins is
-- kept in route_graph_state.tolerance_joins and reported with every network
-- answer. Set it with lastmile.route_graph_set_tolerance(m).
--
-- Incremental refresh stays exact: an edit can split or join other roads,
-- so the roads re-noded are the edited ones plus every road sharing a
-- vertex with an edited road's old edges or its new geometry. With a node
-- tolerance above 0 a refresh rebuilds whole (a join can reach beyond the
-- shared vertices).

ALTER TABLE lastmile.route_graph_state
    ADD COLUMN node_tolerance_m double precision NOT NULL DEFAULT 0
        CHECK (node_tolerance_m >= 0 AND node_tolerance_m <= 100),
    ADD COLUMN tolerance_joins bigint NOT NULL DEFAULT 0;

CREATE INDEX route_edges_source ON lastmile.route_edges (source);
CREATE INDEX route_edges_target ON lastmile.route_edges (target);
CREATE INDEX route_edges_geom ON lastmile.route_edges USING gist (geom);

-- the graph of older migrations is noded at end points only: rebuild whole
UPDATE lastmile.route_graph_state
SET generation = generation + 1, full_generation = generation + 1;

CREATE FUNCTION lastmile.route_graph_set_tolerance(m double precision) RETURNS void
LANGUAGE sql AS $$
    UPDATE lastmile.route_graph_state
    SET node_tolerance_m = m, generation = generation + 1, full_generation = generation + 1
    WHERE node_tolerance_m IS DISTINCT FROM m;
$$;

-- The point of line nearest to pt, found in an azimuthal equidistant
-- projection centred on pt (distances from pt there are geodesic on the
-- WGS84 ellipsoid), returned in lon/lat on the line.
CREATE FUNCTION lastmile.route_nearest_point(line geometry, pt geometry) RETURNS geometry
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ST_Transform(ST_ClosestPoint(ST_Transform(line, p.proj), ST_SetSRID(ST_MakePoint(0, 0), 0)), p.proj, 4326)
    FROM (SELECT format('+proj=aeqd +lat_0=%s +lon_0=%s +ellps=WGS84 +units=m +no_defs',
                        ST_Y(pt), ST_X(pt)) AS proj) p
$$;

CREATE OR REPLACE FUNCTION lastmile.route_graph_rebuild(force boolean DEFAULT false) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    st    lastmile.route_graph_state;
    whole boolean;
    ids   bigint[];
    redo  bigint[];
    joins bigint := 0;
    d     record;
    near  record;
    c     geometry;
    f     float8;
    removed_edges  bigint := 0;
    added_edges    bigint;
    added_vertices bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(7283746);
    SELECT * INTO st FROM lastmile.route_graph_state;
    IF NOT force AND st.generation <= st.built_generation THEN
        RETURN false;
    END IF;
    whole := force OR st.built_generation = 0 OR st.full_generation > st.built_generation
        OR st.node_tolerance_m > 0;
    CREATE TEMP TABLE route_parts (road_id bigint, part int, geom geometry, status text, completed_on date)
        ON COMMIT DROP;
    IF whole THEN
        DELETE FROM lastmile.route_changes;
        TRUNCATE lastmile.route_edges, lastmile.route_vertices RESTART IDENTITY;
        INSERT INTO route_parts
            SELECT r.id, dp.path[1], dp.geom, r.status, r.completed_on
            FROM lastmile.roads r, ST_Dump(ST_Multi(r.geom)) dp
            WHERE r.status <> 'cancelled';
    ELSE
        WITH ch AS (DELETE FROM lastmile.route_changes RETURNING road_id)
        SELECT coalesce(array_agg(DISTINCT road_id), '{}') INTO ids FROM ch;
        -- the roads to re-node: the edited ones, those meeting them at a
        -- graph vertex of their old edges, and those with an edge near a
        -- point of their new geometry (a superset of the roads sharing a
        -- vertex with it: re-noding an unaffected road gives the same edges)
        SELECT coalesce(array_agg(DISTINCT x.road_id), '{}') INTO redo FROM (
            SELECT unnest(ids) AS road_id
            UNION SELECT o.road_id FROM lastmile.route_edges e
                JOIN lastmile.route_edges o ON o.source IN (e.source, e.target)
                WHERE e.road_id = ANY(ids)
            UNION SELECT o.road_id FROM lastmile.route_edges e
                JOIN lastmile.route_edges o ON o.target IN (e.source, e.target)
                WHERE e.road_id = ANY(ids)
            UNION SELECT o.road_id FROM lastmile.roads r, ST_DumpPoints(r.geom) dp, lastmile.route_edges o
                WHERE r.id = ANY(ids) AND r.status <> 'cancelled' AND o.geom && ST_Expand(dp.geom, 1e-6)
        ) x;
        DELETE FROM lastmile.route_edges WHERE road_id = ANY(redo);
        GET DIAGNOSTICS removed_edges = ROW_COUNT;
        INSERT INTO route_parts
            SELECT r.id, dp.path[1], dp.geom, r.status, r.completed_on
            FROM lastmile.roads r, ST_Dump(ST_Multi(r.geom)) dp
            WHERE r.id = ANY(redo) AND r.status <> 'cancelled';
    END IF;

    IF whole AND st.node_tolerance_m > 0 THEN
        CREATE INDEX ON route_parts USING gist ((geom::geography));
        CREATE INDEX ON route_parts (road_id, part);
        ANALYZE route_parts;
        -- dangling ends: part end points no other point (of any part) shares
        FOR d IN
            WITH pts AS (
                SELECT p.road_id, p.part, dp.path[1] AS i, dp.geom,
                       round(ST_X(dp.geom) * 1e7) AS kx, round(ST_Y(dp.geom) * 1e7) AS ky,
                       dp.path[1] = 1 AS first, dp.path[1] = ST_NPoints(p.geom) AS last
                FROM route_parts p, ST_DumpPoints(p.geom) dp
            ), counted AS (
                SELECT *, count(*) OVER (PARTITION BY kx, ky) AS n FROM pts
            )
            SELECT road_id, part, first, geom FROM counted
            WHERE (first OR last) AND n = 1
            ORDER BY road_id, part, first DESC
        LOOP
            SELECT o.road_id, o.part, lastmile.route_nearest_point(o.geom, d.geom) AS c INTO near
            FROM route_parts o
            WHERE (o.road_id, o.part) <> (d.road_id, d.part)
              AND ST_DWithin(o.geom::geography, d.geom::geography, st.node_tolerance_m)
            ORDER BY ST_Distance(o.geom::geography, d.geom::geography), o.road_id, o.part
            LIMIT 1;
            CONTINUE WHEN NOT FOUND;
            -- insert the nearest point into that part (at its position)
            -- and extend the dangling part to it
            SELECT ST_LineLocatePoint(o.geom, near.c), o.geom INTO f, c
            FROM route_parts o WHERE o.road_id = near.road_id AND o.part = near.part;
            IF f > 0 AND f < 1 THEN
                UPDATE route_parts o
                SET geom = ST_MakeLine(ST_LineSubstring(c, 0, f), ST_LineSubstring(c, f, 1))
                WHERE o.road_id = near.road_id AND o.part = near.part;
            END IF;
            c := ST_LineInterpolatePoint(c, f);
            UPDATE route_parts o
            SET geom = CASE WHEN d.first THEN ST_AddPoint(o.geom, c, 0) ELSE ST_AddPoint(o.geom, c) END
            WHERE o.road_id = d.road_id AND o.part = d.part;
            joins := joins + 1;
        END LOOP;
    END IF;

    -- the parts' points, rounded to 1e-7° (kx, ky: in units of 1e-7°),
    -- consecutive repeats dropped
    CREATE TEMP TABLE route_pts ON COMMIT DROP AS
        SELECT road_id, part, i, x, y, kx, ky
        FROM (SELECT p.road_id, p.part, dp.path[1] AS i, ST_X(dp.geom) AS x, ST_Y(dp.geom) AS y,
                     round(ST_X(dp.geom) * 1e7) AS kx, round(ST_Y(dp.geom) * 1e7) AS ky,
                     lag(round(ST_X(dp.geom) * 1e7)) OVER w AS px, lag(round(ST_Y(dp.geom) * 1e7)) OVER w AS py
              FROM route_parts p, ST_DumpPoints(p.geom) dp
              WINDOW w AS (PARTITION BY p.road_id, p.part ORDER BY dp.path[1])) s
        WHERE px IS NULL OR px <> kx OR py <> ky;
    -- graph vertices on those parts: end points, points occurring more than
    -- once, and (when refreshing) points that are a vertex of an edge of a
    -- road not re-noded (that road shares the point)
    CREATE TEMP TABLE route_nodes ON COMMIT DROP AS
        SELECT kx, ky FROM route_pts GROUP BY kx, ky HAVING count(*) > 1
        UNION
        SELECT kx, ky FROM (
            SELECT kx, ky, i = min(i) OVER w OR i = max(i) OVER w AS is_end
            FROM route_pts WINDOW w AS (PARTITION BY road_id, part)) e
        WHERE is_end;
    IF NOT whole THEN
        INSERT INTO route_nodes
            SELECT DISTINCT p.kx, p.ky FROM route_pts p
            JOIN lastmile.route_vertices v ON v.x = p.kx / 1e7 AND v.y = p.ky / 1e7
            WHERE EXISTS (SELECT 1 FROM lastmile.route_edges e WHERE e.source = v.id)
               OR EXISTS (SELECT 1 FROM lastmile.route_edges e WHERE e.target = v.id);
    END IF;
    CREATE INDEX ON route_nodes (kx, ky);
    ANALYZE route_pts;
    ANALYZE route_nodes;
    INSERT INTO lastmile.route_vertices (x, y)
        SELECT DISTINCT kx / 1e7, ky / 1e7 FROM route_nodes
        ON CONFLICT (x, y) DO NOTHING;
    GET DIAGNOSTICS added_vertices = ROW_COUNT;
    IF whole THEN
        ANALYZE lastmile.route_vertices; -- truncated above: else joined by scans
    END IF;
    ANALYZE route_parts;
    -- seg numbers the stretches of a part: a graph vertex ends stretch
    -- seg - 1 and starts stretch seg
    CREATE TEMP TABLE route_seq ON COMMIT DROP AS
        SELECT p.*, n.kx IS NOT NULL AS is_node,
               sum((n.kx IS NOT NULL)::int) OVER (PARTITION BY p.road_id, p.part ORDER BY p.i) AS seg
        FROM route_pts p
        LEFT JOIN (SELECT DISTINCT kx, ky FROM route_nodes) n ON n.kx = p.kx AND n.ky = p.ky;
    INSERT INTO lastmile.route_edges (road_id, part, source, target, cost, status, completed_on, geom)
        SELECT g.road_id, g.part, vs.id, vt.id, ST_Length(g.geom::geography), rp.status, rp.completed_on, g.geom
        FROM (
            SELECT road_id, part, seg,
                   ST_MakeLine(array_agg(ST_MakePoint(x, y) ORDER BY i, last)) AS geom,
                   (array_agg(kx ORDER BY i, last))[1] AS kx1, (array_agg(ky ORDER BY i, last))[1] AS ky1,
                   (array_agg(kx ORDER BY i DESC, last DESC))[1] AS kx2, (array_agg(ky ORDER BY i DESC, last DESC))[1] AS ky2
            FROM (SELECT road_id, part, i, x, y, kx, ky, seg, false AS last FROM route_seq
                  UNION ALL
                  SELECT road_id, part, i, x, y, kx, ky, seg - 1, true FROM route_seq WHERE is_node AND seg > 1) s
            GROUP BY road_id, part, seg
            HAVING count(*) > 1
        ) g
        JOIN route_parts rp ON rp.road_id = g.road_id AND rp.part = g.part
        JOIN lastmile.route_vertices vs ON vs.x = g.kx1 / 1e7 AND vs.y = g.ky1 / 1e7
        JOIN lastmile.route_vertices vt ON vt.x = g.kx2 / 1e7 AND vt.y = g.ky2 / 1e7;
    GET DIAGNOSTICS added_edges = ROW_COUNT;
    -- counts kept as running sums: counting 10 M edges would cost seconds
    UPDATE lastmile.route_graph_state SET built_generation = st.generation, built_at = now(),
        edges = CASE WHEN whole THEN 0 ELSE edges - removed_edges END + added_edges,
        vertices = CASE WHEN whole THEN 0 ELSE vertices END + added_vertices,
        tolerance_joins = CASE WHEN whole THEN joins ELSE tolerance_joins END;
    IF whole THEN
        ANALYZE lastmile.route_edges;
    END IF;
    RETURN true;
END
$$;
