package demo

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/paulmach/orb"
)

// Generate returns the demo county for seed. It is pure and deterministic.
func Generate(seed int64) *County {
	g := &generator{
		r:      rand.New(rand.NewPCG(uint64(seed), 0x6c6173746d696c65)),
		layers: map[string][]Feature{},
	}
	g.county()
	g.townships()
	g.villages()
	g.roads()
	g.water()
	g.power()
	g.hazards()
	g.renovations()
	g.relocationSites()
	g.facilities()
	c := &County{Seed: seed}
	for _, name := range layerOrder {
		c.Layers = append(c.Layers, Layer{Name: name, Features: g.layers[name]})
	}
	return c
}

// layerOrder is the order of the layers in a County (the catalog's).
var layerOrder = []string{"roads", "water_pipelines", "power_upgrades", "house_renovations",
	"relocation_sites", "villages", "admin_areas", "hazard_zones", "facilities"}

type township struct {
	name     syllable
	code     string
	seat     vec
	cell     []vec
	villages []int
}

type village struct {
	p              vec
	tw             int
	code           string
	name           syllable
	pop            int
	poorHH, poorPP int
	poor           bool
}

type generator struct {
	r      *rand.Rand
	layers map[string][]Feature

	border []vec // county polygon, counter-clockwise
	tws    []township
	vils   []village

	// the road network: nodes and the polylines of its edges
	nodes []vec
	edges [][]vec
	river []vec
	flood [][]vec // flood-zone polygons, for the candidate sites
}

// add appends a feature to a layer, numbering its ext_id.
func (g *generator) add(layer string, f Feature) {
	f.ExtID = fmt.Sprintf("demo:%s:%d", layer, len(g.layers[layer])+1)
	if f.Status == "" {
		f.Status = "completed"
	}
	if f.Attrs == nil {
		f.Attrs = map[string]any{}
	}
	if f.Props == nil {
		f.Props = map[string]any{}
	}
	g.layers[layer] = append(g.layers[layer], f)
}

// uniform draws from [lo, hi).
func (g *generator) uniform(lo, hi float64) float64 { return lo + (hi-lo)*g.r.Float64() }

// intIn draws from [lo, hi].
func (g *generator) intIn(lo, hi int) int { return lo + g.r.IntN(hi-lo+1) }

// dateIn draws a day of year y.
func (g *generator) dateIn(y int) time.Time {
	return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, g.r.IntN(365))
}

// yearFrom draws a year from years with the given weights.
func (g *generator) yearFrom(first int, weights []float64) int {
	var sum float64
	for _, w := range weights {
		sum += w
	}
	x := g.r.Float64() * sum
	for i, w := range weights {
		if x < w {
			return first + i
		}
		x -= w
	}
	return first + len(weights) - 1
}

// roundTo rounds v to a multiple of step.
func roundTo(v, step float64) float64 { return math.Round(v/step) * step }

// near draws a point at distance lo..hi km from p, inside the county at
// least margin km from its border.
func (g *generator) near(p vec, lo, hi, margin float64) vec {
	for range 100 {
		a := g.uniform(0, 2*math.Pi)
		q := p.add(vec{math.Cos(a), math.Sin(a)}.scale(g.uniform(lo, hi)))
		if inside(g.border, q) && distToBoundary(g.border, q) >= margin {
			return q
		}
	}
	return p
}

func (g *generator) insideBy(p vec, margin float64) bool {
	return inside(g.border, p) && distToBoundary(g.border, p) >= margin
}

// county draws the county polygon: the convex hull of a jittered ellipse
// of about 16 × 18 km, slightly rotated (convex so that township cells and
// straight lines between inner points stay inside).
func (g *generator) county() {
	const n = 30
	rot := g.uniform(-0.3, 0.3)
	var pts []vec
	for i := range n {
		t := 2*math.Pi*float64(i)/n + g.uniform(-0.05, 0.05)
		k := g.uniform(0.86, 1)
		x, y := 15.5*k*math.Cos(t), 18*k*math.Sin(t)
		pts = append(pts, vec{x*math.Cos(rot) - y*math.Sin(rot), x*math.Sin(rot) + y*math.Cos(rot)})
	}
	g.border = convexHull(pts)
	g.add("admin_areas", Feature{
		Name: CountyName, AdminCode: CountyCode,
		Attrs: map[string]any{"level": "county", "code": CountyCode, "parent_code": "371400000000"},
		Props: map[string]any{"pinyin": "Shanghe Xian", "synthetic": true},
		Geom:  orb.MultiPolygon{{ring(g.border)}},
	})
}

