-- Dangling ends near another road: of the graph vertices $1 (those with a
-- single traversable edge), the ones within $2 metres (geodesic) of a
-- traversable edge of another road (completed; on or before $3 when given),
-- with the road of the end, the nearest other road and the gap.
SELECT v.id, v.x, v.y, own.road_id, n.road_id, n.d
FROM lastmile.route_vertices v
CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(v.x, v.y), 4326)::geography AS g) p
CROSS JOIN LATERAL (
    SELECT e.road_id FROM lastmile.route_edges e
    WHERE (e.source = v.id OR e.target = v.id) AND e.status = 'completed'
      AND ($3::date IS NULL OR e.completed_on <= $3::date)
    LIMIT 1
) own
CROSS JOIN LATERAL (
    SELECT e.road_id, ST_Distance(e.geom::geography, p.g) AS d
    FROM lastmile.route_edges e
    WHERE e.road_id <> own.road_id AND e.status = 'completed'
      AND ($3::date IS NULL OR e.completed_on <= $3::date)
      -- a box holding every point within $2 metres (the edges' geometry
      -- index), then the geodesic test
      AND e.geom && ST_Expand(ST_SetSRID(ST_MakePoint(v.x, v.y), 4326),
              $2 * 1.01 / (111319 * greatest(cos(radians(least(abs(v.y) + $2 / 110000, 89.9))), 0.01)),
              $2 * 1.01 / 110574)
      AND ST_DWithin(e.geom::geography, p.g, $2)
    ORDER BY ST_Distance(e.geom::geography, p.g), e.road_id
    LIMIT 1
) n
WHERE v.id = ANY($1::bigint[])
ORDER BY n.d, v.id
