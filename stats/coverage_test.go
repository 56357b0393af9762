package stats

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// fixture helpers: rows are inserted with plain SQL (the store is used
// where an edit must go through the API path).

func mustExec(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func lineWKT(pts ...[2]float64) string {
	var s []string
	for _, p := range pts {
		s = append(s, fmt.Sprintf("%.12f %.12f", p[0], p[1]))
	}
	return "LINESTRING(" + strings.Join(s, ", ") + ")"
}

type road struct {
	ext, surface, grade, status, completedOn string
	funding                                  float64
	admin                                    string
	pts                                      [][2]float64
}

func addRoad(t *testing.T, pool *pgxpool.Pool, r road) int64 {
	t.Helper()
	var id int64
	nul := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	if r.status == "" {
		r.status = "completed"
	}
	err := pool.QueryRow(context.Background(), `INSERT INTO lastmile.roads
		(ext_id, surface, tech_grade, status, completed_on, funding_yuan, admin_code, geom)
		VALUES ($1, $2, $3, $4, $5::date, $6, $7, ST_GeomFromText($8, 4326)) RETURNING id`,
		r.ext, nul(r.surface), nul(r.grade), r.status, nul(r.completedOn), r.funding, nul(r.admin), lineWKT(r.pts...)).Scan(&id)
	if err != nil {
		t.Fatalf("road %s: %v", r.ext, err)
	}
	return id
}

type village struct {
	name, code      string
	pop, poorHH     int
	lon, lat        float64
	ruralIsPoorFlag bool
}

func addVillage(t *testing.T, pool *pgxpool.Pool, v village) {
	t.Helper()
	mustExec(t, pool, `INSERT INTO lastmile.villages (name, code, admin_code, population, poor_households, geom)
		VALUES ($1, $2, $2, $3, $4, ST_SetSRID(ST_MakePoint($5, $6), 4326))`, v.name, v.code, v.pop, v.poorHH, v.lon, v.lat)
}

func addArea(t *testing.T, pool *pgxpool.Pool, level, code, name string) {
	t.Helper()
	mustExec(t, pool, `INSERT INTO lastmile.admin_areas (level, code, name, geom)
		VALUES ($1, $2, $3, ST_Multi(ST_MakeEnvelope(0, 0, 1, 1, 4326)))`, level, code, name)
}

func run(t *testing.T, pool *pgxpool.Pool, fn Endpoint, query string) *Result {
	t.Helper()
	v, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	res, _, err := fn(context.Background(), pool, layer.Default(), v)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return res
}

func uncoveredNames(res *Result) []string {
	var n []string
	for _, u := range res.Uncovered {
		n = append(n, u["name"].(string))
	}
	sort.Strings(n)
	return n
}

// TestCoverageGeodesic places villages 999 m and 1001 m (geodesic, WGS84,
// Vincenty direct) east of a hardened road along a meridian and north of
// its end, at latitudes 20°, 37° and 47°. Within 1000 m exactly the 999 m
// villages are covered. A Web-Mercator or planar-degree distance gets
// these wrong (checked below on the fixture itself).
func TestCoverageGeodesic(t *testing.T) {
	pool := pgtest.New(t)
	addArea(t, pool, "county", "130101000000", "Test county")
	var want []string
	for i, lat := range []float64{20, 37, 47} {
		lon := 100 + float64(i)
		south, north := lat-0.02, lat+0.02
		addRoad(t, pool, road{ext: fmt.Sprintf("r%d", i), surface: "asphalt", pts: [][2]float64{{lon, south}, {lon, north}}})
		// A gravel road nearer than the hardened one must not count.
		addRoad(t, pool, road{ext: fmt.Sprintf("g%d", i), surface: "gravel", pts: [][2]float64{{lon + 0.005, south}, {lon + 0.005, north}}})
		for _, d := range []float64{999, 1001} {
			for _, dir := range []struct {
				name          string
				lat0, az, lon float64
			}{{"east", lat, 90, lon}, {"north", north, 0, lon}} {
				vlat, vlon := vincentyDirect(dir.lat0, dir.lon, dir.az, d)
				name := fmt.Sprintf("lat%g-%s-%g", lat, dir.name, d)
				addVillage(t, pool, village{name: name, code: fmt.Sprintf("1301010%02d%03d", i+1, len(want)+1), pop: 100, poorHH: 10, lon: vlon, lat: vlat})
				if d == 1001 {
					want = append(want, name)
				}
				if dir.name == "east" && lat == 47 {
					// The fixture discriminates: Mercator metres and
					// degrees × 111.32 km both put the 999 m village
					// beyond 1000 m.
					merc := (vlon - lon) * math.Pi / 180 * 6378137
					planar := (vlon - lon) * 111320
					if merc <= 1000 || planar <= 1000 {
						t.Fatalf("fixture does not discriminate: mercator %.1f m, planar %.1f m", merc, planar)
					}
				}
			}
		}
	}
	sort.Strings(want)

	res := run(t, pool, Coverage, "target=villages&source=roads&within_m=1000&source_filter=hardened&list=uncovered")
	if got := uncoveredNames(res); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("uncovered:\n got  %v\n want %v", got, want)
	}
	for _, u := range res.Uncovered {
		if d := u["distance_m"].(float64); math.Abs(d-1001) > 0.02 {
			t.Errorf("%s: distance %.3f m, want 1001", u["name"], d)
		}
	}
	if res.Total["total"] != int64(12) || res.Total["covered"] != int64(6) || res.Total["pct"] != 50.0 {
		t.Errorf("total: %v", res.Total)
	}
	if res.Total["population_covered"] != int64(600) || res.Total["poor_households_covered"] != int64(60) {
		t.Errorf("population: %v", res.Total)
	}
	// Without the hardened filter the gravel road (≈ 500 m away) covers the
	// east villages too.
	res = run(t, pool, Coverage, "within_m=1000&list=uncovered")
	if got := len(res.Uncovered); got != 3 {
		t.Errorf("any road: %d uncovered, want 3 (the north 1001 m ones): %v", got, uncoveredNames(res))
	}
	// Groups by township add up to the total.
	res = run(t, pool, Coverage, "within_m=1000&source_filter=hardened&group_by=township")
	checkGroupsAddUp(t, res, "total", "covered", "population", "population_covered", "poor_households_covered")
	if len(res.Groups) != 3 || res.Groups[0]["code"] != "130101001000" || res.Groups[0]["covered"] != int64(2) {
		t.Errorf("township groups: %v", res.Groups)
	}
	res = run(t, pool, Coverage, "within_m=1000&source_filter=hardened&group_by=county")
	if len(res.Groups) != 1 || res.Groups[0]["name"] != "Test county" || res.Groups[0]["total"] != int64(12) {
		t.Errorf("county groups: %v", res.Groups)
	}
}

