package demo

import (
	"fmt"
	"math"
	"time"

	"github.com/paulmach/orb"
)

// hazards draws up to three flood zones along a river crossing the county
// (each centred by a village near the river, so each covers at least that
// village) and two landslide zones (embankment and riverbank collapse) each
// around a village.
func (g *generator) hazards() {
	y0, amp := g.uniform(-8, 8), g.uniform(1, 2)
	lambda, phase := g.uniform(25, 40), g.uniform(0, 2*math.Pi)
	for x := -20.0; x <= 20; x += 0.25 {
		p := vec{x, y0 + amp*math.Sin(2*math.Pi*x/lambda+phase)}
		if g.insideBy(p, 1.2) {
			g.river = append(g.river, p)
		}
	}
	if len(g.river) < 12 {
		g.river = nil
	}
	// Villages by distance to the river.
	nearestVertex := func(p vec) (int, float64) {
		bi, bd := -1, math.Inf(1)
		for i, q := range g.river {
			if d := p.dist(q); d < bd {
				bi, bd = i, d
			}
		}
		return bi, bd
	}
	byDist := sortedBy(len(g.vils), func(i int) float64 { _, d := nearestVertex(g.vils[i].p); return d })
	var centres []int
	severities := []string{"high", "medium", "medium"}
	for _, vi := range byDist {
		if len(g.river) == 0 || len(centres) == 3 {
			break
		}
		c, d := nearestVertex(g.vils[vi].p)
		if d > 1 {
			break
		}
		far := true
		for _, o := range centres {
			if abs(o-c) < 28 {
				far = false
			}
		}
		if !far {
			continue
		}
		hl := g.intIn(10, 16)
		lo, hi := max(0, c-hl), min(len(g.river)-1, c+hl)
		if hi-lo < 6 {
			continue
		}
		w := math.Max(g.uniform(0.3, 0.7), d+0.15)
		var left, right []vec
		for i := lo; i <= hi; i++ {
			n := g.river[min(i+1, len(g.river)-1)].sub(g.river[max(i-1, 0)]).unit().perp()
			left = append(left, g.river[i].add(n.scale(w)))
			right = append(right, g.river[i].sub(n.scale(w)))
		}
		poly := left
		for i := len(right) - 1; i >= 0; i-- {
			poly = append(poly, right[i])
		}
		ok := true
		for _, p := range poly {
			ok = ok && g.insideBy(p, 0.02)
		}
		if !ok {
			continue
		}
		tw, _ := g.nearestSeat(g.river[c])
		centres = append(centres, c)
		g.flood = append(g.flood, poly)
		g.add("hazard_zones", Feature{
			Name:      fmt.Sprintf("徒骇河%s段洪涝风险区", shortName(g.tws[tw].name.Han)),
			AdminCode: g.tws[tw].code,
			Attrs:     map[string]any{"kind": "flood", "severity": severities[len(centres)-1]},
			Props:     map[string]any{"river": "徒骇河", "return_period_years": []int{20, 50}[g.r.IntN(2)]},
			Geom:      orb.MultiPolygon{{ring(poly)}},
		})
	}
	for k := 0; k < 2 && len(g.vils) > 0; {
		v := g.vils[g.r.IntN(len(g.vils))]
		c := g.near(v.p, 0.03, 0.12, 0.8)
		r0 := g.uniform(0.3, 0.55)
		var poly []vec
		ok := true
		for i := range 12 {
			a := 2 * math.Pi * float64(i) / 12
			p := c.add(vec{math.Cos(a), math.Sin(a)}.scale(r0 * g.uniform(0.75, 1.15)))
			ok = ok && g.insideBy(p, 0.02)
			poly = append(poly, p)
		}
		if !ok || !inside(poly, v.p) {
			continue
		}
		k++
		g.add("hazard_zones", Feature{
			Name: v.name.Han + "滑坡隐患点", AdminCode: v.code,
			Attrs: map[string]any{"kind": "landslide", "severity": []string{"medium", "low"}[k-1]},
			Props: map[string]any{"cause": []string{"embankment", "riverbank collapse"}[k-1]},
			Geom:  orb.MultiPolygon{{ring(poly)}},
		})
	}
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

// renovations draws exactly Renovations dilapidated-house renovations at
// houses near villages, weighted by poor households; exactly
// RenovationsCompletedBy2015 are completed by 2015-12-31.
func (g *generator) renovations() {
	var total float64
	for _, v := range g.vils {
		total += float64(v.poorHH) + 1
	}
	status := g.r.Perm(Renovations)
	for i := range Renovations {
		x := g.r.Float64() * total
		vi := 0
		for ; vi < len(g.vils)-1; vi++ {
			x -= float64(g.vils[vi].poorHH) + 1
			if x < 0 {
				break
			}
		}
		v := g.vils[vi]
		grade, work := "C", "repair"
		if g.r.Float64() < 0.4 {
			grade = "D"
		}
		if (grade == "D") == (g.r.Float64() < 0.82) {
			work = "rebuild"
		}
		hh := 1
		if g.r.Float64() < 0.08 {
			hh = 2
		}
		persons := 0
		for range hh {
			persons += g.intIn(1, 5)
		}
		per := roundTo(g.uniform(7500, 15000), 500)
		if work == "rebuild" {
			per = roundTo(g.uniform(20000, 32000), 500)
		}
		subsidy := per * float64(hh)
		f := Feature{
			Name:        surnames[g.r.IntN(len(surnames))].Han + "某某户",
			AdminCode:   v.code,
			FundingYuan: roundTo(subsidy*g.uniform(1.2, 2.0), 100),
			Attrs: map[string]any{"danger_grade": grade, "work": work, "households": hh,
				"persons": persons, "subsidy_yuan": subsidy},
			Props: map[string]any{"village": v.name.Han},
			Geom:  g.near(v.p, 0.08, 0.45, 0.05).lonlat(),
		}
		switch k := status[i]; {
		case k < RenovationsCompletedBy2015:
			f.CompletedOn = g.dateIn(g.yearFrom(2011, []float64{10, 20, 25, 25, 20}))
			f.StartedOn = f.CompletedOn.AddDate(0, 0, -g.intIn(30, 120))
		case k < RenovationsCompletedBy2015+RenovationsCompleted2016:
			f.CompletedOn = g.dateIn(2016)
			f.StartedOn = f.CompletedOn.AddDate(0, 0, -g.intIn(30, 120))
		case k < RenovationsCompletedBy2015+RenovationsCompleted2016+RenovationsUnderConstr:
			f.Status = "under_construction"
			f.StartedOn = g.dateIn(2017)
		default:
			f.Status = "planned"
		}
		g.add("house_renovations", f)
	}
}

// rect is a w × h km rectangle centred on c, rotated by a radians.
func rect(c vec, w, h, a float64) []vec {
	u, v := vec{math.Cos(a), math.Sin(a)}, vec{-math.Sin(a), math.Cos(a)}
	var pts []vec
	for _, s := range [][2]float64{{-1, -1}, {1, -1}, {1, 1}, {-1, 1}} {
		pts = append(pts, c.add(u.scale(s[0]*w/2)).add(v.scale(s[1]*h/2)))
	}
	return pts
}

// relocationSites places three completed relocation communities near
// township seats and four planned candidate sites: one in a flood zone,
// one far from any road, two near township seats.
func (g *generator) relocationSites() {
	used := map[int]bool{}
	for k := range 3 {
		tw := 0
		for k > 0 && used[tw] {
			tw = g.r.IntN(len(g.tws))
		}
		used[tw] = true
		t := g.tws[tw]
		capacity := g.intIn(150, 450)
		year := g.intIn(2017, 2019)
		f := Feature{
			Name: shortName(t.name.Han) + "安置社区", AdminCode: t.code,
			CompletedOn: g.dateIn(year), FundingYuan: float64(capacity) * 62000,
			Attrs: map[string]any{"capacity_households": capacity,
				"relocated_households": int(math.Round(float64(capacity) * g.uniform(0.85, 1))),
				"facilities":           "幼儿园, 卫生室, 文化广场, 扶贫车间"},
			Geom: orb.Polygon{ring(rect(g.near(t.seat, 0.8, 1.5, 0.5), g.uniform(0.3, 0.45), g.uniform(0.2, 0.3), g.uniform(0, math.Pi)))},
		}
		f.StartedOn = f.CompletedOn.AddDate(-1, 0, -g.intIn(0, 120))
		g.add("relocation_sites", f)
	}
	var centres []vec
	if len(g.flood) > 0 {
		poly := g.flood[g.r.IntN(len(g.flood))]
		centres = append(centres, poly[len(poly)/4].lerp(poly[len(poly)-1-len(poly)/4], 0.5))
	}
	// The remotest of a few draws from the road network.
	var remote vec
	bd := -1.0
	for range 200 {
		q := vec{g.uniform(-16, 16), g.uniform(-18, 18)}
		if !g.insideBy(q, 0.8) {
			continue
		}
		d := math.Inf(1)
		for _, e := range g.edges {
			for i := 0; i+1 < len(e); i++ {
				d = math.Min(d, distToSegment(q, e[i], e[i+1]))
			}
		}
		if d > bd {
			remote, bd = q, d
		}
	}
	centres = append(centres, remote)
	for len(centres) < 4 {
		centres = append(centres, g.near(g.tws[g.r.IntN(len(g.tws))].seat, 0.8, 1.6, 0.5))
	}
	for k, c := range centres {
		tw, _ := g.nearestSeat(c)
		g.add("relocation_sites", Feature{
			Name:        fmt.Sprintf("候选安置点%c（%s）", 'A'+k, g.tws[tw].name.Han),
			AdminCode:   g.tws[tw].code,
			Status:      "planned",
			FundingYuan: 0,
			Attrs: map[string]any{"capacity_households": g.intIn(80, 300), "relocated_households": 0,
				"facilities": "规划: 幼儿园, 卫生室"},
			Props: map[string]any{"candidate": true},
			Geom:  orb.Polygon{ring(rect(c, g.uniform(0.2, 0.3), g.uniform(0.15, 0.22), g.uniform(0, math.Pi)))},
		})
	}
}

// facilities places schools, clinics and markets: at every township seat
// a central primary school and a market, a health centre in all but the
// county seat (which has the county hospital) plus the county middle
// school; primary schools at the eight largest villages away from seats;
// village clinics at about a quarter of the villages. Each has a
// completion date, so that an as_of question counts the facilities of its
// day: seats' schools, markets, the hospital and health centres long
// before the programme; the village clinics built by it (标准化村卫生室,
// 2011–2018, by the village's number). The dates draw nothing from the
// generator's random stream: the rest of the county stays as it was.
func (g *generator) facilities() {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	for i, t := range g.tws {
		short := shortName(t.name.Han)
		g.add("facilities", Feature{Name: short + "中心小学", AdminCode: t.code, CompletedOn: day(1978, 9, 1),
			Attrs: map[string]any{"kind": "school"}, Props: map[string]any{"level": "primary", "students": g.intIn(400, 1200)},
			Geom: g.near(t.seat, 0.2, 0.5, 0.2).lonlat()})
		if i == 0 {
			g.add("facilities", Feature{Name: CountyName + "第一中学", AdminCode: t.code, CompletedOn: day(1952, 9, 1),
				Attrs: map[string]any{"kind": "school"}, Props: map[string]any{"level": "secondary", "students": g.intIn(2500, 4000)},
				Geom: g.near(t.seat, 0.4, 0.8, 0.2).lonlat()})
			g.add("facilities", Feature{Name: CountyName + "人民医院", AdminCode: t.code, CompletedOn: day(1951, 6, 1),
				Attrs: map[string]any{"kind": "hospital"}, Props: map[string]any{"beds": 600},
				Geom: g.near(t.seat, 0.3, 0.7, 0.2).lonlat()})
		} else {
			g.add("facilities", Feature{Name: t.name.Han + "卫生院", AdminCode: t.code, CompletedOn: day(1965+2*i, 6, 1),
				Attrs: map[string]any{"kind": "clinic"}, Props: map[string]any{"beds": g.intIn(20, 60)},
				Geom: g.near(t.seat, 0.2, 0.5, 0.2).lonlat()})
		}
		g.add("facilities", Feature{Name: short + "大集", AdminCode: t.code, CompletedOn: day(1985, 1, 1),
			Attrs: map[string]any{"kind": "market"}, Props: map[string]any{"market_days": "农历逢" + []string{"一六", "二七", "三八", "四九", "五十"}[i%5]},
			Geom: g.near(t.seat, 0.1, 0.4, 0.2).lonlat()})
	}
	big := sortedBy(len(g.vils), func(i int) float64 { return -float64(g.vils[i].pop) })
	schools := 0
	for _, vi := range big {
		v := g.vils[vi]
		if schools == 8 {
			break
		}
		if v.p.dist(g.tws[v.tw].seat) < 3 {
			continue
		}
		schools++
		g.add("facilities", Feature{Name: v.name.Han + "小学", AdminCode: v.code, CompletedOn: day(1980, 9, 1),
			Attrs: map[string]any{"kind": "school"}, Props: map[string]any{"level": "primary", "students": g.intIn(80, 300)},
			Geom: g.near(v.p, 0.1, 0.3, 0.05).lonlat()})
	}
	for k, v := range g.vils {
		if g.r.Float64() < 0.25 {
			g.add("facilities", Feature{Name: v.name.Han + "卫生室", AdminCode: v.code, CompletedOn: day(2011+k%8, 6, 30),
				Attrs: map[string]any{"kind": "clinic"}, Props: map[string]any{"level": "village"},
				Geom: g.near(v.p, 0.05, 0.15, 0.05).lonlat()})
		}
	}
}
