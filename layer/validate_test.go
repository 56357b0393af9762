package layer_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

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
	vil, _ := layer.Default().Layer("villages")
	if _, p := vil.Validate(map[string]any{"population": 12.5}, true); len(p) != 1 || !strings.Contains(p[0].Message, "integer") {
		t.Errorf("non-integer population: %v", p)
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
