package rank

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	orbgeo "github.com/paulmach/orb/geo"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

var update = flag.Bool("update", false, "rewrite the ranking golden files in testdata/rank")

func mustExec(t testing.TB, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%v\n%s", err, sql)
	}
}

// fixture is a small world near 110°E 30°N where the right order is
// known by construction (see testdata/rank/fixture.request.json):
//   - A (110.04, 30.005) and B (110.06, 30.005) are mirror images about
//     110.05 for the road (lat 30), the power line (lat 30.005), the school
//     and clinic (110.05, 30.01), the village (110.05, 30.005) and the
//     landslide zone; only water differs: A is 482 m from a spring, B 964 m
//     from a pipeline. Things that must not count sit near them: a planned
//     road by A, a gravel track and a planned pipeline by B.
//   - C lies inside the landslide zone, D 166 m south of it.
//   - P is 111 m from the road and 1.5 km from water; Q is 444 m from the
//     spring and 1 km from the road.
//   - S is a 2 700 m² polygon (below the 1 ha minimum), T a 4.3 ha one.
func fixture(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	mustExec(t, pool, `
INSERT INTO roads (ext_id, name, surface, tech_grade, status, geom) VALUES
  ('r1', 'trunk', 'cement', 'class3', 'completed', ST_GeomFromText('LINESTRING(110 30, 110.1 30)', 4326)),
  ('r2', 'track', 'gravel', 'class4', 'completed', ST_GeomFromText('LINESTRING(110.058 30.006, 110.062 30.006)', 4326)),
  ('r3', 'future road', 'asphalt', 'class3', 'planned', ST_GeomFromText('LINESTRING(110.038 30.006, 110.042 30.006)', 4326));
INSERT INTO water_pipelines (ext_id, name, status, geom) VALUES
  ('w1', 'main', 'completed', ST_GeomFromText('LINESTRING(110.07 29.99, 110.07 30.03)', 4326)),
  ('w2', 'future main', 'planned', ST_GeomFromText('LINESTRING(110.061 29.99, 110.061 30.03)', 4326));
INSERT INTO facilities (ext_id, name, kind, status, geom) VALUES
  ('f1', 'spring', 'water_source', 'completed', ST_SetSRID(ST_MakePoint(110.035, 30.005), 4326)),
  ('f2', 'school', 'school', 'completed', ST_SetSRID(ST_MakePoint(110.05, 30.01), 4326)),
  ('f3', 'clinic', 'clinic', 'completed', ST_SetSRID(ST_MakePoint(110.05, 30.01), 4326));
INSERT INTO power_upgrades (ext_id, name, kind, status, geom) VALUES
  ('p1', '10 kV line', 'line', 'completed', ST_GeomFromText('LINESTRING(110 30.005, 110.1 30.005)', 4326));
INSERT INTO villages (ext_id, name, population, geom) VALUES
  ('v1', 'Middle village', 1000, ST_SetSRID(ST_MakePoint(110.05, 30.005), 4326));
INSERT INTO hazard_zones (ext_id, name, kind, severity, geom) VALUES
  ('h1', 'slope', 'landslide', 'high', ST_Multi(ST_MakeEnvelope(110.045, 30.015, 110.055, 30.025, 4326)));
`)
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "rank", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// resultIDs returns the ranked ids in order and the failed constraints of
// the excluded ones.
func resultIDs(res *Result) (ranked []string, excluded map[string][]string) {
	excluded = map[string][]string{}
	for _, f := range res.Features {
		if f.Properties.Status == "ranked" {
			ranked = append(ranked, f.ID)
		} else {
			excluded[f.ID] = f.Properties.Failed
		}
	}
	return ranked, excluded
}

func TestFixture(t *testing.T) {
	pool := pgtest.New(t)
	fixture(t, pool)
	base := readTestdata(t, "fixture.request.json")
	tests := []struct {
		name     string
		values   url.Values
		ranked   []string
		excluded map[string][]string
	}{
		{
			name: "defaults",
			// T touches the pipeline and is 332 m from the road; A and B are
			// equal but for water, so A (482 m) ranks before B (965 m).
			ranked:   []string{"T", "A", "B", "Q", "P"},
			excluded: map[string][]string{"C": {"hazard", "road"}, "D": {"hazard"}, "S": {"min_area"}},
		},
		{
			name:     "smaller hazard buffer admits D",
			values:   url.Values{"constraints": {"hazard=100"}},
			ranked:   []string{"T", "A", "B", "Q", "P", "D"},
			excluded: map[string][]string{"C": {"hazard", "road"}, "S": {"min_area"}},
		},
		{
			name:     "hazard, road and area constraints off",
			values:   url.Values{"constraints": {"hazard=off,min_area=off,road=off"}},
			ranked:   []string{"T", "A", "S", "B", "Q", "P", "D", "C"},
			excluded: map[string][]string{},
		},
		{
			name:     "road weight only: P (111 m) first, then T (332 m), A = B (553 m) by id, Q (998 m)",
			values:   url.Values{"weights": {"road=1,water=0,power=0,school=0,clinic=0,population=0"}},
			ranked:   []string{"P", "T", "A", "B", "Q"},
			excluded: map[string][]string{"C": {"hazard", "road"}, "D": {"hazard"}, "S": {"min_area"}},
		},
		{
			name:     "water weight only (grid is power's alias): T (0 m), Q (444 m), A (482 m), B (965 m), P (1.5 km)",
			values:   url.Values{"weights": {"road=0,water=1,grid=0,school=0,clinic=0,population=0"}},
			ranked:   []string{"T", "Q", "A", "B", "P"},
			excluded: map[string][]string{"C": {"hazard", "road"}, "D": {"hazard"}, "S": {"min_area"}},
		},
		{
			name:     "no weights: ties broken by id",
			values:   url.Values{"weights": {"road=0,water=0,power=0,school=0,clinic=0,population=0"}},
			ranked:   []string{"A", "B", "P", "Q", "T"},
			excluded: map[string][]string{"C": {"hazard", "road"}, "D": {"hazard"}, "S": {"min_area"}},
		},
		{
			name:   "tight road and water limits, village radius",
			values: url.Values{"constraints": {"road=500,water=900,village=1000,hazard=off,min_area=off"}},
			ranked: []string{"T", "S"},
			excluded: map[string][]string{
				"A": {"road", "village"}, "B": {"road", "water", "village"}, "C": {"road", "water"},
				"D": {"road", "water", "village"}, "P": {"water"}, "Q": {"road"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := ParseValues(base, tt.values)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Run(context.Background(), pool, req)
			if err != nil {
				t.Fatal(err)
			}
			ranked, excluded := resultIDs(res)
			if !slices.Equal(ranked, tt.ranked) {
				t.Errorf("ranked %v, want %v", ranked, tt.ranked)
			}
			if len(excluded) != len(tt.excluded) {
				t.Errorf("excluded %v, want %v", excluded, tt.excluded)
			}
			for id, want := range tt.excluded {
				if !slices.Equal(excluded[id], want) {
					t.Errorf("%s failed %v, want %v", id, excluded[id], want)
				}
			}
			checkArithmetic(t, res)
		})
	}
}

// checkArithmetic checks every feature's factors add up: normalised
// from raw and d_max, contribution = weight × normalised, total = Σ.
func checkArithmetic(t *testing.T, res *Result) {
	t.Helper()
	for _, f := range res.Features {
		sum := 0.0
		for _, fs := range f.Properties.Factors {
			want := 0.0
			switch {
			case fs.Raw == nil:
			case fs.Factor == FactorPopulation:
				want = math.Min(1, *fs.Raw/fs.Max)
			default:
				want = math.Max(0, 1-*fs.Raw/fs.DMaxM)
			}
			if math.Abs(fs.Normalised-want) > 1e-4 {
				t.Errorf("%s %s: normalised %v, want %v from raw %v", f.ID, fs.Factor, fs.Normalised, want, fs.Raw)
			}
			if math.Abs(fs.Contribution-fs.Weight*fs.Normalised) > 1e-5 {
				t.Errorf("%s %s: contribution %v ≠ %v × %v", f.ID, fs.Factor, fs.Contribution, fs.Weight, fs.Normalised)
			}
			sum += fs.Contribution
		}
		if math.Abs(sum-f.Properties.Total) > 1e-5 {
			t.Errorf("%s: total %v ≠ Σ contributions %v", f.ID, f.Properties.Total, sum)
		}
		if len(f.Properties.Factors) != len(factorSpecs) {
			t.Errorf("%s: %d factors, want %d", f.ID, len(f.Properties.Factors), len(factorSpecs))
		}
	}
}

// TestFixtureValues checks measured values against independent
// geodesic arithmetic, and the golden GeoJSON and CSV.
func TestFixtureValues(t *testing.T) {
	pool := pgtest.New(t)
	fixture(t, pool)
	req, err := ParseRequest(readTestdata(t, "fixture.request.json"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), pool, req)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Feature{}
	for _, f := range res.Features {
		byID[f.ID] = f
	}
	factor := func(id, name string) FactorScore {
		for _, fs := range byID[id].Properties.Factors {
			if fs.Factor == name {
				return fs
			}
		}
		t.Fatalf("%s has no factor %s", id, name)
		return FactorScore{}
	}
	geodesic := func(a, b orb.Point) float64 { return orbgeo.DistanceHaversine(a, b) }
	tests := []struct {
		id, factor string
		want       float64 // metres (haversine, so within 0.5 %)
		layer      string
	}{
		{"A", FactorWater, geodesic(orb.Point{110.04, 30.005}, orb.Point{110.035, 30.005}), "facilities"},
		{"B", FactorWater, geodesic(orb.Point{110.06, 30.005}, orb.Point{110.07, 30.005}), "water_pipelines"},
		{"A", FactorRoad, geodesic(orb.Point{110.04, 30.005}, orb.Point{110.04, 30}), "roads"},
		{"B", FactorRoad, geodesic(orb.Point{110.06, 30.005}, orb.Point{110.06, 30}), "roads"},
		{"P", FactorRoad, geodesic(orb.Point{110.02, 30.001}, orb.Point{110.02, 30}), "roads"},
		{"A", FactorSchool, geodesic(orb.Point{110.04, 30.005}, orb.Point{110.05, 30.01}), "facilities"},
		{"A", FactorPower, 0, "power_upgrades"},
	}
	for _, tt := range tests {
		fs := factor(tt.id, tt.factor)
		// Haversine is on a sphere and the lines are geodesics (which bow
		// from the parallel by about a metre): 1 % + 2 m.
		if fs.Raw == nil || math.Abs(*fs.Raw-tt.want) > 0.01*tt.want+2 {
			t.Errorf("%s %s = %s m, want ≈ %.1f m", tt.id, tt.factor, fmtPtr(fs.Raw), tt.want)
		}
		if fs.Nearest == nil || fs.Nearest.Layer != tt.layer {
			t.Errorf("%s %s nearest %+v, want layer %s", tt.id, tt.factor, fs.Nearest, tt.layer)
		}
	}
	if p := factor("A", FactorPopulation); p.Raw == nil || *p.Raw != 1000 || *p.Villages != 1 {
		t.Errorf("A population %s, want 1000 from 1 village", fmtPtr(p.Raw))
	}
	c := byID["C"].Properties.Constraints[0]
	if c.Constraint != ConstraintHazard || c.Passed || c.Measured == nil || *c.Measured != 0 || c.Nearest == nil || c.Nearest.Kind != "landslide" {
		t.Errorf("C hazard constraint %+v, want failed at 0 m from the landslide zone", c)
	}
	if d := byID["D"].Properties.Constraints[0]; d.Measured == nil || math.Abs(*d.Measured-166.3) > 1.5 {
		t.Errorf("D hazard distance %s, want ≈ 166 m", fmtPtr(d.Measured))
	}
	var s ConstraintResult
	for _, c := range byID["S"].Properties.Constraints {
		if c.Constraint == ConstraintMinArea {
			s = c
		}
	}
	if s.Measured == nil || math.Abs(*s.Measured-2670) > 30 || s.Passed {
		t.Errorf("S area constraint %+v, want failed at ≈ 2 670 m²", s)
	}
	if res.Summary.Candidates != 8 || res.Summary.Ranked != 5 || res.Summary.Excluded != 3 ||
		res.Summary.ExcludedBy.Get(ConstraintHazard) != 2 || res.Summary.ExcludedBy.Get(ConstraintMinArea) != 1 {
		t.Errorf("summary %+v", res.Summary)
	}

	res.Summary.ElapsedMS, res.Summary.CandidatesMS = 0, 0
	var gj, csv bytes.Buffer
	if err := res.WriteGeoJSON(&gj); err != nil {
		t.Fatal(err)
	}
	if err := res.WriteCSV(&csv); err != nil {
		t.Fatal(err)
	}
	golden(t, "fixture.golden.geojson", gj.Bytes())
	golden(t, "fixture.golden.csv", csv.Bytes())
}

func fmtPtr(f *float64) string {
	if f == nil {
		return "null"
	}
	return strconv.FormatFloat(*f, 'f', -1, 64)
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("..", "testdata", "rank", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./rank -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test ./rank -update and review the diff); got:\n%s", name, got)
	}
}

func TestPlanned(t *testing.T) {
	pool := pgtest.New(t)
	fixture(t, pool)
	mustExec(t, pool, `
INSERT INTO relocation_sites (ext_id, name, status, capacity_households, geom) VALUES
  ('s1', 'planned by the spring', 'planned', 80, ST_Multi(ST_MakeEnvelope(110.036, 30.004, 110.038, 30.006, 4326))),
  ('s2', 'planned in the slope', 'planned', 60, ST_SetSRID(ST_MakePoint(110.05, 30.02), 4326)),
  ('s3', 'built already', 'completed', 50, ST_SetSRID(ST_MakePoint(110.04, 30.005), 4326))`)
	req, err := ParseRequest(nil)
	if err != nil {
		t.Fatal(err)
	}
	if req.Candidates.Source != SourcePlanned {
		t.Fatalf("source %q, want planned", req.Candidates.Source)
	}
	res, err := Run(context.Background(), pool, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Features) != 2 {
		t.Fatalf("%d features, want the 2 planned sites", len(res.Features))
	}
	f0, f1 := res.Features[0], res.Features[1]
	if f0.Properties.Name != "planned by the spring" || f0.Properties.Rank == nil || *f0.Properties.Rank != 1 {
		t.Errorf("first %+v, want the site by the spring ranked 1", f0.Properties)
	}
	if f1.Properties.Name != "planned in the slope" || f1.Properties.Status != "excluded" || !slices.Contains(f1.Properties.Failed, "hazard") {
		t.Errorf("second %+v, want the site in the slope excluded for hazard", f1.Properties)
	}
}

func TestGrid(t *testing.T) {
	pool := pgtest.New(t)
	fixture(t, pool)
	// An admin area that is exactly 1 km × 1 km in UTM zone 49N
	// (x 500 000–501 000, y 3 320 000–3 321 000), aligned with the grid.
	mustExec(t, pool, `
INSERT INTO admin_areas (ext_id, name, level, code, geom) VALUES
  ('a1', 'square township', 'township', '420000000001',
   ST_Multi(ST_Transform(ST_MakeEnvelope(500000, 3320000, 501000, 3321000, 32649), 4326)))`)
	tests := []struct {
		name   string
		values url.Values
		want   int // cells
		approx bool
	}{
		{"admin area 250 m", url.Values{"admin_code": {"420000000001"}, "cell_m": {"250"}}, 16, false},
		{"admin area 500 m", url.Values{"admin_code": {"420000000001"}, "cell_m": {"500"}}, 4, false},
		{"admin area 1000 m", url.Values{"admin_code": {"420000000001"}, "cell_m": {"1000"}}, 1, false},
		{"admin area 100 m", url.Values{"admin_code": {"420000000001"}, "cell_m": {"100"}}, 100, false},
		// 0.01° × 0.01° at 30°N is 964 m × 1 109 m: about 17 cells of 250 m.
		{"bbox 250 m", url.Values{"bbox": {"110,30,110.01,30.01"}, "cell_m": {"250"}}, 17, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{"source": {"grid"}, "constraints": {"hazard=off,road=off,water=off,power=off"}, "limit": {"1000"}}
			for k, v := range tt.values {
				q[k] = v
			}
			req, err := ParseValues(nil, q)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Run(context.Background(), pool, req)
			if err != nil {
				t.Fatal(err)
			}
			n := res.Summary.Candidates
			if tt.approx {
				if n < tt.want-4 || n > tt.want+4 {
					t.Errorf("%d cells, want about %d", n, tt.want)
				}
			} else if n != tt.want {
				t.Errorf("%d cells, want %d", n, tt.want)
			}
			if len(res.Features) != n || res.Summary.Ranked != n {
				t.Errorf("%d features, %d ranked, want %d", len(res.Features), res.Summary.Ranked, n)
			}
			// Neighbouring centroids are one cell apart on the ground.
			cell := req.Candidates.CellM
			pts := map[GridCell]orb.Point{}
			for _, f := range res.Features {
				pts[*f.Properties.Cell] = f.Geometry.Geometry().(orb.Point)
			}
			for c, p := range pts {
				if q, ok := pts[GridCell{c.I + 1, c.J}]; ok {
					if d := orbgeo.DistanceHaversine(p, q); math.Abs(d-cell) > 0.01*cell {
						t.Errorf("cells %v and its east neighbour are %.1f m apart, want %g", c, d, cell)
					}
				}
			}
			if tt.values.Get("bbox") != "" {
				for _, p := range pts {
					if p[0] < 110 || p[0] > 110.01 || p[1] < 30 || p[1] > 30.01 {
						t.Errorf("centroid %v outside the bbox", p)
					}
				}
			}
		})
	}
}

