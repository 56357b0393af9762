package static

import (
	"encoding/json"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/rank"
)

// /app/catalog.json carries every enum value of every layer's field as the
// catalog declares it (code, labels, synonyms, colour, width, opacity), and
// the ranking's defaults as the ranking code fills them in.
func TestCatalogDocument(t *testing.T) {
	w := get(t, router(New()), "/app/catalog.json")
	if w.Code != http.StatusOK {
		t.Fatalf("GET /app/catalog.json: %d", w.Code)
	}
	var doc struct {
		layer.Document
		Ranking struct {
			Factors     []string                  `json:"factors"`
			Weights     map[string]float64        `json:"weights"`
			Constraints map[string]map[string]any `json:"constraints"`
			Limit       int                       `json:"limit"`
			CellM       float64                   `json:"cell_m"`
		} `json:"ranking"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	cat := layer.Default()
	values := 0
	for _, dl := range doc.Layers {
		l, ok := cat.Layer(dl.Name)
		if !ok {
			t.Errorf("document layer %s not in the catalog", dl.Name)
			continue
		}
		for _, df := range dl.Fields {
			f, _ := l.Field(df.Name)
			if f.Type != layer.Enum {
				continue
			}
			if len(df.Values) != len(f.Values) {
				t.Errorf("%s.%s: %d values served, %d declared", dl.Name, df.Name, len(df.Values), len(f.Values))
				continue
			}
			for i, v := range f.Values {
				values++
				want := layer.DocValue{Code: v.Code, Label: v.Label, LabelZH: v.LabelZH, Synonyms: v.Synonyms, Color: v.Color, Width: v.Width, Opacity: v.Opacity}
				if got := df.Values[i]; got.Code != want.Code || got.Label != want.Label || got.LabelZH != want.LabelZH ||
					got.Color != want.Color || got.Width != want.Width || got.Opacity != want.Opacity || !slices.Equal(got.Synonyms, want.Synonyms) {
					t.Errorf("%s.%s value %d: served %+v, declared %+v", dl.Name, df.Name, i, got, want)
				}
			}
		}
	}
	if len(doc.Layers) != len(cat.Layers()) || values < 50 {
		t.Errorf("document: %d layers, %d enum values; catalog has %d layers and more than 50 values", len(doc.Layers), values, len(cat.Layers()))
	}
	if !slices.Equal(doc.Hardened, layer.HardenedSurfaces) || doc.Definitions["all_season"] != layer.AllSeason.Description {
		t.Errorf("definitions served: hardened %v, all_season %q", doc.Hardened, doc.Definitions["all_season"])
	}
	// The ranking's defaults, independently: what an empty request is parsed to.
	req, err := rank.ParseRequest(nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{rank.FactorRoad, rank.FactorWater, rank.FactorPower, rank.FactorSchool, rank.FactorClinic, rank.FactorPopulation}; !slices.Equal(doc.Ranking.Factors, want) {
		t.Errorf("ranking factors %v, want %v", doc.Ranking.Factors, want)
	}
	for _, f := range doc.Ranking.Factors {
		if doc.Ranking.Weights[f] != req.Weights.Get(f) {
			t.Errorf("ranking weight %s = %g, the ranking's default is %g", f, doc.Ranking.Weights[f], req.Weights.Get(f))
		}
	}
	if c := doc.Ranking.Constraints["hazard"]; c["enabled"] != true || c["buffer_m"] != req.Constraint(rank.ConstraintHazard).Limit {
		t.Errorf("ranking hazard constraint %v, want enabled with buffer_m %g", c, req.Constraint(rank.ConstraintHazard).Limit)
	}
	if doc.Ranking.Limit != req.Limit || doc.Ranking.CellM != rank.DefaultCellM {
		t.Errorf("ranking limit %d, cell %g; want %d, %g", doc.Ranking.Limit, doc.Ranking.CellM, req.Limit, rank.DefaultCellM)
	}
}

// Codes the page may name because they carry behaviour, not presentation
// (each must stay declared): what is drawn dashed and counts as done, the
// county wash and the admin legend, and what a road drawn on the page
// starts as.
var pageCodes = map[string][]string{
	"status":     {"planned", "under_construction", "completed"},
	"level":      {"county", "township"},
	"road_class": {"village"},
	"surface":    {"cement"},
}

// Fields whose codes are words the page's own vocabulary uses too
// (MapLibre's "line" layers, the "village" layer, "high" of nothing): their
// quoted codes are not searched for; their labels and colours are.
var vocabularyFields = []string{"status", "level", "road_class", "kind", "severity", "danger_grade", "work"}

var jsString = regexp.MustCompile(`'([^'\\\n]*)'|"([^"\\\n]*)"`)