func checkGroupsAddUp(t *testing.T, res *Result, keys ...string) {
	t.Helper()
	for _, k := range keys {
		var sum float64
		for _, g := range res.Groups {
			sum += num(g[k])
		}
		if sum != num(res.Total[k]) {
			t.Errorf("%s: groups add up to %v, total is %v", k, sum, res.Total[k])
		}
	}
}

func num(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return 0
}

func TestCoverageAsOf(t *testing.T) {
	pool := pgtest.New(t)
	addRoad(t, pool, road{ext: "new", surface: "cement", completedOn: "2015-06-30", pts: [][2]float64{{110, 30}, {110, 30.01}}})
	addRoad(t, pool, road{ext: "planned", surface: "cement", status: "planned", pts: [][2]float64{{110.02, 30}, {110.02, 30.01}}})
	addVillage(t, pool, village{name: "near-new", code: "130101001001", pop: 50, lon: 110.002, lat: 30.005})
	addVillage(t, pool, village{name: "near-planned", code: "130101001002", pop: 70, lon: 110.018, lat: 30.005})
	for _, tc := range []struct {
		name, query string
		covered     int64
	}{
		{"now", "source_filter=hardened", 1},
		{"day before completion", "source_filter=hardened&as_of=2015-06-29", 0},
		{"completion day", "source_filter=hardened&as_of=2015-06-30", 1},
		{"network, day before completion", "source_filter=hardened&as_of=2015-06-29&method=network", 0},
		{"network, completion day", "source_filter=hardened&as_of=2015-06-30&method=network", 1},
		{"direct query", "source_filter=hardened&precomputed=false", 1},
		{"planned roads when asked", "source_filter=hardened&source_filter=status:planned", 1},
		{"any status", "source_filter=status:planned,completed", 2},
		{"cql2 source filter", "source_filter=" + url.QueryEscape("surface IN ('cement','asphalt','stone')"), 1},
		{"cql2 source filter with status", "source_filter=" + url.QueryEscape("status IN ('planned','completed') AND surface = 'cement'"), 2},
		{"cql2 source filter and as_of", "source_filter=" + url.QueryEscape("surface = 'cement'") + "&as_of=2015-06-29", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, pool, Coverage, tc.query)
			if res.Total["covered"] != tc.covered {
				t.Errorf("covered %v, want %d", res.Total["covered"], tc.covered)
			}
		})
	}
}

