package stats

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/jackc/pgx/v5"
)

// Every village snapped in memory, on every core (issue 14, "Scale"): the
// whole re-snap after a whole build, which one lateral nearest-edge query
// per village did at 1–2.5 ms each (20 minutes for 500 000 villages). The
// traversable edges (completed, no as_of) go into a grid of cells; each
// village's candidates are the edges of the cells around it, ring by ring,
// until no farther cell can hold an edge nearer than the best found (by a
// local planar measure, with margin); the candidates within 2 % + 1 m of
// the best by that measure are then snapped exactly (snapToLine) and the
// geodesic-nearest kept, the lowest edge id on a tie — what snapVillages
// keeps from its candidates (village_snap.sql), which are the edges within
// 0.5 % + 1 m of the nearest by PostGIS's distance: both sets hold the
// geodesic-nearest edge, so both give the same snap.

// snapEdges are the traversable edges with their geometry: edge k's points
// are px, py [first[k], last[k]].
type snapEdges struct {
	id                []int64
	src, dst, road    []int64
	cost              []float64
	first, last       []int
	px, py            []float64
	x0, y0, cell      float64 // the grid's origin and cell size (degrees)
	nx, ny            int
	cellStart, cellEd []int32 // CSR: cell c's edges are cellEd[cellStart[c]:cellStart[c+1]]
}

// snapEdgesOf returns the completed edges of a graph built in Go.
func snapEdgesOf(g *nodedGraph) *snapEdges {
	s := &snapEdges{px: g.px, py: g.py}
	for e := range g.cost {
		p := g.ePart[e]
		if g.statuses[g.partStatus[p]] != "completed" {
			continue
		}
		s.id = append(s.id, int64(e+1))
		s.src = append(s.src, int64(g.src[e])+1)
		s.dst = append(s.dst, int64(g.dst[e])+1)
		s.road = append(s.road, g.partRoad[p])
		s.cost = append(s.cost, g.cost[e])
		s.first = append(s.first, g.eStart[e])
		s.last = append(s.last, g.eEnd[e])
	}
	s.index()
	return s
}

// loadSnapEdges reads the completed edges from lastmile.route_edges.
func loadSnapEdges(ctx context.Context, q querier) (*snapEdges, error) {
	rows, err := q.Query(ctx, `SELECT id, source, target, road_id, cost, geom FROM lastmile.route_edges
		WHERE status = 'completed' ORDER BY id`, pgx.QueryResultFormats{pgx.BinaryFormatCode})
	if err != nil {
		return nil, fmt.Errorf("reading the edges: %w", err)
	}
	defer rows.Close()
	s := &snapEdges{}
	for rows.Next() {
		raw := rows.RawValues()
		if len(raw) != 6 || len(raw[0]) != 8 || len(raw[1]) != 8 || len(raw[2]) != 8 || len(raw[3]) != 8 || len(raw[4]) != 8 {
			return nil, fmt.Errorf("reading the edges: unexpected row encoding")
		}
		first := len(s.px)
		if err := eachLine(raw[5], func(pt func(int) (float64, float64), n int) error {
			for i := 0; i < n; i++ {
				x, y := pt(i)
				s.px, s.py = append(s.px, x), append(s.py, y)
			}
			return nil
		}); err != nil {
			return nil, err
		}
		if len(s.px) == first {
			continue
		}
		s.id = append(s.id, int64(binary.BigEndian.Uint64(raw[0])))
		s.src = append(s.src, int64(binary.BigEndian.Uint64(raw[1])))
		s.dst = append(s.dst, int64(binary.BigEndian.Uint64(raw[2])))
		s.road = append(s.road, int64(binary.BigEndian.Uint64(raw[3])))
		s.cost = append(s.cost, math.Float64frombits(binary.BigEndian.Uint64(raw[4])))
		s.first = append(s.first, first)
		s.last = append(s.last, len(s.px)-1)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the edges: %w", err)
	}
	s.index()
	return s, nil
}

