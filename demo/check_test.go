package demo

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// TestCheckSeeds: the generated counties follow the rules every feature
// must (the Go-side ones; the admin_code check is Load's, tested below).
func TestCheckSeeds(t *testing.T) {
	for seed := int64(1); seed <= 5; seed++ {
		c := seed1()
		if seed != 1 {
			c = Generate(seed)
		}
		if p := c.Check(layer.Default()); p.Len() > 0 {
			t.Errorf("seed %d: %d problems, first %v", seed, p.Len(), p.List[0])
		}
	}
}

// TestLoadRefusesImplausible: a demo county with one corrupted row is not
// loaded at all — the error names the layer's row, the ext_id and the
// field — and the database is left as it was; the county as generated
// passes every rule, the admin_code check included (TestLoad loads it).
func TestLoadRefusesImplausible(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	road := func(c *County, n int) *Feature {
		for i := range c.Layers {
			if c.Layers[i].Name == "roads" {
				return &c.Layers[i].Features[n]
			}
		}
		t.Fatal("no roads")
		return nil
	}
	far := func(g orb.Geometry) orb.Geometry {
		ls := g.(orb.LineString)
		out := make(orb.LineString, len(ls))
		for i, p := range ls {
			out[i] = orb.Point{p[0] + 3, p[1]} // 3° east: about 265 km
		}
		return out
	}
	long := make(orb.LineString, layer.DefaultMaxVertices+1)
	for i := range long {
		long[i] = orb.Point{117.1 + float64(i)*1e-7, 37.2 + float64(i%2)*1e-6}
	}
	tests := []struct {
		name    string
		corrupt func(f *Feature)
		field   string
		message string
	}{
		{"completed in 9999", func(f *Feature) { f.CompletedOn = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC) }, "completed_on", "must lie between 1949-01-01"},
		{"started in 1900", func(f *Feature) { f.StartedOn = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC) }, "started_on", "must lie between 1949-01-01"},
		{"completed next month", func(f *Feature) {
			f.Status, f.CompletedOn = "completed", time.Now().UTC().AddDate(0, 1, 0)
		}, "completed_on", "is in the future, but status is completed"},
		{"too many vertices", func(f *Feature) { f.Geom = long }, "geometry", "vertices, more than the limit of 50000"},
		{"across the antimeridian", func(f *Feature) { f.Geom = orb.LineString{{179.99, 37}, {-179.99, 37}} }, "geometry", "crosses the antimeridian"},
		{"far from its township", func(f *Feature) { f.Geom = far(f.Geom) }, "admin_code", "lies 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Generate(1)
			f := road(c, 7)
			if f.AdminCode == "" || f.Status == "" {
				t.Fatalf("road 8 has no admin_code or status: %+v", f)
			}
			tt.corrupt(f)
			_, err := Load(ctx, pool, c)
			if lastmile.ErrorCode(err) != lastmile.EINVALID || !strings.Contains(err.Error(), "nothing was loaded") {
				t.Fatalf("err = %v, want invalid, nothing loaded", err)
			}
			var le *lastmile.Error
			errors.As(err, &le)
			if le == nil || len(le.Details) == 0 {
				t.Fatalf("%v: no problems listed", err)
			}
			found := false
			for _, p := range le.Details {
				if p.Row != 8 || !strings.HasPrefix(p.Message, f.ExtID+": ") {
					t.Errorf("problem %+v: not of row 8, %s", p, f.ExtID)
				}
				found = found || p.Field == tt.field && strings.Contains(p.Message, tt.message)
			}
			if !found {
				t.Fatalf("problems %v lack row 8 %s: %s: …%s", le.Details, tt.field, f.ExtID, tt.message)
			}
			var n int
			if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM lastmile.roads) + (SELECT count(*) FROM lastmile.admin_areas)`).Scan(&n); err != nil || n != 0 {
				t.Fatalf("rows written: %d (%v)", n, err)
			}
		})
	}
}
