package stats

import (
	"cmp"
	"context"
	"errors"
	"math"
	"net/url"
	"strings"
	"testing"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/demo"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// TestParseSpeeds: the speeds= grammar, and a problem naming the bad item.
func TestParseSpeeds(t *testing.T) {
	for _, tc := range []struct {
		spec, norm string
		grade      map[string]float64 // expected overrides
		surface    map[string]float64
		walking    float64 // expected walking speed (0: the catalog's)
		bad        string  // the item a problem names
		msg        string
	}{
		{spec: "class2:60,gravel:0.6", norm: "grade.class2:60,surface.gravel:0.6", grade: map[string]float64{"class2": 60}, surface: map[string]float64{"gravel": 0.6}},
		{spec: " surface.earth : 0.8 , grade.none:10,expressway:100", norm: "grade.expressway:100,grade.none:10,surface.earth:0.8",
			grade: map[string]float64{"": 10, "expressway": 100}, surface: map[string]float64{"earth": 0.8}},
		{spec: "surface.none:0.5", norm: "surface.none:0.5", surface: map[string]float64{"": 0.5}},
		{spec: "walking:4", norm: "walking:4", walking: 4},
		{spec: "walking:3.5,class2:60", norm: "grade.class2:60,walking:3.5", grade: map[string]float64{"class2": 60}, walking: 3.5},
		{spec: "walking:0", bad: "walking:0", msg: "more than 0"},
		{spec: "walking:21", bad: "walking:21", msg: "at most 20"},
		{spec: "walking:slow", bad: "walking:slow", msg: "not a number"},
		{spec: "walking:4,walking:3", bad: "walking:3", msg: "twice"},
		{spec: "class2:0", bad: "class2:0", msg: "more than 0"},
		{spec: "class2:151", bad: "class2:151", msg: "at most 150"},
		{spec: "gravel:3", bad: "gravel:3", msg: "at most 2"},
		{spec: "class9:40", bad: "class9:40", msg: "not a technical grade or a surface"},
		{spec: "grade.gravel:40", bad: "grade.gravel:40", msg: "not a technical grade"},
		{spec: "road.class2:40", bad: "road.class2:40", msg: "qualifier"},
		{spec: "none:10", bad: "none:10", msg: "ambiguous"},
		{spec: "class2:fast", bad: "class2:fast", msg: "not a number"},
		{spec: "class2:NaN", bad: "class2:NaN", msg: "not a number"},
		{spec: "class2", bad: "class2", msg: "key:value"},
		{spec: "class2:50,grade.class2:60", bad: "grade.class2:60", msg: "twice"},
		{spec: "class2:50,,gravel:1", bad: "class2:50,,gravel:1", msg: "empty item"},
	} {
		s, norm, problems := parseSpeeds(tc.spec)
		if tc.bad != "" {
			if len(problems) != 1 || problems[0].Field != "speeds" || problems[0].Value != tc.bad || !strings.Contains(problems[0].Message, tc.msg) {
				t.Errorf("%q: problems %+v, want one naming %q (%s)", tc.spec, problems, tc.bad, tc.msg)
			}
			continue
		}
		if len(problems) > 0 || norm != tc.norm {
			t.Errorf("%q: %q %+v, want %q", tc.spec, norm, problems, tc.norm)
			continue
		}
		if want := cmp.Or(tc.walking, layer.WalkingSpeedKmh); s.WalkingKmh != want {
			t.Errorf("%q: walking %v, want %v", tc.spec, s.WalkingKmh, want)
		}
		for k, def := range layer.RoadSpeedsKmh {
			want := def
			if w, ok := tc.grade[k]; ok {
				want = w
			}
			if s.GradeKmh[k] != want {
				t.Errorf("%q: grade %q %v, want %v", tc.spec, k, s.GradeKmh[k], want)
			}
		}
		for k, def := range layer.SurfaceSpeedFactors {
			want := def
			if w, ok := tc.surface[k]; ok {
				want = w
			}
			if s.SurfaceFactor[k] != want {
				t.Errorf("%q: surface %q %v, want %v", tc.spec, k, s.SurfaceFactor[k], want)
			}
		}
	}
	// the catalog's tables are not changed by an override
	parseSpeeds("class2:99")
	if layer.RoadSpeedsKmh["class2"] != 40 {
		t.Fatalf("catalog speeds changed: %v", layer.RoadSpeedsKmh)
	}
}

// FuzzParseSpeeds: no speeds= value panics; accepted ones are in range and
// their normal form reads back the same.
func FuzzParseSpeeds(f *testing.F) {
	for _, s := range []string{"class2:60,gravel:0.6", "grade.none:10", "surface.none:0.5,earth:1", "walking:4", "none:1", ":", ",,", "class2:1e309"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, norm, problems := parseSpeeds(spec)
		if len(problems) > 0 {
			return
		}
		for k, v := range s.GradeKmh {
			if !(v > 0 && v <= maxGradeKmh) {
				t.Fatalf("%q: grade %q at %v", spec, k, v)
			}
		}
		for k, v := range s.SurfaceFactor {
			if !(v > 0 && v <= maxSurfaceFactor) {
				t.Fatalf("%q: surface %q at %v", spec, k, v)
			}
		}
		if !(s.WalkingKmh > 0 && s.WalkingKmh <= maxWalkingKmh) {
			t.Fatalf("%q: walking at %v", spec, s.WalkingKmh)
		}
		if norm != "" {
			s2, norm2, p2 := parseSpeeds(norm)
			if len(p2) > 0 || norm2 != norm || s2.SQL("r") != s.SQL("r") || s2.WalkingKmh != s.WalkingKmh {
				t.Fatalf("%q: normal form %q reads as %q %v", spec, norm, norm2, p2)
			}
		}
	})
}

