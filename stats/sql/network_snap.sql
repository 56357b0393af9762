-- Targets with their snapping candidates: one row per target and candidate
-- edge (a target with no traversable edge at all has one row of NULLs).
-- The target (ST_PointOnSurface for areas) is to be snapped to the
-- geodesic-nearest point of its nearest traversable edge (/*traversable*/:
-- a completed road, completed on or before as_of when given). Candidates
-- are the edges within 0.5 % + 1 m of the nearest one by PostGIS geography
-- distance (whose nearest point is found on the sphere), found through the
-- geometry index (the geography index's KNN costs 1.2 ms a target here);
-- Go finds the exact geodesic-nearest point on each (snapToLine). qual
-- tells whether the edge belongs to a qualifying road (/*source_filter*/),
-- speed_kmh is its road's speed for metric=time (layer.RoadSpeedSQL).
SELECT t.id, t.name, /*code*/ AS code, /*population*/ AS population, /*poor*/ AS poor_households,
       ST_X(p.pt) AS lon, ST_Y(p.pt) AS lat,
       c.id, c.source, c.target, c.cost,
       EXISTS (SELECT 1 FROM /*source*/ s WHERE s.id = c.road_id AND /*source_filter*/) AS qual,
       ST_AsBinary(c.geom),
       (SELECT /*speed*/ FROM lastmile.roads r WHERE r.id = c.road_id) AS speed_kmh
FROM /*target*/ t
CROSS JOIN LATERAL (SELECT ST_PointOnSurface(t.geom) AS pt) p
-- the geodesic distance to the edge nearest in degrees bounds the search
LEFT JOIN LATERAL (
    SELECT ST_Distance(e.geom::geography, p.pt::geography) * 1.005 + 1 AS r
    FROM lastmile.route_edges e
    WHERE /*traversable*/
    ORDER BY e.geom <-> p.pt
    LIMIT 1
) n ON true
LEFT JOIN LATERAL (
    SELECT k.id, k.road_id, k.source, k.target, k.cost, k.geom
    FROM (
        SELECT e.id, e.road_id, e.source, e.target, e.cost, e.geom, ST_Distance(e.geom::geography, p.pt::geography) AS d,
               min(ST_Distance(e.geom::geography, p.pt::geography)) OVER () AS dmin
        FROM lastmile.route_edges e
        -- a box holding every point within n.r metres: a degree of
        -- latitude is at least 110 574 m, one of longitude at least
        -- 111 319 m · cos(latitude) (1 % margin)
        WHERE /*traversable*/
          AND e.geom && ST_Expand(p.pt, n.r * 1.01 / (111319 * greatest(cos(radians(abs(ST_Y(p.pt)) + n.r / 110000)), 0.01)),
                                        n.r * 1.01 / 110574)
    ) k
    WHERE k.d <= k.dmin * 1.005 + 1
) c ON true
WHERE /*target_filter*/
ORDER BY t.id, c.id
