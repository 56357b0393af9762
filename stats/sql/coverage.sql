-- Straight-line coverage: one row per target with whether a qualifying
-- source lies within the distance (ST_DWithin on geography: geodesic on the
-- WGS84 spheroid, using the GiST index on (geom::geography)) and, for
-- uncovered targets when asked, the exact geodesic distance to the nearest
-- qualifying source: the KNN (<->, spherical) nearest candidate gives an
-- upper bound d, then the exact minimum is taken over the sources within d.
SELECT t.id, t.name, /*code*/ AS code, /*population*/ AS population,
       /*poor*/ AS poor_households,
       ST_X(ST_PointOnSurface(t.geom)) AS lon, ST_Y(ST_PointOnSurface(t.geom)) AS lat,
       c.covered,
       CASE WHEN NOT c.covered AND /*list*/ THEN (
           SELECT min(ST_Distance(s.geom::geography, t.geom::geography))
           FROM /*source*/ s
           WHERE /*source_filter*/
             AND ST_DWithin(s.geom::geography, t.geom::geography, n.d + 0.001)
       ) END AS distance_m,
       NULL::float8 AS snap_m
FROM /*target*/ t
CROSS JOIN LATERAL (
    SELECT EXISTS (
        SELECT 1 FROM /*source*/ s
        WHERE /*source_filter*/
          AND ST_DWithin(s.geom::geography, t.geom::geography, /*within*/)
    ) AS covered
) c
LEFT JOIN LATERAL (
    SELECT ST_Distance(s.geom::geography, t.geom::geography) AS d
    FROM /*source*/ s
    WHERE /*source_filter*/ AND NOT c.covered AND /*list*/
    ORDER BY s.geom::geography <-> t.geom::geography
    LIMIT 1
) n ON true
WHERE /*target_filter*/
ORDER BY t.id
