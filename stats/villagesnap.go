package stats

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"github.com/lastmile/lastmile/postgis/pgsql"
)

// ensureGraph brings the routing graph, its pack and the villages' snaps
// up to date when roads, edges or villages changed since. The graph and its
// pack in one transaction, which also moves route_cache_state.version on
// (the kept searches are then repaired: netrepair.go); the snaps in a
// second one under the graph's lock, so that a long re-snap that fails or
// is cancelled does not lose the graph (questions meanwhile snap their
// targets themselves: the same answer, slower).
func ensureGraph(ctx context.Context, pool *pgxpool.Pool) error {
	var stale, snapsOK bool
	var built *nodedGraph // a whole build made here, for the snaps
	var builtEpoch int64
	if err := pool.QueryRow(ctx, `SELECT g.generation > g.built_generation OR EXISTS (SELECT 1 FROM lastmile.route_pack_dirty),
		`+snapsCurrentSQL+` FROM lastmile.route_graph_state g`).Scan(&stale, &snapsOK); err != nil {
		return fmt.Errorf("routing graph state: %w", err)
	}
	if stale {
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			// a whole build with node tolerance 0 in Go (noding.go, pack
			// included), anything else by the SQL function
			g, err := rebuildGraphGo(ctx, tx, false)
			if err != nil {
				return fmt.Errorf("rebuilding the routing graph: %w", err)
			}
			if g == nil {
				if _, err := tx.Exec(ctx, `SELECT lastmile.route_graph_rebuild()`); err != nil {
					return fmt.Errorf("rebuilding the routing graph: %w", err)
				}
			} else if err := tx.QueryRow(ctx, `SELECT epoch FROM lastmile.route_cache_state`).Scan(&builtEpoch); err != nil {
				return err
			}
			built = g
			if _, err := tx.Exec(ctx, `SELECT lastmile.route_pack_sync()`); err != nil {
				return fmt.Errorf("packing the routing graph: %w", err)
			}
			_, err = tx.Exec(ctx, `UPDATE lastmile.route_cache_state SET version = version + 1`)
			return err
		}); err != nil {
			return err
		}
	}
	if stale || !snapsOK {
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			// route_graph_rebuild's lock: no refresh of the edges meanwhile
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7283746)`); err != nil {
				return err
			}
			var edges *snapEdges
			if built != nil {
				tm := newStepTimer()
				edges = snapEdgesOf(built)
				tm.step("snaps: grid")
				built = nil
			}
			return syncSnaps(ctx, tx, edges, builtEpoch)
		}); err != nil {
			return fmt.Errorf("snapping the villages: %w", err)
		}
	}
	return nil
}

// snapsCurrentSQL is true when the pack and lastmile.village_snap agree
// with the routing graph's edges and the villages.
const snapsCurrentSQL = `(SELECT c.snap_epoch = c.epoch
		AND NOT EXISTS (SELECT 1 FROM lastmile.route_pack_dirty)
		AND NOT EXISTS (SELECT 1 FROM lastmile.village_snap_changes)
		AND NOT EXISTS (SELECT 1 FROM lastmile.route_edges_gone)
		AND coalesce((SELECT max(id) FROM lastmile.route_edges), 0) <= c.snap_max_edge
	FROM lastmile.route_cache_state c)`

// snapsCurrent reports whether lastmile.village_snap is current in q's
// snapshot.
func snapsCurrent(ctx context.Context, q querier) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT `+snapsCurrentSQL).Scan(&ok)
	return ok, err
}

// villageSnap is a village's snap onto the graph (edge 0: none).
type villageSnap struct {
	village, edge        int64
	along, dist          float64
	source, target, road int64 // the edge's
	cost                 float64
}

