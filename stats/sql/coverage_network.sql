-- Network coverage: one row per target. The target is snapped to its
-- nearest traversable edge (a completed road, completed on or before as_of
-- when given); its network distance is the geodesic snap distance plus the
-- distance along that edge to one of its ends plus the shortest path
-- (pgr_drivingDistance from every vertex of a qualifying road, undirected,
-- limited to within_m) from that end. A target snapped onto a qualifying
-- road is at its snap distance.
WITH dd AS (
    {{driving_distance}}
), qual AS (
    SELECT e.id
    FROM lastmile.route_edges e
    JOIN lastmile.roads s ON s.id = e.road_id
    WHERE {{source_filter}}
), net AS (
    SELECT t.id, t.name, {{code}} AS code, {{population}} AS population,
           {{poor}} AS poor_households,
           ST_X(ST_PointOnSurface(t.geom)) AS lon, ST_Y(ST_PointOnSurface(t.geom)) AS lat,
           sn.snap_m,
           CASE WHEN sn.edge_id IS NULL THEN NULL
                WHEN sn.edge_id IN (SELECT id FROM qual) THEN sn.snap_m
                ELSE sn.snap_m + least(sn.along + ds.agg, sn.cost - sn.along + dt.agg)
           END AS network_m
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
    LEFT JOIN dd ds ON ds.node = sn.source
    LEFT JOIN dd dt ON dt.node = sn.target
    WHERE {{target_filter}}
)
SELECT id, name, code, population, poor_households, lon, lat,
       coalesce(network_m <= {{within}}, false) AS covered,
       CASE WHEN network_m <= {{within}} OR {{list}} THEN network_m END AS distance_m,
       snap_m
FROM net
ORDER BY id
