-- The rows of one line overview (layer.Overview of kind lines: roads,
-- water pipelines, power lines) of the counties $1 (text[] of 12-digit
-- county codes, '' for lines without admin_code; NULL: every county), into
-- the temporary table ov_lines. Each line of /*table*/ (/*lines*/: not its
-- points) visible in a band (/*minzoom*/ at most the band's first zoom,
-- from the catalog's zoom rules) is simplified in EPSG:3857 to the band's
-- tolerance (/*bands*/: VALUES (band, tolerance, tile size of the band's
-- first zoom)), dropped when smaller than it, and collected with the lines
-- of its county, band, tile (of the band's first zoom, holding the line's
-- centre: a row spans little more than a tile, so a tile clips few
-- vertices) and kept column values (/*columns*/, from /*values*/: the kept
-- fields and the class of the rules' numeric field) into one
-- MultiLineString, in id order. Not ST_LineMerge'd: joining lines across
-- features would make one feature's edit change the merged line's encoding
-- in tiles far from it, and an archive update re-renders only the tiles
-- over the edits; collected, a tile's part of the line depends only on the
-- features in it.
CREATE TEMP TABLE ov_lines ON COMMIT DROP AS
WITH src AS (
    SELECT r.id, CASE WHEN r.admin_code IS NULL THEN '' ELSE left(r.admin_code, 6) || '000000' END AS area,
           /*minzoom*/ AS minzoom, /*values*/, r.geom_3857
    FROM /*table*/ r
    WHERE /*lines*/
      AND ($1::text[] IS NULL OR CASE WHEN r.admin_code IS NULL THEN '' ELSE left(r.admin_code, 6) || '000000' END = ANY($1))
), bands (band, tol, cell) AS (
    VALUES /*bands*/
), parts AS (
    SELECT s.area, b.band, c.cx, c.cy, s.minzoom, /*columns*/, s.id, d.path, d.geom
    FROM src s
    JOIN bands b ON s.minzoom <= b.band
    CROSS JOIN LATERAL (SELECT ST_Centroid(ST_Envelope(s.geom_3857)) AS c) m
    CROSS JOIN LATERAL (SELECT floor((ST_X(m.c) + 20037508.342789244) / b.cell)::int AS cx,
                               floor((20037508.342789244 - ST_Y(m.c)) / b.cell)::int AS cy) c
    CROSS JOIN LATERAL ST_Dump(ST_Simplify(s.geom_3857, b.tol)) d
    WHERE greatest(ST_XMax(s.geom_3857) - ST_XMin(s.geom_3857), ST_YMax(s.geom_3857) - ST_YMin(s.geom_3857)) >= b.tol
)
SELECT area, band, cx, cy, minzoom, /*columns*/, count(DISTINCT id)::int AS n,
       ST_Multi(ST_Collect(geom ORDER BY id, path))::geometry(MultiLineString, 3857) AS geom_3857
FROM parts
GROUP BY area, band, cx, cy, minzoom, /*columns*/
