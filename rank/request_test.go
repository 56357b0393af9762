package rank

import (
	"errors"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lastmile/lastmile"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, r Request)
	}{
		{"empty body ranks planned sites with defaults", ``, func(t *testing.T, r Request) {
			if r.Candidates.Source != SourcePlanned || r.Limit != DefaultLimit || !r.IncludeExcluded || r.Format != "geojson" {
				t.Errorf("got %+v", r)
			}
			if c := r.Constraint(ConstraintHazard); !c.Enabled || c.Limit != 200 {
				t.Errorf("hazard %+v, want on at 200 m", c)
			}
			if c := r.Constraint(ConstraintVillage); c.Enabled {
				t.Errorf("village %+v, want off", c)
			}
			sum := 0.0
			for _, s := range factorSpecs {
				sum += r.Weights.Get(s.Name)
			}
			if math.Abs(sum-1) > 1e-9 {
				t.Errorf("default weights sum to %v, want 1", sum)
			}
		}},
		{"bbox implies a grid, excluded cells left out", `{"candidates": {"bbox": [110, 30, 110.1, 30.1]}}`, func(t *testing.T, r Request) {
			if r.Candidates.Source != SourceGrid || r.Candidates.CellM != DefaultCellM || r.IncludeExcluded {
				t.Errorf("got %+v", r.Candidates)
			}
		}},
		{"constraint shorthands", `{"constraints": {"hazard": false, "village": true, "road": 500, "water": {"max_m": 800}, "power": {"enabled": false, "max_m": 10}}}`, func(t *testing.T, r Request) {
			want := map[string]Constraint{
				ConstraintHazard: {Enabled: false, Limit: 200}, ConstraintVillage: {Enabled: true, Limit: 300},
				ConstraintRoad: {Enabled: true, Limit: 500}, ConstraintWater: {Enabled: true, Limit: 800},
				ConstraintPower: {Enabled: false, Limit: 10}, ConstraintMinArea: {Enabled: true, Limit: 10000},
			}
			for name, w := range want {
				if c := r.Constraint(name); c.Enabled != w.Enabled || c.Limit != w.Limit {
					t.Errorf("%s = %+v, want %+v", name, c, w)
				}
			}
		}},
		{"weights merge over defaults; grid means power", `{"weights": {"water": 1, "grid": 0.5}, "d_max_m": {"road": 800}}`, func(t *testing.T, r Request) {
			if r.Weights.Get(FactorWater) != 1 || r.Weights.Get(FactorPower) != 0.5 || r.Weights.Get(FactorRoad) != 0.3 || r.DMax.Get(FactorRoad) != 800 {
				t.Errorf("weights %v d_max %v", r.Weights.values, r.DMax.values)
			}
		}},
		{"features keep their ids", `{"candidates": {"features": {"type": "FeatureCollection", "features": [
			{"type": "Feature", "id": 7, "geometry": {"type": "Point", "coordinates": [110, 30]}, "properties": {"name": "seven"}},
			{"type": "Feature", "geometry": {"type": "Point", "coordinates": [110.1, 30]}, "properties": {"id": "x"}},
			{"type": "Feature", "geometry": {"type": "Point", "coordinates": [110.2, 30]}, "properties": null}]}}, "format": "csv"}`,
			func(t *testing.T, r Request) {
				var ids []string
				for _, c := range r.Candidates.features {
					ids = append(ids, c.id)
				}
				if strings.Join(ids, ",") != "7,x,3" || r.Candidates.features[0].name != "seven" || r.Format != "csv" {
					t.Errorf("ids %v, format %s", ids, r.Format)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRequest([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, r)
		})
	}
}

func TestParseRequestErrors(t *testing.T) {
	fc := func(features string) string {
		return `{"candidates": {"features": {"type": "FeatureCollection", "features": [` + features + `]}}}`
	}
	tests := []struct {
		name, body string
		field      string // a problem names this field
		message    string // and says this
	}{
		{"negative distance", `{"constraints": {"road": {"max_m": -1}}}`, "constraints.road.max_m", "must not be negative"},
		{"negative shorthand", `{"constraints": {"hazard": -5}}`, "constraints.hazard", "must not be negative"},
		{"weight is text", `{"weights": {"road": "0.3"}}`, "weights.road", "must be a number"},
		{"weight is an object", `{"weights": {"water": {}}}`, "weights.water", "must be a number"},
		{"negative weight", `{"weights": {"water": -1}}`, "weights.water", "must not be negative"},
		{"unknown factor", `{"weights": {"beauty": 1}}`, "weights.beauty", "unknown factor"},
		{"unknown d_max factor", `{"d_max_m": {"population": 100}}`, "d_max_m.population", "unknown distance factor"},
		{"zero d_max", `{"d_max_m": {"road": 0}}`, "d_max_m.road", "at least 1"},
		{"unknown constraint", `{"constraints": {"slope": 10}}`, "constraints.slope", "unknown constraint"},
		{"unknown constraint key", `{"constraints": {"road": {"min_m": 10}}}`, "constraints.road.min_m", "expected enabled or max_m"},
		{"unknown parameter", `{"weight": {}}`, "weight", `unknown parameter "weight"`},
		{"weights not an object", `{"weights": 3}`, "", "weights must be an object"},
		{"not an object", `[1, 2]`, "", "must be a JSON object"},
		{"malformed", `{"limit": }`, "", "malformed JSON"},
		{"trailing data", `{} {}`, "", "unexpected data"},
		{"fractional limit", `{"limit": 2.5}`, "limit", "whole number"},
		{"huge limit", `{"limit": 1e9}`, "limit", "at most"},
		{"unknown format", `{"format": "xlsx"}`, "format", "unknown format"},
		{"unknown source", `{"candidates": {"source": "dream"}}`, "candidates.source", "unknown source"},
		{"grid of 10^8 cells", `{"candidates": {"bbox": [100, 20, 120, 40], "cell_m": 20}}`, "candidates.cell_m", "more than the limit of 200000"},
		{"tiny cells", `{"candidates": {"bbox": [110, 30, 110.01, 30.01], "cell_m": 1}}`, "candidates.cell_m", "at least 10"},
		{"bbox reversed", `{"candidates": {"bbox": [111, 30, 110, 31]}}`, "candidates.bbox", "less than"},
		{"bbox short", `{"candidates": {"bbox": [110, 30, 111]}}`, "candidates.bbox", "[min_lon, min_lat, max_lon, max_lat]"},
		{"bbox latitude", `{"candidates": {"bbox": [110, 30, 111, 95]}}`, "candidates.bbox[3]", "at most"},
		{"admin code", `{"candidates": {"admin_code": "42"}}`, "candidates.admin_code", "12-digit"},
		{"admin and bbox", `{"candidates": {"admin_code": "420000000001", "bbox": [110, 30, 111, 31]}}`, "candidates", "not both"},
		{"grid without area", `{"candidates": {"source": "grid"}}`, "candidates", "needs admin_code"},
		{"planned with bbox", `{"candidates": {"source": "planned", "bbox": [110, 30, 111, 31]}}`, "candidates.bbox", "not used"},
		{"features missing", `{"candidates": {"source": "features"}}`, "candidates.features", "needs a GeoJSON"},
		{"features not geojson", `{"candidates": {"features": {"type": "Banana"}}}`, "candidates.features", "not a GeoJSON"},
		{"no features", fc(``), "candidates.features", "no features"},
		{"line", fc(`{"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[110, 30], [111, 31]]}, "properties": {}}`), "candidates.features", "must be Point, Polygon or MultiPolygon"},
		{"open ring", fc(`{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[110, 30], [111, 30], [111, 31], [110, 31]]]}, "properties": {}}`), "candidates.features", "not closed"},
		{"out of range", fc(`{"type": "Feature", "geometry": {"type": "Point", "coordinates": [200, 30]}, "properties": {}}`), "candidates.features", "point: longitude 200 of [200 30] is outside -180…180"},
		{"no geometry", fc(`{"type": "Feature", "geometry": null, "properties": {}}`), "candidates.features", "no geometry"},
		{"duplicate ids", fc(`{"type": "Feature", "id": "a", "geometry": {"type": "Point", "coordinates": [110, 30]}, "properties": {}},
			{"type": "Feature", "id": "a", "geometry": {"type": "Point", "coordinates": [110, 31]}, "properties": {}}`), "candidates.features", "duplicate id"},
		{"population radius", `{"population": {"radius_m": -3}}`, "population.radius_m", "must not be negative"},
		{"population key", `{"population": {"radius": 3}}`, "population.radius", `unknown parameter "population.radius"`},
		{"include_excluded", `{"include_excluded": "yes"}`, "include_excluded", "true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRequest([]byte(tt.body))
			var e *lastmile.Error
			if !errors.As(err, &e) || e.Code != lastmile.EINVALID {
				t.Fatalf("error %v, want invalid", err)
			}
			for _, p := range e.Details {
				if p.Field == tt.field && strings.Contains(p.Message, tt.message) {
					return
				}
			}
			t.Errorf("problems %v: none names %q with %q", e.Details, tt.field, tt.message)
		})
	}
}