// syncSnaps brings lastmile.village_snap up to date: whole when the graph
// was rebuilt whole (its edge ids restarted) or the villages truncated,
// else for the villages that changed, those snapped onto a deleted edge and
// those an added edge may be nearer to (stats/sql/village_snap_near.sql).
// A whole re-snap runs in memory (snapgo.go) on edges, the graph just built
// in epoch edgesEpoch, or on the edges read now.
func syncSnaps(ctx context.Context, tx pgx.Tx, edges *snapEdges, edgesEpoch int64) error {
	var epoch, snapEpoch, maxEdge, newMax, version int64
	var maxDist float64
	if err := tx.QueryRow(ctx, `SELECT epoch, snap_epoch, snap_max_edge, snap_max_dist,
		coalesce((SELECT max(id) FROM lastmile.route_edges), 0) FROM lastmile.route_cache_state`).Scan(&epoch, &snapEpoch, &maxEdge, &maxDist, &newMax); err != nil {
		return err
	}
	// the state row first, before village_snap_changes: a village write's
	// statement triggers take them in that order (villages_gen_bump, then
	// the snap log), and the other order deadlocks with them
	if err := tx.QueryRow(ctx, `SELECT version FROM lastmile.route_cache_state FOR UPDATE`).Scan(&version); err != nil {
		return err
	}
	var snaps []villageSnap
	var err error
	changed := 0 // 1 when any snap changed
	if epoch != snapEpoch {
		changed = 1
		if _, err := tx.Exec(ctx, `TRUNCATE lastmile.village_snap, lastmile.village_snap_changes, lastmile.route_edges_gone`); err != nil {
			return err
		}
		tm := newStepTimer()
		if edges == nil || edgesEpoch != epoch {
			if edges, err = loadSnapEdges(ctx, tx); err != nil {
				return err
			}
			tm.step("snaps: edges read")
		}
		if snaps, err = snapAll(ctx, tx, edges, nil); err != nil {
			return err
		}
		edges = nil
		tm.step("snaps: every village snapped")
		maxDist = 0
	} else {
		var ids []int64
		if err := tx.QueryRow(ctx, `WITH ch AS (DELETE FROM lastmile.village_snap_changes RETURNING village_id),
			gone AS (DELETE FROM lastmile.route_edges_gone RETURNING edge_id)
			SELECT coalesce(array_agg(DISTINCT x), '{}') FROM (
				SELECT village_id AS x FROM ch
				UNION ALL SELECT s.village_id FROM lastmile.village_snap s WHERE s.edge_id IN (SELECT edge_id FROM gone)
			) u`).Scan(&ids); err != nil {
			return err
		}
		if newMax > maxEdge {
			var near []int64
			if err := tx.QueryRow(ctx, `SELECT coalesce(array_agg(id), '{}') FROM (`+statsSQL.Fill("village_snap_near.sql", nil)+`) n(id)`,
				maxEdge, maxDist).Scan(&near); err != nil {
				return err
			}
			ids = append(ids, near...)
		}
		if len(ids) > 0 {
			changed = 1
			if _, err := tx.Exec(ctx, `DELETE FROM lastmile.village_snap WHERE village_id = ANY($1)`, ids); err != nil {
				return err
			}
			if snaps, err = snapVillages(ctx, tx, ids); err != nil {
				return err
			}
		}
	}
	for _, s := range snaps {
		if s.edge > 0 && s.dist > maxDist {
			maxDist = s.dist
		}
	}
	tm := newStepTimer()
	if len(snaps) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"lastmile", "village_snap"}, []string{"village_id", "edge_id", "along", "dist", "source", "target", "road_id", "cost", "version"},
			pgx.CopyFromSlice(len(snaps), func(i int) ([]any, error) {
				// the version the update below moves on to (changed is 1)
				s := snaps[i]
				if s.edge == 0 {
					return []any{s.village, nil, nil, nil, nil, nil, nil, nil, version + 1}, nil
				}
				return []any{s.village, s.edge, s.along, s.dist, s.source, s.target, s.road, s.cost, version + 1}, nil
			})); err != nil {
			return err
		}
		tm.step("snaps: written")
	}
	// moving version on when the snaps changed makes the village measures
	// kept beside the searches (netfast.go) stale until repaired for the
	// villages written here with the new version (netrepair.go)
	_, err = tx.Exec(ctx, `UPDATE lastmile.route_cache_state SET snap_epoch = epoch, snap_max_edge = $1, snap_max_dist = $2,
		version = version + $3::int`, newMax, maxDist, changed)
	return err
}

