-- Network coverage: one row per target. The target is snapped to its
-- nearest traversable edge (a completed road, completed on or before as_of
-- when given); its network distance is the geodesic snap distance plus the
-- distance along that edge to one of its ends plus the shortest path
-- (one pgr_drivingDistance from a virtual vertex joined to every vertex of
-- a qualifying road, undirected,
-- limited to within_m) from that end. A target snapped onto a qualifying
-- road is at its snap distance.
WITH dd AS (
    {{driving_distance}}
), qual AS (
    SELECT e.id
    FROM lastmile.route_edges e
    JOIN lastmile.roads s ON s.id = e.road_id
    WHERE {{source_filter}}
), snapped AS MATERIALIZED (
    -- materialised so that dd is joined once by hash, not scanned per target
    -- (the planner takes pgr_drivingDistance for ~1 000 rows)
    SELECT t.id, t.name, {{code}} AS code, {{population}} AS population,
           {{poor}} AS poor_households,
           ST_X(ST_PointOnSurface(t.geom)) AS lon, ST_Y(ST_PointOnSurface(t.geom)) AS lat,
           sn.edge_id, sn.source, sn.target, sn.cost, sn.snap_m, sn.along
    FROM {{target}} t
    LEFT JOIN LATERAL (
        SELECT e.id AS edge_id, e.source, e.target, e.cost,
               ST_Distance(e.geom::geography, t.geom::geography) AS snap_m,
               ST_Length(ST_LineSubstring(e.geom, 0,
                   ST_LineLocatePoint(e.geom, ST_PointOnSurface(t.geom)))::geography) AS along
        FROM lastmile.route_edges e
        WHERE {{traversable}}
        ORDER BY e.geom::geography <-> t.geom::geography
        LIMIT 1
    ) sn ON true
    WHERE {{target_filter}}
), net AS (
    SELECT s.id, s.name, s.code, s.population, s.poor_households, s.lon, s.lat, s.snap_m,
           CASE WHEN s.edge_id IS NULL THEN NULL
                WHEN s.edge_id IN (SELECT id FROM qual) THEN s.snap_m
                ELSE s.snap_m + least(s.along + ds.agg, s.cost - s.along + dt.agg)
           END AS network_m
    FROM snapped s
    LEFT JOIN dd ds ON ds.node = s.source
    LEFT JOIN dd dt ON dt.node = s.target
)
SELECT id, name, code, population, poor_households, lon, lat,
       coalesce(network_m <= {{within}}, false) AS covered,
       CASE WHEN network_m <= {{within}} OR {{list}} THEN network_m END AS distance_m,
       snap_m
FROM net
ORDER BY id
