-- What a network question needs, kept ready so that it does not read ten
-- million rows or snap half a million villages per question (issue 14,
-- "Scale"):
--
-- route_pack: the routing graph's edges packed into binary chunks of 4 096
-- edge ids (chunk = id >> 12), one row per chunk, read by the Go search in
-- one pass (a few hundred megabytes at national scale instead of ten million
-- tuples). Each edge is a fixed 36-byte record, big-endian:
--   id int8, source int4, target int4, road_id int8,
--   day int4 (completed_on - 2000-01-01; 2147483647 when completed with no
--             date, -2147483648 when not completed: never traversable),
--   cost float8 (geodesic metres).
-- Statement triggers on route_edges mark the chunks an insert or delete
-- touched (route_pack_dirty); lastmile.route_pack_sync() repacks them, in
-- the same transaction as the graph refresh (stats.ensureGraph). A TRUNCATE
-- (the whole rebuild) empties the pack and bumps route_cache_state.epoch.
--
-- village_snap: each village's snap onto the current traversable graph
-- (no as_of): the geodesic-nearest point of its nearest completed edge,
-- as the edge id, the geodesic distance along the edge from its first
-- vertex and the snap distance, with the edge's ends, road and cost. Computed in Go (stats/geodesic.go), kept
-- current from the logged edge deletions (route_edges_gone), the edges added
-- since (ids above snap_max_edge) and the logged village changes
-- (village_snap_changes); rebuilt whole when epoch moves.

CREATE TABLE lastmile.route_pack (
    chunk integer PRIMARY KEY,
    data  bytea NOT NULL
);
ALTER TABLE lastmile.route_pack ALTER COLUMN data SET STORAGE EXTERNAL; -- no compression: read fast

CREATE TABLE lastmile.route_pack_dirty (chunk integer PRIMARY KEY);
CREATE TABLE lastmile.route_edges_gone (edge_id bigint PRIMARY KEY);

CREATE TABLE lastmile.route_cache_state (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    epoch         bigint NOT NULL DEFAULT 1, -- bumped by every whole rebuild (edge ids restart)
    snap_epoch    bigint NOT NULL DEFAULT 0, -- the epoch village_snap was built in
    snap_max_edge bigint NOT NULL DEFAULT 0, -- edges above this id are new to village_snap
    snap_max_dist double precision NOT NULL DEFAULT 0, -- an upper bound of village_snap.dist
    version       bigint NOT NULL DEFAULT 1 -- bumped by every refresh that changed the graph or the snaps
);

-- Search results kept between questions (stats/netcache.go): each vertex's
-- least cost to the nearest qualifying road of one definition (source
-- filter and its values, metric, as_of), valid while version is
-- route_cache_state.version. Unlogged: a cache, rebuilt after a crash, never
-- replicated (a replica searches itself).
CREATE UNLOGGED TABLE lastmile.route_search_cache (
    key      text PRIMARY KEY,
    version  bigint NOT NULL,
    used_at  timestamptz NOT NULL DEFAULT now(),
    cost     bytea NOT NULL, -- float64 per vertex, little-endian
    length   bytea           -- metres per vertex when cost is time
);
ALTER TABLE lastmile.route_search_cache ALTER COLUMN cost SET STORAGE EXTERNAL;
ALTER TABLE lastmile.route_search_cache ALTER COLUMN length SET STORAGE EXTERNAL;
INSERT INTO lastmile.route_cache_state DEFAULT VALUES;

CREATE TABLE lastmile.village_snap (
    village_id bigint PRIMARY KEY,
    edge_id    bigint, -- NULL: no traversable edge at all
    along      double precision,
    dist       double precision,
    -- the edge's, copied (an edge never changes: a refresh replaces it)
    source     bigint,
    target     bigint,
    road_id    bigint,
    cost       double precision
);
CREATE INDEX village_snap_edge ON lastmile.village_snap (edge_id);

CREATE TABLE lastmile.village_snap_changes (village_id bigint PRIMARY KEY);

