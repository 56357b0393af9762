package layer_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile/layer"
)

func TestValidate(t *testing.T) {
	roads, _ := layer.Default().Layer("roads")
	tests := []struct {
		name    string
		props   string
		partial bool
		want    map[string]any // converted values that must be present
		problem string         // "field: message fragment", "" for none
	}{
		{"minimal", `{"status":"completed"}`, false, map[string]any{"status": "completed"}, ""},
		{"types converted", `{"status":"planned","width_m":4,"funding_yuan":1.5e6,"completed_on":"2015-06-30"}`, false,
			map[string]any{"width_m": 4.0, "funding_yuan": 1.5e6, "completed_on": time.Date(2015, 6, 30, 0, 0, 0, 0, time.UTC)}, ""},
		{"read-only dropped", `{"status":"planned","version":7,"updated_by":"x"}`, false, map[string]any{"status": "planned"}, ""},
		{"null clears", `{"surface":null}`, true, map[string]any{"surface": nil}, ""},
		{"required missing", `{}`, false, nil, "status: is required"},
		{"required missing in patch ok", `{}`, true, nil, ""},
		{"required null", `{"status":null}`, true, nil, "status: is required"},
		{"unknown", `{"status":"planned","colour":1}`, false, nil, "colour: unknown field"},
		{"enum", `{"status":"done"}`, false, nil, "status: must be one of planned"},
		{"string expected", `{"status":"planned","name":5}`, false, nil, "name: must be a string"},
		{"number expected", `{"status":"planned","width_m":"4"}`, false, nil, "width_m: must be a finite number"},
		{"max", `{"status":"planned","width_m":101}`, false, nil, "width_m: must be at most 100"},
		{"date", `{"status":"planned","completed_on":"30/06/2015"}`, false, nil, "completed_on: must be a date"},
		{"admin code", `{"status":"planned","admin_code":"37142610010"}`, false, nil, "admin_code: must match"},
		{"props object", `{"status":"planned","props":[1]}`, false, nil, "props: must be a JSON object"},
		// Plausible dates only (issue 17): 1949-01-01 … one year from today.
		{"year 1", `{"status":"completed","started_on":"0001-01-01"}`, false, nil, "started_on: must lie between 1949-01-01 and"},
		{"year 9999", `{"status":"planned","completed_on":"9999-12-31"}`, false, nil, "completed_on: must lie between 1949-01-01 and"},
		{"1948", `{"status":"planned","started_on":"1948-12-31"}`, false, nil, "started_on: must lie between"},
		{"1949 is fine", `{"status":"completed","started_on":"1949-01-01","completed_on":"1950-01-01"}`, false, nil, ""},
		{"completed in 2035", `{"status":"completed","completed_on":"2035-06-01"}`, false, nil, "completed_on: must lie between"},
		{"completed before start", `{"status":"completed","started_on":"2016-01-01","completed_on":"2015-01-01"}`, false, nil, "completed_on: is before started_on 2016-01-01"},
		{"patch: a date alone is checked", `{"completed_on":"0001-01-01"}`, true, nil, "completed_on: must lie between"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var props map[string]any
			if err := json.Unmarshal([]byte(tt.props), &props); err != nil {
				t.Fatal(err)
			}
			got, problems := roads.Validate(props, tt.partial)
			if tt.problem == "" && len(problems) > 0 {
				t.Fatalf("problems %v", problems)
			}
			if tt.problem != "" {
				field, msg, _ := strings.Cut(tt.problem, ": ")
				for _, p := range problems {
					if p.Field == field && strings.Contains(p.Message, msg) {
						return
					}
				}
				t.Fatalf("problems %v lack %q", problems, tt.problem)
			}
			for k, v := range tt.want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s = %#v, want %#v", k, g, v)
				}
			}
			if _, ok := got["version"]; ok {
				t.Error("read-only field kept")
			}
		})
	}
	// Relative to the day: completed next month is refused when the status
	// is completed, fine when planned.
	next := time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly)
	if _, p := roads.Validate(map[string]any{"status": "completed", "completed_on": next}, false); len(p) != 1 || p[0].Field != "completed_on" || !strings.Contains(p[0].Message, "in the future, but status is completed") {
		t.Errorf("completed on %s: %v, want one problem: in the future", next, p)
	}
	if _, p := roads.Validate(map[string]any{"status": "planned", "completed_on": next}, false); len(p) != 0 {
		t.Errorf("planned for %s: %v, want none", next, p)
	}
	vil, _ := layer.Default().Layer("villages")
	if _, p := vil.Validate(map[string]any{"population": 12.5}, true); len(p) != 1 || !strings.Contains(p[0].Message, "integer") {
		t.Errorf("non-integer population: %v", p)
	}
}

