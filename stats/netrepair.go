package stats

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A kept search repaired after an edit (issue 14, "one road edit is
// reflected in the next answer within 5 s"): a road edit changes a few
// edges, but a whole search of the national graph costs seconds and
// reading every village's snap seconds more. The search kept for the
// previous graph version of the same epoch (vertex ids are stable between
// whole rebuilds) is repaired instead — the vertices whose least cost no
// longer has a path behind it are reset, every vertex a new edge or a new
// seed can improve is pushed, and Dijkstra runs from there — and the
// villages' measures kept beside it are recomputed only for the villages
// snapped onto an edge with an end whose cost changed, or re-snapped since.
// The repaired costs equal a whole search's bit for bit (both are the least
// of the same floating-point path sums); the test checks it on random
// graphs and edits and after every kind of road edit.

// repairedSearches and repairedMeasures count the searches repaired and the
// answers given from village measures repaired (for the tests).
var repairedSearches, repairedMeasures atomic.Int64

// staleSearch is a kept search of an earlier graph version of this epoch,
// with its village measures when they can be repaired (nil otherwise).
type staleSearch struct {
	r       searchResult
	version int64
	ids     []int64
	measure []float64
}

// loadStaleSearch reads the kept search of key made for an earlier version
// of this epoch; nil when there is none. withMeasures asks for its village
// measures too, when they were kept for these villages (villagesGen).
func loadStaleSearch(ctx context.Context, q querier, key string, epoch, version, villagesGen int64, timed, withMeasures bool) (*staleSearch, error) {
	var cost, length []byte
	s := &staleSearch{}
	err := q.QueryRow(ctx, `SELECT version, cost, length,
			CASE WHEN $4 AND villages_gen = $5 THEN village_ids END, CASE WHEN $4 AND villages_gen = $5 THEN village_measure END
		FROM lastmile.route_search_cache WHERE key = $1 AND epoch = $2 AND version < $3`,
		key, epoch, version, withMeasures, villagesGen).Scan(&s.version, &cost, &length, &s.ids, &s.measure)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("kept search: %w", err)
	}
	if len(cost)%8 != 0 || (timed && len(length) != len(cost)) || len(s.ids) != len(s.measure) {
		return nil, nil
	}
	s.r = decodeSearch(cost, length, timed)
	return s, nil
}