// TestCoverageNetwork: village V2 is 600 m in a straight line from a
// hardened road that the network reaches only by a 2 km detour; V1 sits on
// a gravel road 250 m from where it meets a hardened road. Then an edit
// through the store hardens the gravel road and the next network answer
// reflects it (the graph is rebuilt lazily).
func TestCoverageNetwork(t *testing.T) {
	pool := pgtest.New(t)
	a := addRoad(t, pool, road{ext: "A", surface: "gravel", pts: [][2]float64{{110, 30}, {110, 30.02}}})
	addRoad(t, pool, road{ext: "B", surface: "asphalt", pts: [][2]float64{{110, 30.02}, {110.01, 30.02}}})
	addRoad(t, pool, road{ext: "C", surface: "asphalt", pts: [][2]float64{{110.008, 30}, {110.008, 30.005}}})
	addVillage(t, pool, village{name: "V1", code: "130101001001", pop: 10, lon: 110.0005, lat: 30.018})
	addVillage(t, pool, village{name: "V2", code: "130101001002", pop: 20, lon: 110.0015, lat: 30.002})
	addVillage(t, pool, village{name: "V3", code: "130101001003", pop: 30, lon: 110.03, lat: 30.01})

	straight := run(t, pool, Coverage, "source_filter=hardened&within_m=1000&list=uncovered")
	if got := uncoveredNames(straight); strings.Join(got, ",") != "V3" {
		t.Errorf("straight uncovered %v, want [V3]", got)
	}
	network := run(t, pool, Coverage, "source_filter=hardened&within_m=1000&method=network&list=uncovered")
	if got := uncoveredNames(network); strings.Join(got, ",") != "V2,V3" {
		t.Errorf("network uncovered %v, want [V2 V3]", got)
	}
	// V1's network distance: snap (geodesic) + along A to the junction.
	var wantV1 float64
	err := pool.QueryRow(context.Background(), `SELECT
		ST_Distance(ST_MakePoint(110.0005, 30.018)::geography, ST_MakePoint(110, 30.018)::geography) +
		ST_Distance(ST_MakePoint(110, 30.018)::geography, ST_MakePoint(110, 30.02)::geography)`).Scan(&wantV1)
	if err != nil {
		t.Fatal(err)
	}
	within := run(t, pool, Coverage, "source_filter=hardened&within_m=1000&method=network&list=uncovered&target_filter=name:V1")
	if within.Total["covered"] != int64(1) {
		t.Errorf("V1 not covered: %v", within.Total)
	}
	tight := run(t, pool, Coverage, fmt.Sprintf("source_filter=hardened&method=network&list=uncovered&target_filter=name:V1&within_m=%f", wantV1-0.5))
	if len(tight.Uncovered) != 1 || math.Abs(tight.Uncovered[0]["distance_m"].(float64)-wantV1) > 0.5 {
		t.Errorf("V1 network distance: got %v, want %.2f", tight.Uncovered, wantV1)
	}

	// Harden road A through the store: V2 is then on a hardened road.
	store := postgis.NewStore(pool, layer.Default())
	f, err := store.Get(context.Background(), "roads", a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Patch(context.Background(), "roads", a, postgis.IfVersion(f.Version), map[string]any{"surface": "asphalt"}, nil); err != nil {
		t.Fatal(err)
	}
	network = run(t, pool, Coverage, "source_filter=hardened&within_m=1000&method=network&list=uncovered")
	if got := uncoveredNames(network); strings.Join(got, ",") != "V3" {
		t.Errorf("after edit, network uncovered %v, want [V3]", got)
	}
	// A new earth road S from V3 to the end of B (≈ 1.1 + 1.9 km): V3 is
	// covered along the network within 3.5 km, not within 1 km.
	spur := addRoad(t, pool, road{ext: "S", surface: "earth", pts: [][2]float64{{110.03, 30.01}, {110.03, 30.02}, {110.01, 30.02}}})
	network = run(t, pool, Coverage, "source_filter=hardened&within_m=1000&method=network&list=uncovered")
	if got := uncoveredNames(network); len(got) != 1 {
		t.Errorf("after adding spur S (id %d): uncovered %v, want [V3] (V3 is > 1 km along S)", spur, got)
	}
	within = run(t, pool, Coverage, "source_filter=hardened&within_m=3500&method=network&list=uncovered")
	if len(within.Uncovered) != 0 {
		t.Errorf("within 3.5 km along the spur everything is covered: %v", within.Uncovered)
	}
}

func TestCoverageInvalid(t *testing.T) {
	pool := pgtest.New(t)
	for _, tc := range []struct {
		query, field string
	}{
		{"within_m=-5", "within_m"},
		{"within_m=abc", "within_m"},
		{"within_m=1e9", "within_m"},
		{"group_by=province", "group_by"},
		{"as_of=2015-13-01", "as_of"},
		{"target=nowhere", "target"},
		{"source=nowhere", "source"},
		{"target=roads", "target"},
		{"source_filter=paved", "source_filter"},
		{"source_filter=colour:red", "source_filter"},
		{"source_filter=surface:gold", "source_filter"}, // tarmac is a spelling of asphalt (layer.Field.ParseValue)
		{"source_filter=width_m>=wide", "source_filter"},
		{"source_filter=surface>=cement", "source_filter"},
		{"source=water_pipelines&source_filter=hardened", "source_filter"},
		{"source=water_pipelines&method=network", "method"},
		{"method=fly", "method"},
		{"format=xml", "format"},
		{"bom=maybe", "bom"},
		{"list=covered", "list"},
		{"within=5", "within"},
		{"within_m=1&within_m=2", "within_m"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			v, _ := url.ParseQuery(tc.query)
			_, _, err := Coverage(context.Background(), pool, layer.Default(), v)
			var e *lastmile.Error
			if !errors.As(err, &e) || e.Code != lastmile.EINVALID {
				t.Fatalf("got %v, want an invalid error", err)
			}
			found := false
			for _, p := range e.Details {
				found = found || p.Field == tc.field
			}
			if !found {
				t.Errorf("no problem names %s: %v", tc.field, e.Details)
			}
		})
	}
}