// townships places 12 township seats by best-candidate sampling (the
// county seat near the centre) and partitions the county into their
// Voronoi cells.
func (g *generator) townships() {
	seats := []vec{{g.uniform(-1.5, 1.5), g.uniform(-1.5, 1.5)}}
	for len(seats) < len(townships) {
		var best vec
		bestD := -1.0
		for range 40 {
			q := vec{g.uniform(-16, 16), g.uniform(-18, 18)}
			if !g.insideBy(q, 2.5) {
				continue
			}
			d := math.Inf(1)
			for _, s := range seats {
				d = math.Min(d, q.dist(s))
			}
			if d > bestD {
				best, bestD = q, d
			}
		}
		if bestD > 0 {
			seats = append(seats, best)
		}
	}
	for i, s := range seats {
		tw := township{
			name: townships[i],
			code: fmt.Sprintf("371426%03d000", 100+i),
			seat: s,
			cell: voronoiCell(g.border, seats, i),
		}
		g.tws = append(g.tws, tw)
		g.add("admin_areas", Feature{
			Name: tw.name.Han, AdminCode: tw.code,
			Attrs: map[string]any{"level": "township", "code": tw.code, "parent_code": CountyCode},
			Props: map[string]any{"pinyin": tw.name.Pinyin, "seat": []float64{s.lonlat()[0], s.lonlat()[1]}},
			Geom:  orb.MultiPolygon{{ring(tw.cell)}},
		})
	}
}

// nearestSeat returns the township whose seat is nearest to p, and the
// margin by which it is nearest.
func (g *generator) nearestSeat(p vec) (int, float64) {
	best, d1, d2 := 0, math.Inf(1), math.Inf(1)
	for i, t := range g.tws {
		d := p.dist(t.seat)
		switch {
		case d < d1:
			best, d1, d2 = i, d, d1
		case d < d2:
			d2 = d
		}
	}
	return best, d2 - d1
}

// villages scatters 470–530 villages at least 0.85 km apart, away from the
// county border, township boundaries and seats, then numbers them within
// their township, gives them population and marks the remotest fifth
// (with some noise) as poor villages.
func (g *generator) villages() {
	target := g.intIn(470, 530)
	var pts []vec
	for try := 0; len(pts) < target && try < 200000; try++ {
		q := vec{g.uniform(-16, 16), g.uniform(-18, 18)}
		if !g.insideBy(q, 0.4) {
			continue
		}
		tw, margin := g.nearestSeat(q)
		if margin < 0.3 || q.dist(g.tws[tw].seat) < 0.7 {
			continue
		}
		ok := true
		for _, p := range pts {
			if p.dist(q) < 0.85 {
				ok = false
				break
			}
		}
		if ok {
			pts = append(pts, q)
		}
	}
	type cand struct {
		p  vec
		tw int
	}
	cs := make([]cand, len(pts))
	for i, p := range pts {
		tw, _ := g.nearestSeat(p)
		cs[i] = cand{p, tw}
	}
	// Number north to south, west to east within each township.
	slices.SortStableFunc(cs, func(a, b cand) int {
		return cmp.Or(cmp.Compare(a.tw, b.tw), cmp.Compare(b.p.Y, a.p.Y), cmp.Compare(a.p.X, b.p.X))
	})
	used := map[string]bool{}
	remoteness := make([]float64, len(cs))
	for i, c := range cs {
		tw := &g.tws[c.tw]
		v := village{
			p: c.p, tw: c.tw,
			code: fmt.Sprintf("%s%03d", tw.code[:9], 201+len(tw.villages)),
			name: villageName(g.r, used),
			pop:  int(math.Max(300, math.Min(3000, math.Exp(g.r.NormFloat64()*0.5+math.Log(900))))),
		}
		tw.villages = append(tw.villages, i)
		remoteness[i] = c.p.dist(tw.seat) + c.p.dist(vec{})/3 + g.uniform(0, 6)
		g.vils = append(g.vils, v)
	}
	order := make([]int, len(cs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(remoteness[b], remoteness[a]) })
	for _, i := range order[:int(math.Round(float64(len(order))*0.2))] {
		g.vils[i].poor = true
	}
	for i := range g.vils {
		v := &g.vils[i]
		hh := float64(v.pop) / 3.1
		share := g.uniform(0.01, 0.06)
		if v.poor {
			share = g.uniform(0.12, 0.26)
		}
		v.poorHH = int(math.Round(hh * share))
		v.poorPP = int(math.Round(float64(v.poorHH) * g.uniform(2.1, 2.8)))
		g.add("villages", Feature{
			Name: v.name.Han, AdminCode: v.code,
			Attrs: map[string]any{"code": v.code, "population": v.pop, "poor_households": v.poorHH,
				"poor_population": v.poorPP, "is_poor_village": v.poor},
			Props: map[string]any{"pinyin": v.name.Pinyin, "township": g.tws[v.tw].name.Han,
				"households": int(math.Round(hh))},
			Geom: v.p.lonlat(),
		})
	}
}

// lengthKm is the length of a polyline in the plane.
func lengthKm(pts []vec) float64 {
	var s float64
	for i := 0; i+1 < len(pts); i++ {
		s += pts[i].dist(pts[i+1])
	}
	return s
}

// bent returns a → b with one bend in the middle, offset sideways by off
// times the length.
func bent(a, b vec, off float64) []vec {
	mid := a.lerp(b, 0.5).add(b.sub(a).perp().scale(off))
	return []vec{a, mid, b}
}
