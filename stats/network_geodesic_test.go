package stats

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"net/url"
	"strings"
	"testing"

	"github.com/lastmile/lastmile/demo"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// TestGeodesicInverse checks the inverse formula against the direct one
// (placed points) and against PostGIS geography (GeographicLib).
func TestGeodesicInverse(t *testing.T) {
	pool := pgtest.New(t)
	rng := rand.New(rand.NewSource(3))
	for i := 0; i < 200; i++ {
		lon, lat := 70+rng.Float64()*60, -10+rng.Float64()*70
		az, s := rng.Float64()*360-180, rng.Float64()*50000
		lat2, lon2 := vincentyDirect(lat, lon, az, s)
		got, gotAz := geodesicInverse(lon, lat, lon2, lat2)
		if math.Abs(got-s) > 1e-6 || math.Abs(math.Remainder(gotAz-az, 360)) > 1e-6 && s > 1 {
			t.Fatalf("inverse of direct(%v, %v, %v, %v): %v at %v", lon, lat, az, s, got, gotAz)
		}
		var pg float64
		if err := pool.QueryRow(context.Background(), `SELECT ST_Distance(ST_MakePoint($1, $2)::geography, ST_MakePoint($3, $4)::geography)`,
			lon, lat, lon2, lat2).Scan(&pg); err != nil {
			t.Fatal(err)
		}
		if math.Abs(pg-got) > 1e-3 {
			t.Fatalf("(%v %v)-(%v %v): %v, PostGIS %v", lon, lat, lon2, lat2, got, pg)
		}
	}
}

// TestNetworkBentEdge: at 60°N a degree of longitude is half a degree of
// latitude in metres, so on an L-shaped edge the point nearest in degrees
// (on the east-west leg) is not the geodesic-nearest (on the north-south
// leg). The village's distance is the geodesic one, and it is listed in
// full though it exceeds within_m.
func TestNetworkBentEdge(t *testing.T) {
	pool := pgtest.New(t)
	addRoad(t, pool, road{ext: "Q", surface: "asphalt", pts: [][2]float64{{9.99, 60}, {10, 60}}})
	addRoad(t, pool, road{ext: "L", surface: "earth", pts: [][2]float64{{10, 60}, {10.02, 60}, {10.02, 60.01}}})
	addVillage(t, pool, village{name: "V", code: "130101001001", pop: 10, lon: 10.0165, lat: 60.0025})
	res := run(t, pool, Coverage, "source_filter=hardened&within_m=100&method=network&list=uncovered")
	if len(res.Uncovered) != 1 {
		t.Fatalf("uncovered %v", res.Uncovered)
	}
	var leg1, leg2, snap2 float64
	err := pool.QueryRow(context.Background(), `SELECT
		ST_Distance(ST_MakePoint(10, 60)::geography, ST_MakePoint(10.02, 60)::geography),
		ST_Distance(ST_MakePoint(10.02, 60)::geography, ST_MakePoint(10.02, 60.0025)::geography),
		ST_Distance(ST_MakePoint(10.0165, 60.0025)::geography, ST_MakeLine(ST_MakePoint(10.02, 60), ST_MakePoint(10.02, 60.01))::geography)`).Scan(&leg1, &leg2, &snap2)
	if err != nil {
		t.Fatal(err)
	}
	// the geodesic-nearest point of a meridian segment is at (nearly) the
	// village's latitude; the reference finds it exactly
	ref := refDistances(t, pool, asOfPredicate(""), asOfPredicate("")+" AND r.surface IN ('cement', 'asphalt', 'stone')")
	want := ref[1]
	if math.Abs(want-(snap2+leg1+leg2)) > 1 {
		t.Fatalf("reference %v, expected about %v", want, snap2+leg1+leg2)
	}
	got := res.Uncovered[0]["distance_m"].(float64)
	if math.Abs(got-want) > 0.02 {
		t.Errorf("bent edge: %v m, want %.3f (degree-nearest would give %.0f)", got, want, 0.0025*111400+0.0165*55800)
	}
	if s := res.Uncovered[0]["snap_m"].(float64); math.Abs(s-snap2) > 0.5 {
		t.Errorf("snap %v, want %v (to the north-south leg)", s, snap2)
	}
}