func TestRAI(t *testing.T) {
	pool := pgtest.New(t)
	addArea(t, pool, "county", "130101000000", "A county")
	addArea(t, pool, "county", "130102000000", "B county")
	// All-season: hardened, or graded and completed. A graded earth road
	// that is only under construction is not all-season.
	addRoad(t, pool, road{ext: "h", surface: "asphalt", pts: [][2]float64{{110, 30}, {110, 30.1}}})
	addRoad(t, pool, road{ext: "g", surface: "earth", grade: "class4", pts: [][2]float64{{111, 30}, {111, 30.1}}})
	addRoad(t, pool, road{ext: "u", surface: "earth", grade: "class3", status: "under_construction", pts: [][2]float64{{112, 30}, {112, 30.1}}})
	addVillage(t, pool, village{name: "a1", code: "130101001001", pop: 1000, lon: 110.015, lat: 30.05}) // ~1.44 km
	addVillage(t, pool, village{name: "a2", code: "130101001002", pop: 500, lon: 110.025, lat: 30.05})  // ~2.4 km
	addVillage(t, pool, village{name: "b1", code: "130102001001", pop: 300, lon: 111.01, lat: 30.05})   // ~0.96 km
	addVillage(t, pool, village{name: "b2", code: "130102001002", pop: 200, lon: 112.001, lat: 30.05})  // near the unfinished road

	res := run(t, pool, RAI, "")
	if !strings.Contains(res.Definition, "SDG") || !strings.Contains(res.Definition, layer.AllSeason.Description) {
		t.Errorf("definition: %s", res.Definition)
	}
	if res.Parameters["within_m"] != 2000.0 {
		t.Errorf("parameters: %v", res.Parameters)
	}
	// 1000 + 300 of 2000 people.
	if res.Total["population_covered"] != int64(1300) || res.Total["rai"] != 65.0 {
		t.Errorf("total: %v", res.Total)
	}
	if len(res.Groups) != 2 || res.Groups[0]["rai"] != 66.7 || res.Groups[1]["rai"] != 60.0 || res.Groups[1]["name"] != "B county" {
		t.Errorf("groups: %v", res.Groups)
	}
	checkGroupsAddUp(t, res, "population", "population_covered")
	res = run(t, pool, RAI, "within_m=3000")
	if res.Total["rai"] != 90.0 {
		t.Errorf("within 3 km: %v", res.Total)
	}
	v, _ := url.ParseQuery("source_filter=hardened")
	if _, _, err := RAI(context.Background(), pool, layer.Default(), v); lastmile.ErrorCode(err) != lastmile.EINVALID {
		t.Errorf("RAI with a source filter: %v", err)
	}
}

