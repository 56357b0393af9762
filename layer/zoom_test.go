package layer

import (
	"slices"
	"testing"
)

// TestLineOverviewsKeepTheRuleFields: a lines overview keeps every field
// its layer's zoom rules read (as a key or as the class), so a row's
// minzoom follows from its key (the overview's upsert relies on it), and
// a class is the highest threshold met.
func TestLineOverviewsKeepTheRuleFields(t *testing.T) {
	n := 0
	for _, l := range Default().Layers() {
		o := l.Overview
		if o == nil || o.Kind != OverviewLines {
			continue
		}
		n++
		if o.Table == "" || o.Count == "" {
			t.Errorf("%s: lines overview without Table or Count", l.Name)
		}
		for _, r := range l.ZoomRules {
			if !slices.Contains(o.Keys, r.Field) && (o.Class == nil || o.Class.Field != r.Field) {
				t.Errorf("%s: rule field %s is neither a key nor the class of the overview", l.Name, r.Field)
			}
		}
	}
	if n != 3 {
		t.Errorf("%d lines overviews, want 3 (roads, water_pipelines, power_upgrades)", n)
	}
	pipes, _ := Default().Layer("water_pipelines")
	for v, want := range map[float64]float64{5000: 300, 300: 300, 299: 100, 100: 100, 99: -1} {
		got, ok := pipes.Overview.Class.ClassOf(pipes, v)
		if !ok {
			got = -1
		}
		if got != want {
			t.Errorf("class of %g mm: %g, want %g", v, got, want)
		}
	}
	if got := pipes.Overview.Class.SQL(pipes, "r"); got != `CASE WHEN r."diameter_mm" >= 300 THEN 300 WHEN r."diameter_mm" >= 100 THEN 100 END` {
		t.Errorf("class SQL %s", got)
	}
}
