package demo

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// The road network is noded: every road feature is one edge between two
// junction nodes, and edges meet only at shared endpoints with exactly
// equal coordinates (checked with segmentsConflict before an edge is
// added). Nodes are township seats, junctions along county roads, villages
// and the far ends of group roads.

// addNode registers a node and returns its index.
func (g *generator) addNode(p vec) int {
	g.nodes = append(g.nodes, p)
	return len(g.nodes) - 1
}

// fits reports whether the polyline can join the network without touching
// an existing edge anywhere but at shared endpoints, staying inside the
// county.
func (g *generator) fits(pts []vec) bool {
	for _, p := range pts {
		if !g.insideBy(p, 0.05) {
			return false
		}
	}
	minX, maxX, minY, maxY := bbox(pts)
	for _, e := range g.edges {
		ex0, ex1, ey0, ey1 := bbox(e)
		if ex0 > maxX || ex1 < minX || ey0 > maxY || ey1 < minY {
			continue
		}
		if polylinesConflict(pts, e) {
			return false
		}
	}
	return true
}

func bbox(pts []vec) (minX, maxX, minY, maxY float64) {
	minX, minY = math.Inf(1), math.Inf(1)
	maxX, maxY = math.Inf(-1), math.Inf(-1)
	for _, p := range pts {
		minX, maxX = math.Min(minX, p.X), math.Max(maxX, p.X)
		minY, maxY = math.Min(minY, p.Y), math.Max(maxY, p.Y)
	}
	return
}

// roadWork is the status, surface and dates of one road edge.
type roadWork struct {
	status, surface, grade string
	started, completed     int // years, 0 = none
	fundingPerKm           float64
	props                  map[string]any
}

// hardeningYears weights the completion years 2008–2019 of village-road
// hardening (the programme peaked around 2013–2015).
var hardeningYears = []float64{3, 5, 7, 9, 11, 12, 12, 11, 9, 7, 5, 3}

// villageRoadWork draws the state of a village or group road; poor villages
// are likelier to still have earth or gravel roads or pending works.
func (g *generator) villageRoadWork(poor bool) roadWork {
	x := g.r.Float64()
	if poor {
		x *= 0.55 // shift mass towards pending works and earth or gravel roads
	}
	switch {
	case x < 0.04:
		return roadWork{status: "planned", surface: "cement", grade: "class4", fundingPerKm: g.uniform(5.0e5, 6.5e5),
			props: map[string]any{"current_surface": []string{"earth", "gravel"}[g.r.IntN(2)], "planned_year": 2020}}
	case x < 0.07:
		return roadWork{status: "under_construction", surface: "cement", grade: "class4", started: 2019,
			fundingPerKm: g.uniform(5.0e5, 6.5e5)}
	case x < 0.11:
		return roadWork{status: "completed", surface: "earth", grade: "substandard", completed: g.intIn(1985, 2000)}
	case x < 0.18:
		return roadWork{status: "completed", surface: "gravel", grade: "substandard", completed: g.intIn(1998, 2007)}
	case x < 0.22:
		y := g.yearFrom(2008, hardeningYears)
		return roadWork{status: "completed", surface: "asphalt", grade: "class4", started: y, completed: y,
			fundingPerKm: g.uniform(6.5e5, 8.5e5)}
	}
	y := g.yearFrom(2008, hardeningYears)
	return roadWork{status: "completed", surface: "cement", grade: "class4", started: y, completed: y,
		fundingPerKm: g.uniform(4.2e5, 6.2e5)}
}

// addRoad records an edge of the network and its road feature.
func (g *generator) addRoad(pts []vec, name, class, admin string, width float64, w roadWork) {
	g.edges = append(g.edges, pts)
	f := Feature{
		Name: name, AdminCode: admin, Status: w.status,
		Attrs: map[string]any{"road_class": class, "tech_grade": w.grade, "surface": w.surface, "width_m": width},
		Props: w.props,
		Geom:  line(pts...),
	}
	if w.completed > 0 {
		f.CompletedOn = g.dateIn(w.completed)
		f.StartedOn = f.CompletedOn.AddDate(0, 0, -g.intIn(60, 240))
	} else if w.started > 0 {
		f.StartedOn = g.dateIn(w.started)
	}
	if w.fundingPerKm > 0 {
		f.FundingYuan = roundTo(w.fundingPerKm*lengthKm(pts), 100)
	}
	g.add("roads", f)
}

