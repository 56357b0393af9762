package demo

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// site is a point of a utility network with the households it serves.
type site struct {
	p          vec
	households float64
	village    int // index in g.vils, -1 for seats and sources
	tw         int
}

// spanningTree returns, for each site but the root (index 0), the index of
// its parent in a minimum spanning tree grown from the root (Prim), and
// the order in which sites were attached.
func spanningTree(sites []site) (parent []int, order []int) {
	n := len(sites)
	parent = make([]int, n)
	best := make([]float64, n)
	done := make([]bool, n)
	for i := range best {
		best[i], parent[i] = math.Inf(1), -1
	}
	best[0] = 0
	for range n {
		u := -1
		for i := range n {
			if !done[i] && (u < 0 || best[i] < best[u]) {
				u = i
			}
		}
		done[u] = true
		order = append(order, u)
		for i := range n {
			if d := sites[u].p.dist(sites[i].p); !done[i] && d < best[i] {
				best[i], parent[i] = d, u
			}
		}
	}
	return parent, order
}

// downstream sums the households served through each site of a tree.
func downstream(sites []site, parent, order []int) []float64 {
	sum := make([]float64, len(sites))
	for i := len(order) - 1; i >= 0; i-- {
		u := order[i]
		sum[u] += sites[u].households
		if parent[u] >= 0 {
			sum[parent[u]] += sum[u]
		}
	}
	return sum
}

// water places five water plants (facilities kind=water_source) near
// well-spread township seats; each serves the townships whose seats are
// nearest to it through a pipeline tree to every seat and village, pipe
// diameters sized by the households downstream.
func (g *generator) water() {
	// Spread the plants: farthest-point choice among the seats.
	plants := []int{g.r.IntN(len(g.tws))}
	for len(plants) < 5 {
		bi, bd := -1, -1.0
		for i, t := range g.tws {
			d := math.Inf(1)
			for _, p := range plants {
				d = math.Min(d, t.seat.dist(g.tws[p].seat))
			}
			if d > bd {
				bi, bd = i, d
			}
		}
		plants = append(plants, bi)
	}
	sources := make([]vec, len(plants))
	for k, tw := range plants {
		sources[k] = g.near(g.tws[tw].seat, 1.2, 2, 0.5)
		name := shortName(g.tws[tw].name.Han) + "水厂"
		g.add("facilities", Feature{
			Name: name, AdminCode: g.tws[tw].code, Status: "completed",
			CompletedOn: g.dateIn(g.intIn(2006, 2010)),
			Attrs:       map[string]any{"kind": "water_source"},
			Props:       map[string]any{"capacity_m3_per_day": roundTo(g.uniform(5000, 20000), 500), "source": "groundwater"},
			Geom:        sources[k].lonlat(),
		})
	}
	for k, tw := range plants {
		srcName := shortName(g.tws[tw].name.Han) + "水厂"
		sites := []site{{p: sources[k], village: -1, tw: tw}}
		for ti, t := range g.tws {
			nearest, nd := 0, math.Inf(1)
			for j, s := range sources {
				if d := t.seat.dist(s); d < nd {
					nearest, nd = j, d
				}
			}
			if nearest != k {
				continue
			}
			sites = append(sites, site{p: t.seat, households: 1500, village: -1, tw: ti})
			for _, vi := range t.villages {
				sites = append(sites, site{p: g.vils[vi].p, households: float64(g.vils[vi].pop) / 3.1, village: vi, tw: ti})
			}
		}
		parent, order := spanningTree(sites)
		served := downstream(sites, parent, order)
		scheme := g.intIn(2009, 2013)
		for _, u := range order[1:] {
			s := sites[u]
			pts := g.bentInside(sites[parent[u]].p, s.p, g.uniform(-0.05, 0.05))
			hh := served[u]
			diameter, material := 63, "PE100"
			switch {
			case hh > 3000:
				diameter, material = 315, "ductile iron"
			case hh > 1200:
				diameter, material = 200, "ductile iron"
			case hh > 400:
				diameter = 160
			case hh > 150:
				diameter = 110
			case hh > 60:
				diameter = 75
			}
			admin, to := g.tws[s.tw].code, g.tws[s.tw].name.Han
			if s.village >= 0 {
				admin, to = g.vils[s.village].code, g.vils[s.village].name.Han
			}
			f := Feature{
				Name: fmt.Sprintf("%s供水管道（至%s）", srcName, to), AdminCode: admin,
				Attrs: map[string]any{"diameter_mm": diameter, "material": material,
					"households_served": int(math.Round(hh)), "source_name": srcName},
				Geom: line(pts...),
			}
			perKm := 1.2e5 + float64(diameter)*900
			f.FundingYuan = roundTo(perKm*lengthKm(pts), 100)
			switch x := g.r.Float64(); {
			case x < 0.06:
				f.Status = "planned"
			case x < 0.1:
				f.Status = "under_construction"
				f.StartedOn = g.dateIn(2019)
			default:
				f.CompletedOn = g.dateIn(scheme + g.intIn(0, 5))
				f.StartedOn = f.CompletedOn.AddDate(0, 0, -g.intIn(45, 200))
			}
			g.add("water_pipelines", f)
		}
	}
}

