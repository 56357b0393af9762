-- Straight-line coverage of villages by roads from the precomputed nearest
-- distances (lastmile.village_access, one row per village and definition,
-- with the village's group codes and counts), summed per group in SQL.
-- Without a target filter this reads village_access alone; /*join*/ brings
-- in the villages (alias t) when a target filter needs their fields.
SELECT /*group*/ AS code,
       count(*) AS total,
       count(*) FILTER (WHERE covered) AS covered,
       coalesce(sum(population), 0)::bigint AS population,
       coalesce(sum(population) FILTER (WHERE covered), 0)::bigint AS population_covered,
       coalesce(sum(poor_households), 0)::bigint AS poor_households,
       coalesce(sum(poor_households) FILTER (WHERE covered), 0)::bigint AS poor_households_covered
FROM (
    SELECT a.county, a.township, a.population, a.poor_households,
           coalesce(a.distance_m <= /*within*/, false) AS covered
    FROM lastmile.village_access a /*join*/
    WHERE a.definition = /*definition*/ AND /*target_filter*/
) x
GROUP BY 1
