-- The tiles package's test fixture: a few features of every layer around
-- (106.6 E, 26.6 N), plus one road far to the north-east (107.5 E, 27.5 N)
-- whose tiles must stay cached when the others are edited.
INSERT INTO lastmile.roads (ext_id, name, status, completed_on, road_class, tech_grade, surface, width_m, geom) VALUES
 ('r1', 'County road A', 'completed', '2015-06-30', 'county', 'class3', 'asphalt', 6.5,
  ST_GeomFromText('LINESTRING(106.60 26.60, 106.63 26.605, 106.66 26.612, 106.70 26.62)', 4326)),
 ('r2', 'Village road B', 'under_construction', NULL, 'village', 'class4', 'cement', 4.5,
  ST_GeomFromText('LINESTRING(106.62 26.58, 106.625 26.60, 106.63 26.65)', 4326)),
 ('r3', 'Group road C', 'planned', NULL, 'group', 'substandard', 'earth', 3,
  ST_GeomFromText('LINESTRING(106.65 26.61, 106.6504 26.6104)', 4326)),
 ('r4', 'Far road D', 'completed', '2012-01-15', 'township', 'class4', 'gravel', 5,
  ST_GeomFromText('MULTILINESTRING((107.50 27.50, 107.52 27.51), (107.52 27.51, 107.53 27.53))', 4326));

INSERT INTO lastmile.water_pipelines (ext_id, name, status, completed_on, diameter_mm, material, geom) VALUES
 ('w1', 'Pipeline 1', 'completed', '2016-03-01', 110, 'PE',
  ST_GeomFromText('LINESTRING(106.61 26.59, 106.64 26.60)', 4326));

INSERT INTO lastmile.power_upgrades (ext_id, name, status, kind, voltage_kv, capacity_kva, geom) VALUES
 ('p1', '10 kV line', 'completed', 'line', 10, NULL, ST_GeomFromText('LINESTRING(106.60 26.62, 106.68 26.63)', 4326)),
 ('p2', 'Transformer T1', 'planned', 'transformer', 0.4, 200, ST_GeomFromText('POINT(106.641 26.607)', 4326));

INSERT INTO lastmile.house_renovations (ext_id, name, status, danger_grade, work, households, geom) VALUES
 ('h1', 'House 1', 'completed', 'D', 'rebuild', 1, ST_GeomFromText('POINT(106.6312 26.6043)', 4326)),
 ('h2', 'House 2', 'under_construction', 'C', 'repair', 1, ST_GeomFromText('POINT(106.6315 26.6045)', 4326));

INSERT INTO lastmile.relocation_sites (ext_id, name, status, capacity_households, relocated_households, geom) VALUES
 ('s1', 'Site 1', 'under_construction', 120, 80,
  ST_GeomFromText('POLYGON((106.645 26.615, 106.650 26.615, 106.650 26.619, 106.645 26.619, 106.645 26.615))', 4326));

INSERT INTO lastmile.villages (ext_id, name, code, population, is_poor_village, geom) VALUES
 ('v1', 'Shangzhai', '522301100201', 1200, true, ST_GeomFromText('POINT(106.6305 26.6051)', 4326)),
 ('v2', 'Xiazhai', '522301100202', 800, false, ST_GeomFromText('POINT(106.6320 26.6060)', 4326)),
 ('v3', 'Hexi', '522301100203', 450, true, ST_GeomFromText('POINT(106.69 26.64)', 4326));

INSERT INTO lastmile.admin_areas (ext_id, name, level, code, geom) VALUES
 ('a1', 'Demo county', 'county', '522301000000',
  ST_GeomFromText('MULTIPOLYGON(((106.55 26.55, 106.75 26.55, 106.76 26.60, 106.75 26.68, 106.55 26.68, 106.55 26.55)))', 4326));

INSERT INTO lastmile.hazard_zones (ext_id, name, kind, severity, geom) VALUES
 ('z1', 'Slope 1', 'landslide', 'high',
  ST_GeomFromText('MULTIPOLYGON(((106.655 26.625, 106.665 26.625, 106.665 26.632, 106.655 26.632, 106.655 26.625)))', 4326));

INSERT INTO lastmile.facilities (ext_id, name, kind, geom) VALUES
 ('f1', 'Central school', 'school', ST_GeomFromText('POINT(106.633 26.603)', 4326));
