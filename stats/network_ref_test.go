package stats

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
)

// The reference network computation: written independently of the SQL
// graph build and the search it checks. Roads are read from
// lastmile.roads, noded here (split at every rounded vertex occurring more
// than once, and at part ends), villages snapped by sampling every segment
// of every traversable edge, and distances found by a plain Dijkstra
// (container/heap).

type refEdge struct {
	pts      [][2]float64
	a, b     int // vertex indices
	length   float64
	traverse bool
	qual     bool
}

type refGraph struct {
	edges []refEdge
	nv    int
}

// refBuild nodes the non-cancelled roads. traversable and qualifying are
// SQL predicates on roads r.
func refBuild(t *testing.T, pool *pgxpool.Pool, traversable, qualifying string) *refGraph {
	t.Helper()
	rows, err := pool.Query(context.Background(), fmt.Sprintf(`SELECT ST_AsBinary(r.geom), coalesce(%s, false), coalesce(%s, false)
		FROM lastmile.roads r WHERE r.status <> 'cancelled' ORDER BY r.id`, traversable, qualifying))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type part struct {
		pts      [][2]float64
		keys     [][2]int64
		traverse bool
		qual     bool
	}
	var parts []part
	count := map[[2]int64]int{}
	for rows.Next() {
		var b []byte
		var tr, q bool
		if err := rows.Scan(&b, &tr, &q); err != nil {
			t.Fatal(err)
		}
		g, err := wkb.Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		var lines []orb.LineString
		switch g := g.(type) {
		case orb.LineString:
			lines = []orb.LineString{g}
		case orb.MultiLineString:
			lines = g
		}
		for _, l := range lines {
			p := part{traverse: tr, qual: q}
			for _, pt := range l {
				k := [2]int64{int64(math.Round(pt[0] * 1e7)), int64(math.Round(pt[1] * 1e7))}
				if n := len(p.keys); n > 0 && p.keys[n-1] == k {
					continue
				}
				p.keys = append(p.keys, k)
				p.pts = append(p.pts, [2]float64(pt))
				count[k]++
			}
			parts = append(parts, p)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	g := &refGraph{}
	ids := map[[2]int64]int{}
	vid := func(k [2]int64) int {
		if i, ok := ids[k]; ok {
			return i
		}
		ids[k] = len(ids)
		return ids[k]
	}
	for _, p := range parts {
		if len(p.pts) < 2 {
			continue
		}
		start := 0
		for i := 1; i < len(p.pts); i++ {
			if count[p.keys[i]] > 1 || i == len(p.pts)-1 {
				e := refEdge{pts: p.pts[start : i+1], a: vid(p.keys[start]), b: vid(p.keys[i]), traverse: p.traverse, qual: p.qual}
				for j := start; j < i; j++ {
					d, _ := geodesicInverse(p.pts[j][0], p.pts[j][1], p.pts[j+1][0], p.pts[j+1][1])
					e.length += d
				}
				g.edges = append(g.edges, e)
				start = i
			}
		}
	}
	g.nv = len(ids)
	return g
}

// refSnap returns the nearest traversable edge of the point: its index, the
// geodesic snap distance and the distance along the edge from vertex a.
// Every segment whose lower bound (d(P,A) + d(P,B) - L) / 2 beats the best so
// far is sampled at 64 points, then the best sample refined by ternary
// search between its neighbours.
func (g *refGraph) refSnap(lon, lat float64) (int, float64, float64) {
	best, bestD, bestAlong := -1, math.Inf(1), 0.0
	for ei, e := range g.edges {
		if !e.traverse {
			continue
		}
		prefix := 0.0
		for j := 0; j+1 < len(e.pts); j++ {
			a, b := e.pts[j], e.pts[j+1]
			L, az := geodesicInverse(a[0], a[1], b[0], b[1])
			dA, _ := geodesicInverse(lon, lat, a[0], a[1])
			dB, _ := geodesicInverse(lon, lat, b[0], b[1])
			if (dA+dB-L)/2 <= bestD+1e-6 {
				at := func(s float64) float64 {
					y, x := vincentyDirect(a[1], a[0], az, s)
					d, _ := geodesicInverse(lon, lat, x, y)
					return d
				}
				const n = 64
				bs, bd := 0.0, dA
				for k := 1; k <= n; k++ {
					s := L * float64(k) / n
					if d := at(s); d < bd {
						bs, bd = s, d
					}
				}
				lo, hi := math.Max(0, bs-L/n), math.Min(L, bs+L/n)
				for hi-lo > 1e-5 {
					m1, m2 := lo+(hi-lo)/3, hi-(hi-lo)/3
					if at(m1) <= at(m2) {
						hi = m2
					} else {
						lo = m1
					}
				}
				if d := at((lo + hi) / 2); d < bd {
					bs, bd = (lo+hi)/2, d
				}
				if bd < bestD-1e-9 {
					best, bestD, bestAlong = ei, bd, prefix+bs
				}
			}
			prefix += L
		}
	}
	return best, bestD, bestAlong
}

type refItem struct {
	v int
	d float64
}
type refPQ []refItem

func (q refPQ) Len() int           { return len(q) }
func (q refPQ) Less(i, j int) bool { return q[i].d < q[j].d }
func (q refPQ) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *refPQ) Push(x any)        { *q = append(*q, x.(refItem)) }
func (q *refPQ) Pop() any          { o := *q; x := o[len(o)-1]; *q = o[:len(o)-1]; return x }
func (g *refGraph) dijkstra() []float64 {
	adj := make([][]refItem, g.nv)
	dist := make([]float64, g.nv)
	for i := range dist {
		dist[i] = math.Inf(1)
	}
	q := &refPQ{}
	for _, e := range g.edges {
		if !e.traverse {
			continue
		}
		adj[e.a] = append(adj[e.a], refItem{e.b, e.length})
		adj[e.b] = append(adj[e.b], refItem{e.a, e.length})
		if e.qual {
			for _, v := range []int{e.a, e.b} {
				if dist[v] != 0 {
					dist[v] = 0
					heap.Push(q, refItem{v, 0})
				}
			}
		}
	}
	for q.Len() > 0 {
		it := heap.Pop(q).(refItem)
		if it.d > dist[it.v] {
			continue
		}
		for _, n := range adj[it.v] {
			if d := it.d + n.d; d < dist[n.v] {
				dist[n.v] = d
				heap.Push(q, refItem{n.v, d})
			}
		}
	}
	return dist
}

// refDistances returns the reference network distance of every village
// (NaN when unreachable or when no traversable road exists).
func refDistances(t *testing.T, pool *pgxpool.Pool, traversable, qualifying string) map[int64]float64 {
	t.Helper()
	g := refBuild(t, pool, traversable, qualifying)
	dist := g.dijkstra()
	rows, err := pool.Query(context.Background(), `SELECT id, ST_X(geom), ST_Y(geom) FROM lastmile.villages ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]float64{}
	for rows.Next() {
		var id int64
		var lon, lat float64
		if err := rows.Scan(&id, &lon, &lat); err != nil {
			t.Fatal(err)
		}
		ei, snap, along := g.refSnap(lon, lat)
		switch {
		case ei < 0:
			out[id] = math.NaN()
		case g.edges[ei].qual:
			out[id] = snap
		default:
			e := g.edges[ei]
			d := snap + math.Min(along+dist[e.a], e.length-along+dist[e.b])
			if math.IsInf(d, 1) {
				d = math.NaN()
			}
			out[id] = d
		}
	}
	return out
}

// compareReference asks query (a network coverage question with
// within_m=0&list=uncovered, so that every village is listed with its
// distance) and checks every listed distance against ref to 2 cm.
func compareReference(t *testing.T, pool *pgxpool.Pool, query string, ref map[int64]float64) map[int64]any {
	t.Helper()
	res := run(t, pool, Coverage, query)
	got := map[int64]any{}
	for _, u := range res.Uncovered {
		got[u["id"].(int64)] = u["distance_m"]
	}
	bad := 0
	for id, want := range ref {
		g, listed := got[id]
		if !listed { // covered at 0 m: on a qualifying road
			g = 0.0
		}
		switch {
		case math.IsNaN(want) && g == nil:
		case math.IsNaN(want) || g == nil:
			t.Errorf("%s: village %d: distance %v, reference %v", query, id, g, want)
			bad++
		case math.Abs(g.(float64)-want) > 0.02:
			t.Errorf("%s: village %d: distance %v, reference %.3f", query, id, g, want)
			bad++
		}
		if bad > 10 {
			t.Fatal("too many differences")
		}
	}
	return got
}

// asOfPredicate returns the traversable predicate of roads r as of a date
// ("" for now).
func asOfPredicate(asOf string) string {
	if asOf == "" {
		return "r.status = 'completed'"
	}
	if _, err := time.Parse(time.DateOnly, asOf); err != nil {
		panic(err)
	}
	return fmt.Sprintf("r.status = 'completed' AND r.completed_on <= '%s'", asOf)
}

// refComponents returns the connected components of the traversable
// reference graph: their count and their lengths in km, largest first.
func (g *refGraph) refComponents() []float64 {
	parent := make([]int, g.nv)
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	for _, e := range g.edges {
		if e.traverse {
			parent[find(e.a)] = find(e.b)
		}
	}
	km := map[int]float64{}
	for _, e := range g.edges {
		if e.traverse {
			km[find(e.a)] += e.length / 1000
		}
	}
	var out []float64
	for _, k := range km {
		out = append(out, k)
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(out)))
	return out
}