// TestNetworkSpeedsOverride: the fixture of TestNetworkTime with the
// speeds overridden per request. With class 3 at 10 km/h the 2.1 km of
// class-3 asphalt takes 12.6 min and the 1 km of class-4 earth (20 × 0.5 =
// 10 km/h: 6 min) becomes the fastest; with earth at factor 1 that road
// runs at 20 km/h (3 min). The expected times are computed here from
// PostGIS lengths; the overrides are echoed in the method block and the
// definition, and bad ones are 400s naming the item.
func TestNetworkSpeedsOverride(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	addRoad(t, pool, road{ext: "Q", surface: "asphalt", grade: "class2", pts: [][2]float64{{110, 30}, {110, 30.01}}})
	addRoad(t, pool, road{ext: "S", surface: "earth", grade: "class4", pts: [][2]float64{{110, 30.01}, {110.0104, 30.01}}})
	addRoad(t, pool, road{ext: "F", surface: "asphalt", grade: "class3", pts: [][2]float64{{110, 30}, {110.0104, 30}, {110.0104, 30.01}}})
	addVillage(t, pool, village{name: "V", code: "130101001001", pop: 10, lon: 110.0104, lat: 30.0103})
	var snap, lenF, lenS float64
	if err := pool.QueryRow(ctx, `SELECT ST_Distance(ST_MakePoint(110.0104, 30.0103)::geography, ST_MakePoint(110.0104, 30.01)::geography),
		(SELECT ST_Length(geom::geography) FROM lastmile.roads WHERE ext_id = 'F'), (SELECT ST_Length(geom::geography) FROM lastmile.roads WHERE ext_id = 'S')`).Scan(&snap, &lenF, &lenS); err != nil {
		t.Fatal(err)
	}
	walk := snap / (5 / 3.6)
	for _, tc := range []struct {
		speeds  string
		wantMin float64
		wantM   float64
		walking float64 // km/h in the method block (0: the catalog's)
	}{
		{"", (walk + lenF/(30/3.6)) / 60, snap + lenF, 0},
		{"class3:10", (walk + lenS/(10/3.6)) / 60, snap + lenS, 0},
		{"grade.class3:10,surface.earth:1", (walk + lenS/(20/3.6)) / 60, snap + lenS, 0},
		{"earth:1", (walk + lenS/(20/3.6)) / 60, snap + lenS, 0},
		{"class4:100,earth:0.1", (walk + lenF/(30/3.6)) / 60, snap + lenF, 0}, // 10 km/h on S: F still wins
		{"walking:2", (snap/(2/3.6) + lenF/(30/3.6)) / 60, snap + lenF, 2},
	} {
		q := "source_filter=tech_grade:class2&method=network&metric=time&within_min=0&list=uncovered"
		if tc.speeds != "" {
			q += "&speeds=" + url.QueryEscape(tc.speeds)
		}
		res := run(t, pool, Coverage, q)
		if len(res.Uncovered) != 1 {
			t.Fatalf("%s: uncovered %v", q, res.Uncovered)
		}
		u := res.Uncovered[0]
		if math.Abs(num(u["time_min"])-tc.wantMin) > 0.01 || math.Abs(num(u["distance_m"])-tc.wantM) > 0.02 {
			t.Errorf("speeds %q: %v min over %v m, want %.2f min over %.2f m", tc.speeds, u["time_min"], u["distance_m"], tc.wantMin, tc.wantM)
		}
		m := res.Method
		if m["method"] != "network" || m["metric"] != "time" || m["walking_kmh"] != cmp.Or(tc.walking, layer.WalkingSpeedKmh) {
			t.Errorf("method block %v", m)
		}
		if tc.speeds != "" {
			if m["overrides"] == nil || res.Parameters["speeds"] != m["overrides"] || !strings.Contains(res.Definition, "overridden by this request: "+m["overrides"].(string)) {
				t.Errorf("speeds %q: overrides not echoed: %v / %v / %s", tc.speeds, m["overrides"], res.Parameters["speeds"], res.Definition)
			}
		} else if _, ok := m["overrides"]; ok {
			t.Errorf("no override, method block %v", m)
		}
	}
	res := run(t, pool, Coverage, "source_filter=tech_grade:class2&method=network&metric=time&within_min=5&speeds=class3:45,gravel:0.6")
	sk := res.Method["speeds_kmh"].(map[string]float64)
	sf := res.Method["surface_factors"].(map[string]float64)
	if sk["class3"] != 45 || sk["class2"] != 40 || sk["none"] != 15 || sf["gravel"] != 0.6 || sf["earth"] != 0.5 || sf["none"] != 0.7 {
		t.Errorf("speeds in force: %v %v", sk, sf)
	}
	// facilities by time take the overrides too: a clinic at Q's south end
	mustExec(t, pool, `INSERT INTO lastmile.facilities (name, kind, status, geom) VALUES ('C', 'clinic', 'completed', ST_SetSRID(ST_MakePoint(110, 30), 4326))`)
	fc := run(t, pool, Coverage, "source=facilities&source_filter=kind:clinic&method=network&metric=time&within_min=0&list=uncovered&speeds=class3:60")
	if want := (walk + lenF/(60/3.6)) / 60; len(fc.Uncovered) != 1 || math.Abs(num(fc.Uncovered[0]["time_min"])-want) > 0.01 {
		t.Errorf("clinic with class 3 at 60 km/h: %v, want %.2f min", fc.Uncovered, want)
	}
	// and the walking speed, on the village's and on the clinic's snap leg (0 m here)
	fc = run(t, pool, Coverage, "source=facilities&source_filter=kind:clinic&method=network&metric=time&within_min=0&list=uncovered&speeds=walking:3")
	if want := (snap/(3/3.6) + lenF/(30/3.6)) / 60; len(fc.Uncovered) != 1 || math.Abs(num(fc.Uncovered[0]["time_min"])-want) > 0.01 {
		t.Errorf("clinic walking at 3 km/h: %v, want %.2f min", fc.Uncovered, want)
	}
	for _, tc := range []struct{ query, field, value, msg string }{
		{"method=network&metric=time&speeds=class2:0", "speeds", "class2:0", "more than 0"},
		{"method=network&metric=time&speeds=class2:60,mud:0.3", "speeds", "mud:0.3", "not a technical grade or a surface"},
		{"method=network&speeds=class2:60", "speeds", "class2:60", "metric=time"},
		{"speeds=class2:60", "speeds", "class2:60", "metric=time"},
	} {
		v, _ := url.ParseQuery(tc.query)
		_, _, err := Coverage(ctx, pool, layer.Default(), v)
		var e *lastmile.Error
		if !errors.As(err, &e) || e.Code != lastmile.EINVALID {
			t.Errorf("%s: %v, want invalid", tc.query, err)
			continue
		}
		found := false
		for _, d := range e.Details {
			found = found || d.Field == tc.field && d.Value == tc.value && strings.Contains(d.Message, tc.msg)
		}
		if !found {
			t.Errorf("%s: %+v, want a problem naming %s=%s (%s)", tc.query, e.Details, tc.field, tc.value, tc.msg)
		}
	}
}

