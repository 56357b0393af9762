-- lastmile.tile_batch(xs, ys) is unnest(xs, ys) WITH ORDINALITY with a
-- fixed row estimate (issue 19). The tile service runs the tiles of one
-- statement text that wait for a connection at the same time as one
-- statement over tile_batch (tiles/batch.go). Over unnest itself the
-- planner sees the arrays' length in every custom plan and keeps custom
-- plans, replanning the statement at every run (more than batching saves on
-- small tiles); behind a function it does not inline (the SET clause), the
-- custom and generic plans cost the same and the generic one is kept.
CREATE FUNCTION lastmile.tile_batch(xs int[], ys int[], OUT x int, OUT y int, OUT i bigint) RETURNS SETOF record
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE ROWS 8 SET search_path = pg_catalog
AS 'SELECT * FROM unnest(xs, ys) WITH ORDINALITY';
