package tiles

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/maptile"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/tiles")

func TestMain(m *testing.M) { pgtest.Main(m) }

// harness is a tile service on a fresh database holding the fixture, behind
// a test HTTP server.
type harness struct {
	t       testing.TB
	pool    *pgxpool.Pool
	catalog *layer.Catalog
	svc     *Service
	srv     *httptest.Server
	client  *http.Client
}

func newHarness(t testing.TB, opts Options) *harness {
	t.Helper()
	pool := pgtest.New(t)
	fixture, err := os.ReadFile("../testdata/tiles/fixture.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(context.Background(), string(fixture)); err != nil {
		t.Fatalf("loading fixture: %v", err)
	}
	h := &harness{t: t, pool: pool, catalog: layer.Default()}
	h.svc = New(pool, h.catalog, slog.New(slog.NewTextHandler(io.Discard, nil)), opts)
	r := mux.NewRouter()
	h.svc.Register(r)
	h.srv = httptest.NewServer(r)
	t.Cleanup(h.srv.Close)
	// No transparent gzip: the tests look at the encoding themselves.
	h.client = &http.Client{Transport: &http.Transport{DisableCompression: true}}
	return h
}

// response is a finished HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

// get fetches path with the headers (name, value pairs).
func (h *harness) get(path string, headers ...string) response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.srv.URL+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: body}
}

// tileAt returns the z/x/y path part of the tile holding lon/lat.
func tileAt(lon, lat float64, z int) maptile.Tile {
	return maptile.At(orb.Point{lon, lat}, maptile.Zoom(z))
}

func tilePath(layers string, tl maptile.Tile, query string) string {
	p := fmt.Sprintf("/tiles/%s/%d/%d/%d.mvt", layers, tl.Z, tl.X, tl.Y)
	if query != "" {
		p += "?" + query
	}
	return p
}

// decoded is a tile as GeoJSON: one feature collection per MVT layer, in
// tile order, coordinates in lon/lat rounded to 6 decimals.
type decoded struct {
	Layer    string                     `json:"layer"`
	Version  uint32                     `json:"version"`
	Extent   uint32                     `json:"extent"`
	Features *geojson.FeatureCollection `json:"features"`
}

func decodeTile(t *testing.T, raw []byte, tl maptile.Tile) []decoded {
	t.Helper()
	layers, err := mvt.Unmarshal(raw)
	if err != nil {
		t.Fatalf("decoding tile %v: %v", tl, err)
	}
	layers.ProjectToWGS84(tl)
	var out []decoded
	for _, l := range layers {
		fc := geojson.NewFeatureCollection()
		for _, f := range l.Features {
			f.Geometry = orb.Round(f.Geometry, 1e6)
			fc.Append(f)
		}
		out = append(out, decoded{Layer: l.Name, Version: l.Version, Extent: l.Extent, Features: fc})
	}
	return out
}

// golden compares got with testdata/tiles/name.json, rewriting it with -update.
func golden(t *testing.T, name string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := filepath.Join("..", "testdata", "tiles", name+".json")
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./tiles -run %s -update)", err, t.Name())
	}
	if !bytes.Equal(want, b) {
		t.Errorf("tile differs from %s (go test ./tiles -update rewrites it):\n%s", path, diffLines(string(want), string(b)))
	}
}