// TestRAINetwork: the Rural Access Index along the network. N1 is 1.5 km
// from the all-season road A in a straight line, 19 m from an earth road
// that joins A only at its far end (a 4 km way); N4 likewise near that
// road's other end; N2 is 300 m off a road joining A 1.2 km on; N3 is
// 1.2 km off A itself. The expected network distances are sums of PostGIS
// geodesic lengths.
func TestRAINetwork(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	addArea(t, pool, "county", "130101000000", "A county")
	// the all-season road, a meridian at 110° E, with a vertex at 30.02
	addRoad(t, pool, road{ext: "A", surface: "asphalt", pts: [][2]float64{{110, 30}, {110, 30.02}, {110, 30.05}}})
	// an earth road (not all-season) east of it, joining A at A's north end
	addRoad(t, pool, road{ext: "E", surface: "earth", pts: [][2]float64{{110.0156, 30}, {110.0156, 30.05}, {110, 30.05}}})
	// a short earth road branching east from A's vertex at 30.02
	addRoad(t, pool, road{ext: "B", surface: "earth", pts: [][2]float64{{110, 30.02}, {110.0124, 30.02}}})
	addVillage(t, pool, village{name: "N1", code: "130101001001", pop: 1000, lon: 110.0158, lat: 30.027})
	addVillage(t, pool, village{name: "N2", code: "130101001002", pop: 300, lon: 110.012, lat: 30.0227})
	addVillage(t, pool, village{name: "N3", code: "130101001003", pop: 200, lon: 109.9876, lat: 30.01})
	addVillage(t, pool, village{name: "N4", code: "130101001004", pop: 50, lon: 110.016, lat: 30.0001})
	var n1Snap, n1Up, spur, n2Snap, n2B, n3, n4Snap, n4Up float64
	if err := pool.QueryRow(ctx, `WITH e AS (SELECT ST_MakeLine(ST_MakePoint(110.0156, 30), ST_MakePoint(110.0156, 30.05))::geography AS g)
		SELECT
		ST_Distance(ST_MakePoint(110.0158, 30.027)::geography, e.g),
		ST_Distance(ST_MakePoint(110.0156, 30.027)::geography, ST_MakePoint(110.0156, 30.05)::geography),
		ST_Distance(ST_MakePoint(110.0156, 30.05)::geography, ST_MakePoint(110, 30.05)::geography),
		ST_Distance(ST_MakePoint(110.012, 30.0227)::geography, ST_MakeLine(ST_MakePoint(110, 30.02), ST_MakePoint(110.0124, 30.02))::geography),
		ST_Distance(ST_MakePoint(110.012, 30.02)::geography, ST_MakePoint(110, 30.02)::geography),
		ST_Distance(ST_MakePoint(109.9876, 30.01)::geography, ST_MakeLine(ST_MakePoint(110, 30), ST_MakePoint(110, 30.05))::geography),
		ST_Distance(ST_MakePoint(110.016, 30.0001)::geography, e.g),
		ST_Distance(ST_MakePoint(110.0156, 30.0001)::geography, ST_MakePoint(110.0156, 30.05)::geography)
		FROM e`).Scan(&n1Snap, &n1Up, &spur, &n2Snap, &n2B, &n3, &n4Snap, &n4Up); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"N1": n1Snap + n1Up + spur, "N2": n2Snap + n2B, "N3": n3, "N4": n4Snap + n4Up + spur}
	pops := map[string]int64{"N1": 1000, "N2": 300, "N3": 200, "N4": 50}
	cov := run(t, pool, Coverage, "source_filter=all_season&method=network&within_m=0&list=uncovered&group_by=none")
	for _, u := range cov.Uncovered {
		name := u["name"].(string)
		if math.Abs(num(u["distance_m"])-want[name]) > 0.1 {
			t.Errorf("%s: %v m along the network, want %.2f", name, u["distance_m"], want[name])
		}
	}
	var wantCovered, total int64
	for name, d := range want {
		total += pops[name]
		if d <= 2000 {
			wantCovered += pops[name]
		}
	}
	if wantCovered != 500 { // the fixture's point: N2 and N3 only
		t.Fatalf("fixture: %v (%d within 2 km)", want, wantCovered)
	}
	res := run(t, pool, RAI, "method=network")
	if res.Total["population_covered"] != wantCovered || res.Total["population"] != total || res.Total["rai"] != math.Round(1000*float64(wantCovered)/float64(total))/10 {
		t.Errorf("RAI by network: %v, want %d of %d", res.Total, wantCovered, total)
	}
	if res.Parameters["method"] != "network" || res.Method["method"] != "network" || !strings.Contains(res.Definition, "along the road network") {
		t.Errorf("echo: %v %v %s", res.Parameters, res.Method, res.Definition)
	}
	// in a straight line N1 (1.5 km) and N4 (1.56 km) count too
	straight := run(t, pool, RAI, "")
	if straight.Total["population_covered"] != int64(1550) || straight.Parameters["method"] != "straight" {
		t.Errorf("RAI straight: %v %v", straight.Total, straight.Parameters)
	}
	for _, q := range []string{"method=network&metric=time", "speeds=class2:60", "method=walk"} {
		v, _ := url.ParseQuery(q)
		if _, _, err := RAI(ctx, pool, layer.Default(), v); lastmile.ErrorCode(err) != lastmile.EINVALID {
			t.Errorf("RAI %s: %v, want invalid", q, err)
		}
	}
}

