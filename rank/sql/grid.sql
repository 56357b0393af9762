-- Candidates (c): the centroids of a square grid of $6-metre cells laid out
-- in a metric projection ($7: the UTM zone of the area's centroid), over an
-- admin area ($1, a code) or, when $1 is null, the lon/lat box $2..$5. A cell
-- is a candidate when its centroid lies inside the area. Row-major order,
-- south to north then west to east, gives each cell a stable number.
WITH area AS (
    SELECT ST_Transform(a.geom, $7::int) AS g
    FROM admin_areas a
    WHERE $1::text IS NOT NULL AND a.code = $1::text
    UNION ALL
    SELECT ST_Transform(ST_Segmentize(ST_MakeEnvelope($2, $3, $4, $5, 4326), 0.01), $7::int)
    WHERE $1::text IS NULL
)
SELECT c.i, c.j, ST_AsBinary(ST_Transform(ST_Centroid(c.geom), 4326)) AS wkb
FROM area, ST_SquareGrid($6::float8, area.g) AS c
WHERE ST_Intersects(area.g, ST_Centroid(c.geom))
ORDER BY c.j, c.i