// diffLines shows the first differing lines.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, a, b)
		}
	}
	return ""
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("body is not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTileGolden(t *testing.T) {
	h := newHarness(t, Options{CacheBytes: 1 << 20})
	tests := []struct {
		name   string
		layers string
		tile   maptile.Tile
		query  string
	}{
		{"roads-z14", "roads", tileAt(106.63, 26.605, 14), ""},
		{"roads-villages-z12", "roads,villages", tileAt(106.63, 26.605, 12), ""},
		{"all-z10", "roads,water_pipelines,power_upgrades,house_renovations,relocation_sites,villages,admin_areas,hazard_zones,facilities",
			tileAt(106.63, 26.605, 10), ""},
		{"villages-z8-townships", "villages", tileAt(106.63, 26.605, 8), ""},
		{"villages-z5-counties", "villages", tileAt(106.63, 26.605, 5), ""},
		{"admin-z5-simplified", "admin_areas", tileAt(106.63, 26.605, 5), ""},
		{"roads-z12-asphalt-or-cement", "roads", tileAt(106.63, 26.605, 12), "surface=cement,asphalt"},
		{"roads-z12-completed-before-2016", "roads", tileAt(106.63, 26.605, 12), "completed_before=2016-01-01&status=completed"},
		{"sites-hazards-power-z13", "relocation_sites,hazard_zones,power_upgrades", tileAt(106.65, 26.62, 13), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := h.get(tilePath(tc.layers, tc.tile, tc.query), "Accept-Encoding", "gzip")
			if res.status != http.StatusOK {
				t.Fatalf("status %d: %s", res.status, res.body)
			}
			if ct := res.header.Get("Content-Type"); ct != ContentType {
				t.Errorf("Content-Type = %q", ct)
			}
			if ce := res.header.Get("Content-Encoding"); ce != "gzip" {
				t.Fatalf("Content-Encoding = %q, want gzip", ce)
			}
			golden(t, tc.name, decodeTile(t, gunzip(t, res.body), tc.tile))
		})
	}
}

// TestTileContent checks, independently of the golden files, what the
// fixture tiles must carry.
func TestTileContent(t *testing.T) {
	h := newHarness(t, Options{})
	props := func(layers string, tl maptile.Tile, query string) map[string][]geojson.Properties {
		t.Helper()
		res := h.get(tilePath(layers, tl, query))
		out := map[string][]geojson.Properties{}
		if res.status == http.StatusNoContent {
			return out
		}
		if res.status != http.StatusOK {
			t.Fatalf("%s: status %d: %s", layers, res.status, res.body)
		}
		for _, d := range decodeTile(t, res.body, tl) {
			for _, f := range d.Features.Features {
				// a row has its id; an overview feature (with its count
				// of rows) none
				_, overview := f.Properties[map[string]string{"roads": "roads", "villages": "villages"}[d.Layer]]
				if overview != (f.ID == nil) {
					t.Errorf("%s feature %v: id %v (an overview feature has none, a row its own)", d.Layer, f.Properties, f.ID)
				}
				out[d.Layer] = append(out[d.Layer], f.Properties)
			}
		}
		return out
	}
	tests := []struct {
		name, layers, query string
		tile                maptile.Tile
		want                map[string][]string // layer → names, in tile order
	}{
		{"roads by length", "roads", "", tileAt(106.63, 26.605, 12),
			map[string][]string{"roads": {"County road A", "Village road B", "Group road C"}}},
		{"roads under a pixel dropped", "roads", "completed_after=2000-01-01", tileAt(106.63, 26.605, 10), // from the rows: C spans 45 m, a z10 pixel 76 m
			map[string][]string{"roads": {"County road A"}}},
		{"overview lines at z10: county, township and village roads", "roads", "", tileAt(106.63, 26.605, 10),
			map[string][]string{"roads": {"county", "village"}}},
		{"all roads at max zoom", "roads", "", tileAt(106.65, 26.61, 14),
			map[string][]string{"roads": {"County road A", "Group road C"}}},
		{"surface filter", "roads", "surface=cement", tileAt(106.63, 26.605, 12),
			map[string][]string{"roads": {"Village road B"}}},
		{"completed filters", "roads", "completed_after=2015-06-30&completed_before=2015-07-01", tileAt(106.63, 26.605, 12),
			map[string][]string{"roads": {"County road A"}}},
		{"width range", "roads", "width_m_min=4&width_m_max=5", tileAt(106.63, 26.605, 12),
			map[string][]string{"roads": {"Village road B"}}},
		{"boolean filter applies to villages only", "roads,villages", "is_poor_village=true", tileAt(106.63, 26.605, 12),
			map[string][]string{"roads": {"County road A", "Village road B", "Group road C"}, "villages": {"Shangzhai", "Hexi"}}},
		{"villages counted per township below z10", "villages", "", tileAt(106.63, 26.605, 8),
			map[string][]string{"villages": {"522301100000"}}},
		{"villages counted per county below z8", "villages", "", tileAt(106.63, 26.605, 5),
			map[string][]string{"villages": {"522301000000"}}},
		{"villages of 1000 people or more at z10", "villages", "", tileAt(106.63, 26.605, 10),
			map[string][]string{"villages": {"Shangzhai"}}},
		{"villages all at z12", "villages", "", tileAt(106.63, 26.605, 12),
			map[string][]string{"villages": {"Shangzhai", "Xiazhai", "Hexi"}}},
		{"layer below its min zoom is absent; village road from z10", "roads,facilities", "", tileAt(106.63, 26.605, 9),
			map[string][]string{"roads": {"county"}}},
		{"enum filter matching nothing", "roads", "status=cancelled", tileAt(106.63, 26.605, 12),
			map[string][]string{}},
		{"cql2 filter", "roads", "filter=" + url.QueryEscape("surface = 'cement' OR completed_on < DATE('2015-07-01')"), tileAt(106.63, 26.605, 12),
			map[string][]string{"roads": {"County road A", "Village road B"}}},
		{"cql2 filter like", "roads", "filter=" + url.QueryEscape("name LIKE 'Group%'"), tileAt(106.65, 26.61, 14),
			map[string][]string{"roads": {"Group road C"}}},
		{"cql2 filter applies to the layers with its queryables", "roads,villages", "filter=" + url.QueryEscape("is_poor_village = TRUE"), tileAt(106.63, 26.605, 12),
			map[string][]string{"roads": {"County road A", "Village road B", "Group road C"}, "villages": {"Shangzhai", "Hexi"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := props(tc.layers, tc.tile, tc.query)
			names := map[string][]string{}
			for l, ps := range got {
				for _, p := range ps {
					key := "name"
					switch {
					case p["level"] != nil:
						key = "code" // a count point of the villages overview
					case p["roads"] != nil:
						key = "road_class" // a merged line of the roads overview
					}
					names[l] = append(names[l], p.MustString(key, ""))
				}
			}
			if fmt.Sprint(names) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", names, tc.want)
			}
		})
	}
	// Properties are the tile fields only, typed; dates as text.
	got := props("roads", tileAt(106.63, 26.605, 14), "")
	a := got["roads"][0]
	want := geojson.Properties{"name": "County road A", "status": "completed", "completed_on": "2015-06-30",
		"road_class": "county", "tech_grade": "class3", "surface": "asphalt"}
	if fmt.Sprint(a) != fmt.Sprint(want) {
		t.Errorf("road properties = %v, want %v", a, want)
	}
	v := props("villages", tileAt(106.6305, 26.6051, 14), "")["villages"][0]
	if v["population"] != float64(1200) || v["is_poor_village"] != true || v["code"] != "522301100201" {
		t.Errorf("village properties = %v", v)
	}
}

