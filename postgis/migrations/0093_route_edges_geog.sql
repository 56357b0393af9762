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

-- With them, each village's group code, population and poor households
-- (as the measures were computed), so that a question without a target
-- filter sums them in Go without reading the villages; valid while
-- villages_gen, moved on by every write to the villages, is the row's.
ALTER TABLE lastmile.route_search_cache
    ADD COLUMN villages_gen bigint,
    ADD COLUMN village_codes text[],
    ADD COLUMN village_population bigint[],
    ADD COLUMN village_poor bigint[];
ALTER TABLE lastmile.route_search_cache ALTER COLUMN village_codes SET STORAGE EXTERNAL;
ALTER TABLE lastmile.route_search_cache ALTER COLUMN village_population SET STORAGE EXTERNAL;
ALTER TABLE lastmile.route_search_cache ALTER COLUMN village_poor SET STORAGE EXTERNAL;
ALTER TABLE lastmile.route_cache_state ADD COLUMN villages_gen bigint NOT NULL DEFAULT 1;

CREATE FUNCTION lastmile.villages_gen_bump() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lastmile.route_cache_state SET villages_gen = villages_gen + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER villages_gen_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON lastmile.villages
    FOR EACH STATEMENT EXECUTE FUNCTION lastmile.villages_gen_bump();