// TestNetworkDemoReference: on the demo county, now and as of 2015-12-31,
// every village's network distance to a graded highway equals the
// reference computation, and the villages named in issue 14 get their
// true distances.
func TestNetworkDemoReference(t *testing.T) {
	pool := pgtest.New(t)
	if _, err := demo.Load(context.Background(), pool, demo.Generate(1)); err != nil {
		t.Fatal(err)
	}
	graded := " AND r.tech_grade IN ('expressway', 'class1', 'class2', 'class3', 'class4')"
	var clinicsNow int64
	for _, asOf := range []string{"", "2015-12-31"} {
		ref := refDistances(t, pool, asOfPredicate(asOf), asOfPredicate(asOf)+graded)
		q := "source_filter=graded&within_m=0&method=network&list=uncovered&group_by=none"
		if asOf != "" {
			q += "&as_of=" + asOf
		}
		got := compareReference(t, pool, q, ref)
		var line string
		for _, id := range []int64{177, 199, 353, 475, 441, 444} {
			line += fmt.Sprintf(" %d: %v;", id, got[id])
		}
		t.Logf("as_of %q: network distances%s", asOf, line)
		suffix := ""
		if asOf != "" {
			suffix = "&as_of=" + asOf
		}
		straight := run(t, pool, Coverage, "source_filter=graded&within_m=1000&group_by=none"+suffix)
		network := run(t, pool, Coverage, "source_filter=graded&within_m=1000&method=network&group_by=none"+suffix)
		timed := run(t, pool, Coverage, "source_filter=graded&within_min=10&method=network&metric=time&group_by=none"+suffix)
		clinic := run(t, pool, Coverage, "source=facilities&source_filter=kind:clinic&within_m=5000&method=network&group_by=none"+suffix)
		clinicTime := run(t, pool, Coverage, "source=facilities&source_filter=kind:clinic&within_min=20&method=network&metric=time&group_by=none"+suffix)
		t.Logf("as_of %q: villages within 1 km of a graded highway: straight %v, network %v; within 10 min by road %v; within 5 km of a clinic by road %v, 20 min %v (of %v)",
			asOf, straight.Total["covered"], network.Total["covered"], timed.Total["covered"], clinic.Total["covered"], clinicTime.Total["covered"], straight.Total["total"])
		// the demo's facilities are dated: as of 2015 fewer village clinics stood
		// (2011–2018), yet every township's health centre did (none before this)
		if c := clinic.Total["covered"].(int64); asOf == "" {
			clinicsNow = c
		} else if c <= 0 || c > clinicsNow {
			t.Errorf("as_of %s: %d villages within 5 km of a clinic by road, want some and at most today's %d", asOf, c, clinicsNow)
		}
		for _, within := range []int{1000, 1200, 1300, 1400, 1800, 2000} {
			n := 0
			for _, d := range ref {
				if !math.IsNaN(d) && d <= float64(within) {
					n++
				}
			}
			qq := fmt.Sprintf("source_filter=graded&within_m=%d&method=network&group_by=none", within)
			if asOf != "" {
				qq += "&as_of=" + asOf
			}
			res := run(t, pool, Coverage, qq)
			if res.Total["covered"] != int64(n) {
				t.Errorf("%s: %v covered, reference %d", qq, res.Total["covered"], n)
			}
			t.Logf("as_of %q within %d m: %d of %d", asOf, within, n, len(ref))
		}
	}
}