// bentInside is bent(a, b, off), or the straight line when the bend would
// leave the county.
func (g *generator) bentInside(a, b vec, off float64) []vec {
	pts := bent(a, b, off)
	if !g.insideBy(pts[1], 0.05) {
		return []vec{a, b}
	}
	return pts
}

// shortName drops the 镇/街道 of a township name.
func shortName(s string) string {
	for _, suf := range []string{"街道", "镇", "乡"} {
		if t, ok := cutSuffix(s, suf); ok {
			return t
		}
	}
	return s
}

func cutSuffix(s, suf string) (string, bool) {
	if len(s) >= len(suf) && s[len(s)-len(suf):] == suf {
		return s[:len(s)-len(suf)], true
	}
	return s, false
}

// power builds, per township, a 10 kV line tree from the 35 kV substation
// by the seat to every village (rural-grid upgrade 2010–2017, some still
// planned), and a transformer at most villages sized by population.
func (g *generator) power() {
	for ti, t := range g.tws {
		sub := g.near(t.seat, 0.5, 1.0, 0.3)
		sites := []site{{p: sub, village: -1, tw: ti}}
		for _, vi := range t.villages {
			sites = append(sites, site{p: g.vils[vi].p, households: float64(g.vils[vi].pop) / 3.1, village: vi, tw: ti})
		}
		parent, order := spanningTree(sites)
		feeder := 0
		for _, u := range order[1:] {
			if parent[u] == 0 {
				feeder++
			}
			v := g.vils[sites[u].village]
			pts := g.bentInside(sites[parent[u]].p, sites[u].p, g.uniform(-0.04, 0.04))
			f := Feature{
				Name:      fmt.Sprintf("10kV %s%d线（%s段）", shortName(t.name.Han), max(feeder, 1), v.name.Han),
				AdminCode: v.code,
				Attrs:     map[string]any{"kind": "line", "voltage_kv": 10.0},
				Props:     map[string]any{"conductor": []string{"JKLYJ-70", "JKLYJ-120", "LGJ-95"}[g.r.IntN(3)], "substation": shortName(t.name.Han) + "35kV变电站"},
				Geom:      line(pts...),
			}
			g.powerStatus(&f, 1.8e5*lengthKm(pts))
			g.add("power_upgrades", f)
		}
	}
	for _, v := range g.vils {
		if g.r.Float64() < 0.15 {
			continue
		}
		kva := 100.0
		switch {
		case v.pop > 2200:
			kva = 400
		case v.pop > 1500:
			kva = 315
		case v.pop > 800:
			kva = 200
		}
		f := Feature{
			Name: v.name.Han + "台区变压器", AdminCode: v.code,
			Attrs: map[string]any{"kind": "transformer", "voltage_kv": 10.0, "capacity_kva": kva},
			Props: map[string]any{"model": fmt.Sprintf("S13-M-%.0f/10", kva)},
			Geom:  g.near(v.p, 0.08, 0.2, 0.05).lonlat(),
		}
		g.powerStatus(&f, kva*350+20000)
		g.add("power_upgrades", f)
	}
}

func (g *generator) powerStatus(f *Feature, cost float64) {
	f.FundingYuan = roundTo(cost, 100)
	switch x := g.r.Float64(); {
	case x < 0.1:
		f.Status = "planned"
	case x < 0.15:
		f.Status = "under_construction"
		f.StartedOn = g.dateIn(2019)
	default:
		f.CompletedOn = g.dateIn(g.yearFrom(2010, []float64{4, 6, 8, 9, 9, 8, 6, 4}))
		f.StartedOn = f.CompletedOn.AddDate(0, 0, -g.intIn(30, 150))
	}
}

// sortedBy returns the indices 0..n-1 sorted by key.
func sortedBy(n int, key func(int) float64) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(key(a), key(b)) })
	return idx
}