// snapVillages snaps the villages with the given ids (all when ids is nil)
// onto the current traversable graph, as snapTargets does.
func snapVillages(ctx context.Context, q querier, ids []int64) ([]villageSnap, error) {
	which := "true"
	var args pgsql.Args
	if ids != nil {
		which = "t.id = ANY(" + args.Add(ids) + ")"
	}
	rows, err := q.Query(ctx, statsSQL.Fill("village_snap.sql", map[string]string{"which": which}), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []villageSnap
	var best lineSnap
	for rows.Next() {
		var id int64
		var lon, lat float64
		var edge, source, target, road *int64
		var cost *float64
		var wkbLine []byte
		if err := rows.Scan(&id, &lon, &lat, &edge, &wkbLine, &source, &target, &road, &cost); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].village != id {
			out = append(out, villageSnap{village: id})
			best = lineSnap{dist: math.Inf(1)}
		}
		if edge == nil {
			continue
		}
		g, err := wkb.Unmarshal(wkbLine)
		if err != nil {
			return nil, fmt.Errorf("edge %d: %w", *edge, err)
		}
		line, ok := g.(orb.LineString)
		if !ok {
			return nil, fmt.Errorf("edge %d: a %s, not a line", *edge, g.GeoJSONType())
		}
		pts := make([][2]float64, len(line))
		for i, p := range line {
			pts[i] = p
		}
		if sn := snapToLine(pts, lon, lat); sn.dist < best.dist {
			best = sn
			out[len(out)-1] = villageSnap{village: id, edge: *edge, along: sn.along, dist: sn.dist,
				source: *source, target: *target, road: *road, cost: *cost}
		}
	}
	return out, rows.Err()
}

// packedTargets returns the targets (villages, no as_of) with their snaps
// from lastmile.village_snap; qual and speeds (nil: none) are by road id.
// full asks for the targets' names and positions too.
func (req *coverageRequest) packedTargets(ctx context.Context, q querier, qual []bool, speeds []float64, full bool) ([]targetRow, []networkSnap, error) {
	parts := req.sqlParts()
	parts["full"] = fmt.Sprint(full)
	rows, err := q.Query(ctx, statsSQL.Fill("network_targets.sql", parts), req.args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var out []targetRow
	var snaps []networkSnap
	for rows.Next() {
		var t targetRow
		var edge, source, target, road *int64
		var along, dist, cost *float64
		if err := rows.Scan(&t.ID, &t.Name, &t.Code, &t.Population, &t.PoorHouseholds, &t.Lon, &t.Lat, &edge, &along, &dist,
			&source, &target, &road, &cost); err != nil {
			return nil, nil, err
		}
		out = append(out, t)
		var sn networkSnap
		if edge != nil {
			r := *road
			sn = networkSnap{ok: true, dist: *dist, along: *along, source: *source, target: *target,
				cost: *cost, edge: *edge, qual: r >= 0 && r < int64(len(qual)) && qual[r]}
			if r >= 0 && r < int64(len(speeds)) {
				sn.speedKmh = speeds[r]
			}
		}
		snaps = append(snaps, sn)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	// by id, as snapTargets lists them (sorting here is cheaper than in SQL;
	// a sequential scan mostly returns them so)
	if sort.SliceIsSorted(out, func(a, b int) bool { return out[a].ID < out[b].ID }) {
		return out, snaps, nil
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return out[idx[a]].ID < out[idx[b]].ID })
	sortedOut, sortedSnaps := make([]targetRow, len(out)), make([]networkSnap, len(out))
	for i, j := range idx {
		sortedOut[i], sortedSnaps[i] = out[j], snaps[j]
	}
	return sortedOut, sortedSnaps, nil
}