func TestTileErrors(t *testing.T) {
	h := newHarness(t, Options{})
	tests := []struct {
		name   string
		path   string
		status int
		want   string // in the error message or details
	}{
		{"unknown layer", "/tiles/rivers/10/800/400.mvt", 404, `no tile layer \"rivers\"`},
		{"one unknown layer of two", "/tiles/roads,rivers/10/800/400.mvt", 404, "rivers"},
		{"empty layer name", "/tiles/roads,/10/800/400.mvt", 404, "no tile layer"},
		{"zoom too high", "/tiles/roads/23/0/0.mvt", 400, "0 to 22"},
		{"negative zoom", "/tiles/roads/-1/0/0.mvt", 400, "0 to 22"},
		{"x outside the zoom", "/tiles/roads/2/4/0.mvt", 400, `"field":"x"`},
		{"y outside the zoom", "/tiles/roads/2/0/4.mvt", 400, `"field":"y"`},
		{"x not a number", "/tiles/roads/2/a/0.mvt", 400, `"field":"x"`},
		{"leading zero", "/tiles/roads/2/01/0.mvt", 400, `"field":"x"`},
		{"huge number", "/tiles/roads/2/99999999999999999999999/0.mvt", 400, `"field":"x"`},
		{"bad format", "/tiles/roads/2/1/1.png", 400, "{y}.mvt or {y}.pbf"},
		{"no format", "/tiles/roads/2/1/1", 400, "{y}.mvt or {y}.pbf"},
		{"unknown filter", "/tiles/roads/12/3310/1730.mvt?colour=red", 400, `"field":"colour"`},
		{"filter of another layer", "/tiles/roads/12/3310/1730.mvt?population_min=5", 400, "population_min"},
		{"bad enum value", "/tiles/roads/12/3310/1730.mvt?surface=gold", 400, "must be one of " + strings.Join(layer.Surfaces, ", ")},
		{"bad date", "/tiles/roads/12/3310/1730.mvt?completed_before=2016-13-01", 400, "YYYY-MM-DD"},
		{"bad number", "/tiles/roads/12/3310/1730.mvt?width_m_min=wide", 400, "must be a number"},
		{"empty range", "/tiles/roads/12/3310/1730.mvt?width_m_min=5&width_m_max=4", 400, "nothing can match"},
		{"tilejson unknown layer", "/tiles/rivers.json", 404, "rivers"},
		{"tilejson bad filter", "/tiles/roads.json?status=gone", 400, "must be one of"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := h.get(tc.path)
			if res.status != tc.status {
				t.Fatalf("status %d, want %d: %s", res.status, tc.status, res.body)
			}
			if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want JSON", ct)
			}
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(res.body, &body); err != nil || body.Error.Message == "" {
				t.Fatalf("not a JSON error: %s", res.body)
			}
			if !strings.Contains(string(res.body), tc.want) {
				t.Errorf("body %s does not mention %q", res.body, tc.want)
			}
		})
	}
}