func TestGridLimits(t *testing.T) {
	pool := pgtest.New(t)
	// A 1° × 1° county: a 10 m grid would be ~1.2·10⁸ cells.
	mustExec(t, pool, `
INSERT INTO admin_areas (ext_id, name, level, code, geom) VALUES
  ('a2', 'big county', 'county', '420000000002', ST_Multi(ST_MakeEnvelope(110, 30, 111, 31, 4326)))`)
	tests := []struct {
		name   string
		values url.Values
		field  string
	}{
		{"admin area 10 m", url.Values{"admin_code": {"420000000002"}, "cell_m": {"10"}}, "candidates.cell_m"},
		{"bbox 10 m", url.Values{"bbox": {"100,20,120,40"}, "cell_m": {"10"}}, "candidates.cell_m"},
		{"unknown admin area", url.Values{"admin_code": {"420000000099"}}, "candidates.admin_code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			q := url.Values{"source": {"grid"}}
			for k, v := range tt.values {
				q[k] = v
			}
			req, err := ParseValues(nil, q)
			if err == nil {
				_, err = Run(context.Background(), pool, req)
			}
			checkInvalid(t, err, tt.field)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("refusal took %v; it must come before any long query", d)
			}
		})
	}
}

func checkInvalid(t *testing.T, err error, field string) {
	t.Helper()
	if lastmile.ErrorCode(err) != lastmile.EINVALID {
		t.Fatalf("error %v, want invalid", err)
	}
	e := err.(*lastmile.Error)
	for _, p := range e.Details {
		if p.Field == field || strings.HasPrefix(p.Field, field+".") {
			return
		}
	}
	t.Errorf("problems %v name no %q", e.Details, field)
}