// TestNetworkTime: travel time with the catalog's speeds. From V the
// shortest way to the class-2 road is 1 km of class-4 earth road
// (20 km/h × 0.5 = 10 km/h: 6 min); the fastest is 2.1 km of class-3
// asphalt (30 km/h: 4.2 min), which metric=time takes.
func TestNetworkTime(t *testing.T) {
	pool := pgtest.New(t)
	addRoad(t, pool, road{ext: "Q", surface: "asphalt", grade: "class2", pts: [][2]float64{{110, 30}, {110, 30.01}}})
	addRoad(t, pool, road{ext: "S", surface: "earth", grade: "class4", pts: [][2]float64{{110, 30.01}, {110.0104, 30.01}}})
	addRoad(t, pool, road{ext: "F", surface: "asphalt", grade: "class3", pts: [][2]float64{{110, 30}, {110.0104, 30}, {110.0104, 30.01}}})
	addVillage(t, pool, village{name: "V", code: "130101001001", pop: 10, lon: 110.0104, lat: 30.0103})
	var snap, lenF, lenS float64
	if err := pool.QueryRow(context.Background(), `SELECT ST_Distance(ST_MakePoint(110.0104, 30.0103)::geography, ST_MakePoint(110.0104, 30.01)::geography),
		(SELECT ST_Length(geom::geography) FROM lastmile.roads WHERE ext_id = 'F'), (SELECT ST_Length(geom::geography) FROM lastmile.roads WHERE ext_id = 'S')`).Scan(&snap, &lenF, &lenS); err != nil {
		t.Fatal(err)
	}
	wantMin := (snap/(5/3.6) + lenF/(30/3.6)) / 60
	res := run(t, pool, Coverage, "source_filter=tech_grade:class2&method=network&metric=time&within_min=1&list=uncovered")
	if len(res.Uncovered) != 1 {
		t.Fatalf("uncovered %v", res.Uncovered)
	}
	u := res.Uncovered[0]
	if math.Abs(num(u["time_min"])-wantMin) > 0.01 || math.Abs(num(u["distance_m"])-(snap+lenF)) > 0.02 {
		t.Errorf("time %v min over %v m, want %.2f min over %.2f m (the class-3 road)", u["time_min"], u["distance_m"], wantMin, snap+lenF)
	}
	if d := run(t, pool, Coverage, "source_filter=tech_grade:class2&method=network&within_m=0&list=uncovered"); math.Abs(num(d.Uncovered[0]["distance_m"])-(snap+lenS)) > 0.02 {
		t.Errorf("shortest distance %v, want %.2f (the class-4 road)", d.Uncovered[0]["distance_m"], snap+lenS)
	}
	if c := run(t, pool, Coverage, fmt.Sprintf("source_filter=tech_grade:class2&method=network&metric=time&within_min=%f", wantMin+0.01)); c.Total["covered"] != int64(1) {
		t.Errorf("within %.2f min: %v", wantMin+0.01, c.Total)
	}
	v, _ := url.ParseQuery("metric=time")
	if _, _, err := Coverage(context.Background(), pool, layer.Default(), v); err == nil || !strings.Contains(err.Error(), "method=network") {
		t.Errorf("metric=time with the straight method: %v", err)
	}
}

