package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

func TestRankCommand(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	pool, err := postgis.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pool.Exec(ctx, `
INSERT INTO roads (ext_id, name, surface, status, geom) VALUES
  ('r1', 'trunk', 'cement', 'completed', ST_GeomFromText('LINESTRING(110 30, 110.1 30)', 4326));
INSERT INTO facilities (ext_id, name, kind, geom) VALUES
  ('f1', 'spring', 'water_source', ST_SetSRID(ST_MakePoint(110.035, 30.005), 4326)),
  ('f2', 'school', 'school', ST_SetSRID(ST_MakePoint(110.05, 30.01), 4326));
INSERT INTO water_pipelines (ext_id, name, geom) VALUES
  ('w1', 'main', ST_GeomFromText('LINESTRING(110.07 29.99, 110.07 30.03)', 4326));
INSERT INTO power_upgrades (ext_id, name, kind, geom) VALUES
  ('p1', 'line', 'line', ST_GeomFromText('LINESTRING(110 30.005, 110.1 30.005)', 4326));
INSERT INTO hazard_zones (ext_id, name, kind, geom) VALUES
  ('h1', 'slope', 'landslide', ST_Multi(ST_MakeEnvelope(110.045, 30.015, 110.055, 30.025, 4326)));`)
	pool.Close()
	if err != nil {
		t.Fatal(err)
	}
	request := filepath.Join("..", "..", "testdata", "rank", "fixture.request.json")
	features := filepath.Join(t.TempDir(), "sites.geojson")
	os.WriteFile(features, []byte(`{"type": "FeatureCollection", "features": [
		{"type": "Feature", "id": "near", "geometry": {"type": "Point", "coordinates": [110.04, 30.005]}, "properties": {}},
		{"type": "Feature", "id": "far", "geometry": {"type": "Point", "coordinates": [110.06, 30.005]}, "properties": {}}]}`), 0o644)
	tests := []struct {
		name string
		args []string
		want []string // in this order
	}{
		{"table", []string{"--request", request}, []string{"candidates: features given — 8, 5 ranked, 3 excluded",
			"weights: road 0.3, water 0.25", "rank  id", "\n1     T ", "\n2     A ", "\n4     B ",
			"excluded: 3 (failing hazard 2, road 1, min_area 1)", "\nC   hazard: 0 m (needs distance to the nearest hazard zone > 200 m)", "inside a landslide zone"}},
		{"features and weights", []string{"--features", features, "--weights", "road=0,water=1,power=0,school=0,clinic=0,population=0"},
			[]string{"\n1     near", "\n2     far"}},
		// both sites lie 553 m north of the trunk road, onto which they snap
		{"by road", []string{"--features", features, "--distance", "road=network", "--weights", "road=1,water=0,power=0,school=0,clinic=0,population=0"},
			[]string{"by road (along the road network): road\n", "road m by road  water m", "\n1     far   0.8893  553 → 0.889", "\n2     near  0.8893  553 → 0.889"}},
		{"csv", []string{"--features", features, "--csv"}, []string{"rank,status,id,name,lon,lat,total", "\n1,ranked,near,", "\n2,ranked,far,"}},
		{"grid", []string{"--bbox", "110.03,30.002,110.04,30.008", "--cell-m", "500", "--limit", "2"},
			[]string{"500 m grid over bbox [110.03 30.002 110.04 30.008]", "\n1 "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := run(ctx, append([]string{"rank", "--database-url", url}, tt.args...), &out); err != nil {
				t.Fatal(err)
			}
			s := out.String()
			at := 0
			for _, w := range tt.want {
				i := strings.Index(s[at:], w)
				if i < 0 {
					t.Fatalf("output lacks %q after byte %d:\n%s", w, at, s)
				}
				at += i + len(w)
			}
		})
	}
	t.Run("geojson", func(t *testing.T) {
		var out bytes.Buffer
		if err := run(ctx, []string{"rank", "--database-url", url, "--request", request, "--geojson", "--limit", "2"}, &out); err != nil {
			t.Fatal(err)
		}
		var fc struct {
			Type       string
			Parameters struct{ Limit int }
			Features   []struct{ ID string }
		}
		if err := json.Unmarshal(out.Bytes(), &fc); err != nil {
			t.Fatal(err)
		}
		if fc.Type != "FeatureCollection" || fc.Parameters.Limit != 2 || len(fc.Features) != 5 || fc.Features[0].ID != "T" {
			t.Errorf("got %+v", fc)
		}
	})
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--constraints", "road=-5"}, "constraints.road: must not be negative"},
		{[]string{"--weights", "beauty=1"}, "weights.beauty: unknown factor"},
		{[]string{"--bbox", "100,20,120,40", "--cell-m", "20"}, "more than the limit of 200000"},
		{[]string{"--csv", "--geojson"}, "at most one"},
		{[]string{"--distance", "crow"}, "distance: must be straight (geodesic) or network (by road)"},
	} {
		err := run(ctx, append([]string{"rank", "--database-url", url}, bad.args...), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), bad.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line with %q", bad.args, err, bad.want)
		}
	}
}