func TestEmptyTiles(t *testing.T) {
	h := newHarness(t, Options{CacheBytes: 1 << 20})
	tests := []struct {
		name string
		path string
	}{
		{"no data there", "/tiles/roads/14/0/0.mvt"},
		{"below the layer's min zoom", tilePath("facilities", tileAt(106.63, 26.605, 9), "")},
		{"zoom 0 without admin areas", "/tiles/roads/0/0/0.pbf"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, want := range []string{"MISS", "HIT"} {
				res := h.get(tc.path, "Accept-Encoding", "gzip")
				if res.status != http.StatusNoContent || len(res.body) != 0 {
					t.Fatalf("status %d with %d bytes, want 204 and no body", res.status, len(res.body))
				}
				if res.header.Get("ETag") == "" || res.header.Get("X-Cache") != want {
					t.Errorf("ETag %q X-Cache %q, want an ETag and %s", res.header.Get("ETag"), res.header.Get("X-Cache"), want)
				}
			}
		})
	}
}

func TestCacheHeaders(t *testing.T) {
	h := newHarness(t, Options{CacheBytes: 1 << 20, CacheControl: "public, max-age=5"})
	path := tilePath("roads,villages", tileAt(106.63, 26.605, 13), "")

	first := h.get(path, "Accept-Encoding", "gzip, deflate, br")
	if first.status != 200 || first.header.Get("X-Cache") != "MISS" || first.header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("first: %d %v", first.status, first.header)
	}
	second := h.get(path, "Accept-Encoding", "gzip")
	if second.header.Get("X-Cache") != "HIT" || !bytes.Equal(first.body, second.body) {
		t.Fatalf("second: X-Cache %q, same body %v", second.header.Get("X-Cache"), bytes.Equal(first.body, second.body))
	}
	plain := h.get(path)
	if plain.header.Get("Content-Encoding") != "" || !bytes.Equal(plain.body, gunzip(t, first.body)) {
		t.Fatalf("without Accept-Encoding: encoding %q, body equal to the decompressed tile: %v",
			plain.header.Get("Content-Encoding"), bytes.Equal(plain.body, gunzip(t, first.body)))
	}
	if plain.header.Get("Content-Length") != fmt.Sprint(len(plain.body)) {
		t.Errorf("Content-Length %q for %d bytes", plain.header.Get("Content-Length"), len(plain.body))
	}
	refused := h.get(path, "Accept-Encoding", "gzip;q=0, identity")
	if refused.header.Get("Content-Encoding") != "" || !bytes.Equal(refused.body, plain.body) {
		t.Errorf("gzip;q=0 got encoding %q", refused.header.Get("Content-Encoding"))
	}
	for _, res := range []response{first, second, plain} {
		if res.header.Get("Cache-Control") != "public, max-age=5" || res.header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("Cache-Control %q Vary %q", res.header.Get("Cache-Control"), res.header.Get("Vary"))
		}
	}
	gzTag, plainTag := first.header.Get("ETag"), plain.header.Get("ETag")
	if gzTag == "" || plainTag == "" || gzTag == plainTag || second.header.Get("ETag") != gzTag {
		t.Fatalf("ETags: gzip %q, again %q, plain %q", gzTag, second.header.Get("ETag"), plainTag)
	}
	for _, tc := range []struct {
		name, inm string
		status    int
	}{
		{"gzip tag", gzTag, 304},
		{"plain tag", plainTag, 304},
		{"weak tag in a list", `"nope", W/` + plainTag, 304},
		{"star", "*", 304},
		{"other tag", `"0123"`, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := h.get(path, "If-None-Match", tc.inm, "Accept-Encoding", "gzip")
			if res.status != tc.status {
				t.Fatalf("status %d, want %d", res.status, tc.status)
			}
			if tc.status == 304 && (len(res.body) != 0 || res.header.Get("ETag") != gzTag) {
				t.Errorf("304 with %d bytes and ETag %q", len(res.body), res.header.Get("ETag"))
			}
		})
	}
	// Filters normalise: the same filters in another order and spelling hit.
	a := h.get(tilePath("roads", tileAt(106.63, 26.605, 13), "surface=asphalt,cement&status=completed"))
	b := h.get(tilePath("roads", tileAt(106.63, 26.605, 13), "status=completed&surface=cement&surface=asphalt,cement"))
	if a.header.Get("X-Cache") != "MISS" || b.header.Get("X-Cache") != "HIT" || !bytes.Equal(a.body, b.body) {
		t.Errorf("normalised filters: %s then %s", a.header.Get("X-Cache"), b.header.Get("X-Cache"))
	}
	// A filtered tile has its own key.
	c := h.get(tilePath("roads", tileAt(106.63, 26.605, 13), "status=completed"))
	if c.header.Get("X-Cache") != "MISS" {
		t.Errorf("other filters: X-Cache %s", c.header.Get("X-Cache"))
	}
	// Layer order and repetition do not matter.
	d := h.get(tilePath("villages,roads,villages", tileAt(106.63, 26.605, 13), ""), "Accept-Encoding", "gzip")
	if d.header.Get("X-Cache") != "HIT" || !bytes.Equal(d.body, first.body) {
		t.Errorf("villages,roads: X-Cache %s", d.header.Get("X-Cache"))
	}
	if st := h.svc.Stats(); st.Tiles != 3 || st.Bytes <= 0 || st.Bytes > 1<<20 {
		t.Errorf("cache stats %+v, want 3 tiles", st)
	}
}

