package ingest

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/paulmach/osm"

	"github.com/lastmile/lastmile/layer"
)

// The importer reads enum spellings from the catalog, per field: every
// declared spelling of every value (code, labels, synonyms, in any case,
// as a CSV string or a JSON number) comes out as its code, and a spelling
// of one field's value does not leak into another field of the same name
// (power_upgrades.kind "line" is not a facilities.kind).
func TestEnumImportSpellings(t *testing.T) {
	cat := layer.Default()
	checked := 0
	for _, l := range cat.Layers() {
		for _, f := range l.Fields {
			if f.Type != layer.Enum {
				continue
			}
			for _, v := range f.Values {
				for _, s := range append([]string{v.Code, v.Label, v.LabelZH, strings.ToUpper(v.Code), " " + v.LabelZH}, v.Synonyms...) {
					checked++
					if got, _ := coerce(f, s); got != v.Code {
						t.Errorf("%s.%s: %q imports as %v, want %s", l.Name, f.Name, s, got, v.Code)
					}
				}
			}
		}
	}
	if checked < 300 {
		t.Errorf("checked %d spellings, the catalog declares more than 300", checked)
	}
	facility, _ := cat.Layer("facilities")
	kind, _ := facility.Field("kind")
	for _, s := range []string{"line", "变压器", "滑坡"} {
		if got, _ := coerce(kind, s); got != s {
			t.Errorf("facilities.kind %q imports as %v: another layer's kind leaked in", s, got)
		}
	}
	tg, _ := func() (layer.Field, bool) { r, _ := cat.Layer("roads"); return r.Field("tech_grade") }()
	if got, _ := coerce(tg, json.Number("2")); got != "class2" {
		t.Errorf("tech_grade JSON 2 imports as %v, want class2", got)
	}
}

// The OSM mapping stays tag logic in osm.go, but every code it produces is
// one the catalog declares: every highway × tracktype × surface combination,
// the power and amenity mappings, and every value in its tables.
func TestEnumOSMMapping(t *testing.T) {
	cat := layer.Default()
	check := func(what string, layerName string, props map[string]any) {
		t.Helper()
		l, ok := cat.Layer(layerName)
		if !ok {
			t.Errorf("%s: classified as %q, not a catalog layer", what, layerName)
			return
		}
		for k, v := range props {
			f, ok := l.Field(k)
			if !ok {
				t.Errorf("%s: property %s is not a field of %s", what, k, layerName)
				continue
			}
			if f.Type != layer.Enum {
				continue
			}
			if _, ok := f.Value(v.(string)); !ok {
				t.Errorf("%s: %s.%s = %q, which the catalog does not declare", what, layerName, k, v)
			}
		}
	}
	tracks := append([]string{""}, slices.Sorted(maps.Keys(osmTrackSurface))...)
	surfaces := append([]string{"", "unknown_value"}, slices.Sorted(maps.Keys(osmSurface))...)
	n := 0
	for _, hw := range slices.Sorted(maps.Keys(osmRoads)) {
		for _, tt := range tracks {
			for _, sf := range surfaces {
				tags := osm.Tags{{Key: "highway", Value: hw}, {Key: "tracktype", Value: tt}, {Key: "surface", Value: sf}}
				l, props, _ := classify(tags, true)
				check("highway="+hw+" tracktype="+tt+" surface="+sf, l, props)
				n++
			}
		}
	}
	for _, c := range []struct {
		tags  osm.Tags
		isWay bool
		layer string
	}{
		{osm.Tags{{Key: "power", Value: "line"}}, true, "power_upgrades"},
		{osm.Tags{{Key: "power", Value: "minor_line"}}, true, "power_upgrades"},
		{osm.Tags{{Key: "power", Value: "transformer"}}, false, "power_upgrades"},
		{osm.Tags{{Key: "man_made", Value: "pipeline"}, {Key: "substance", Value: "water"}}, true, "water_pipelines"},
		{osm.Tags{{Key: "place", Value: "village"}}, false, "villages"},
		{osm.Tags{{Key: "amenity", Value: "school"}}, false, "facilities"},
		{osm.Tags{{Key: "amenity", Value: "clinic"}}, false, "facilities"},
		{osm.Tags{{Key: "amenity", Value: "hospital"}}, true, "facilities"},
		{osm.Tags{{Key: "amenity", Value: "doctors"}}, false, "facilities"},
	} {
		l, props, _ := classify(c.tags, c.isWay)
		if l != c.layer {
			t.Errorf("%v: classified as %q, want %s", c.tags, l, c.layer)
		}
		check(c.tags.Map()["power"]+c.tags.Map()["amenity"]+c.tags.Map()["man_made"]+c.tags.Map()["place"], l, props)
		n++
	}
	roads, _ := cat.Layer("roads")
	for field, i := range map[string]int{"road_class": 0, "tech_grade": 1, "surface": 2} {
		f, _ := roads.Field(field)
		for hw, c := range osmRoads {
			if _, ok := f.Value(c[i]); !ok {
				t.Errorf("osmRoads[%s] %s = %q, not declared", hw, field, c[i])
			}
		}
	}
	surface, _ := roads.Field("surface")
	for k, v := range osmSurface {
		if _, ok := surface.Value(v); v != "" && !ok {
			t.Errorf("osmSurface[%s] = %q, not declared", k, v)
		}
	}
	for k, v := range osmTrackSurface {
		if _, ok := surface.Value(v); !ok {
			t.Errorf("osmTrackSurface[%s] = %q, not declared", k, v)
		}
	}
	if n < 2000 {
		t.Errorf("classified %d tag sets, want every combination", n)
	}
}