// TestNetworkFacilities: villages by road from a clinic (source=facilities,
// source_filter=kind:clinic). V3 shares the clinic's edge; V2 is reached
// round a corner; V1 is 330 m from the clinic in a straight line but on a
// road that joins nothing (unreachable); a school nearer to everything is
// not a clinic; a clinic completed after as_of does not count.
func TestNetworkFacilities(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	addRoad(t, pool, road{ext: "R", surface: "earth", grade: "class4", completedOn: "2009-01-01", pts: [][2]float64{{110, 30}, {110.02, 30}}})
	addRoad(t, pool, road{ext: "R2", surface: "earth", grade: "class4", completedOn: "2009-01-01", pts: [][2]float64{{110.02, 30}, {110.02, 30.01}}})
	addRoad(t, pool, road{ext: "X", surface: "earth", grade: "class4", completedOn: "2009-01-01", pts: [][2]float64{{110.005, 30.003}, {110.006, 30.003}}})
	addVillage(t, pool, village{name: "V1", code: "130101001001", lon: 110.0055, lat: 30.0031})
	addVillage(t, pool, village{name: "V2", code: "130101001002", lon: 110.0201, lat: 30.008})
	addVillage(t, pool, village{name: "V3", code: "130101001003", lon: 110.015, lat: 30.0003})
	mustExec(t, pool, `INSERT INTO lastmile.facilities (name, kind, status, completed_on, geom) VALUES
		('C', 'clinic', 'completed', '2010-01-01', ST_SetSRID(ST_MakePoint(110.005, 30.0002), 4326)),
		('S', 'school', 'completed', '2010-01-01', ST_SetSRID(ST_MakePoint(110.015, 30.0001), 4326)),
		('Late', 'clinic', 'completed', '2020-01-01', ST_SetSRID(ST_MakePoint(110.0199, 30.008), 4326))`)
	var snapC, snapV2, snapV3, cToV3, cToCorner, r2 float64
	if err := pool.QueryRow(ctx, `SELECT
		ST_Distance(ST_MakePoint(110.005, 30.0002)::geography, ST_MakePoint(110.005, 30)::geography),
		ST_Distance(ST_MakePoint(110.0201, 30.008)::geography, ST_MakePoint(110.02, 30.008)::geography),
		ST_Distance(ST_MakePoint(110.015, 30.0003)::geography, ST_MakePoint(110.015, 30)::geography),
		ST_Distance(ST_MakePoint(110.005, 30)::geography, ST_MakePoint(110.015, 30)::geography),
		ST_Distance(ST_MakePoint(110.005, 30)::geography, ST_MakePoint(110.02, 30)::geography),
		ST_Distance(ST_MakePoint(110.02, 30)::geography, ST_MakePoint(110.02, 30.008)::geography)`).Scan(&snapC, &snapV2, &snapV3, &cToV3, &cToCorner, &r2); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"V2": snapV2 + r2 + cToCorner + snapC, "V3": snapV3 + cToV3 + snapC}
	res := run(t, pool, Coverage, "source=facilities&source_filter=kind:clinic&method=network&within_m=0&list=uncovered&as_of=2015-12-31")
	got := map[string]Row{}
	for _, u := range res.Uncovered {
		got[u["name"].(string)] = u
	}
	for name, w := range want {
		// the expected figures measure along the parallel 30° N and snap
		// to it; the edge is the geodesic between R's ends, which bulges
		// north by up to 4.5 cm: within 10 cm
		if u := got[name]; u == nil || math.Abs(num(u["distance_m"])-w) > 0.1 || u["nearest_name"] != "C" {
			t.Errorf("%s: %v, want %.2f m from clinic C", name, u, w)
		}
	}
	if u := got["V1"]; u == nil || u["distance_m"] != nil || u["nearest_name"] != nil {
		t.Errorf("V1 (on an isolated road): %v, want unreachable", u)
	}
	// now the late clinic, at V2's door, counts
	now := run(t, pool, Coverage, "source=facilities&source_filter=kind:clinic&method=network&within_m=100&list=uncovered")
	if now.Total["covered"] != int64(1) {
		t.Errorf("within 100 m of a clinic now: %v", now.Uncovered)
	}
	// by time: V3 walks to the road (5 km/h), rides 1 km of class-4 earth
	// (10 km/h), walks to the clinic
	tm := run(t, pool, Coverage, "source=facilities&source_filter=kind:clinic&method=network&metric=time&within_min=0&list=uncovered&target_filter=name:V3")
	wantMin := ((snapV3+snapC)/(5/3.6) + cToV3/(10/3.6)) / 60
	if len(tm.Uncovered) != 1 || math.Abs(num(tm.Uncovered[0]["time_min"])-wantMin) > 0.01 {
		t.Errorf("V3 by time: %v, want %.2f min", tm.Uncovered, wantMin)
	}
	t.Logf("villages within 5 km of a clinic by road: %v; V2 %.2f m, V3 %.2f m, %.2f min", run(t, pool, Coverage, "source=facilities&source_filter=kind:clinic&method=network&within_m=5000&group_by=none").Total["covered"], want["V2"], want["V3"], wantMin)
}