// TestParseRequestReportsAll checks every problem is reported at once.
func TestParseRequestReportsAll(t *testing.T) {
	_, err := ParseRequest([]byte(`{"weights": {"road": "x", "beauty": 1}, "constraints": {"water": -1}, "limit": 0}`))
	var e *lastmile.Error
	if !errors.As(err, &e) || len(e.Details) != 4 {
		t.Fatalf("error %v, want 4 problems", err)
	}
}

func TestParseValues(t *testing.T) {
	base := []byte(`{"candidates": {"source": "planned"}, "weights": {"road": 0.5}, "population": {"max": 100}}`)
	q := url.Values{
		"source": {"grid"}, "bbox": {"110,30,110.1,30.1"}, "cell_m": {"500"},
		"weights": {"water=0.4, school=0"}, "d_max_m": {"clinic=2000"}, "constraints": {"village=on,hazard=off,road=750"},
		"population_radius_m": {"1500"}, "limit": {"7"}, "include_excluded": {"true"}, "format": {"csv"},
	}
	r, err := ParseValues(base, q)
	if err != nil {
		t.Fatal(err)
	}
	c := r.Candidates
	if c.Source != SourceGrid || c.CellM != 500 || len(c.BBox) != 4 || c.BBox[2] != 110.1 {
		t.Errorf("candidates %+v", c)
	}
	if r.Weights.Get(FactorRoad) != 0.5 || r.Weights.Get(FactorWater) != 0.4 || r.Weights.Get(FactorSchool) != 0 || r.DMax.Get(FactorClinic) != 2000 {
		t.Errorf("weights %v d_max %v", r.Weights.values, r.DMax.values)
	}
	if !r.Constraint(ConstraintVillage).Enabled || r.Constraint(ConstraintHazard).Enabled || r.Constraint(ConstraintRoad).Limit != 750 {
		t.Errorf("constraints %v", r.Constraints.values)
	}
	if r.Population.RadiusM != 1500 || r.Population.Max != 100 || r.Limit != 7 || !r.IncludeExcluded || r.Format != "csv" {
		t.Errorf("population %+v limit %d include %v format %s", r.Population, r.Limit, r.IncludeExcluded, r.Format)
	}
	for _, bad := range []url.Values{{"weights": {"road"}}, {"weights": {"road=abc"}}, {"colour": {"red"}}, {"cell_m": {"-3"}, "source": {"grid"}, "bbox": {"1,2,3,4"}}} {
		if _, err := ParseValues(nil, bad); lastmile.ErrorCode(err) != lastmile.EINVALID {
			t.Errorf("%v: error %v, want invalid", bad, err)
		}
	}
}