// FuzzCoverageParams: no query string makes the parser panic, and every
// rejection is an invalid error with details.
func FuzzCoverageParams(f *testing.F) {
	for _, s := range []string{
		"within_m=1000&source_filter=hardened&group_by=township&as_of=2015-12-31&list=uncovered",
		"source_filter=surface:cement,asphalt%3Bwidth_m>=4.5&source_filter=completed_on<2016-01-01",
		"target_filter=is_poor_village:true%3Bpopulation>100", "within_m=-1", "source_filter=%3B%3B:,",
		"method=network&format=csv&bom=1", "source=facilities&target=relocation_sites",
	} {
		f.Add(s)
	}
	c := layer.Default()
	f.Fuzz(func(t *testing.T, s string) {
		v, err := url.ParseQuery(s)
		if err != nil {
			return
		}
		req, err := parseCoverage(c, v, nil)
		if err != nil {
			var e *lastmile.Error
			if !errors.As(err, &e) || e.Code != lastmile.EINVALID || len(e.Details) == 0 {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if req.within < 0 || req.within > maxWithin || req.target == nil || req.source == nil {
			t.Fatalf("%q: accepted %+v", s, req)
		}
		_ = req.definition()
		// Every value reaches SQL as a parameter: the predicates hold no
		// quote the catalog did not write.
		for _, p := range append(req.sourceFilter.SQL, req.targetFilter.SQL...) {
			p = strings.ReplaceAll(p, "s.status = 'completed'", "")
			for _, d := range layer.Definitions() {
				p = strings.ReplaceAll(p, d.SQL("s"), "")
				p = strings.ReplaceAll(p, d.SQL("t"), "")
			}
			if strings.Contains(p, "'") {
				t.Fatalf("%q: predicate with a literal: %s", s, p)
			}
		}
	})
}