// roads builds the network: county and township roads between township
// seats (a minimum spanning tree plus a few non-crossing extra links),
// split into edges at junctions about every 2 km; then a village road from
// every village to the nearest node it can reach without crossing (Prim's
// algorithm), some extra links between neighbouring villages, and group
// roads from some villages to their hamlets.
func (g *generator) roads() {
	seatNode := make([]int, len(g.tws))
	for i, t := range g.tws {
		seatNode[i] = g.addNode(t.seat)
	}
	// Candidate links between seats, shortest first.
	type link struct {
		a, b int
		d    float64
	}
	var links []link
	for a := range g.tws {
		for b := a + 1; b < len(g.tws); b++ {
			links = append(links, link{a, b, g.tws[a].seat.dist(g.tws[b].seat)})
		}
	}
	slices.SortStableFunc(links, func(x, y link) int { return cmp.Compare(x.d, y.d) })
	// Kruskal for the county roads, then up to 5 township roads closing loops.
	comp := make([]int, len(g.tws))
	for i := range comp {
		comp[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		if comp[i] != i {
			comp[i] = find(comp[i])
		}
		return comp[i]
	}
	var straight [][]vec
	var chosen []link
	var isCounty []bool
	for _, l := range links {
		if ra, rb := find(l.a), find(l.b); ra != rb {
			comp[ra] = rb
			chosen = append(chosen, l)
			isCounty = append(isCounty, true)
			straight = append(straight, []vec{g.tws[l.a].seat, g.tws[l.b].seat})
		}
	}
	extra := 0
	for _, l := range links {
		if extra == 5 || l.d > 14 {
			break
		}
		s := []vec{g.tws[l.a].seat, g.tws[l.b].seat}
		if slices.ContainsFunc(chosen, func(c link) bool { return c == l }) {
			continue
		}
		ok := true
		for _, t := range straight {
			if polylinesConflict(s, t) {
				ok = false
				break
			}
		}
		// Skip links that would pass close to a third seat.
		for i, t := range g.tws {
			if i != l.a && i != l.b && distToSegment(t.seat, s[0], s[1]) < 2 {
				ok = false
			}
		}
		if ok {
			chosen = append(chosen, l)
			isCounty = append(isCounty, false)
			straight = append(straight, s)
			extra++
		}
	}
	for i, l := range chosen {
		a, b := g.tws[l.a].seat, g.tws[l.b].seat
		n := max(2, int(math.Round(l.d/0.6)))
		var pts []vec
		for amp := g.uniform(0.03, 0.07) * l.d; ; amp /= 2 {
			s1, s2 := g.uniform(-1, 1), g.uniform(-0.5, 0.5)
			pts = pts[:0]
			side := b.sub(a).unit().perp()
			for k := 0; k <= n; k++ {
				t := float64(k) / float64(n)
				off := amp * (s1*math.Sin(math.Pi*t) + s2*math.Sin(2*math.Pi*t))
				pts = append(pts, a.lerp(b, t).add(side.scale(off)))
			}
			pts[0], pts[n] = a, b
			if g.fits(pts) || amp < 1e-3 {
				break
			}
		}
		class, grade, surface, width, code := "county", "class3", "asphalt", 8.0, fmt.Sprintf("X%03d", 10+i)
		if !isCounty[i] {
			class, grade, surface, width, code = "township", "class4", "cement", 6.0, fmt.Sprintf("Y%03d", 100+i)
		}
		name := fmt.Sprintf("%s %s—%s", code, g.tws[l.a].name.Han, g.tws[l.b].name.Han)
		year := g.intIn(2005, 2013)
		perKm := 1.6e6
		if !isCounty[i] {
			perKm = 9e5
		}
		// Split into edges at junctions about every 2 km (every 3rd vertex).
		start := 0
		for k := 1; k <= n; k++ {
			if k != n && (k%3 != 0 || n-k < 2) {
				continue
			}
			seg := append([]vec(nil), pts[start:k+1]...)
			if k != n {
				g.addNode(pts[k])
			}
			tw, _ := g.nearestSeat(seg[len(seg)/2])
			g.addRoad(seg, name, class, g.tws[tw].code, width, roadWork{
				status: "completed", surface: surface, grade: grade, started: year, completed: year,
				fundingPerKm: perKm,
				props:        map[string]any{"route": code},
			})
			start = k
		}
	}

	// Village roads by Prim's algorithm from the county-road nodes.
	connected := make([]int, len(g.nodes)) // node indices reachable
	for i := range connected {
		connected[i] = i
	}
	villageNode := make([]int, len(g.vils))
	best := make([]float64, len(g.vils))
	pending := make([]bool, len(g.vils))
	for i, v := range g.vils {
		villageNode[i] = -1
		pending[i] = true
		best[i] = math.Inf(1)
		for _, n := range connected {
			best[i] = math.Min(best[i], v.p.dist(g.nodes[n]))
		}
	}
	for {
		vi := -1
		for i := range g.vils {
			if pending[i] && (vi < 0 || best[i] < best[vi]) {
				vi = i
			}
		}
		if vi < 0 {
			break
		}
		pending[vi] = false
		v := g.vils[vi]
		cands := slices.Clone(connected)
		slices.SortStableFunc(cands, func(a, b int) int {
			return cmp.Compare(v.p.dist(g.nodes[a]), v.p.dist(g.nodes[b]))
		})
		var pts []vec
		for _, c := range cands[:min(len(cands), 16)] {
			for _, off := range []float64{g.uniform(-0.08, 0.08), 0} {
				if p := bent(g.nodes[c], v.p, off); g.fits(p) {
					pts = p
					break
				}
			}
			if pts != nil {
				break
			}
		}
		if pts == nil {
			continue // no way in without crossing: the village stays off the network
		}
		n := g.addNode(v.p)
		villageNode[vi] = n
		connected = append(connected, n)
		g.addRoad(pts, v.name.Han+"通村路", "village", v.code, g.uniform(3.5, 5.5), g.villageRoadWork(v.poor))
		for i, w := range g.vils {
			if pending[i] {
				best[i] = math.Min(best[i], w.p.dist(v.p))
			}
		}
	}

	// Links between neighbouring villages, closing loops.
	for i, v := range g.vils {
		if villageNode[i] < 0 || g.r.Float64() >= 0.15 {
			continue
		}
		wi, wd := -1, 2.6
		for j, w := range g.vils {
			if j != i && villageNode[j] >= 0 && v.p.dist(w.p) < wd && !g.linked(v.p, w.p) {
				wi, wd = j, v.p.dist(w.p)
			}
		}
		if wi < 0 {
			continue
		}
		w := g.vils[wi]
		if p := bent(v.p, w.p, g.uniform(-0.06, 0.06)); g.fits(p) {
			g.addRoad(p, v.name.Han+"—"+w.name.Han+"连村路", "village", v.code, g.uniform(3.5, 4.5),
				g.villageRoadWork(v.poor || w.poor))
		}
	}

	// Group roads to hamlets: dead ends.
	for i, v := range g.vils {
		if villageNode[i] < 0 || g.r.Float64() >= 0.3 {
			continue
		}
		end := g.near(v.p, 0.4, 0.9, 0.2)
		p := bent(v.p, end, g.uniform(-0.1, 0.1))
		if end == v.p || !g.fits(p) {
			continue
		}
		g.addNode(end)
		group := []string{"一", "二", "三", "四", "五", "六"}[g.r.IntN(6)]
		w := g.villageRoadWork(v.poor)
		w.props = mergeProps(w.props, map[string]any{"to": "hamlet"})
		g.addRoad(p, v.name.Han+group+"组组道", "group", v.code, 3, w)
	}
}

// linked reports whether an edge already joins a and b.
func (g *generator) linked(a, b vec) bool {
	for _, e := range g.edges {
		s, t := e[0], e[len(e)-1]
		if (s == a && t == b) || (s == b && t == a) {
			return true
		}
	}
	return false
}

func mergeProps(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