// TestInvalidateOnEdit edits a road through the store and checks that the
// tiles over it are regenerated at every zoom while a tile elsewhere stays
// cached.
func TestInvalidateOnEdit(t *testing.T) {
	h := newHarness(t, Options{CacheBytes: 1 << 20})
	store := postgis.NewStore(h.pool, h.catalog)
	store.OnChange(h.svc.Invalidate)
	ctx := context.Background()
	var id int64
	if err := h.pool.QueryRow(ctx, `SELECT id FROM lastmile.roads WHERE ext_id = 'r2'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	// Road B runs from (106.62, 26.58) to (106.63, 26.65).
	type req struct {
		layers string
		tile   maptile.Tile
		query  string
	}
	over := []req{
		{"roads", tileAt(106.625, 26.60, 14), ""},
		{"roads", tileAt(106.625, 26.60, 10), ""},
		{"roads,villages", tileAt(106.625, 26.60, 12), ""},
		{"roads", tileAt(106.625, 26.60, 12), "surface=cement"},
		{"roads", tileAt(106.625, 26.60, 6), ""},
		{"roads", tileAt(106.625, 26.60, 12), "surface=gravel"}, // empty, but over the road
	}
	unrelated := []req{
		{"roads", tileAt(107.51, 27.505, 14), ""},    // road D, far away
		{"roads", tileAt(106.69, 26.62, 14), ""},     // road A's east end
		{"villages", tileAt(106.625, 26.60, 12), ""}, // another layer
	}
	get := func(r req) response { return h.get(tilePath(r.layers, r.tile, r.query)) }
	names := func(r req) []string {
		res := get(r)
		var out []string
		if res.status == http.StatusNoContent {
			return out
		}
		for _, d := range decodeTile(t, res.body, r.tile) {
			for _, f := range d.Features.Features {
				out = append(out, f.Properties.MustString("name", ""))
			}
		}
		return out
	}
	for _, r := range append(append([]req{}, over...), unrelated...) {
		if res := get(r); res.header.Get("X-Cache") != "MISS" {
			t.Fatalf("%v: first request X-Cache %s", r, res.header.Get("X-Cache"))
		}
		if res := get(r); res.header.Get("X-Cache") != "HIT" {
			t.Fatalf("%v: second request X-Cache %s", r, res.header.Get("X-Cache"))
		}
	}
	f, err := store.Get(ctx, "roads", id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Patch(ctx, "roads", id, postgis.IfVersion(f.Version), map[string]any{"name": "Village road B (rebuilt)"}, nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range over {
		if res := get(r); res.header.Get("X-Cache") != "MISS" {
			t.Errorf("%v after the edit: X-Cache %s, want MISS", r, res.header.Get("X-Cache"))
		}
	}
	if got := names(over[0]); !strings.Contains(fmt.Sprint(got), "Village road B (rebuilt)") {
		t.Errorf("tile over the road after the edit has %v", got)
	}
	for _, r := range unrelated {
		if res := get(r); res.header.Get("X-Cache") != "HIT" {
			t.Errorf("%v after the edit: X-Cache %s, want HIT", r, res.header.Get("X-Cache"))
		}
	}
	// Moving the road invalidates both the old and the new place.
	newPlace := unrelated[0]
	f, _ = store.Get(ctx, "roads", id)
	moved := orb.LineString{{107.505, 27.5}, {107.515, 27.51}}
	if _, err := store.Patch(ctx, "roads", id, postgis.IfVersion(f.Version), map[string]any{}, moved); err != nil {
		t.Fatal(err)
	}
	if res := get(newPlace); res.header.Get("X-Cache") != "MISS" {
		t.Errorf("new place: X-Cache %s", res.header.Get("X-Cache"))
	}
	if got := names(newPlace); !strings.Contains(fmt.Sprint(got), "Village road B (rebuilt)") {
		t.Errorf("tile at the new place has %v", got)
	}
	if got := names(over[0]); strings.Contains(fmt.Sprint(got), "Village road B") {
		t.Errorf("tile at the old place still has %v", got)
	}
}

func TestTileJSON(t *testing.T) {
	h := newHarness(t, Options{Attribution: "© test bureau"})
	res := h.get("/tiles/villages,roads.json?status=completed", "X-Forwarded-Proto", "https")
	if res.status != 200 {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	var tj TileJSON
	if err := json.Unmarshal(res.body, &tj); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(h.srv.URL, "http://")
	wantTiles := "https://" + host + "/tiles/roads,villages/{z}/{x}/{y}.mvt?status=completed"
	if tj.TileJSON != "3.0.0" || len(tj.Tiles) != 1 || tj.Tiles[0] != wantTiles {
		t.Errorf("tilejson %q tiles %q, want %q", tj.TileJSON, tj.Tiles, wantTiles)
	}
	// Data extent of roads and villages: 106.60…107.53, 26.58…27.53.
	if tj.Bounds != [4]float64{106.6, 26.58, 107.53, 27.53} {
		t.Errorf("bounds %v", tj.Bounds)
	}
	if tj.MinZoom != 3 || tj.MaxZoom != 14 || tj.Attribution != "© test bureau" || tj.Scheme != "xyz" {
		t.Errorf("minzoom %d maxzoom %d attribution %q scheme %q", tj.MinZoom, tj.MaxZoom, tj.Attribution, tj.Scheme)
	}
	if tj.Center[0] != 107.065 || tj.Center[1] != 27.055 || tj.Center[2] != 8 {
		t.Errorf("center %v", tj.Center)
	}
	if len(tj.VectorLayers) != 2 || tj.VectorLayers[0].ID != "roads" || tj.VectorLayers[1].ID != "villages" {
		t.Fatalf("vector_layers %+v", tj.VectorLayers)
	}
	v := tj.VectorLayers[1]
	if v.MinZoom != 3 || v.FieldTypes["population"] != "Number" || v.FieldTypes["is_poor_village"] != "Boolean" ||
		v.FieldTypes["completed_on"] != "String" || len(v.Fields) != 10 || v.FieldTypes["covered_share"] != "Number" || !strings.HasPrefix(v.Fields["population"], "Number") {
		t.Errorf("villages layer %+v", v)
	}
	if _, ok := tj.VectorLayers[0].Fields["width_m"]; ok {
		t.Error("width_m is not a tile field but is listed")
	}
	// An empty layer falls back to the world.
	res = h.get("/tiles/house_renovations,facilities.json")
	json.Unmarshal(res.body, &tj)
	if tj.Bounds != [4]float64{106.6312, 26.603, 106.633, 26.6045} {
		t.Errorf("bounds %v", tj.Bounds)
	}
	if _, err := h.pool.Exec(context.Background(), `DELETE FROM lastmile.facilities; DELETE FROM lastmile.house_renovations`); err != nil {
		t.Fatal(err)
	}
	h.svc.Invalidate("facilities", nil)
	h.svc.Invalidate("house_renovations", nil)
	res = h.get("/tiles/house_renovations,facilities.json")
	json.Unmarshal(res.body, &tj)
	if tj.Bounds != [4]float64{-180, -85.051129, 180, 85.051129} || tj.Tiles[0] != "http://"+host+"/tiles/house_renovations,facilities/{z}/{x}/{y}.mvt" {
		t.Errorf("empty layers: bounds %v tiles %v", tj.Bounds, tj.Tiles)
	}
}

func TestTileCatalog(t *testing.T) {
	h := newHarness(t, Options{})
	res := h.get("/tiles")
	var body struct {
		TileSets []tileSet `json:"tilesets"`
	}
	if err := json.Unmarshal(res.body, &body); err != nil || res.status != 200 {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	if len(body.TileSets) != len(h.catalog.Layers()) {
		t.Fatalf("%d tile sets, want %d", len(body.TileSets), len(h.catalog.Layers()))
	}
	r := body.TileSets[0]
	if r.Name != "roads" || r.TileJSON != h.srv.URL+"/tiles/roads.json" || r.Tiles != h.srv.URL+"/tiles/roads/{z}/{x}/{y}.mvt" ||
		r.MinZoom != 6 || !strings.Contains(strings.Join(r.Filters, " "), "status surface tech_grade updated_by version_max version_min width_m_max width_m_min") {
		t.Errorf("roads tile set %+v", r)
	}
	// Every listed TileJSON and filter works.
	for _, ts := range body.TileSets {
		if res := h.get(strings.TrimPrefix(ts.TileJSON, h.srv.URL)); res.status != 200 {
			t.Errorf("%s: %d", ts.TileJSON, res.status)
		}
	}
}

func TestHead(t *testing.T) {
	h := newHarness(t, Options{CacheBytes: 1 << 20})
	req, _ := http.NewRequest(http.MethodHead, h.srv.URL+tilePath("roads", tileAt(106.63, 26.605, 14), ""), nil)
	res, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("ETag") == "" || res.ContentLength <= 0 {
		t.Errorf("HEAD: %d ETag %q length %d", res.StatusCode, res.Header.Get("ETag"), res.ContentLength)
	}
}

// TestSingleflight holds the roads table locked while concurrent requests
// for one uncached tile arrive: they must share one query.
func TestSingleflight(t *testing.T) {
	h := newHarness(t, Options{}) // no cache: only singleflight can collapse them
	ctx := context.Background()
	tx, err := h.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE lastmile.roads IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	path := tilePath("roads", tileAt(106.63, 26.605, 14), "")
	const n = 8
	done := make(chan response, n)
	for i := 0; i < n; i++ {
		go func() {
			req, _ := http.NewRequest(http.MethodGet, h.srv.URL+path, nil)
			res, err := h.client.Do(req)
			if err != nil {
				done <- response{}
				return
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			done <- response{status: res.StatusCode, body: body}
		}()
	}
	// Wait until the one query waits for the lock and the others for it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		h.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`).Scan(&waiting)
		if waiting >= 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	tx.Rollback(ctx)
	var first []byte
	for i := 0; i < n; i++ {
		res := <-done
		if res.status != 200 {
			t.Fatalf("request %d: status %d", i, res.status)
		}
		if first == nil {
			first = res.body
		} else if !bytes.Equal(first, res.body) {
			t.Error("requests got different tiles")
		}
	}
	if g := h.svc.Stats().Generated; g != 1 {
		t.Errorf("%d tile queries for %d concurrent requests, want 1", g, n)
	}
}

