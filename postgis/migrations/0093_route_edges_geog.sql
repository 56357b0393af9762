-- The routing graph's edges lose their GiST index on geom::geography: its
-- last user (stats/sql/network_dangling.sql) now finds candidates through
-- the geometry index (route_edges_geom, a box holding every point within
-- the gap) before the geodesic test. Geography has no sorted GiST build:
-- the index cost 14.6 of the 26 s of a cold network answer at 750 000
-- edges (the whole rebuild builds the edges' indexes after its COPY), about
-- 200 s at the national 10 M.
DROP INDEX IF EXISTS lastmile.route_edges_geog;

-- Each village's network measure kept beside the search of its definition
-- (stats/netfast.go): metres (or minutes when the metric is time) to the
-- nearest qualifying road, +Infinity when unreachable or not snapped, for
-- every village (village_ids ascending), so that a warm question sums them
-- per group in SQL, reading two arrays instead of every vertex's cost and
-- every village's snap. Valid while the row's version is
-- route_cache_state.version, which a refresh of the villages' snaps now
-- also moves on.
ALTER TABLE lastmile.route_search_cache
    ADD COLUMN village_ids bigint[],
    ADD COLUMN village_measure double precision[];
ALTER TABLE lastmile.route_search_cache ALTER COLUMN village_ids SET STORAGE EXTERNAL;
ALTER TABLE lastmile.route_search_cache ALTER COLUMN village_measure SET STORAGE EXTERNAL;
