-- National-scale synthetic data for the coverage benchmark: :villages
-- villages (default 500 000) spread over China's extent (75–134° E,
-- 20–50° N) in 1°×1° "counties" (admin_areas rows with 12-digit codes), and
-- a connected road network whose routing graph has about :segments edges
-- (default 10 000 000; see below), with mixed tech grades, surfaces and
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

-- The road network: a jittered grid of junctions spanning the extent,
-- spaced so that the graph has about :segments edges (two per junction, 70 % kept).
-- Roads run along grid rows and columns, ROAD_NODES junctions long, so
-- they meet other roads at their interior vertices (as OSM ways do) and
-- the router must split them there; consecutive pieces of a row share their
-- end junction. 30 % of the pieces are left out (dead ends, degree 2–4,
-- islands where a block loses all its links), and 1 % stop 3 m short of
-- their first junction (near-miss gaps for the node tolerance and the
-- dangling-ends report). Junction positions are a function of (i, j) only,
-- so crossing roads share them exactly.
CREATE TEMP TABLE grid AS
SELECT sqrt(59.0 * 30.0 / (:segments / 1.4)) AS step, 10 AS road_nodes;
CREATE TEMP TABLE pieces AS
SELECT p.k, p.line, p.piece, row_number() OVER (ORDER BY p.line, p.piece, p.k) AS i
FROM grid g,
     LATERAL (SELECT 0 AS k, line, piece
              FROM generate_series(0, floor(30 / g.step)::int) line,
                   generate_series(0, floor(59 / g.step)::int / g.road_nodes) piece
              UNION ALL
              SELECT 1, line, piece
              FROM generate_series(0, floor(59 / g.step)::int) line,
                   generate_series(0, floor(30 / g.step)::int / g.road_nodes) piece) p
WHERE abs(hashint8(p.k * 1000000007 + p.line * 100003 + p.piece)) % 100 >= 30;

INSERT INTO lastmile.roads (ext_id, status, completed_on, road_class, tech_grade, surface, geom)
SELECT 'n' || i,
       (ARRAY['completed', 'completed', 'completed', 'completed', 'planned'])[1 + i % 5],
       date '2005-01-01' + (i % 5000)::int,
       (ARRAY['county', 'township', 'village', 'village', 'group'])[1 + i % 5],
       (ARRAY['class2', 'class3', 'class4', 'class4', 'substandard', 'substandard'])[1 + (i / 7) % 6],
       (ARRAY['earth', 'gravel', 'stone', 'cement', 'asphalt'])[1 + (i / 3) % 5],
       ST_SetSRID(ST_MakeLine(array_agg(pt ORDER BY n)), 4326)
FROM (
    SELECT pc.i, n,
           -- junction (gi, gj) of the grid, jittered by up to a fifth of a step
           CASE WHEN n = 0 AND abs(hashint8(pc.i)) % 100 = 0
                -- 1 %: 3 m short of the first junction, towards the second
                THEN ST_Translate(ST_MakePoint(jx, jy), (nx - jx) / ln * 3, (ny - jy) / ln * 3)
                ELSE ST_MakePoint(jx, jy) END AS pt
    FROM pieces pc, grid g,
         generate_series(0, g.road_nodes) n,
         LATERAL (SELECT CASE WHEN pc.k = 0 THEN pc.piece * g.road_nodes + n ELSE pc.line END AS gi,
                         CASE WHEN pc.k = 0 THEN pc.line ELSE pc.piece * g.road_nodes + n END AS gj) ij,
         LATERAL (SELECT 75 + ij.gi * g.step + (abs(hashint8(ij.gi * 7919 + ij.gj)) % 1000 - 500) * g.step / 2500 AS jx,
                         20 + ij.gj * g.step + (abs(hashint8(ij.gi * 104729 + ij.gj * 3)) % 1000 - 500) * g.step / 2500 AS jy,
                         75 + (ij.gi + 1 - pc.k) * g.step AS nx, 20 + (ij.gj + pc.k) * g.step AS ny) j,
         LATERAL (SELECT greatest(sqrt((nx - jx) ^ 2 + (ny - jy) ^ 2) * 111000, 1) AS ln) l
    WHERE 75 + ij.gi * g.step <= 134 AND 20 + ij.gj * g.step <= 50
) q
GROUP BY i
HAVING count(*) > 1;

-- Islands: one small network per 2 000 segments, a closed loop of four
-- roads in the middle of a grid cell (a quarter step from its sides, beyond
-- any junction's jitter), sharing no vertex with the grid: a valley's roads
-- not yet linked to the rest.
INSERT INTO lastmile.roads (ext_id, status, completed_on, road_class, tech_grade, surface, geom)
SELECT 'island' || c.k || '_' || side, 'completed', date '2010-01-01', 'village', 'class4', 'earth',
       ST_SetSRID(ST_MakeLine(
           ST_MakePoint(c.cx + (ARRAY[-1, 1, 1, -1])[1 + side] * g.step / 4, c.cy + (ARRAY[-1, -1, 1, 1])[1 + side] * g.step / 4),
           ST_MakePoint(c.cx + (ARRAY[1, 1, -1, -1])[1 + side] * g.step / 4, c.cy + (ARRAY[-1, 1, 1, -1])[1 + side] * g.step / 4)), 4326)
FROM grid g,
     LATERAL (SELECT k, 75 + (abs(hashint8(k * 31 + 7)) % floor(58 / g.step)::int + 0.5) * g.step AS cx,
                     20 + (abs(hashint8(k * 37 + 11)) % floor(29 / g.step)::int + 0.5) * g.step AS cy
              FROM generate_series(1, greatest(:segments / 2000, 1)) k) c,
     generate_series(0, 3) side;
RESET session_replication_role;
VACUUM ANALYZE lastmile.roads;
VACUUM ANALYZE lastmile.villages;
VACUUM ANALYZE lastmile.admin_areas;