func TestHandler(t *testing.T) {
	pool := pgtest.New(t)
	fixture(t, pool)
	r := mux.NewRouter()
	NewHandler(pool, slog.New(slog.NewTextHandler(io.Discard, nil))).Register(r)
	srv := httptest.NewServer(r)
	defer srv.Close()
	body := readTestdata(t, "fixture.request.json")
	tests := []struct {
		name     string
		method   string
		query    string
		body     string
		status   int
		ctype    string
		contains []string
	}{
		{"geojson", "POST", "", string(body), 200, "application/geo+json", []string{`"type":"FeatureCollection"`, `"candidate_id":"A"`, `"failed":[`, `"parameters":`}},
		{"csv", "POST", "?format=csv", string(body), 200, "text/csv", []string{"rank,status,id,name,lon,lat,total,road_m", "\n2,ranked,A,near water,110.04,30.005,"}},
		{"get planned", "GET", "?limit=5", "", 200, "application/geo+json", []string{`"source":"planned"`, `"returned":0`}},
		{"get grid csv", "GET", "?source=grid&bbox=110.03,30.002,110.05,30.008&cell_m=500&weights=road%3D1&format=csv", "", 200, "text/csv", []string{"rank,status,id", "\n1,ranked,"}},
		{"negative distance", "POST", "", `{"constraints": {"road": {"max_m": -5}}}`, 400, "application/json", []string{`"field":"constraints.road.max_m"`, "must not be negative"}},
		{"weight not a number", "POST", "", `{"weights": {"road": "high", "water": true}}`, 400, "application/json", []string{`"field":"weights.road"`, `"field":"weights.water"`, "must be a number"}},
		{"unknown factor", "POST", "", `{"weights": {"beauty": 1}}`, 400, "application/json", []string{`"field":"weights.beauty"`, "unknown factor"}},
		{"grid of 10^8 cells", "POST", "", `{"candidates": {"bbox": [100, 20, 120, 40], "cell_m": 20}}`, 400, "application/json", []string{`"field":"candidates.cell_m"`, "more than the limit of 200000"}},
		{"unknown parameter", "POST", "", `{"wieghts": {}}`, 400, "application/json", []string{`unknown parameter \"wieghts\"`}},
		{"malformed json", "POST", "", `{"weights": `, 400, "application/json", []string{"malformed JSON"}},
		{"line candidate", "POST", "", `{"candidates": {"features": {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[1,2],[3,4]]}, "properties": {}}]}}}`, 400, "application/json", []string{`"row":1`, "must be Point, Polygon or MultiPolygon"}},
		{"bad query weight", "GET", "?weights=road%3Dlots", "", 400, "application/json", []string{`"field":"weights.road"`, `"value":"lots"`}},
		{"wrong method", "DELETE", "", "", 405, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+"/api/sites/rank"+tt.query, strings.NewReader(tt.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tt.ctype) {
				t.Errorf("Content-Type %q, want %q", ct, tt.ctype)
			}
			for _, s := range tt.contains {
				if !strings.Contains(string(b), s) {
					t.Errorf("body lacks %q:\n%.2000s", s, b)
				}
			}
			if tt.status == 200 && tt.ctype == "text/csv" && resp.Header.Get("Lastmile-Rank-Parameters") == "" {
				t.Error("CSV response lacks the parameters header")
			}
			if tt.status == 400 {
				var e struct {
					Error struct {
						Code    string
						Details []lastmile.Problem
					}
				}
				if err := json.Unmarshal(b, &e); err != nil || e.Error.Code != "invalid" || len(e.Error.Details) == 0 {
					t.Errorf("error body %s, want code invalid with details", b)
				}
			}
		})
	}
}
