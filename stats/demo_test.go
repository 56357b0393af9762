package stats

import (
	"context"
	"testing"
	"time"

	"github.com/lastmile/lastmile/demo"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// TestDemoCounty answers the headline questions on the demo county (seed 1)
// and checks invariants that hold whatever the generator draws: group
// totals add up, and a village covered along the network is covered in a
// straight line (a path is never shorter than the geodesic). Run with -v
// to see the figures quoted in README.md.
func TestDemoCounty(t *testing.T) {
	pool := pgtest.New(t)
	if _, err := demo.Load(context.Background(), pool, demo.Generate(1)); err != nil {
		t.Fatal(err)
	}
	timed := func(fn Endpoint, q string) (*Result, time.Duration) {
		start := time.Now()
		res := run(t, pool, fn, q)
		return res, time.Since(start)
	}
	straight, dS := timed(Coverage, "source_filter=graded&within_m=1000&group_by=township&list=uncovered")
	network, dN := timed(Coverage, "source_filter=graded&within_m=1000&group_by=township&method=network&list=uncovered")
	networkWarm, dNW := timed(Coverage, "source_filter=graded&within_m=1000&group_by=township&method=network")
	checkGroupsAddUp(t, straight, "total", "covered", "population", "population_covered")
	checkGroupsAddUp(t, network, "total", "covered")
	if network.Total["covered"] != networkWarm.Total["covered"] {
		t.Errorf("network cold %v, warm %v", network.Total["covered"], networkWarm.Total["covered"])
	}
	straightUncovered := map[any]bool{}
	for _, u := range straight.Uncovered {
		straightUncovered[u["id"]] = true
	}
	networkUncovered := map[any]bool{}
	for _, u := range network.Uncovered {
		networkUncovered[u["id"]] = true
	}
	for id := range straightUncovered {
		if !networkUncovered[id] {
			t.Errorf("village %v is covered along the network but not in a straight line", id)
		}
	}
	t.Logf("villages within 1 km of a graded highway: straight %v of %v (%v%%) in %s; network %v (%v%%) in %s cold (graph build), %s warm",
		straight.Total["covered"], straight.Total["total"], straight.Total["pct"], dS.Round(time.Millisecond),
		network.Total["covered"], network.Total["pct"], dN.Round(time.Millisecond), dNW.Round(time.Millisecond))

	rai, d := timed(RAI, "")
	t.Logf("RAI (2 km, all-season): %v%% of %v people, in %s", rai.Total["rai"], rai.Total["population"], d.Round(time.Millisecond))
	if r, ok := rai.Total["rai"].(float64); !ok || r < 0 || r > 100 {
		t.Errorf("rai %v", rai.Total["rai"])
	}
	km, d := timed(Lengths, "layer=roads&filter=hardened&status=completed&group_by=year")
	for _, g := range km.Groups {
		t.Logf("km hardened in %v: %v km (%v roads)", g["year"], g["km"], g["count"])
	}
	t.Logf("km hardened total %v in %s", km.Total["km"], d.Round(time.Millisecond))
	prog, d := timed(Progress, "layer=house_renovations")
	t.Logf("renovations: %v of %v completed (%v%%; %v planned, %v under construction, %v cancelled) in %s",
		prog.Total["completed"], num(prog.Total["total"])-num(prog.Total["cancelled"]), prog.Total["pct"],
		prog.Total["planned"], prog.Total["under_construction"], prog.Total["cancelled"], d.Round(time.Millisecond))
}