func TestCheckVertices(t *testing.T) {
	cat := layer.Default()
	roads, _ := cat.Layer("roads")
	line := func(n int) orb.LineString {
		l := make(orb.LineString, n)
		for i := range l {
			l[i] = orb.Point{117 + float64(i)*1e-6, 37}
		}
		return l
	}
	if msg := roads.CheckVertices(line(layer.DefaultMaxVertices)); msg != "" {
		t.Errorf("%d vertices: %s, want fine", layer.DefaultMaxVertices, msg)
	}
	if msg := roads.CheckVertices(line(380_000)); !strings.Contains(msg, "has 380000 vertices, more than the limit of 50000") {
		t.Errorf("380 000 vertices: %q", msg)
	}
	cat.SetMaxVertices(10)
	if msg := roads.CheckVertices(orb.MultiLineString{line(6), line(5)}); !strings.Contains(msg, "has 11 vertices, more than the limit of 10") {
		t.Errorf("11 vertices, limit 10: %q", msg)
	}
}

func TestDefinitions(t *testing.T) {
	tests := []struct {
		surface, grade, status   string
		hardened, graded, season bool
	}{
		{"cement", "substandard", "planned", true, false, true},
		{"asphalt", "class3", "completed", true, true, true},
		{"stone", "", "completed", true, false, true},
		{"gravel", "class4", "completed", false, true, true},
		{"gravel", "class4", "under_construction", false, true, false},
		{"earth", "substandard", "completed", false, false, false},
		{"earth", "expressway", "planned", false, true, false},
	}
	for _, tt := range tests {
		if got := layer.Hardened.Match(tt.surface, tt.grade, tt.status); got != tt.hardened {
			t.Errorf("hardened(%v) = %v", tt, got)
		}
		if got := layer.Graded.Match(tt.surface, tt.grade, tt.status); got != tt.graded {
			t.Errorf("graded(%v) = %v", tt, got)
		}
		if got := layer.AllSeason.Match(tt.surface, tt.grade, tt.status); got != tt.season {
			t.Errorf("all_season(%v) = %v", tt, got)
		}
	}
	if got := layer.AllSeason.SQL("r"); got != "(r.surface IN ('cement', 'asphalt', 'stone') OR (r.tech_grade IN ('expressway', 'class1', 'class2', 'class3', 'class4') AND r.status = 'completed'))" {
		t.Errorf("all_season SQL = %s", got)
	}
}

// A long Chinese value is quoted clipped on a character boundary (the
// shortener cut the JSON text at byte 77 before, inside a character).
func TestValidateClipsChinese(t *testing.T) {
	roads, _ := layer.Default().Layer("roads")
	_, problems := roads.Validate(map[string]any{"status": "completed", "surface": strings.Repeat("水泥路面", 30)}, false)
	if len(problems) != 1 {
		t.Fatalf("problems %v, want one", problems)
	}
	v := problems[0].Value
	if want := `"` + strings.Repeat("水泥路面", 19) + `水泥…`; v != want {
		t.Errorf("value %q, want %q", v, want)
	}
}
