package server

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/lastmile/lastmile/layer"
)

var updateOGC = flag.Bool("update", false, "rewrite the golden files in testdata/ogc")

// golden compares got with ../testdata/ogc/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("..", "testdata", "ogc", name)
	if *updateOGC {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./server -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; if the change is intended, run go test ./server -run %s -update and review the diff", path, t.Name())
	}
}

// TestOpenAPIGolden pins the OpenAPI document generated from the default
// catalog: a catalog change shows up as a reviewable diff.
func TestOpenAPIGolden(t *testing.T) {
	doc := OpenAPI(layer.Default(), "http://localhost:8080/ogc", false)
	got, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "openapi.json", append(got, '\n'))
}

// Golden is golden for the tests of package server_test.
func Golden(t *testing.T, name string, got []byte) { golden(t, name, got) }
