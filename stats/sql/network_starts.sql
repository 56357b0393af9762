-- The graph vertices on qualifying roads: where a network search starts.
SELECT coalesce(array_agg(DISTINCT v), '{}')
FROM (
    SELECT unnest(ARRAY[e.source, e.target]) AS v
    FROM lastmile.route_edges e
    JOIN lastmile.roads s ON s.id = e.road_id
    WHERE /*source_filter*/
) x