// TestRAINetworkDemo: the network RAI of the demo county, now and as of
// 2015-12-31, equals the population within 2 km by the reference
// computation (its own noding, snapping and container/heap Dijkstra).
func TestRAINetworkDemo(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	if _, err := demo.Load(ctx, pool, demo.Generate(1)); err != nil {
		t.Fatal(err)
	}
	pop := map[int64]int64{}
	rows, err := pool.Query(ctx, `SELECT id, coalesce(population, 0) FROM lastmile.villages`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, p int64
		if err := rows.Scan(&id, &p); err != nil {
			t.Fatal(err)
		}
		pop[id] = p
	}
	rows.Close()
	for _, asOf := range []string{"", "2015-12-31"} {
		allSeason := " AND " + layer.AllSeason.SQL("r")
		ref := refDistances(t, pool, asOfPredicate(asOf), asOfPredicate(asOf)+allSeason)
		var want, total int64
		for id, d := range ref {
			total += pop[id]
			if !math.IsNaN(d) && d <= 2000 {
				want += pop[id]
			}
		}
		q := "method=network&group_by=none"
		if asOf != "" {
			q += "&as_of=" + asOf
		}
		res := run(t, pool, RAI, q)
		straight := run(t, pool, RAI, strings.Replace(q, "method=network&", "", 1))
		if res.Total["population_covered"] != want || res.Total["population"] != total {
			t.Errorf("%s: %v, reference %d of %d", q, res.Total, want, total)
		}
		t.Logf("as_of %q: RAI along the network %v %% (%d of %d people; straight %v %%, %v)", asOf, res.Total["rai"], want, total,
			straight.Total["rai"], straight.Total["population_covered"])
	}
}
