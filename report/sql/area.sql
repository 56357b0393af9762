-- The admin area a report is about: its name, level, parent and bounds
-- (lon/lat). $1: the 12-digit code (unique in admin_areas).
SELECT name, level, parent_code,
       ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom)
FROM lastmile.admin_areas
WHERE code = $1
