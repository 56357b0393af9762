-- The rows of village_access for the villages with ids $1 (bigint[]), from the
-- candidates the grid search found (stats/accessgrid.go): village $2[i]
-- may be nearest to road $3[i] for the definitions whose bits are set in
-- $4[i] (bit k-1 for the definition $5[k]). The exact geodesic distance of
-- each candidate, once per village and road; per definition the least
-- (ties broken by road id, as access_nearest.sql); a village without a
-- candidate for a definition has no such road (NULL distance).
-- (The road and the village are looked up by id for each candidate: a
-- batch holds a few thousand of them.)
WITH c AS MATERIALIZED (
    SELECT c.village_id, c.road_id, c.mask,
           (SELECT ST_Distance(s.geom::geography, v.geom::geography)
            FROM lastmile.roads s, lastmile.villages v WHERE s.id = c.road_id AND v.id = c.village_id) AS d
    FROM unnest($2::bigint[], $3::bigint[], $4::int[]) c(village_id, road_id, mask)
), best AS (
    SELECT DISTINCT ON (c.village_id, k.i) c.village_id, k.i, c.d, c.road_id
    FROM c JOIN generate_series(1, /*definitions*/) k(i) ON c.mask & (1 << (k.i - 1)) <> 0
    ORDER BY c.village_id, k.i, c.d, c.road_id
)
INSERT INTO lastmile.village_access (definition, village_id, distance_m, road_id, county, township, population, poor_households)
SELECT ($5::text[])[k.i], v.id, b.d, b.road_id,
       CASE WHEN g.c ~ '^[0-9]{12}$' THEN substr(g.c, 1, 6) || '000000' END,
       CASE WHEN g.c ~ '^[0-9]{12}$' THEN substr(g.c, 1, 9) || '000' END,
       v.population, v.poor_households
FROM lastmile.villages v
CROSS JOIN LATERAL (SELECT coalesce(v.code, v.admin_code) AS c) g
CROSS JOIN generate_series(1, /*definitions*/) k(i)
LEFT JOIN best b ON b.village_id = v.id AND b.i = k.i
WHERE v.id = ANY($1::bigint[])