// checkRequest asserts the invariants of a request the parser accepted.
func checkRequest(t *testing.T, r Request, err error) {
	if err != nil {
		var e *lastmile.Error
		if !errors.As(err, &e) || e.Code != lastmile.EINVALID || len(e.Details) == 0 {
			t.Fatalf("error %v (%T), want invalid with details", err, err)
		}
		return
	}
	finite := func(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) && f >= 0 }
	for _, s := range factorSpecs {
		if !finite(r.Weights.Get(s.Name)) {
			t.Fatalf("weight %s = %v", s.Name, r.Weights.Get(s.Name))
		}
		if s.Name != FactorPopulation && !(r.DMax.Get(s.Name) >= 1) {
			t.Fatalf("d_max %s = %v", s.Name, r.DMax.Get(s.Name))
		}
	}
	for _, s := range constraintSpecs {
		if !finite(r.Constraint(s.Name).Limit) {
			t.Fatalf("constraint %s = %v", s.Name, r.Constraint(s.Name))
		}
	}
	if r.Limit < 1 || r.Limit > MaxLimit || r.Population.Max < 1 || !finite(r.Population.RadiusM) {
		t.Fatalf("limit %d population %+v", r.Limit, r.Population)
	}
	c := r.Candidates
	switch c.Source {
	case SourceFeatures:
		if len(c.features) == 0 || len(c.features) > MaxFeatures {
			t.Fatalf("%d features", len(c.features))
		}
	case SourcePlanned:
	case SourceGrid:
		if c.CellM < MinCellM || c.CellM > MaxCellM || (c.AdminCode == "") == (c.BBox == nil) {
			t.Fatalf("grid %+v", c)
		}
		if c.BBox != nil && estimateCells(bboxAreaM2(c.BBox), c.CellM) > MaxCells {
			t.Fatalf("grid %+v too large", c)
		}
	default:
		t.Fatalf("source %q", c.Source)
	}
	if _, err := jsonCompact(r); err != nil {
		t.Fatalf("echo: %v", err)
	}
}

// FuzzParseRequest: any body is either refused as invalid with
// details, or accepted with every invariant holding; never a panic.
func FuzzParseRequest(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "testdata", "rank", "*.json"))
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{``, `{}`, `null`, `{"weights": {"road": "x"}}`, `{"constraints": {"hazard": {"buffer_m": 1e308}}}`,
		`{"candidates": {"bbox": [110, 30, 110.1, 30.1], "cell_m": 10}}`, `{"candidates": {"admin_code": "420000000001", "cell_m": 1e-300}}`,
		`{"distance": "network"}`, `{"distance": {"road": "network", "clinic": "straight", "x": 1}}`, `{"candidates": {"features": {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "MultiPolygon", "coordinates": []}}]}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseRequest(body)
		checkRequest(t, r, err)
	})
}

// FuzzParseValues does the same for the query-string (and CLI) form.
func FuzzParseValues(f *testing.F) {
	for _, s := range []string{``, `source=grid&bbox=110,30,110.1,30.1&cell_m=250`, `weights=road%3D1,water%3Dx`,
		`constraints=hazard%3Doff,village%3D300&limit=3`, `population_radius_m=100&population_max=0`, `bbox=1,2,3`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, query string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		r, err := ParseValues(nil, q)
		checkRequest(t, r, err)
	})
}
