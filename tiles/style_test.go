package tiles

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lastmile/lastmile/layer"
)

// TestStyle reads the style document of a tile set: its source is the
// set's TileJSON (filters kept), its layers draw every catalog layer with
// the catalog's colours, and MapLibre's style validator accepts it.
func TestStyle(t *testing.T) {
	h := newHarness(t, Options{})
	res := h.get("/tiles/villages,roads/style.json?status=completed")
	if res.status != 200 {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	var s struct {
		Version int
		Sources map[string]struct{ Type, URL string }
		Layers  []struct {
			ID, Type, Source string
			SourceLayer      string         `json:"source-layer"`
			Paint            map[string]any `json:"paint"`
			Metadata         map[string]any `json:"metadata"`
		}
		Metadata map[string]any
	}
	if err := json.Unmarshal(res.body, &s); err != nil {
		t.Fatal(err)
	}
	want := h.srv.URL + "/tiles/roads,villages.json?status=completed"
	if s.Version != 8 || s.Sources["lastmile"].URL != want || s.Sources["lastmile"].Type != "vector" {
		t.Errorf("version %d sources %+v, want the TileJSON %s", s.Version, s.Sources, want)
	}
	var ids []string
	for _, l := range s.Layers {
		ids = append(ids, l.ID)
		if l.ID != "background" && (l.Source != "lastmile" || l.SourceLayer != strings.Split(l.ID, "--")[0]) {
			t.Errorf("layer %s: source %s source-layer %s", l.ID, l.Source, l.SourceLayer)
		}
	}
	if got := strings.Join(ids, ","); got != "background,roads--casing,roads--line,roads--planned,villages--areas,villages--circle" {
		t.Errorf("layers %s", got)
	}
	// The surface colours are the catalog's.
	roads, _ := layer.Default().Layer("roads")
	surface, _ := roads.Field("surface")
	color := fmt.Sprint(s.Layers[2].Paint["line-color"])
	for _, v := range surface.Values {
		if !strings.Contains(color, "["+v.Code+"] "+v.Color) { // labels as arrays: QGIS 3.22 reads no other form
			t.Errorf("roads--line colour %s lacks %s %s", color, v.Code, v.Color)
		}
	}
	if res := h.get("/tiles/nope/style.json"); res.status != 404 {
		t.Errorf("unknown layer: %d", res.status)
	}
	if res := h.get("/tiles/roads/style.json?surface=gold"); res.status != 400 {
		t.Errorf("bad filter: %d", res.status)
	}
	// Every layer of the catalog, validated by MapLibre's style spec.
	all := h.get("/tiles/" + strings.Join(layer.Default().Names(), ",") + "/style.json")
	validateStyle(t, all.body)
}

// validateStyle runs @maplibre/maplibre-gl-style-spec's validator on a style.
func validateStyle(t *testing.T, style []byte) {
	t.Helper()
	spec, _ := filepath.Abs("../static/node_modules/@maplibre/maplibre-gl-style-spec/dist/index.mjs")
	if _, err := os.Stat(spec); err != nil {
		t.Fatalf("MapLibre's style spec is not installed (run scripts/setup, which runs npm ci in static/): %v", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found (run scripts/setup): %v", err)
	}
	file := filepath.Join(t.TempDir(), "style.json")
	os.WriteFile(file, style, 0o644)
	script := `import { validateStyleMin } from ` + strconvQuote("file://"+spec) + `;
import { readFileSync } from 'node:fs';
const errs = validateStyleMin(JSON.parse(readFileSync(process.argv[1], 'utf8')));
for (const e of errs) console.log(e.message);
process.exit(errs.length ? 1 : 0);`
	cmd := exec.Command(node, "--input-type=module", "-e", script, file)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("MapLibre's validator rejects the style: %v\n%s", err, out)
	}
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }
