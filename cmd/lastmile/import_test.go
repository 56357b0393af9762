package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lastmile/lastmile/postgis/pgtest"
)

func TestImportCommand(t *testing.T) {
	url := pgtest.URL(t)
	fixtures := "../../testdata/ingest/"
	tests := []struct {
		name    string
		args    []string
		wantErr string
		want    []string
	}{
		{"GeoJSON", []string{"--layer", "roads", fixtures + "roads.geojson"},
			"", []string{"imported in", "roads.geojson", "roads                      3         3         0         0", "warning: roads.geojson: coordinates have more than 2 dimensions"}},
		{"again: unchanged", []string{"--layer", "roads", fixtures + "roads.geojson"},
			"", []string{"roads                      3         0         0         3"}},
		{"rejected", []string{"--layer", "roads", fixtures + "roads_bad.geojson"},
			"6 rows are invalid; nothing was imported", []string{"NOT imported", "problem: row 2: surface: must be one of"}},
		{"truncated", []string{"--layer", "roads", fixtures + "roads_truncated.geojson"},
			"the file cannot be read", []string{"NOT imported", "problem: row 1: ", "the JSON is truncated"}},
		{"GCJ-02 CSV", []string{"--layer", "facilities", "--crs", "GCJ-02", fixtures + "facilities_gcj02.csv"},
			"", []string{"facilities                 5         5"}},
		{"OSM, villages only", []string{"--layer", "villages", "--osm", "../../../shared/data/osm/liechtenstein-2013-08-03.osm.pbf"},
			"", []string{"villages                  16        16"}},
		{"unknown layer", []string{"--layer", "bridges", fixtures + "roads.geojson"}, `unknown layer "bridges"`, nil},
		{"no layer", []string{fixtures + "roads.geojson"}, "--layer is required", nil},
		{"bad crs", []string{"--layer", "roads", "--crs", "mars", fixtures + "roads.geojson"}, "unknown coordinate system", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), append([]string{"import", "--database-url", url}, tt.args...), &out)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q\n%s", err, tt.wantErr, out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}

	var out bytes.Buffer
	if err := run(context.Background(), []string{"import", "--database-url", url, "--layer", "roads", "--dry-run", "--json", fixtures + "roads.geojsonl"}, &out); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Committed bool `json:"committed"`
		DryRun    bool `json:"dry_run"`
		Layers    []struct {
			Inserted int `json:"inserted"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Committed || !rep.DryRun || rep.Layers[0].Inserted != 2 {
		t.Fatalf("--dry-run --json: %v %+v\n%s", err, rep, out.String())
	}
}

// TestImportNothingRead: a file with no features imports nothing and says so.
func TestImportNothingRead(t *testing.T) {
	url := pgtest.URL(t)
	file := filepath.Join(t.TempDir(), "empty.geojson")
	if err := os.WriteFile(file, []byte(`{"type": "FeatureCollection", "features": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"import", "--database-url", url, "--layer", "roads", file}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "warning: empty.geojson: no features were read") {
		t.Errorf("no warning for a file without features:\n%s", out.String())
	}
}
