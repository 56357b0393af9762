-- lastmile.serial_plan() is true, and PARALLEL UNSAFE: a query that calls it
-- is planned without parallel workers (PostgreSQL never parallelises a query
-- that calls a parallel-unsafe function), at no cost (an inlined constant).
-- A tile query ends in WHERE lastmile.serial_plan(): small tile queries are
-- several times slower with parallel plans, and this keeps them serial in
-- one statement, where SET LOCAL max_parallel_workers_per_gather needed a
-- transaction of four statements around each tile (15-35 % of a small
-- tile's rate in the database; docs/tiles.md).
CREATE FUNCTION lastmile.serial_plan() RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL UNSAFE AS 'SELECT true';
