-- Every staged row PostGIS would refuse, with the reason. The stage and
-- geom placeholders are the staging table and the expression of its
-- geometry in EPSG:4326; $1 the allowed geometry types (upper case).
WITH s AS (
    SELECT row_no, /*geom*/ AS g FROM /*stage*/
), geom_problems AS (
    SELECT row_no, CASE
        WHEN ST_IsEmpty(g) THEN 'geometry is empty'
        WHEN NOT ST_IsValid(g) THEN 'invalid geometry: ' || ST_IsValidReason(g) || ' (use repair to fix it with ST_MakeValid)'
        WHEN upper(GeometryType(g)) <> ALL ($1::text[]) THEN GeometryType(g) || ' is not allowed in this layer'
        WHEN ST_XMin(g) < -180 OR ST_XMax(g) > 180 OR ST_YMin(g) < -85.0511 OR ST_YMax(g) > 85.0511
            THEN 'coordinates are outside longitude -180…180, latitude ±85.0511 (in EPSG:4326)'
        END AS problem
    FROM s
), dup AS (
    SELECT row_no, ext_id, min(row_no) OVER (PARTITION BY ext_id) AS first FROM /*stage*/
)
SELECT row_no, 'geometry', '', problem FROM geom_problems WHERE problem IS NOT NULL
UNION ALL
SELECT row_no, 'ext_id', ext_id, 'is also the ext_id of row ' || first FROM dup WHERE row_no <> first
ORDER BY 1
