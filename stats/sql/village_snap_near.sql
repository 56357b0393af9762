-- The villages an edge added since village_snap was brought up to date
-- (id above $1, completed) may now be nearest to: those inside a box
-- holding every point within $2 metres of the edge (an upper bound of any
-- village's snap distance) whose geography distance to it is within their
-- snap distance's candidate margin, and those with no snap at all.
SELECT DISTINCT v.id
FROM lastmile.route_edges e
JOIN lastmile.villages v
  ON v.geom && ST_Expand(e.geom,
         $2 * 1.01 / (111319 * greatest(cos(radians(least(greatest(abs(ST_YMin(e.geom)), abs(ST_YMax(e.geom))) + $2 / 110000, 89.9))), 0.01)),
         $2 * 1.01 / 110574)
LEFT JOIN lastmile.village_snap s ON s.village_id = v.id
WHERE e.id > $1 AND e.status = 'completed'
  AND (s.village_id IS NULL OR s.edge_id IS NULL
       OR ST_Distance(e.geom::geography, ST_PointOnSurface(v.geom)::geography) <= s.dist * 1.005 + 1)
UNION
SELECT s.village_id FROM lastmile.village_snap s
WHERE s.edge_id IS NULL
  AND EXISTS (SELECT 1 FROM lastmile.route_edges e WHERE e.id > $1 AND e.status = 'completed')
