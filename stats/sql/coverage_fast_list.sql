-- The uncovered villages with their precomputed nearest distance.
SELECT t.id, t.name, coalesce(t.code, t.admin_code), t.population::bigint, t.poor_households::bigint,
       ST_X(t.geom), ST_Y(t.geom), false, a.distance_m, NULL::float8
FROM lastmile.villages t
LEFT JOIN lastmile.village_access a ON a.definition = /*definition*/ AND a.village_id = t.id
WHERE /*target_filter*/ AND NOT coalesce(a.distance_m <= /*within*/, false)
ORDER BY t.id
