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
func loadGraph(ctx context.Context, pool querier, asOf *time.Time, timed bool) (*graph, error) {
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
		sql = `SELECT e.source, e.target, e.cost / (` + layer.RoadSpeedSQL("r") + ` / 3.6), e.cost
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

// distances runs one multi-source Dijkstra search (binary heap, lazy
// deletion) from every vertex in starts at distance 0 and returns each
// vertex's distance to the nearest start: +Inf when no path exists. The
// search is never cut off, so every distance is the true shortest one.
func (g *graph) distances(ctx context.Context, starts []int64) ([]float64, error) {
	dist, _, err := g.search(ctx, starts)
	return dist, err
}

// search is distances that also returns, when the costs are travel times,
// the length in metres of each vertex's fastest path (nil otherwise).
func (g *graph) search(ctx context.Context, starts []int64) ([]float64, []float64, error) {
	n := g.vertices()
	var length []float64
	if g.length != nil {
		length = make([]float64, n)
	}
	dist := make([]float64, n)
	for i := range dist {
		dist[i] = math.Inf(1)
	}
	h := &distHeap{}
	for _, s := range starts {
		if s >= 0 && s < int64(n) && dist[s] != 0 {
			dist[s] = 0
			h.push(0, int32(s))
		}
	}
	for pops := 0; len(h.d) > 0; pops++ {
		if pops&(1<<16-1) == 0 && ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		d, v := h.pop()
		if d > dist[v] {
			continue
		}
		for i := g.off[v]; i < g.off[v+1]; i++ {
			w := g.adj[i]
			if nd := d + g.cost[i]; nd < dist[w] {
				dist[w] = nd
				if length != nil {
					length[w] = length[v] + g.length[i]
				}
				h.push(nd, w)
			}
		}
	}
	return dist, length, nil
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
	if err := q.QueryRow(ctx, renderSQL("network_starts.sql", map[string]string{"source_filter": where}), startArgs...).Scan(&starts); err != nil {
		return nil, fmt.Errorf("network starts: %w", err)
	}
	return starts, nil
}

// runNetwork answers a network coverage request: the graph is read, the
// starts found and the targets snapped in one snapshot (networkTx), and the
// search runs in memory.
func (req *coverageRequest) runNetwork(ctx context.Context, pool *pgxpool.Pool) ([]targetRow, error) {
	tx, err := networkTx(ctx, pool)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	timed := req.metric == "time"
	g, err := loadGraph(ctx, tx, req.asOf, timed)
	if err != nil {
		return nil, err
	}
	starts, err := req.starts(ctx, tx)
	if err != nil {
		return nil, err
	}
	dist, length, err := g.search(ctx, starts)
	if err != nil {
		return nil, err
	}
	out, snaps, err := req.snapTargets(ctx, tx)
	if err != nil {
		return nil, err
	}
	for i := range out {
		best := snaps[i]
		if !best.ok {
			continue
		}
		snap := best.dist
		out[i].SnapM = &snap
		if !timed {
			m := networkDistance(dist, best.source, best.target, best.cost, best.dist, best.along, best.qual)
			if !math.IsInf(m, 1) {
				out[i].DistanceM = &m
				out[i].Covered = m <= req.within
			}
			continue
		}
		if sec, m := networkTime(dist, length, best); !math.IsInf(sec, 1) {
			minutes := sec / 60
			out[i].TimeMin, out[i].DistanceM = &minutes, &m
			out[i].Covered = minutes <= req.withinMin
		}
	}
	return out, nil
}

// snapTargets returns the targets, each with its snap onto the graph
// (network_snap.sql lists the candidate edges, snapToLine finds the
// geodesic-nearest point on each).
func (req *coverageRequest) snapTargets(ctx context.Context, q querier) ([]targetRow, []networkSnap, error) {
	parts := req.sqlParts()
	asOf := "NULL::date"
	if req.asOf != nil {
		asOf = req.args.arg(*req.asOf) + "::date"
	}
	parts["traversable"] = fmt.Sprintf("e.status = 'completed' AND (%s IS NULL OR e.completed_on <= %s)", asOf, asOf)
	parts["speed"] = layer.RoadSpeedSQL("r")
	rows, err := q.Query(ctx, renderSQL("network_snap.sql", parts), req.args...)
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
			*best = networkSnap{ok: true, dist: sn.dist, along: sn.along, source: *source, target: *target, cost: *cost, qual: qual, speedKmh: *speed}
		}
	}
	return out, snaps, rows.Err()
}

// networkSnap is the best snap of a target found so far.
type networkSnap struct {
	ok                bool
	dist, along, cost float64
	speedKmh          float64 // of the edge's road
	source, target    int64
	qual              bool
}

// networkDistance is the network distance of a target snapped at snap
// metres onto an edge source–target of length cost, along metres from its
// source: the snap distance alone on a qualifying edge, else the snap plus
// the shorter way along the edge to one of its ends and on from there;
// +Inf when no path exists.
func networkDistance(dist []float64, source, target int64, cost, snap, along float64, qual bool) float64 {
	if qual {
		return snap
	}
	at := func(v int64) float64 {
		if v < 0 || v >= int64(len(dist)) {
			return math.Inf(1)
		}
		return dist[v]
	}
	along = math.Max(0, math.Min(along, cost))
	return snap + math.Min(along+at(source), cost-along+at(target))
}

// networkTime is the travel time in seconds of a snapped target (the snap
// walked, then along its edge at the road's speed to the end with the
// faster way on, dist and length holding each vertex's time and path
// length), and the length of that path in metres; +Inf when no path.
func networkTime(dist, length []float64, sn networkSnap) (float64, float64) {
	walk := sn.dist / (layer.WalkingSpeedKmh / 3.6)
	if sn.qual {
		return walk, sn.dist
	}
	at := func(v int64) (float64, float64) {
		if v < 0 || v >= int64(len(dist)) {
			return math.Inf(1), 0
		}
		return dist[v], length[v]
	}
	v := sn.speedKmh / 3.6
	along := math.Max(0, math.Min(sn.along, sn.cost))
	ts, ls := at(sn.source)
	tt, lt := at(sn.target)
	viaSource, viaTarget := along/v+ts, (sn.cost-along)/v+tt
	if viaSource <= viaTarget {
		return walk + viaSource, sn.dist + along + ls
	}
	return walk + viaTarget, sn.dist + sn.cost - along + lt
}
