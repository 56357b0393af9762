package postgis_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// TestStorePlausible: issue 17's implausible features are refused by the
// feature API, each naming the field; plausible neighbours pass.
func TestStorePlausible(t *testing.T) {
	pool := pgtest.New(t)
	ctx := postgis.WithActor(context.Background(), postgis.Actor{Name: "test"})
	// A township: 0.1° × 0.1° at 117.2°E 37.3°N.
	if _, err := pool.Exec(ctx, `INSERT INTO lastmile.admin_areas (ext_id, name, level, code, geom)
		VALUES ('t1', '玉皇庙镇', 'township', '371426101000', ST_Multi(ST_MakeEnvelope(117.2, 37.3, 117.3, 37.4, 4326)))`); err != nil {
		t.Fatal(err)
	}
	store := postgis.NewStore(pool, layer.Default())
	big := make(orb.LineString, 380_000)
	for i := range big {
		big[i] = orb.Point{117.1 + float64(i)*1e-7, 37.2 + float64(i%2)*1e-6}
	}
	in := orb.LineString{{117.21, 37.31}, {117.22, 37.31}}
	// 0.005° east of the township's edge at 37.35°N: 442 m (cos 37.35° × 111.3 km × 0.005).
	near := orb.LineString{{117.305, 37.35}, {117.306, 37.35}}
	far := orb.LineString{{90.2, 30.31}, {90.21, 30.31}}
	nextMonth := time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly)
	tests := []struct {
		name    string
		props   map[string]any
		geom    orb.Geometry
		problem string // "field: fragment"; "" accepted
	}{
		{"380 000 vertices", map[string]any{"status": "completed"}, big, "geometry: has 380000 vertices, more than the limit of 50000"},
		{"dated 0001 … 9999", map[string]any{"status": "completed", "started_on": "0001-01-01", "completed_on": "9999-12-31"}, in, "started_on: must lie between 1949-01-01"},
		{"completed in 2035", map[string]any{"status": "completed", "completed_on": "2035-06-01"}, in, "completed_on: must lie between 1949-01-01"},
		{"completed next month", map[string]any{"status": "completed", "completed_on": nextMonth}, in, "completed_on: is in the future, but status is completed"},
		{"planned for next month", map[string]any{"status": "planned", "completed_on": nextMonth}, in, ""},
		{"admin_code 3 000 km away", map[string]any{"status": "planned", "admin_code": "371426101000"}, far, "admin_code: the admin area 371426101000 (玉皇庙镇) lies 2"},
		{"admin_code, inside", map[string]any{"status": "planned", "admin_code": "371426101000"}, in, ""},
		{"admin_code, 442 m outside", map[string]any{"status": "planned", "admin_code": "371426101000"}, near, ""},
		{"admin_code without an area", map[string]any{"status": "planned", "admin_code": "371426199000"}, far, ""},
		{"antimeridian", map[string]any{"status": "planned"}, orb.LineString{{179.99, 60}, {-179.99, 60}}, "geometry: linestring, points 0–1: the segment from [179.99 60] to [-179.99 60] crosses the antimeridian"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := store.Create(ctx, "roads", tt.props, tt.geom)
			if tt.problem == "" {
				if err != nil {
					t.Fatalf("err = %v, want accepted", err)
				}
				return
			}
			if f != nil || lastmile.ErrorCode(err) != lastmile.EINVALID {
				t.Fatalf("err = %v, want invalid", err)
			}
			field, msg, _ := strings.Cut(tt.problem, ": ")
			for _, p := range err.(*lastmile.Error).Details {
				if p.Field == field && strings.Contains(p.Message, msg) {
					return
				}
			}
			t.Fatalf("problems %v lack %q", err.(*lastmile.Error).Details, tt.problem)
		})
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.roads`).Scan(&n); err != nil || n != 4 {
		t.Errorf("roads stored: %d (%v), want the 4 accepted", n, err)
	}
	// A patch is checked against the row it produces: status completed on a
	// feature planned for next month, or a move 3 000 km from its area.
	f, err := store.Create(ctx, "roads", map[string]any{"status": "planned", "completed_on": nextMonth, "admin_code": "371426101000"}, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Patch(ctx, "roads", f.ID, postgis.IfVersion(f.Version), map[string]any{"status": "completed"}, nil); err == nil || !strings.Contains(err.Error(), "is in the future, but status is completed") {
		t.Errorf("patch to completed: %v", err)
	}
	if _, err := store.Patch(ctx, "roads", f.ID, postgis.IfVersion(f.Version), nil, far); err == nil || !strings.Contains(err.Error(), "admin_code") {
		t.Errorf("patch moving it away: %v", err)
	}
}
