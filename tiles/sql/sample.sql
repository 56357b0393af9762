-- The estimated number of rows of one layer whose geom_3857 touches tile
-- $1/$2/$3 (grown by the buffer), from the planner's statistics, and the
-- table's estimated row count. $4 is the table's name from the catalog.
-- Fails when the table has no statistics yet (never analysed).
SELECT _postgis_selectivity($4::regclass, 'geom_3857', ST_TileEnvelope($1, $2, $3, margin => 64.0 / 4096)) * reltuples,
       reltuples
FROM pg_class
WHERE oid = $4::regclass
