-- Villages with their snapping candidates onto the current traversable
-- graph (completed edges, no as_of), for lastmile.village_snap: the same
-- candidates as network_snap.sql (the edges within 0.5 % + 1 m of the
-- nearest by PostGIS geography distance); Go picks the geodesic-nearest
-- point (snapToLine). One row per village and candidate, ordered by
-- village and edge id.
SELECT t.id, ST_X(p.pt) AS lon, ST_Y(p.pt) AS lat, c.id, ST_AsBinary(c.geom), c.source, c.target, c.road_id, c.cost
FROM lastmile.villages t
CROSS JOIN LATERAL (SELECT ST_PointOnSurface(t.geom) AS pt) p
LEFT JOIN LATERAL (
    SELECT ST_Distance(e.geom::geography, p.pt::geography) * 1.005 + 1 AS r
    FROM lastmile.route_edges e
    WHERE e.status = 'completed'
    ORDER BY e.geom <-> p.pt
    LIMIT 1
) n ON true
LEFT JOIN LATERAL (
    SELECT k.id, k.geom, k.source, k.target, k.road_id, k.cost
    FROM (
        SELECT e.id, e.geom, e.source, e.target, e.road_id, e.cost, ST_Distance(e.geom::geography, p.pt::geography) AS d,
               min(ST_Distance(e.geom::geography, p.pt::geography)) OVER () AS dmin
        FROM lastmile.route_edges e
        WHERE e.status = 'completed'
          AND e.geom && ST_Expand(p.pt, n.r * 1.01 / (111319 * greatest(cos(radians(abs(ST_Y(p.pt)) + n.r / 110000)), 0.01)),
                                        n.r * 1.01 / 110574)
    ) k
    WHERE k.d <= k.dmin * 1.005 + 1
) c ON true
WHERE /*which*/
ORDER BY t.id, c.id