// The page declares no enum label, colour or code list and no ranking
// default of its own: they come from /app/catalog.json. Every module is
// served as JavaScript and every import resolves to a served module.
func TestPageDeclaresNoEnums(t *testing.T) {
	p := New()
	cat := layer.Default()
	var modules []string
	for name := range p.files {
		if strings.HasSuffix(name, ".js") {
			modules = append(modules, name)
		}
	}
	slices.Sort(modules)
	if len(modules) < 8 || !slices.Contains(modules, "main.js") {
		t.Fatalf("page modules %v: want main.js and one module per component", modules)
	}
	r := router(p)
	importRE := regexp.MustCompile(`(?m)(?:^import|^export)[^'"\n]*from '(\./[^']+)'|^import '(\./[^']+)'`)
	for _, name := range modules {
		if w := get(t, r, "/app/"+name); w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/javascript") {
			t.Errorf("/app/%s: %d %q, want 200 text/javascript", name, w.Code, w.Header().Get("Content-Type"))
		}
		src := string(p.files[name].body)
		for _, m := range importRE.FindAllStringSubmatch(src, -1) {
			dep := path.Clean(m[1] + m[2])
			if _, ok := p.files[dep]; !ok {
				t.Errorf("%s imports %s, which the page does not serve", name, dep)
			}
		}
		strs := map[string]bool{}
		for _, m := range jsString.FindAllStringSubmatch(src, -1) {
			strs[m[1]+m[2]] = true
		}
		lower := strings.ToLower(src)
		for _, l := range cat.Layers() {
			for _, f := range l.Fields {
				for _, v := range f.Values {
					at := name + ": " + l.Name + "." + f.Name + "=" + v.Code
					if strs[v.LabelZH] {
						t.Errorf("%s: Chinese label %q declared in the page", at, v.LabelZH)
					}
					if v.Label != v.Code && strs[v.Label] {
						t.Errorf("%s: English label %q declared in the page", at, v.Label)
					}
					if v.Color != "" && strings.Contains(lower, strings.ToLower(v.Color)) {
						t.Errorf("%s: colour %s declared in the page", at, v.Color)
					}
					if strs[v.Code] && !slices.Contains(pageCodes[f.Name], v.Code) && !slices.Contains(vocabularyFields, f.Name) {
						t.Errorf("%s: code '%s' named in the page (labels, colours and lists come from /app/catalog.json)", at, v.Code)
					}
				}
			}
		}
		if m := regexp.MustCompile(`\b(road|water|power|school|clinic|population)\s*:\s*0?\.\d`).FindString(src); m != "" {
			t.Errorf("%s: a ranking weight declared in the page (%s): it comes from /app/catalog.json ranking.weights", name, m)
		}
	}
	for field, codes := range pageCodes {
		for _, c := range codes {
			found := false
			for _, l := range cat.Layers() {
				if f, ok := l.Field(field); ok {
					_, found = f.Value(c)
					break
				}
			}
			if !found {
				t.Errorf("the page names %s=%s, which the catalog no longer declares", field, c)
			}
		}
	}
}
