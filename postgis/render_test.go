package postgis_test

import (
	"encoding/json"
	"iter"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile/postgis"
)

// page reads one page of l's features as their raw GeoJSON.
func page(t *testing.T, store *postgis.Store, layerName string, q postgis.ItemsQuery) (int, []string) {
	t.Helper()
	l, err := store.Layer(layerName)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var matched int
	err = store.Items(t.Context(), l, q, func(n int, fs iter.Seq2[[]byte, error]) error {
		matched = n
		for b, err := range fs {
			if err != nil {
				return err
			}
			out = append(out, string(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return matched, out
}

// TestFeatureJSONTypes: what QGIS and GDAL guess a field's type from. A
// whole number field value is written with a decimal point (8.0: a reader
// typing the field from it sees a real, and the next 7.5 is not lost), any
// other exactly as the double it is; money keeps its two decimals; props
// (an object) is its JSON text, a string.
func TestFeatureJSONTypes(t *testing.T) {
	store, ctx, _ := newStore(t)
	tenth := 0.1 // a variable: 0.1 + 0.2 in constants is exactly 0.3
	widths := []float64{8, 7.25, 0, tenth + 0.2, 100, 1e-05}
	var ids []int64
	for i, w := range widths {
		f, err := store.Create(ctx, "roads", map[string]any{"name": "r" + strconv.Itoa(i), "status": "completed", "width_m": w,
			"funding_yuan": 1500000.0, "props": map[string]any{"route": "X010", "lanes": 2}}, road)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, f.ID)
	}
	_, got := page(t, store, "roads", postgis.ItemsQuery{Limit: 100})
	if len(got) != len(widths) {
		t.Fatalf("%d features, want %d", len(got), len(widths))
	}
	width := regexp.MustCompile(`"width_m" : ([^,}]*)`)
	wantText := []string{"8.0", "7.25", "0.0", "0.30000000000000004", "100.0", "1e-05"}
	for i, b := range got {
		m := width.FindStringSubmatch(b)
		if m == nil || m[1] != wantText[i] {
			t.Errorf("feature %d: width_m written %q, want %s", i, m, wantText[i])
		}
		// The text reads back as the stored double, exactly.
		if v, err := strconv.ParseFloat(m[1], 64); err != nil || v != widths[i] {
			t.Errorf("feature %d: width_m %q reads back as %v, stored %v", i, m[1], v, widths[i])
		}
		if !strings.Contains(b, `"funding_yuan" : 1500000.00`) {
			t.Errorf("feature %d: funding_yuan not written with its decimals: %s", i, b)
		}
		// length_m too: always a real.
		if l := regexp.MustCompile(`"length_m" : ([0-9.e+-]+)`).FindStringSubmatch(b); l == nil || !strings.ContainsAny(l[1], ".e") {
			t.Errorf("feature %d: length_m %v is not written as a real", i, l)
		}
		var f struct{ Properties map[string]any }
		if err := json.Unmarshal([]byte(b), &f); err != nil {
			t.Fatal(err)
		}
		text, ok := f.Properties["props"].(string)
		var props map[string]any
		if !ok || json.Unmarshal([]byte(text), &props) != nil || props["route"] != "X010" || props["lanes"] != 2.0 {
			t.Errorf("feature %d: props = %#v, want the JSON text of {route: X010, lanes: 2}", i, f.Properties["props"])
		}
	}
	// The single feature is the same rendering.
	one, err := store.Get(ctx, "roads", ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if string(one.JSON) != got[0] {
		t.Errorf("Get renders\n%s\nItems renders\n%s", one.JSON, got[0])
	}
	// A whole number at 1e15 and beyond is written in exponent form, still a real.
	if _, err := store.Create(ctx, "power_upgrades", map[string]any{"status": "planned", "kind": "transformer", "capacity_kva": 2e15}, orb.Point{117.1, 37.2}); err != nil {
		t.Fatal(err)
	}
	_, pw := page(t, store, "power_upgrades", postgis.ItemsQuery{Limit: 10})
	if len(pw) != 1 || !strings.Contains(pw[0], `"capacity_kva" : 2e+15`) {
		t.Errorf("capacity 2e15 written as %v", pw)
	}
}

// TestItemsKindsAndSortBy: a per-kind read keeps only its geometry kinds
// (counted against PostGIS's own ST_GeometryType); sortby orders by the
// keys, NULLs last, with id breaking ties so pages never overlap.
func TestItemsKindsAndSortBy(t *testing.T) {
	store, ctx, _ := newStore(t)
	for i := 0; i < 3; i++ {
		if _, err := store.Create(ctx, "power_upgrades", map[string]any{"status": "planned", "kind": "line", "voltage_kv": 10.0}, road); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2; i++ {
		if _, err := store.Create(ctx, "power_upgrades", map[string]any{"status": "planned", "kind": "transformer", "capacity_kva": 200.0}, orb.Point{117.1 + float64(i)/100, 37.2}); err != nil {
			t.Fatal(err)
		}
	}
	n, pts := page(t, store, "power_upgrades", postgis.ItemsQuery{Limit: 100, Kinds: []string{"Point", "MultiPoint"}})
	if n != 2 || len(pts) != 2 {
		t.Errorf("points: matched %d, returned %d; want 2", n, len(pts))
	}
	for _, b := range pts {
		if !strings.Contains(b, `"type":"Point"`) {
			t.Errorf("a point page holds %s", b)
		}
	}
	if n, _ := page(t, store, "power_upgrades", postgis.ItemsQuery{Limit: 100, Kinds: []string{"LineString", "MultiLineString"}}); n != 3 {
		t.Errorf("lines matched %d, want 3", n)
	}

	// Sorting: widths with ties and NULLs.
	widths := []any{5.0, nil, 3.0, 5.0, 4.0, nil, 3.0}
	for i, w := range widths {
		if _, err := store.Create(ctx, "roads", map[string]any{"name": "s" + strconv.Itoa(i), "status": "completed", "width_m": w}, road); err != nil {
			t.Fatal(err)
		}
	}
	order := func(q postgis.ItemsQuery) []string {
		var out []string
		for off := 0; ; off += 2 { // pages of 2: ties must not repeat or skip a row
			q.Limit, q.Offset = 2, off
			_, p := page(t, store, "roads", q)
			if len(p) == 0 {
				return out
			}
			for _, b := range p {
				var f struct {
					ID         int64
					Properties struct {
						Name  string
						Width *float64 `json:"width_m"`
					}
				}
				json.Unmarshal([]byte(b), &f)
				w := "null"
				if f.Properties.Width != nil {
					w = strconv.FormatFloat(*f.Properties.Width, 'f', -1, 64)
				}
				out = append(out, f.Properties.Name+"="+w)
			}
		}
	}
	asc := strings.Join(order(postgis.ItemsQuery{SortBy: []postgis.Sort{{Field: "width_m"}}}), " ")
	if want := "s2=3 s6=3 s4=4 s0=5 s3=5 s1=null s5=null"; asc != want {
		t.Errorf("sortby=width_m: %s, want %s", asc, want)
	}
	desc := strings.Join(order(postgis.ItemsQuery{SortBy: []postgis.Sort{{Field: "width_m", Desc: true}, {Field: "name", Desc: true}}}), " ")
	if want := "s3=5 s0=5 s4=4 s6=3 s2=3 s5=null s1=null"; desc != want {
		t.Errorf("sortby=-width_m,-name: %s, want %s", desc, want)
	}
	byID := order(postgis.ItemsQuery{SortBy: []postgis.Sort{{Field: "id", Desc: true}}})
	if len(byID) != len(widths) || byID[0] != "s6=3" || byID[len(byID)-1] != "s0=5" {
		t.Errorf("sortby=-id: %v", byID)
	}
}