// decodeSearch decodes a kept search's per-vertex costs (and lengths, when
// timed; else the lengths are the costs).
func decodeSearch(cost, length []byte, timed bool) searchResult {
	dec := func(b []byte) []float64 {
		v := make([]float64, len(b)/8)
		for i := range v {
			v[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
		return v
	}
	r := searchResult{cost: dec(cost), origin: make([]int32, len(cost)/8)}
	for i := range r.origin {
		r.origin[i] = -1
	}
	r.length = r.cost
	if timed {
		r.length = dec(length)
	}
	return r
}

// repair returns the search from seeds (sources that are roads: origin -1)
// on g, given old, the search from the seeds of an earlier version of g
// (the same vertex ids), and the vertices whose cost or length differs from
// old's. A vertex keeps its old cost while a path of old costs still
// supports it — a neighbour at a lower old cost plus the edge between them
// (plus its length, when timed) gives exactly its cost, down to a seed at
// that cost; the others are reset. Then every vertex an edge or a seed can
// improve is pushed, and Dijkstra runs on.
func (g *graph) repair(ctx context.Context, seeds []seed, old searchResult) (searchResult, []int32, error) {
	n := g.vertices()
	timed := g.length != nil
	r := searchResult{cost: make([]float64, n), origin: make([]int32, n)}
	r.length = r.cost
	if timed {
		r.length = make([]float64, n)
	}
	for v := range r.cost {
		r.origin[v] = -1
		if v < len(old.cost) {
			r.cost[v] = old.cost[v]
			if timed {
				r.length[v] = old.length[v]
			}
		} else {
			r.cost[v] = math.Inf(1)
		}
	}
	cost, length := r.cost, r.length
	// the seed at each vertex (-1: none), the cheapest when several
	seedAt := make([]int32, n)
	for v := range seedAt {
		seedAt[v] = -1
	}
	for k, s := range seeds {
		if s.v >= 0 && s.v < int64(n) && (seedAt[s.v] < 0 || s.d < seeds[seedAt[s.v]].d) {
			seedAt[s.v] = int32(k)
		}
	}
	// supports: how many neighbours (or a seed) hold up each vertex's cost
	supports := func(u, v int32, i int32) bool {
		return cost[u] < cost[v] && cost[u]+g.cost[i] == cost[v] && (!timed || length[u]+g.length[i] == length[v])
	}
	count := make([]int32, n)
	var reset []int32
	for v := int32(0); v < int32(n); v++ {
		if math.IsInf(cost[v], 1) {
			continue
		}
		if k := seedAt[v]; k >= 0 && seeds[k].d == cost[v] && (!timed || seeds[k].l == length[v]) {
			count[v] = 1
		}
		for i := g.off[v]; i < g.off[v+1]; i++ {
			if supports(g.adj[i], v, i) {
				count[v]++
			}
		}
		if count[v] == 0 {
			reset = append(reset, v)
		}
	}
	if ctx.Err() != nil {
		return r, nil, ctx.Err()
	}
	// a reset vertex withdraws its support from those it held up
	for k := 0; k < len(reset); k++ {
		v := reset[k]
		for i := g.off[v]; i < g.off[v+1]; i++ {
			if w := g.adj[i]; count[w] > 0 && supports(v, w, i) {
				if count[w]--; count[w] == 0 {
					reset = append(reset, w)
				}
			}
		}
	}
	for _, v := range reset {
		cost[v] = math.Inf(1)
		if timed {
			length[v] = 0
		}
	}
	h := &distHeap{}
	for v, k := range seedAt {
		if k < 0 {
			continue
		}
		if s := seeds[k]; s.d < cost[v] {
			cost[v] = s.d
			if timed {
				length[v] = s.l
			}
			h.push(s.d, int32(v))
		}
	}
	// every vertex one arc can improve: the reset ones next to a kept
	// cost, and the ends of new or cheaper edges
	for v := int32(0); v < int32(n); v++ {
		for i := g.off[v]; i < g.off[v+1]; i++ {
			u := g.adj[i]
			if nd := cost[u] + g.cost[i]; nd < cost[v] {
				cost[v] = nd
				if timed {
					length[v] = length[u] + g.length[i]
				}
				h.push(nd, v)
			}
		}
	}
	if err := g.settle(ctx, h, r); err != nil {
		return r, nil, err
	}
	var changed []int32
	for v := int32(0); v < int32(n); v++ {
		if int(v) >= len(old.cost) {
			if !math.IsInf(cost[v], 1) {
				changed = append(changed, v)
			}
		} else if cost[v] != old.cost[v] || (timed && length[v] != old.length[v]) {
			changed = append(changed, v)
		}
	}
	repairedSearches.Add(1)
	return r, changed, nil
}

// maxRepairEdges bounds the edges whose villages are re-measured one by
// one; beyond it every village's snap is read as usual.
const maxRepairEdges = 100000

// repairMeasures brings the village measures kept beside stale up to date
// with found, the repaired search (changed: the vertices it changed), and
// keeps both for this version; false when it cannot (too many villages to
// re-measure, or the kept row moved on meanwhile): the caller then answers
// the long way.
func (req *coverageRequest) repairMeasures(ctx context.Context, tx pgx.Tx, pool *pgxpool.Pool, tm *stepTimer, pack *packedEdges, stale *staleSearch,
	found searchResult, changed []int32, qual []bool, speeds []float64, key string, epoch, version int64) (bool, error) {
	if stale.measure == nil || pack == nil {
		return false, nil
	}
	hit := make([]bool, int(pack.maxV)+1)
	for _, v := range changed {
		if int(v) < len(hit) {
			hit[v] = true
		}
	}
	var edges []int64
	for id, s := range pack.src {
		if s >= 0 && (hit[s] || hit[pack.dst[id]]) {
			if edges = append(edges, int64(id)); len(edges) > maxRepairEdges {
				return false, nil
			}
		}
	}
	rows, err := tx.Query(ctx, `SELECT village_id, edge_id, along, dist, source, target, road_id, cost
		FROM lastmile.village_snap WHERE edge_id = ANY($1) OR version > $2`, edges, stale.version)
	if err != nil {
		return false, err
	}
	measure := slices.Clone(stale.measure)
	timed := req.metric == "time"
	remeasured := 0
	for rows.Next() {
		var id int64
		var edge, source, target, road *int64
		var along, dist, cost *float64
		if err := rows.Scan(&id, &edge, &along, &dist, &source, &target, &road, &cost); err != nil {
			return false, err
		}
		i, ok := slices.BinarySearch(stale.ids, id)
		if !ok {
			rows.Close()
			return false, nil
		}
		remeasured++
		measure[i] = math.Inf(1)
		if edge == nil {
			continue
		}
		sn := networkSnap{ok: true, dist: *dist, along: *along, source: *source, target: *target, cost: *cost, edge: *edge,
			qual: *road >= 0 && *road < int64(len(qual)) && qual[*road]}
		if *road >= 0 && *road < int64(len(speeds)) {
			sn.speedKmh = speeds[*road]
		}
		c, m, _ := reach(found, sn, nil, req.speeds.WalkingKmh, timed)
		switch {
		case math.IsInf(c, 1):
		case timed:
			measure[i] = c / 60
		default:
			measure[i] = m
		}
	}
	if err := rows.Err(); err != nil {
		return false, err
	}
	tm.step(fmt.Sprintf("measures of %d villages on %d edges redone", remeasured, len(edges)))
	var length []byte
	if timed {
		length = encodeFloats(found.length)
	}
	tag, err := pool.Exec(ctx, `UPDATE lastmile.route_search_cache SET version = $3, used_at = now(), cost = $4, length = $5, village_measure = $6
		WHERE key = $1 AND version = $2 AND epoch = $7`, key, stale.version, version, encodeFloats(found.cost), length, measure, epoch)
	if err != nil {
		return false, fmt.Errorf("keeping the repaired search: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return false, nil
	}
	tm.step("repaired search and measures kept")
	repairedMeasures.Add(1)
	return true, nil
}

// encodeFloats encodes v as kept searches are: float64s, little-endian.
func encodeFloats(v []float64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
	return b
}