CREATE FUNCTION lastmile.route_pack_mark() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        TRUNCATE lastmile.route_pack, lastmile.route_pack_dirty, lastmile.route_edges_gone;
        UPDATE lastmile.route_cache_state SET epoch = epoch + 1;
        -- every chunk is rebuilt by the next sync
        INSERT INTO lastmile.route_pack_dirty VALUES (-1);
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO lastmile.route_pack_dirty SELECT DISTINCT (id >> 12)::int FROM new_rows
            ON CONFLICT DO NOTHING;
    ELSE -- DELETE
        INSERT INTO lastmile.route_pack_dirty SELECT DISTINCT (id >> 12)::int FROM old_rows
            ON CONFLICT DO NOTHING;
        INSERT INTO lastmile.route_edges_gone SELECT id FROM old_rows ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER route_edges_pack_insert AFTER INSERT ON lastmile.route_edges
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lastmile.route_pack_mark();
CREATE TRIGGER route_edges_pack_delete AFTER DELETE ON lastmile.route_edges
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lastmile.route_pack_mark();
CREATE TRIGGER route_edges_pack_truncate AFTER TRUNCATE ON lastmile.route_edges
    FOR EACH STATEMENT EXECUTE FUNCTION lastmile.route_pack_mark();

-- Repacks the dirty chunks; returns how many it wrote.
CREATE FUNCTION lastmile.route_pack_sync() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    dirty int[];
    n     int;
BEGIN
    WITH d AS (DELETE FROM lastmile.route_pack_dirty RETURNING chunk)
    SELECT coalesce(array_agg(chunk), '{}') INTO dirty FROM d;
    IF cardinality(dirty) = 0 THEN
        RETURN 0;
    END IF;
    IF -1 = ANY(dirty) THEN
        TRUNCATE lastmile.route_pack;
        INSERT INTO lastmile.route_pack (chunk, data)
            SELECT (e.id >> 12)::int, string_agg(
                int8send(e.id) || int4send(e.source::int) || int4send(e.target::int) || int8send(e.road_id)
                || int4send(CASE WHEN e.status <> 'completed' THEN -2147483648
                                 WHEN e.completed_on IS NULL THEN 2147483647
                                 ELSE e.completed_on - date '2000-01-01' END)
                || float8send(e.cost), ''::bytea ORDER BY e.id)
            FROM lastmile.route_edges e GROUP BY 1;
    ELSE
        DELETE FROM lastmile.route_pack WHERE chunk = ANY(dirty);
        INSERT INTO lastmile.route_pack (chunk, data)
            SELECT c, string_agg(
                int8send(e.id) || int4send(e.source::int) || int4send(e.target::int) || int8send(e.road_id)
                || int4send(CASE WHEN e.status <> 'completed' THEN -2147483648
                                 WHEN e.completed_on IS NULL THEN 2147483647
                                 ELSE e.completed_on - date '2000-01-01' END)
                || float8send(e.cost), ''::bytea ORDER BY e.id)
            FROM unnest(dirty) c
            JOIN lastmile.route_edges e ON e.id >= c::bigint << 12 AND e.id < (c::bigint + 1) << 12
            GROUP BY c;
    END IF;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- village changes for village_snap (statement triggers: a bulk load logs
-- its ids in one insert)
CREATE FUNCTION lastmile.village_snap_mark() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE lastmile.route_cache_state SET snap_epoch = 0;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO lastmile.village_snap_changes SELECT id FROM new_rows ON CONFLICT DO NOTHING;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO lastmile.village_snap_changes
            SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE NOT (n.geom ~= o.geom)
            ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO lastmile.village_snap_changes SELECT id FROM old_rows ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER villages_snap_insert AFTER INSERT ON lastmile.villages
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lastmile.village_snap_mark();
CREATE TRIGGER villages_snap_update AFTER UPDATE ON lastmile.villages
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lastmile.village_snap_mark();
CREATE TRIGGER villages_snap_delete AFTER DELETE ON lastmile.villages
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lastmile.village_snap_mark();
CREATE TRIGGER villages_snap_truncate AFTER TRUNCATE ON lastmile.villages
    FOR EACH STATEMENT EXECUTE FUNCTION lastmile.village_snap_mark();

-- the graph built before has no pack and no snaps: the next refresh packs
-- every chunk (snap_epoch 0 is not the epoch: it snaps every village)
INSERT INTO lastmile.route_pack_dirty VALUES (-1);
