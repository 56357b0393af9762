-- The exact nearest qualifying road of each village in /*villages*/: the KNN
-- (<->, spherical) nearest gives an upper bound k.d, then the minimum
-- geodesic distance over the roads within it (ties broken by road id) —
-- with the village's group codes and counts.
SELECT /*definition*/, v.id, n.d, n.id,
       CASE WHEN g.c ~ '^[0-9]{12}$' THEN substr(g.c, 1, 6) || '000000' END,
       CASE WHEN g.c ~ '^[0-9]{12}$' THEN substr(g.c, 1, 9) || '000' END,
       v.population, v.poor_households
FROM lastmile.villages v
CROSS JOIN LATERAL (SELECT coalesce(v.code, v.admin_code) AS c) g
LEFT JOIN LATERAL (
    SELECT ST_Distance(s.geom::geography, v.geom::geography) AS d
    FROM lastmile.roads s
    WHERE /*pred*/
    ORDER BY s.geom::geography <-> v.geom::geography
    LIMIT 1
) k ON true
LEFT JOIN LATERAL (
    SELECT s.id, ST_Distance(s.geom::geography, v.geom::geography) AS d
    FROM lastmile.roads s
    WHERE /*pred*/ AND ST_DWithin(s.geom::geography, v.geom::geography, k.d + 0.001)
    ORDER BY d, s.id
    LIMIT 1
) n ON true
WHERE /*villages*/
