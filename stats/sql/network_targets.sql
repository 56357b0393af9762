-- The targets (villages) with their precomputed snap onto the current
-- graph (lastmile.village_snap: edge id, geodesic metres along it from its
-- first vertex, snap distance, the edge's ends, road and cost; NULL when no
-- traversable edge exists).
-- Names and positions only when /*full*/ (listed): a tally needs neither.
SELECT t.id, CASE WHEN /*full*/ THEN t.name END, /*code*/ AS code, /*population*/ AS population, /*poor*/ AS poor_households,
       CASE WHEN /*full*/ THEN ST_X(p.pt) ELSE 0 END AS lon, CASE WHEN /*full*/ THEN ST_Y(p.pt) ELSE 0 END AS lat,
       vs.edge_id, vs.along, vs.dist,
       vs.source, vs.target, vs.road_id, vs.cost
FROM /*target*/ t
CROSS JOIN LATERAL (SELECT ST_PointOnSurface(t.geom) AS pt) p
LEFT JOIN lastmile.village_snap vs ON vs.village_id = t.id
WHERE /*target_filter*/
  -- the source filter is applied in Go (its parameters are shared)
  AND NOT EXISTS (SELECT 1 FROM /*source*/ s WHERE false AND /*source_filter*/)
