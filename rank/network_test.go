package rank

import (
	"context"
	"math"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/postgis/pgtest"
)

// networkFixture: a hardened road H along 25° N (a vertex at 100.025);
// an earth road E1 north from that vertex to 25.02; a link L east along
// 25.02 from E1's end to 100.045 and an earth road E2 south from there,
// stopping 443 m short of H (no junction). A (100.0255, 25.012) is 1.33 km
// from H in a straight line and 50 m from E1; B (100.0455, 25.006) is
// 665 m from H but 50 m from E2, whose way to H runs round by L and E1
// (5.8 km). A clinic sits 55 m north of L at 100.03; a pipeline runs north
// from H at 100.01.
func networkFixture(t *testing.T, pool *pgxpool.Pool) map[string]float64 {
	mustExec(t, pool, `
INSERT INTO roads (ext_id, name, surface, tech_grade, status, geom) VALUES
  ('H', 'hardened', 'cement', 'class3', 'completed', ST_GeomFromText('LINESTRING(100 25, 100.025 25, 100.05 25)', 4326)),
  ('E1', 'earth 1', 'earth', 'class4', 'completed', ST_GeomFromText('LINESTRING(100.025 25, 100.025 25.02)', 4326)),
  ('L', 'link', 'earth', 'class4', 'completed', ST_GeomFromText('LINESTRING(100.025 25.02, 100.045 25.02)', 4326)),
  ('E2', 'earth 2', 'earth', 'class4', 'completed', ST_GeomFromText('LINESTRING(100.045 25.02, 100.045 25.004)', 4326));
INSERT INTO facilities (ext_id, name, kind, status, geom) VALUES
  ('c', 'clinic', 'clinic', 'completed', ST_SetSRID(ST_MakePoint(100.03, 25.0205), 4326));
INSERT INTO water_pipelines (ext_id, name, status, geom) VALUES
  ('w', 'main', 'completed', ST_GeomFromText('LINESTRING(100.01 25, 100.01 25.01)', 4326));
`)
	ctx := context.Background()
	d := func(a, b [2]float64) float64 {
		var m float64
		if err := pool.QueryRow(ctx, `SELECT ST_Distance(ST_MakePoint($1, $2)::geography, ST_MakePoint($3, $4)::geography)`, a[0], a[1], b[0], b[1]).Scan(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	A, B := [2]float64{100.0255, 25.012}, [2]float64{100.0455, 25.006}
	aOn, bOn := [2]float64{100.025, 25.012}, [2]float64{100.045, 25.006} // their snap points (meridians)
	e1Top, lEnd, h0, cOn := [2]float64{100.025, 25.02}, [2]float64{100.045, 25.02}, [2]float64{100.025, 25}, [2]float64{100.03, 25.02}
	clinic, wStart := [2]float64{100.03, 25.0205}, [2]float64{100.01, 25}
	bUp := d(B, bOn) + d(bOn, lEnd)
	want := map[string]float64{
		"A road":   d(A, aOn) + d(aOn, h0),
		"B road":   bUp + d(lEnd, e1Top) + d(e1Top, h0),
		"A clinic": d(A, aOn) + d(aOn, e1Top) + d(e1Top, cOn) + d(cOn, clinic),
		"B clinic": bUp + d(lEnd, cOn) + d(cOn, clinic),
		"A water":  d(A, aOn) + d(aOn, h0) + d(h0, wStart),
		// straight lines, for the contrast
		"A road straight": d(A, [2]float64{100.0255, 25}), "B road straight": d(B, [2]float64{100.0455, 25}),
	}
	return want
}

const networkCandidates = `{"type": "FeatureCollection", "features": [
  {"type": "Feature", "id": "A", "geometry": {"type": "Point", "coordinates": [100.0255, 25.012]}, "properties": {}},
  {"type": "Feature", "id": "B", "geometry": {"type": "Point", "coordinates": [100.0455, 25.006]}, "properties": {}}]}`

// TestRankByRoad: with distance network the road factor ranks A before B
// (1.38 km against 5.8 km by road), the straight line B before A (665 m
// against 1.33 km); the raw distances equal sums of PostGIS geodesic
// lengths computed here; the reasons say "by road"; with the road
// constraint on, B is excluded by road but not in a straight line.
func TestRankByRoad(t *testing.T) {
	pool := pgtest.New(t)
	want := networkFixture(t, pool)
	rankBy := func(extra string) *Result {
		t.Helper()
		body := `{"candidates": {"source": "features", "features": ` + networkCandidates + `},
			"constraints": {"hazard": false, "road": false, "water": false, "power": false},
			"weights": {"road": 1, "water": 0, "power": 0, "school": 0, "clinic": 0, "population": 0},
			"d_max_m": {"road": 10000}` + extra + `}`
		req, err := ParseRequest([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		res, err := Run(context.Background(), pool, req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	near := func(got *float64, w float64, what string) {
		t.Helper()
		if got == nil || math.Abs(*got-w) > 0.2 {
			t.Errorf("%s: %v m, want %.1f (computed here)", what, got, w)
		}
	}
	straight := rankBy("")
	ids, raw := rankFeatures(straight)
	if !slices.Equal(ids, []string{"B", "A"}) {
		t.Errorf("straight: %v, want B before A", ids)
	}
	near(raw["A"]["road"], want["A road straight"], "A to the road, straight")
	near(raw["B"]["road"], want["B road straight"], "B to the road, straight")
	for _, extra := range []string{`, "distance": "network"`, `, "distance": {"road": "network"}`} {
		res := rankBy(extra)
		ids, raw := rankFeatures(res)
		if !slices.Equal(ids, []string{"A", "B"}) {
			t.Errorf("%s: %v, want A before B", extra, ids)
		}
		near(raw["A"]["road"], want["A road"], "A to the road by road")
		near(raw["B"]["road"], want["B road"], "B to the road by road")
		f := res.Features[0].Properties.Factors[0]
		if f.Measure != "by road" || f.Nearest == nil || f.Nearest.Name != "hardened" || res.Parameters.Distance.Get("road") != "network" {
			t.Errorf("%s: factor %+v, parameters %v", extra, f, res.Parameters.Distance)
		}
		if !strings.Contains(res.Definitions.Get("by_road"), "along") && !strings.Contains(res.Definitions.Get("by_road"), "over completed roads") {
			t.Errorf("definitions: %v", res.Definitions.Get("by_road"))
		}
	}
	// the road constraint by road excludes B (5.8 km > 2 km); straight it passes
	res := rankBy(`, "distance": "network", "constraints": {"hazard": false, "road": 2000, "water": false, "power": false}`)
	ids, _ = rankFeatures(res)
	var test string
	for _, f := range res.Features {
		if f.ID == "B" {
			for _, c := range f.Properties.Constraints {
				if c.Constraint == "road" {
					test = c.Test
					if c.Passed || c.Measure != "by road" {
						t.Errorf("B's road constraint by road: %+v", c)
					}
				}
			}
		}
	}
	if !slices.Equal(ids, []string{"A"}) || test != "distance by road to the nearest hardened road ≤ 2000 m" {
		t.Errorf("road constraint by road: ranked %v, test %q", ids, test)
	}
	if ids, _ := rankFeatures(rankBy(`, "constraints": {"hazard": false, "road": 2000, "water": false, "power": false}`)); !slices.Equal(ids, []string{"B", "A"}) {
		t.Errorf("road constraint straight: ranked %v", ids)
	}
	// clinic and water by road
	res = rankBy(`, "distance": {"clinic": "network", "water": "network"}, "weights": {"road": 0, "water": 1, "power": 0, "school": 0, "clinic": 1, "population": 0}, "d_max_m": {"clinic": 10000, "water": 10000}`)
	_, raw = rankFeatures(res)
	near(raw["A"]["clinic"], want["A clinic"], "A to the clinic by road")
	near(raw["B"]["clinic"], want["B clinic"], "B to the clinic by road")
	near(raw["A"]["water"], want["A water"], "A to the pipeline by road")
	// bad values name the field
	for _, body := range []string{`{"distance": "walking"}`, `{"distance": {"power": "network"}}`, `{"distance": {"road": 1}}`} {
		_, err := ParseRequest([]byte(body))
		if err == nil || !strings.Contains(err.Error(), "distance") {
			t.Errorf("%s: %v", body, err)
		}
	}
	if req, err := ParseValues(nil, url.Values{"distance": {"road=network,clinic=network"}}); err != nil || !req.ByRoad("road") || !req.ByRoad("clinic") || req.ByRoad("water") {
		t.Errorf("ParseValues distance: %v %v", req.Distance, err)
	}
	if _, err := ParseValues(nil, url.Values{"distance": {"road=fast"}}); err == nil || !strings.Contains(err.Error(), "distance.road") {
		t.Errorf("ParseValues bad distance: %v", err)
	}
}

// rankFeatures returns the ranked ids in order and every candidate's raw
// factor values.
func rankFeatures(res *Result) ([]string, map[string]map[string]*float64) {
	var ids []string
	raw := map[string]map[string]*float64{}
	for _, f := range res.Features {
		if f.Properties.Rank != nil {
			ids = append(ids, f.ID)
		}
		raw[f.ID] = map[string]*float64{}
		for _, fs := range f.Properties.Factors {
			raw[f.ID][fs.Factor] = fs.Raw
		}
	}
	return ids, raw
}
