-- National-scale synthetic data for the coverage benchmark: :villages
-- villages (default 500 000) spread over China's extent (75–134° E,
-- 20–50° N) in 1°×1° "counties" (admin_areas rows with 12-digit codes), and
-- :segments road segments (default 10 000 000), each 0.4–1.6 km long and
-- anchored within ~3 km of a village, with mixed tech grades, surfaces and
-- statuses. Deterministic (setseed). History and routing-graph triggers are
-- skipped (session_replication_role = replica): bulk test data, not edits.
-- Run: psql -v villages=500000 -v segments=10000000 -f bench/national.sql
\if :{?villages}
\else
\set villages 500000
\endif
\if :{?segments}
\else
\set segments 10000000
\endif
SET session_replication_role = replica;
DO $$ BEGIN PERFORM setseed(0.42); END $$;
TRUNCATE lastmile.roads, lastmile.villages, lastmile.admin_areas;

INSERT INTO lastmile.admin_areas (level, code, name, geom)
SELECT 'county', '1' || lpad((cx * 30 + cy)::text, 5, '0') || '000000', 'County ' || (cx * 30 + cy),
       ST_Multi(ST_MakeEnvelope(75 + cx, 20 + cy, 76 + cx, 21 + cy, 4326))
FROM generate_series(0, 58) cx, generate_series(0, 29) cy;

INSERT INTO lastmile.villages (ext_id, name, code, admin_code, population, poor_households, is_poor_village, geom)
SELECT 'v' || j, 'Village ' || j, code, code, 200 + (j::bigint * 7919) % 3000, (j::bigint * 104729) % 60, j % 7 = 0,
       ST_SetSRID(ST_MakePoint(x, y), 4326)
FROM (
    SELECT j, x, y,
           '1' || lpad(((floor(x)::int - 75) * 30 + floor(y)::int - 20)::text, 5, '0')
               || lpad((j % 30)::text, 3, '0') || lpad((j % 1000)::text, 3, '0') AS code
    FROM (SELECT j, 75 + random() * 58.999 AS x, 20 + random() * 29.999 AS y
          FROM generate_series(1, :villages) j) p
) q;

CREATE TEMP TABLE anchor AS
SELECT row_number() OVER () - 1 AS k, ST_X(geom) AS x, ST_Y(geom) AS y FROM lastmile.villages;
CREATE INDEX ON anchor (k);

INSERT INTO lastmile.roads (ext_id, status, completed_on, road_class, tech_grade, surface, geom)
SELECT 'n' || i,
       (ARRAY['completed', 'completed', 'completed', 'under_construction', 'planned'])[1 + i % 5],
       date '2005-01-01' + (i % 5000),
       (ARRAY['county', 'township', 'village', 'village', 'group'])[1 + i % 5],
       (ARRAY['class2', 'class3', 'class4', 'class4', 'substandard', 'substandard'])[1 + (i / 7) % 6],
       (ARRAY['earth', 'gravel', 'stone', 'cement', 'asphalt'])[1 + (i / 3) % 5],
       ST_SetSRID(ST_MakeLine(ST_MakePoint(x0, y0), ST_MakePoint(x0 + s * cos(a), y0 + s * sin(a))), 4326)
FROM (
    SELECT i, a.x + (random() - 0.5) * 0.06 AS x0, a.y + (random() - 0.5) * 0.06 AS y0,
           0.004 + random() * 0.012 AS s, random() * 2 * pi() AS a
    FROM generate_series(0, :segments - 1) i
    JOIN anchor a ON a.k = i % :villages
) p;
RESET session_replication_role;
VACUUM ANALYZE lastmile.roads;
VACUUM ANALYZE lastmile.villages;
VACUUM ANALYZE lastmile.admin_areas;
