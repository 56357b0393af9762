-- The data extent of one layer's table in lon/lat (NULLs when empty).
SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
FROM (SELECT ST_Extent(geom) AS e FROM /*table*/) s
