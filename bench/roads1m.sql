-- A synthetic road table for the tile benchmark: :n lines (default 1 M) of
-- 5 vertices each, 0.3-2 km long, scattered over 1 degree x 1 degree around
-- (107 E, 26.5 N) — about 6 000 lines per z12 tile and 400 per z14 tile.
-- Rows are written in spatial order (bands of 1/32 degree), as an import of a
-- regional extract would be, so a tile's rows share pages. History triggers
-- are skipped (session_replication_role = replica): this is bulk test data,
-- not edits. Run: psql -v n=1000000 -f bench/roads1m.sql
\if :{?n}
\else
\set n 1000000
\endif
SET session_replication_role = replica;
TRUNCATE lastmile.roads;
INSERT INTO lastmile.roads (ext_id, name, status, completed_on, road_class, tech_grade, surface, width_m, geom)
SELECT 'syn-' || i,
       'Road ' || i,
       (ARRAY['planned', 'under_construction', 'completed', 'completed'])[1 + i % 4],
       CASE WHEN i % 4 >= 2 THEN date '2010-01-01' + (i % 3650) END,
       (ARRAY['county', 'township', 'village', 'village', 'group'])[1 + i % 5],
       (ARRAY['class3', 'class4', 'class4', 'substandard'])[1 + i % 4],
       (ARRAY['earth', 'gravel', 'stone', 'cement', 'asphalt'])[1 + i % 5],
       3 + (i % 6),
       ST_SetSRID(ST_MakeLine(ARRAY[
           ST_MakePoint(x, y),
           ST_MakePoint(x + s * cos(a), y + s * sin(a)),
           ST_MakePoint(x + s * (cos(a) + cos(a + 0.4)), y + s * (sin(a) + sin(a + 0.4))),
           ST_MakePoint(x + s * (cos(a) + cos(a + 0.4) + cos(a - 0.3)), y + s * (sin(a) + sin(a + 0.4) + sin(a - 0.3))),
           ST_MakePoint(x + s * (cos(a) + cos(a + 0.4) + cos(a - 0.3) + cos(a + 0.2)),
                        y + s * (sin(a) + sin(a + 0.4) + sin(a - 0.3) + sin(a + 0.2)))
       ]), 4326)
FROM (
    SELECT i,
           106.5 + random() AS x,
           26.0 + random() AS y,
           0.0007 + random() * 0.004 AS s,   -- step in degrees (4 steps: 0.3-2 km)
           random() * 2 * pi() AS a
    FROM generate_series(1, :n) AS i
) p
ORDER BY floor(y * 32), floor(x * 32);
RESET session_replication_role;
VACUUM ANALYZE lastmile.roads;