// index builds the grid: cells of about two edges each on average, each
// edge listed in every cell its segments' boxes touch.
func (s *snapEdges) index() {
	if len(s.id) == 0 {
		return
	}
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for k := range s.id {
		for j := s.first[k]; j <= s.last[k]; j++ {
			minX, maxX = math.Min(minX, s.px[j]), math.Max(maxX, s.px[j])
			minY, maxY = math.Min(minY, s.py[j]), math.Max(maxY, s.py[j])
		}
	}
	area := math.Max((maxX-minX)*(maxY-minY), 1e-12)
	s.cell = math.Max(math.Sqrt(2*area/float64(len(s.id))), 1e-4)
	for (maxX-minX)/s.cell*(maxY-minY)/s.cell > 4*float64(len(s.id))+1024 {
		s.cell *= 2
	}
	s.x0, s.y0 = minX, minY
	s.nx, s.ny = int((maxX-minX)/s.cell)+1, int((maxY-minY)/s.cell)+1
	count := make([]int32, s.nx*s.ny+1)
	each := func(k int, fn func(c int)) {
		last := -1
		for j := s.first[k]; j <= s.last[k]; j++ {
			j2 := min(j+1, s.last[k])
			cx0, cx1 := s.cellX(math.Min(s.px[j], s.px[j2])), s.cellX(math.Max(s.px[j], s.px[j2]))
			cy0, cy1 := s.cellY(math.Min(s.py[j], s.py[j2])), s.cellY(math.Max(s.py[j], s.py[j2]))
			for cy := cy0; cy <= cy1; cy++ {
				for cx := cx0; cx <= cx1; cx++ {
					if c := cy*s.nx + cx; c != last { // a cell the previous segment ended in
						fn(c)
						last = c
					}
				}
			}
		}
	}
	for k := range s.id {
		each(k, func(c int) { count[c+1]++ })
	}
	for c := 1; c < len(count); c++ {
		count[c] += count[c-1]
	}
	s.cellStart = count
	s.cellEd = make([]int32, count[len(count)-1])
	fill := append([]int32(nil), count[:len(count)-1]...)
	for k := range s.id {
		each(k, func(c int) { s.cellEd[fill[c]] = int32(k); fill[c]++ })
	}
}

func (s *snapEdges) cellX(x float64) int {
	return max(0, min(s.nx-1, int((x-s.x0)/s.cell)))
}

func (s *snapEdges) cellY(y float64) int {
	return max(0, min(s.ny-1, int((y-s.y0)/s.cell)))
}

// snapper holds one worker's scratch space.
type snapper struct {
	s     *snapEdges
	seen  []uint32 // per edge: the query that last saw it
	query uint32
	cand  []int32
	appr  []float64
	pts   [][2]float64
}

// approxDist is the local planar distance (metres) from (lon, lat) to edge
// k, as snapToLine ranks segments.
func (w *snapper) approxDist(k int, lon, lat, mLon, mLat float64) float64 {
	s := w.s
	best := math.Inf(1)
	if s.first[k] == s.last[k] {
		return math.Hypot((s.px[s.first[k]]-lon)*mLon, (s.py[s.first[k]]-lat)*mLat)
	}
	for j := s.first[k]; j < s.last[k]; j++ {
		d := segmentDistance((s.px[j]-lon)*mLon, (s.py[j]-lat)*mLat, (s.px[j+1]-lon)*mLon, (s.py[j+1]-lat)*mLat)
		best = math.Min(best, d)
	}
	return best
}

