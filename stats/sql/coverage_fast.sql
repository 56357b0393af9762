-- Straight-line coverage of villages by roads from the precomputed nearest
-- distances (lastmile.village_access), summed per group in SQL.
SELECT {{group}} AS code,
       count(*) AS total,
       count(*) FILTER (WHERE covered) AS covered,
       coalesce(sum(population), 0)::bigint AS population,
       coalesce(sum(population) FILTER (WHERE covered), 0)::bigint AS population_covered,
       coalesce(sum(poor_households), 0)::bigint AS poor_households,
       coalesce(sum(poor_households) FILTER (WHERE covered), 0)::bigint AS poor_households_covered
FROM (
    SELECT coalesce(t.code, t.admin_code) AS vcode, t.population, t.poor_households,
           coalesce(a.distance_m <= {{within}}, false) AS covered
    FROM lastmile.villages t
    LEFT JOIN lastmile.village_access a ON a.definition = {{definition}} AND a.village_id = t.id
    WHERE {{target_filter}}
) x
GROUP BY 1
