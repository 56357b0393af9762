-- Counts of the demo rows ($1 = 'demo:%'): rows per layer, km of completed
-- roads by surface (geodesic length_m), km of pending roads, and the
-- house renovations by status. One row per figure: (kind, key, n).
SELECT 'layer', 'roads', count(*)::float8 FROM lastmile.roads WHERE ext_id LIKE $1
UNION ALL SELECT 'layer', 'water_pipelines', count(*) FROM lastmile.water_pipelines WHERE ext_id LIKE $1
UNION ALL SELECT 'layer', 'power_upgrades', count(*) FROM lastmile.power_upgrades WHERE ext_id LIKE $1
UNION ALL SELECT 'layer', 'house_renovations', count(*) FROM lastmile.house_renovations WHERE ext_id LIKE $1
UNION ALL SELECT 'layer', 'relocation_sites', count(*) FROM lastmile.relocation_sites WHERE ext_id LIKE $1
UNION ALL SELECT 'layer', 'villages', count(*) FROM lastmile.villages WHERE ext_id LIKE $1
UNION ALL SELECT 'layer', 'admin_areas', count(*) FROM lastmile.admin_areas WHERE ext_id LIKE $1
UNION ALL SELECT 'layer', 'hazard_zones', count(*) FROM lastmile.hazard_zones WHERE ext_id LIKE $1
UNION ALL SELECT 'layer', 'facilities', count(*) FROM lastmile.facilities WHERE ext_id LIKE $1
UNION ALL
SELECT 'road_km', surface, sum(length_m) / 1000 FROM lastmile.roads
WHERE ext_id LIKE $1 AND status = 'completed' GROUP BY surface
UNION ALL
SELECT 'pending_road_km', '', coalesce(sum(length_m), 0) / 1000 FROM lastmile.roads
WHERE ext_id LIKE $1 AND status IN ('planned', 'under_construction')
UNION ALL
SELECT 'renovations', key, n FROM (
    SELECT count(*)::float8 AS total,
           count(*) FILTER (WHERE status = 'planned')::float8 AS planned,
           count(*) FILTER (WHERE status = 'under_construction')::float8 AS under_construction,
           count(*) FILTER (WHERE status = 'completed')::float8 AS completed,
           count(*) FILTER (WHERE status = 'completed' AND completed_on <= DATE '2015-12-31')::float8 AS completed_by_2015
    FROM lastmile.house_renovations WHERE ext_id LIKE $1
) r, LATERAL (VALUES ('total', r.total), ('planned', r.planned), ('under_construction', r.under_construction),
                     ('completed', r.completed), ('completed_by_2015', r.completed_by_2015)) AS v(key, n)
