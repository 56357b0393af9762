-- Network coverage of villages from the measures kept beside a search
-- (lastmile.route_search_cache.village_ids / village_measure: metres, or
-- minutes when the metric is time, +Infinity when unreachable), summed per
-- group in SQL as coverage_fast.sql does for straight lines. Groups are the
-- Go path's: a 12-digit code's county or township prefix, else ''.
SELECT /*group*/ AS code,
       count(*) AS total,
       count(*) FILTER (WHERE covered) AS covered,
       coalesce(sum(population), 0)::bigint AS population,
       coalesce(sum(population) FILTER (WHERE covered), 0)::bigint AS population_covered,
       coalesce(sum(poor_households), 0)::bigint AS poor_households,
       coalesce(sum(poor_households) FILTER (WHERE covered), 0)::bigint AS poor_households_covered
FROM (
    SELECT /*code*/ AS full_code, /*population*/ AS population, /*poor*/ AS poor_households,
           k.m <= /*within*/ AS covered
    FROM lastmile.route_search_cache c
    CROSS JOIN LATERAL unnest(c.village_ids, c.village_measure) AS k(id, m)
    JOIN /*target*/ t ON t.id = k.id
    WHERE c.key = /*key*/ AND c.version = /*version*/ AND /*target_filter*/
      -- the source filter's parameters are shared: typed here, never true
      AND NOT EXISTS (SELECT 1 FROM /*source*/ s WHERE false AND /*source_filter*/)
) x
GROUP BY 1
