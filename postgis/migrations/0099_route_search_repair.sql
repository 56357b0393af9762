-- Kept searches repaired after an edit instead of searched again
-- (stats/netrepair.go, issue 14: one road edit reflected in the next
-- answer within 5 s at national scale).
--
-- route_search_cache.epoch: the graph epoch a kept search was made in. A
-- search of an earlier version of the same epoch (vertex ids unchanged) is
-- kept until it is repaired for the current one; a whole rebuild (a new
-- epoch) retires it.
-- village_snap.version: the route_cache_state.version a village's snap was
-- written for, so that the measures kept beside a search of an earlier
-- version are redone for the villages re-snapped since (and those on edges
-- whose ends' costs changed) instead of for every village.
ALTER TABLE lastmile.route_search_cache ADD COLUMN epoch bigint;
ALTER TABLE lastmile.village_snap ADD COLUMN version bigint NOT NULL DEFAULT 0;
CREATE INDEX village_snap_version ON lastmile.village_snap (version);