// snap returns village's snap (edge 0: no traversable edge).
func (w *snapper) snap(village int64, lon, lat float64) villageSnap {
	s := w.s
	out := villageSnap{village: village}
	if len(s.id) == 0 || math.IsNaN(lon) || math.IsNaN(lat) {
		return out
	}
	sl := math.Sin(lat * degree)
	e2 := wgsF * (2 - wgsF)
	q := math.Sqrt(1 - e2*sl*sl)
	mLat := wgsA * (1 - e2) / (q * q * q) * degree
	mLon := wgsA / q * math.Cos(lat*degree) * degree
	w.query++
	w.cand, w.appr = w.cand[:0], w.appr[:0]
	best := math.Inf(1)
	cx, cy := int(math.Floor((lon-s.x0)/s.cell)), int(math.Floor((lat-s.y0)/s.cell))
	// rings of cells at Chebyshev distance r from the village's cell (which
	// may lie outside the grid: the rings before the grid are empty)
	r0 := max(0, -cx, cx-(s.nx-1), -cy, cy-(s.ny-1))
	rMax := max(cx, s.nx-1-cx, cy, s.ny-1-cy)
	visit := func(x, y int) {
		c := y*s.nx + x
		for _, k := range s.cellEd[s.cellStart[c]:s.cellStart[c+1]] {
			if w.seen[k] == w.query {
				continue
			}
			w.seen[k] = w.query
			d := w.approxDist(int(k), lon, lat, mLon, mLat)
			w.cand, w.appr = append(w.cand, k), append(w.appr, d)
			best = math.Min(best, d)
		}
	}
	for r := r0; r <= rMax; r++ {
		x0, x1 := max(cx-r, 0), min(cx+r, s.nx-1)
		for y := max(cy-r, 0); y <= min(cy+r, s.ny-1); y++ {
			if y == cy-r || y == cy+r {
				for x := x0; x <= x1; x++ {
					visit(x, y)
				}
				continue
			}
			if cx-r >= 0 {
				visit(cx-r, y)
			}
			if r > 0 && cx+r < s.nx {
				visit(cx+r, y)
			}
		}
		// an edge in no cell seen yet lies more than r cells away: beyond
		// r * cell degrees in longitude or latitude (a lower bound in
		// metres at the most poleward latitude that close, with 2 % margin)
		reach := float64(r) * s.cell
		poleward := math.Min(math.Abs(lat)+reach+s.cell, 89.9)
		lower := reach * 0.98 * math.Min(110574, 111319*math.Cos(poleward*degree))
		if lower > best*1.02+1 {
			break
		}
	}
	bestDist := math.Inf(1)
	bestK := -1
	for i, k := range w.cand {
		if w.appr[i] > best*1.02+1 {
			continue
		}
		w.pts = w.pts[:0]
		for j := s.first[k]; j <= s.last[k]; j++ {
			w.pts = append(w.pts, [2]float64{s.px[j], s.py[j]})
		}
		sn := snapToLine(w.pts, lon, lat)
		if sn.dist < bestDist || (sn.dist == bestDist && s.id[k] < s.id[bestK]) {
			bestDist, bestK = sn.dist, int(k)
			out.along, out.dist = sn.along, sn.dist
		}
	}
	if bestK >= 0 {
		out.edge, out.source, out.target, out.road, out.cost = s.id[bestK], s.src[bestK], s.dst[bestK], s.road[bestK], s.cost[bestK]
	}
	return out
}

// snapAll snaps the villages with the given ids (all when ids is nil)
// onto s, on every core.
func snapAll(ctx context.Context, q querier, s *snapEdges, ids []int64) ([]villageSnap, error) {
	which, args := "true", []any{}
	if ids != nil {
		which, args = "t.id = ANY($1)", []any{ids}
	}
	rows, err := q.Query(ctx, `SELECT t.id, ST_X(p.pt), ST_Y(p.pt) FROM lastmile.villages t
		CROSS JOIN LATERAL (SELECT ST_PointOnSurface(t.geom) AS pt) p WHERE `+which+` ORDER BY t.id`, args...)
	if err != nil {
		return nil, err
	}
	var vid []int64
	var lon, lat []float64
	var id int64
	var x, y *float64
	if _, err := pgx.ForEachRow(rows, []any{&id, &x, &y}, func() error {
		if x == nil || y == nil { // an empty geometry: no snap
			vid, lon, lat = append(vid, id), append(lon, math.NaN()), append(lat, math.NaN())
			return nil
		}
		vid, lon, lat = append(vid, id), append(lon, *x), append(lat, *y)
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]villageSnap, len(vid))
	workers := runtime.GOMAXPROCS(0)
	var next int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &snapper{s: s, seen: make([]uint32, len(s.id))}
			for {
				mu.Lock()
				a := next
				next += 1024
				mu.Unlock()
				if a >= int64(len(vid)) || ctx.Err() != nil {
					return
				}
				for j := a; j < min(a+1024, int64(len(vid))); j++ {
					out[j] = w.snap(vid[j], lon[j], lat[j])
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
