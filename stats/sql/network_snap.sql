-- Targets with their snapping candidates: one row per target and candidate
-- edge (a target with no traversable edge at all has one row of NULLs).
-- The target (ST_PointOnSurface for areas) is to be snapped to the
-- geodesic-nearest point of its nearest traversable edge ({{traversable}}:
-- a completed road, completed on or before as_of when given). Candidates
-- are the 8 edges nearest by the geography index that lie within 0.5 % +
-- 1 m of the nearest of them (PostGIS geography distance, whose nearest
-- point is found on the sphere); Go finds the exact geodesic-nearest point
-- on each (snapToLine). qual tells whether the edge belongs to a qualifying
-- road ({{source_filter}}).
SELECT t.id, t.name, {{code}} AS code, {{population}} AS population, {{poor}} AS poor_households,
       ST_X(p.pt) AS lon, ST_Y(p.pt) AS lat,
       c.id, c.source, c.target, c.cost,
       EXISTS (SELECT 1 FROM {{source}} s WHERE s.id = c.road_id AND {{source_filter}}) AS qual,
       ST_AsBinary(c.geom)
FROM {{target}} t
CROSS JOIN LATERAL (SELECT ST_PointOnSurface(t.geom) AS pt) p
LEFT JOIN LATERAL (
    SELECT k.id, k.road_id, k.source, k.target, k.cost, k.geom
    FROM (
        SELECT e.*, ST_Distance(e.geom::geography, p.pt::geography) AS d,
               min(ST_Distance(e.geom::geography, p.pt::geography)) OVER () AS dmin
        FROM (SELECT e.id, e.road_id, e.source, e.target, e.cost, e.geom
              FROM lastmile.route_edges e
              WHERE {{traversable}}
              ORDER BY e.geom::geography <-> p.pt::geography
              LIMIT 8) e
    ) k
    WHERE k.d <= k.dmin * 1.005 + 1
) c ON true
WHERE {{target_filter}}
ORDER BY t.id, c.id