// TestOgrinfo saves a served tile and reads it with GDAL's MVT driver.
func TestOgrinfo(t *testing.T) {
	if _, err := exec.LookPath("ogrinfo"); err != nil {
		t.Fatal("ogrinfo not found: run scripts/setup (gdal-bin)")
	}
	h := newHarness(t, Options{})
	tl := tileAt(106.63, 26.605, 13)
	res := h.get(tilePath("roads,villages,admin_areas", tl, ""))
	if res.status != 200 {
		t.Fatalf("status %d", res.status)
	}
	path := filepath.Join(t.TempDir(), "tile.mvt")
	if err := os.WriteFile(path, res.body, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ogrinfo", "-ro", "-al", "-so",
		"-oo", fmt.Sprintf("Z=%d", tl.Z), "-oo", fmt.Sprintf("X=%d", tl.X), "-oo", fmt.Sprintf("Y=%d", tl.Y), path).CombinedOutput()
	if err != nil {
		t.Fatalf("ogrinfo: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{
		"Layer name: roads", "Layer name: villages", "Layer name: admin_areas",
		"name: String", "status: String", "completed_on: String", "surface: String",
		"population: Integer", "is_poor_village: Integer(Boolean)", "level: String",
		"Feature Count: 3", // roads A, B and C
	} {
		if !strings.Contains(text, want) {
			t.Errorf("ogrinfo output lacks %q:\n%s", want, text)
		}
	}
}

// TestTileQuerySerial checks that a tile query is planned without parallel
// workers (WHERE lastmile.serial_plan(), migration 0100) even where the
// planner would otherwise choose a parallel plan: the same statement
// without that clause gets one under the settings below.
func TestTileQuerySerial(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	for _, path := range []string{
		tilePath(strings.Join(h.catalog.Names(), ","), tileAt(106.63, 26.605, 10), ""),
		tilePath("roads", tileAt(106.63, 26.605, 14), ""),
		tilePath("villages", tileAt(106.63, 26.605, 5), ""),
	} {
		sql, args, ok, err := h.svc.TileSQL(ctx, path)
		if err != nil || !ok {
			t.Fatalf("%s: TileSQL: ok=%v, %v", path, ok, err)
		}
		if !strings.HasSuffix(sql, serialClause) {
			t.Fatalf("%s: the tile query does not end in %q", path, serialClause)
		}
		plan := func(sql string) string {
			tx, err := h.pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			for _, s := range []string{"parallel_setup_cost = 0", "parallel_tuple_cost = 0", "min_parallel_table_scan_size = 0",
				"min_parallel_index_scan_size = 0", "max_parallel_workers_per_gather = 2", "enable_indexscan = off", "enable_bitmapscan = off"} {
				if _, err := tx.Exec(ctx, "SET LOCAL "+s); err != nil {
					t.Fatal(err)
				}
			}
			rows, err := tx.Query(ctx, "EXPLAIN "+sql, args...)
			if err != nil {
				t.Fatal(err)
			}
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			return strings.Join(lines, "\n")
		}
		if p := plan(strings.TrimSuffix(sql, serialClause)); !strings.Contains(p, "Gather") {
			t.Fatalf("%s: without serial_plan() the settings should give a parallel plan:\n%s", path, p)
		}
		if p := plan(sql); strings.Contains(p, "Gather") || strings.Contains(p, "Parallel") {
			t.Errorf("%s: the tile query has a parallel plan:\n%s", path, p)
		}
	}
}
