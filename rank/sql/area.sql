-- The admin area a grid covers: its geodesic area (to estimate the cell
-- count before generating anything) and its centroid (to pick the UTM zone).
-- $1: admin area code.
SELECT ST_Area(a.geom::geography) AS area_m2,
       ST_X(ST_Centroid(a.geom)) AS lon,
       ST_Y(ST_Centroid(a.geom)) AS lat
FROM admin_areas a
WHERE a.code = $1
