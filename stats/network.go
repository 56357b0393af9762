package stats

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
)

// querier is what the network search reads through: a pool or a
// transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// graph is the traversable routing graph in compressed sparse row form:
// the neighbours of vertex v are adj[off[v]:off[v+1]] at costs
// cost[off[v]:off[v+1]] (metres, or seconds for metric=time). Vertex
// indices are the route_vertices ids (ids are dense: they restart at 1 on
// every whole rebuild and grow by one per vertex a refresh adds). Edges are
// undirected: each is stored in both directions.
type graph struct {
	off  []int32
	adj  []int32
	cost []float64
	// length, when the costs are travel times, holds each arc's length in
	// metres (nil otherwise).
	length []float64
	// edges is the number of edges loaded.
	edges int
}

// maxGraphVertices bounds a vertex id so that a corrupt id cannot ask for
// an absurd allocation (the national graph has about 10 M).
const maxGraphVertices = 1 << 30

// loadGraph reads the traversable edges (completed roads, completed on or
// before asOf when given) from lastmile.route_edges into a CSR graph. The
// columns are read in PostgreSQL's binary format and decoded directly: a
// generic Scan per row costs more than the search.
func loadGraph(ctx context.Context, pool querier, asOf *time.Time, timed bool, speed string) (*graph, error) {
	var maxID int64
	if err := pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM lastmile.route_vertices`).Scan(&maxID); err != nil {
		return nil, fmt.Errorf("routing graph vertices: %w", err)
	}
	if maxID >= maxGraphVertices {
		return nil, fmt.Errorf("routing graph: vertex id %d out of range", maxID)
	}
	n := int(maxID) + 1
	sql := `SELECT e.source, e.target, e.cost, e.cost FROM lastmile.route_edges e
		WHERE e.status = 'completed' AND ($1::date IS NULL OR e.completed_on <= $1::date)`
	if timed { // seconds at the road's speed
		sql = `SELECT e.source, e.target, e.cost / (` + speed + ` / 3.6), e.cost
		FROM lastmile.route_edges e JOIN lastmile.roads r ON r.id = e.road_id
		WHERE e.status = 'completed' AND ($1::date IS NULL OR e.completed_on <= $1::date)`
	}
	rows, err := pool.Query(ctx, sql, asOf)
	if err != nil {
		return nil, fmt.Errorf("routing graph edges: %w", err)
	}
	defer rows.Close()
	var src, dst []int32
	var cost, length []float64
	for rows.Next() {
		raw := rows.RawValues()
		if len(raw) != 4 || len(raw[0]) != 8 || len(raw[1]) != 8 || len(raw[2]) != 8 || len(raw[3]) != 8 {
			return nil, fmt.Errorf("routing graph edges: unexpected row encoding")
		}
		s := int64(binary.BigEndian.Uint64(raw[0]))
		d := int64(binary.BigEndian.Uint64(raw[1]))
		if s < 0 || s >= int64(n) || d < 0 || d >= int64(n) {
			return nil, fmt.Errorf("routing graph edges: vertex %d or %d above the largest id %d", s, d, maxID)
		}
		src = append(src, int32(s))
		dst = append(dst, int32(d))
		cost = append(cost, math.Float64frombits(binary.BigEndian.Uint64(raw[2])))
		if timed {
			length = append(length, math.Float64frombits(binary.BigEndian.Uint64(raw[3])))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("routing graph edges: %w", err)
	}
	g := newGraph(n, src, dst, cost, length)
	return g, nil
}

// newGraph builds the CSR form of n vertices and undirected edges
// src[i]–dst[i] of cost[i].
func newGraph(n int, src, dst []int32, cost, length []float64) *graph {
	g := &graph{off: make([]int32, n+1), adj: make([]int32, 2*len(src)), cost: make([]float64, 2*len(src)), edges: len(src)}
	if length != nil {
		g.length = make([]float64, 2*len(src))
	}
	for i := range src {
		g.off[src[i]+1]++
		g.off[dst[i]+1]++
	}
	for v := 0; v < n; v++ {
		g.off[v+1] += g.off[v]
	}
	fill := make([]int32, n)
	copy(fill, g.off[:n])
	for i := range src {
		s, d := src[i], dst[i]
		if length != nil {
			g.length[fill[s]], g.length[fill[d]] = length[i], length[i]
		}
		g.adj[fill[s]], g.cost[fill[s]] = d, cost[i]
		fill[s]++
		g.adj[fill[d]], g.cost[fill[d]] = s, cost[i]
		fill[d]++
	}
	return g
}

// vertices returns the number of vertex slots.
func (g *graph) vertices() int { return len(g.off) - 1 }

// seed is a search start: vertex v at cost d (and path length l) from
// source number origin (-1 when the sources are roads).
type seed struct {
	v      int64
	d, l   float64
	origin int32
}

// distances runs one multi-source Dijkstra search from every vertex in
// starts at cost 0 and returns each vertex's cost to the nearest start:
// +Inf when no path exists.
func (g *graph) distances(ctx context.Context, starts []int64) ([]float64, error) {
	seeds := make([]seed, len(starts))
	for i, v := range starts {
		seeds[i] = seed{v: v, origin: -1}
	}
	r, err := g.search(ctx, seeds)
	return r.cost, err
}

// searchResult holds, per vertex, the cost of its cheapest path to a
// seed, that path's length in metres (the cost itself unless the costs
// are travel times) and the seed's origin.
type searchResult struct {
	cost, length []float64
	origin       []int32
}

// search runs one multi-source Dijkstra search (binary heap, lazy
// deletion) from the seeds. The search is never cut off, so every cost is
// the true least one.
func (g *graph) search(ctx context.Context, seeds []seed) (searchResult, error) {
	n := g.vertices()
	r := searchResult{cost: make([]float64, n), length: make([]float64, n), origin: make([]int32, n)}
	dist := r.cost
	for i := range dist {
		dist[i] = math.Inf(1)
		r.origin[i] = -1
	}
	h := &distHeap{}
	for _, s := range seeds {
		if s.v >= 0 && s.v < int64(n) && s.d < dist[s.v] {
			dist[s.v], r.length[s.v], r.origin[s.v] = s.d, s.l, s.origin
			h.push(s.d, int32(s.v))
		}
	}
	return r, g.settle(ctx, h, r)
}

// settle runs Dijkstra on from the vertices in h over r's labels (r.length
// may be r.cost itself when the costs are metres).
func (g *graph) settle(ctx context.Context, h *distHeap, r searchResult) error {
	dist := r.cost
	for pops := 0; len(h.d) > 0; pops++ {
		if pops&(1<<16-1) == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		d, v := h.pop()
		if d > dist[v] {
			continue
		}
		for i := g.off[v]; i < g.off[v+1]; i++ {
			w := g.adj[i]
			if nd := d + g.cost[i]; nd < dist[w] {
				dist[w] = nd
				if g.length != nil {
					r.length[w] = r.length[v] + g.length[i]
				} else {
					r.length[w] = nd
				}
				r.origin[w] = r.origin[v]
				h.push(nd, w)
			}
		}
	}
	return nil
}

// distHeap is a binary min-heap of (distance, vertex), in two slices so
// that the hot loop does no interface calls.
type distHeap struct {
	d []float64
	v []int32
}

func (h *distHeap) push(d float64, v int32) {
	h.d = append(h.d, d)
	h.v = append(h.v, v)
	i := len(h.d) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h.d[p] <= h.d[i] {
			break
		}
		h.d[p], h.d[i] = h.d[i], h.d[p]
		h.v[p], h.v[i] = h.v[i], h.v[p]
		i = p
	}
}

func (h *distHeap) pop() (float64, int32) {
	d, v := h.d[0], h.v[0]
	last := len(h.d) - 1
	h.d[0], h.v[0] = h.d[last], h.v[last]
	h.d, h.v = h.d[:last], h.v[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= last {
			break
		}
		m := l
		if r := l + 1; r < last && h.d[r] < h.d[l] {
			m = r
		}
		if h.d[i] <= h.d[m] {
			break
		}
		h.d[i], h.d[m] = h.d[m], h.d[i]
		h.v[i], h.v[m] = h.v[m], h.v[i]
		i = m
	}
	return d, v
}

// networkTx opens the read-only repeatable-read transaction a network
// answer reads in, after bringing the graph up to date: one snapshot, so
// the graph, the starts and the snapped targets agree on vertex ids even if
// a refresh commits meanwhile.
func networkTx(ctx context.Context, pool *pgxpool.Pool) (pgx.Tx, error) {
	if err := graphReady(ctx, pool); err != nil {
		return nil, err
	}
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	// the snapping query's cost estimate (a lateral search per target)
	// triggers JIT compilation, which costs more than the query (1.1 s of
	// 5 s measured on 5 000 villages)
	if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
		tx.Rollback(ctx) //nolint:errcheck // read-only
		return nil, err
	}
	return tx, nil
}

// starts returns the graph vertices on qualifying roads.
func (req *coverageRequest) starts(ctx context.Context, q querier) ([]int64, error) {
	var starts []int64
	where, startArgs := req.sourceWhere()
	if err := q.QueryRow(ctx, statsSQL.Fill("network_starts.sql", map[string]string{"source_filter": where}), startArgs...).Scan(&starts); err != nil {
		return nil, fmt.Errorf("network starts: %w", err)
	}
	return starts, nil
}

// runNetwork answers a network coverage request: the graph is read, the
// starts found and the targets snapped in one snapshot (networkTx), and the
// search runs in memory. The graph comes from its pack (netcache.go) when
// that is current, and villages asked about without as_of from their
// precomputed snaps (village_snap); otherwise the edges are read as rows
// and the targets snapped now (the same answer, slower).
//
// A search kept for an earlier graph version is repaired rather than redone
// (netrepair.go); with its village measures repaired as well, a tally is
// answered from them and runNetwork returns no rows and measured true.
func (req *coverageRequest) runNetwork(ctx context.Context, pool *pgxpool.Pool) (out []targetRow, measured bool, err error) {
	tx, err := networkTx(ctx, pool)
	if err != nil {
		return nil, false, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	timed := req.metric == "time"
	tm := newStepTimer()
	var replica, current bool
	var version, villagesGen, epoch int64
	if err := tx.QueryRow(ctx, `SELECT pg_is_in_recovery(), `+snapsCurrentSQL+`, version, villages_gen, epoch FROM lastmile.route_cache_state`).
		Scan(&replica, &current, &version, &villagesGen, &epoch); err != nil {
		return nil, false, fmt.Errorf("routing graph state: %w", err)
	}
	current = current && usePack
	var qual []bool
	var speeds []float64
	if !req.placeSources() {
		if qual, err = req.qualifying(ctx, tx); err != nil {
			return nil, false, err
		}
	}
	if timed {
		if speeds, err = roadSpeeds(ctx, tx, req.speeds.SQL("r")); err != nil {
			return nil, false, err
		}
	}
	// a search for roads as sources is kept between questions (not on a
	// replica, which cannot write the cache)
	cacheable := current && !replica && !req.placeSources()
	var key string
	var found searchResult
	cached := false
	if cacheable {
		key = req.searchKey()
		if found, cached, err = loadSearch(ctx, tx, key, version, timed); err != nil {
			return nil, false, err
		}
	}
	var stale *staleSearch
	if cacheable && !cached && !req.noRepair {
		if stale, err = loadStaleSearch(ctx, tx, key, epoch, version, villagesGen, timed, req.fastNetworkable()); err != nil {
			return nil, false, err
		}
	}
	tm.step("setup")
	var places []targetRow
	onEdge := map[int64][]placeOnEdge{}
	if !cached {
		var pack *packedEdges
		if current {
			if pack, err = loadPack(ctx, tx); err != nil {
				return nil, false, err
			}
		}
		tm.step("pack")
		var g *graph
		if pack != nil {
			g = pack.graph(req.asOf, speeds)
		} else if g, err = loadGraph(ctx, tx, req.asOf, timed, req.speeds.SQL("r")); err != nil {
			return nil, false, err
		}
		tm.step("graph")
		var seeds []seed
		if req.placeSources() {
			if places, seeds, err = req.placeSeeds(ctx, tx, timed, onEdge); err != nil {
				return nil, false, err
			}
		} else {
			var starts []int64
			if pack != nil {
				starts = pack.starts(qual)
			} else if starts, err = req.starts(ctx, tx); err != nil {
				return nil, false, err
			}
			for _, v := range starts {
				seeds = append(seeds, seed{v: v, origin: -1})
			}
		}
		tm.step("seeds")
		if stale == nil {
			if found, err = g.search(ctx, seeds); err != nil {
				return nil, false, err
			}
			tm.step("search")
		} else {
			var changed []int32
			if found, changed, err = g.repair(ctx, seeds, stale.r); err != nil {
				return nil, false, err
			}
			tm.step(fmt.Sprintf("search repaired (%d vertices changed)", len(changed)))
			if req.fastNetworkable() {
				ok, err := req.repairMeasures(ctx, tx, pool, tm, pack, stale, found, changed, qual, speeds, key, epoch, version)
				if err != nil || ok {
					return nil, ok, err
				}
			}
		}
	}
	// the search is kept (best effort: a cache that cannot be written — a
	// role without the right, a cancelled request — costs the next question
	// time, not this answer) on another connection while the targets are
	// read
	stored := make(chan struct{})
	if cacheable && !cached {
		go func() {
			defer close(stored)
			_ = storeSearch(ctx, pool, key, epoch, version, found, timed)
		}()
	} else {
		close(stored)
	}
	defer func() { <-stored }()
	out = nil
	var snaps []networkSnap
	if current && req.asOf == nil && req.target.Table == "villages" {
		out, snaps, err = req.packedTargets(ctx, tx, qual, speeds, req.list)
	} else {
		out, snaps, err = req.snapTargets(ctx, tx)
	}
	if err != nil {
		return nil, false, err
	}
	tm.step("targets")
	tx.Rollback(ctx) //nolint:errcheck // read-only, done
	<-stored
	tm.step("cache store (beside the targets)")
	for i := range out {
		sn := snaps[i]
		if !sn.ok {
			continue
		}
		snap := sn.dist
		out[i].SnapM = &snap
		c, m, origin := reach(found, sn, onEdge[sn.edge], req.speeds.WalkingKmh, timed)
		if math.IsInf(c, 1) {
			continue
		}
		out[i].DistanceM = &m
		if timed {
			minutes := c / 60
			out[i].TimeMin = &minutes
			out[i].Covered = minutes <= req.withinMin
		} else {
			out[i].Covered = m <= req.within
		}
		if origin >= 0 {
			out[i].SourceID, out[i].SourceName = &places[origin].ID, places[origin].Name
		}
	}
	if cacheable && current && req.asOf == nil {
		req.keepVillageMeasures(ctx, pool, key, version, villagesGen, out)
		tm.step("village measures kept")
	}
	return out, false, nil
}

// snapTargets returns the targets, each with its snap onto the graph
// (network_snap.sql lists the candidate edges, snapToLine finds the
// geodesic-nearest point on each).
func (req *coverageRequest) snapTargets(ctx context.Context, q querier) ([]targetRow, []networkSnap, error) {
	parts := req.sqlParts()
	asOf := "NULL::date"
	if req.asOf != nil {
		asOf = req.args.Add(*req.asOf) + "::date"
	}
	parts["traversable"] = fmt.Sprintf("e.status = 'completed' AND (%s IS NULL OR e.completed_on <= %s)", asOf, asOf)
	parts["speed"] = req.speeds.SQL("r")
	if req.placeSources() {
		// targets are snapped onto roads, none of which qualifies: the
		// sources are places (the filter stays, false-guarded, for its
		// parameters)
		parts["source_filter"] = "(false AND " + parts["source_filter"] + ")"
	}
	rows, err := q.Query(ctx, statsSQL.Fill("network_snap.sql", parts), req.args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var out []targetRow
	var snaps []networkSnap
	for rows.Next() {
		var t targetRow
		var edge, source, target *int64
		var cost, speed *float64
		var qual bool
		var wkbLine []byte
		if err := rows.Scan(&t.ID, &t.Name, &t.Code, &t.Population, &t.PoorHouseholds, &t.Lon, &t.Lat,
			&edge, &source, &target, &cost, &qual, &wkbLine, &speed); err != nil {
			return nil, nil, err
		}
		if len(out) == 0 || out[len(out)-1].ID != t.ID {
			out = append(out, t)
			snaps = append(snaps, networkSnap{})
		}
		if edge == nil {
			continue
		}
		g, err := wkb.Unmarshal(wkbLine)
		if err != nil {
			return nil, nil, fmt.Errorf("edge %d: %w", *edge, err)
		}
		line, ok := g.(orb.LineString)
		if !ok {
			return nil, nil, fmt.Errorf("edge %d: a %s, not a line", *edge, g.GeoJSONType())
		}
		pts := make([][2]float64, len(line))
		for i, p := range line {
			pts[i] = p
		}
		sn := snapToLine(pts, t.Lon, t.Lat)
		if best := &snaps[len(snaps)-1]; !best.ok || sn.dist < best.dist {
			*best = networkSnap{ok: true, dist: sn.dist, along: sn.along, source: *source, target: *target, cost: *cost, qual: qual, speedKmh: *speed, edge: *edge}
		}
	}
	return out, snaps, rows.Err()
}

// networkSnap is the best snap of a target found so far.
type networkSnap struct {
	ok                bool
	dist, along, cost float64
	speedKmh          float64 // of the edge's road
	edge              int64
	source, target    int64
	qual              bool
}

// placeOnEdge is a source place snapped onto an edge: its position along
// the edge and the cost (and metres) of its snap leg.
type placeOnEdge struct {
	along, cost, snap float64
	origin            int32
}

// legCost is the cost of m metres at speedKmh (a road's speed, or the
// walking speed of a snap leg): seconds when timed, else metres. A speed
// of 0 or less is the catalog's walking speed.
func legCost(m, speedKmh float64, timed bool) float64 {
	switch {
	case !timed:
		return m
	case speedKmh > 0:
		return m / (speedKmh / 3.6)
	}
	return m / (layer.WalkingSpeedKmh / 3.6)
}

// reach is the least cost (metres, or seconds when timed) from a target
// snapped as sn to a source, the length in metres of that way and the
// source's origin: the snap leg alone onto a qualifying road; else the
// snap leg, along the edge to one of its ends and on (found), or along the
// edge to a source place snapped onto the same edge (on). The snap leg is
// walked at walkKmh. +Inf when none.
func reach(found searchResult, sn networkSnap, on []placeOnEdge, walkKmh float64, timed bool) (float64, float64, int32) {
	walk := legCost(sn.dist, walkKmh, timed)
	if sn.qual {
		return walk, sn.dist, -1
	}
	along := math.Max(0, math.Min(sn.along, sn.cost))
	best, metres, origin := math.Inf(1), 0.0, int32(-1)
	try := func(v int64, legM float64) {
		if v < 0 || v >= int64(len(found.cost)) || math.IsInf(found.cost[v], 1) {
			return
		}
		if c := walk + legCost(legM, sn.speedKmh, timed) + found.cost[v]; c < best {
			best, metres, origin = c, sn.dist+legM+found.length[v], found.origin[v]
		}
	}
	try(sn.source, along)
	try(sn.target, sn.cost-along)
	for _, p := range on {
		legM := math.Abs(along - p.along)
		if c := walk + legCost(legM, sn.speedKmh, timed) + p.cost; c < best {
			best, metres, origin = c, sn.dist+legM+p.snap, p.origin
		}
	}
	return best, metres, origin
}

// placeSources reports whether the sources are places (a layer of points,
// e.g. clinics) reached along the road network rather than roads.
func (req *coverageRequest) placeSources() bool {
	return req.method == "network" && req.source != nil && req.source.Name != "roads"
}

// placeSeeds snaps the source places (source_filter; completed, by as_of)
// onto the network like targets and returns them with the search seeds:
// each place seeds both ends of its edge at the cost of its snap leg and
// the way along the edge. onEdge receives the places by edge id, for
// targets snapped onto the same edge.
func (req *coverageRequest) placeSeeds(ctx context.Context, q querier, timed bool, onEdge map[int64][]placeOnEdge) ([]targetRow, []seed, error) {
	fr := &coverageRequest{target: req.source, source: req.source, roads: req.roads, method: "network", metric: req.metric, asOf: req.asOf, speeds: req.speeds}
	f, problems := parseFilter("source_filter", req.sourceSpec, req.source, "t", &fr.args)
	if len(problems) > 0 {
		return nil, nil, lastmile.Invalid("bad source_filter", problems...)
	}
	if !f.HasStatus || req.asOf != nil {
		f.SQL = append(f.SQL, "t.status = 'completed'")
	}
	if req.asOf != nil {
		f.SQL = append(f.SQL, "t.completed_on <= "+fr.args.Add(*req.asOf)+"::date")
	}
	fr.targetFilter = f
	fr.sourceFilter = rowFilter{SQL: []string{"false"}}
	places, snaps, err := fr.snapTargets(ctx, q)
	if err != nil {
		return nil, nil, fmt.Errorf("snapping the sources: %w", err)
	}
	var seeds []seed
	for i, sn := range snaps {
		if !sn.ok {
			continue
		}
		along := math.Max(0, math.Min(sn.along, sn.cost))
		walk := legCost(sn.dist, req.speeds.WalkingKmh, timed)
		o := int32(i)
		seeds = append(seeds,
			seed{v: sn.source, d: walk + legCost(along, sn.speedKmh, timed), l: sn.dist + along, origin: o},
			seed{v: sn.target, d: walk + legCost(sn.cost-along, sn.speedKmh, timed), l: sn.dist + sn.cost - along, origin: o})
		onEdge[sn.edge] = append(onEdge[sn.edge], placeOnEdge{along: along, cost: walk, snap: sn.dist, origin: o})
	}
	return places, seeds, nil
}
