package tiles

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/lastmile/lastmile/layer"
)

// TestServeFast checks that the fast path answers exactly as the router's
// tile handler does for every cached tile request it takes, and declines
// (writing nothing) every request it must leave to the general path.
func TestServeFast(t *testing.T) {
	h := newHarness(t, Options{CacheBytes: 1 << 20, CacheControl: "public, max-age=5"})
	r := mux.NewRouter()
	h.svc.Register(r)
	full := tilePath("roads,villages", tileAt(106.63, 26.605, 13), "")
	empty := tilePath("roads", tileAt(0, 0, 13), "") // nothing there: cached as empty
	// Warm the cache through the general path.
	for _, p := range []string{full, empty} {
		if res := h.get(p, "Accept-Encoding", "gzip"); res.header.Get("X-Cache") != "MISS" {
			t.Fatalf("%s: first request X-Cache %q", p, res.header.Get("X-Cache"))
		}
	}
	gzTag := h.get(full, "Accept-Encoding", "gzip").header.Get("ETag")
	plainTag := h.get(full).header.Get("ETag")

	do := func(handler func(w http.ResponseWriter, r *http.Request), method, path string, headers ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		w := httptest.NewRecorder()
		handler(w, req)
		return w
	}
	fast := func(w http.ResponseWriter, r *http.Request) {
		status, route, ok := h.svc.ServeFast(w, r)
		if !ok {
			t.Fatalf("%s %s: fast path declined", r.Method, r.URL)
		}
		if route != TileRoute || status != w.(*httptest.ResponseRecorder).Code {
			t.Fatalf("%s %s: fast path says %d %s, wrote %d", r.Method, r.URL, status, route, w.(*httptest.ResponseRecorder).Code)
		}
	}
	for _, tc := range []struct {
		name, method, path string
		headers            []string
		status             int
	}{
		{"gzip", "GET", full, []string{"Accept-Encoding", "gzip, deflate, br"}, 200},
		{"head", "HEAD", full, []string{"Accept-Encoding", "gzip"}, 200},
		{"pbf, other layer order", "GET", strings.TrimSuffix(tilePath("villages,roads,villages", tileAt(106.63, 26.605, 13), ""), "mvt") + "pbf", []string{"Accept-Encoding", "gzip"}, 200},
		{"if-none-match gzip tag", "GET", full, []string{"Accept-Encoding", "gzip", "If-None-Match", gzTag}, 304},
		{"if-none-match plain tag", "GET", full, []string{"Accept-Encoding", "gzip", "If-None-Match", `"x", W/` + plainTag}, 304},
		{"if-none-match star", "GET", full, []string{"Accept-Encoding", "gzip", "If-None-Match", "*"}, 304},
		{"if-none-match other", "GET", full, []string{"Accept-Encoding", "gzip", "If-None-Match", `"0123"`}, 200},
		{"empty", "GET", empty, []string{"Accept-Encoding", "gzip"}, 204},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := do(fast, tc.method, tc.path, tc.headers...)
			want := do(r.ServeHTTP, tc.method, tc.path, tc.headers...)
			if got.Code != tc.status || want.Code != tc.status {
				t.Fatalf("status: fast %d, router %d, want %d", got.Code, want.Code, tc.status)
			}
			if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
				t.Errorf("bodies differ: fast %d bytes, router %d bytes", got.Body.Len(), want.Body.Len())
			}
			if tc.status == 200 && tc.method == "GET" && got.Body.Len() == 0 {
				t.Errorf("no body")
			}
			for k := range want.Header() {
				if got.Header().Get(k) != want.Header().Get(k) {
					t.Errorf("%s: fast %q, router %q", k, got.Header().Get(k), want.Header().Get(k))
				}
			}
			for k := range got.Header() {
				if _, ok := want.Header()[k]; !ok {
					t.Errorf("fast path adds %s: %q", k, got.Header().Get(k))
				}
			}
		})
	}

	// Requests the fast path leaves alone: it writes nothing and says so.
	before := h.svc.Stats()
	for _, tc := range []struct {
		name, path string
		headers    []string
	}{
		{"filters", full + "?status=completed", []string{"Accept-Encoding", "gzip"}},
		{"no gzip", full, nil},
		{"gzip refused", full, []string{"Accept-Encoding", "gzip;q=0"}},
		{"not cached", tilePath("roads", tileAt(106.63, 26.605, 12), ""), []string{"Accept-Encoding", "gzip"}},
		{"unknown layer", "/tiles/nope/13/1/1.mvt", []string{"Accept-Encoding", "gzip"}},
		{"bad zoom", "/tiles/roads/23/1/1.mvt", []string{"Accept-Encoding", "gzip"}},
		{"x out of range", "/tiles/roads/1/2/1.mvt", []string{"Accept-Encoding", "gzip"}},
		{"leading zero", "/tiles/roads/01/1/1.mvt", []string{"Accept-Encoding", "gzip"}},
		{"format", "/tiles/roads/1/1/1.png", []string{"Accept-Encoding", "gzip"}},
		{"extra segment", "/tiles/roads/1/1/1/1.mvt", []string{"Accept-Encoding", "gzip"}},
		{"tilejson", "/tiles/roads.json", []string{"Accept-Encoding", "gzip"}},
		{"style", "/tiles/roads/style.json", []string{"Accept-Encoding", "gzip"}},
		{"catalog", "/tiles/", []string{"Accept-Encoding", "gzip"}},
	} {
		t.Run("declines "+tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tc.path, nil)
			for i := 0; i+1 < len(tc.headers); i += 2 {
				req.Header.Set(tc.headers[i], tc.headers[i+1])
			}
			w := httptest.NewRecorder()
			if _, _, ok := h.svc.ServeFast(w, req); ok {
				t.Fatalf("fast path answered %d", w.Code)
			}
			if len(w.Header()) != 0 || w.Body.Len() != 0 || w.Code != 200 || w.Flushed {
				t.Errorf("wrote headers %v, %d body bytes", w.Header(), w.Body.Len())
			}
		})
	}
	// Declining counts neither a hit nor a miss: the general path counts.
	if after := h.svc.Stats(); after.Hits != before.Hits || after.Misses != before.Misses {
		t.Errorf("declined requests changed the counters: hits %d → %d, misses %d → %d",
			before.Hits, after.Hits, before.Misses, after.Misses)
	}
	do(fast, "GET", full, "Accept-Encoding", "gzip")
	if after := h.svc.Stats(); after.Hits != before.Hits+1 || after.Misses != before.Misses {
		t.Errorf("a fast hit: hits %d → %d, misses %d → %d", before.Hits, after.Hits, before.Misses, after.Misses)
	}
}

// TestWireLines: a Cache-Control value net/http would rewrite (spaces
// trimmed, line breaks blanked) turns the wire path off rather than be sent
// differently.
func TestWireLines(t *testing.T) {
	for v, ok := range map[string]bool{"public, max-age=60": true, " public": false, "public ": false, "a\r\nX-Evil: 1": false, "a\tb": false, "": false} {
		if got := newWireLines(v).cacheControl != ""; got != ok {
			t.Errorf("%q: wire lines %v, want %v", v, got, ok)
		}
	}
}

// TestPlanCache: a remembered statement is the one tileQuery builds, with
// the tile's own x and y, for every kind of layer set, zoom and filter.
func TestPlanCache(t *testing.T) {
	svc := New(nil, layer.Default(), nil, Options{})
	all := layer.Default().Layers()
	roads, _ := layer.Default().Layer("roads")
	f, err := ParseFilters([]*layer.Layer{roads}, url.Values{"status": {"completed"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		layers  []*layer.Layer
		filters Filters
	}{{all, nil}, {[]*layer.Layer{roads}, nil}, {[]*layer.Layer{roads}, f}} {
		for z := 0; z <= 16; z++ {
			for i, xy := range [][2]int{{0, 0}, {1 << z / 2, 1<<z - 1}, {1<<z - 1, 1 << z / 3}} {
				got := svc.tileQuery(tc.layers, z, xy[0], xy[1], tc.filters)
				want := tileQuery(tc.layers, z, xy[0], xy[1], tc.filters, svc.opts.MaxFeatures)
				if got.sql != want.sql || !reflect.DeepEqual(got.args, want.args) {
					t.Fatalf("z%d tile %d: remembered %v, built %v", z, i, got.args, want.args)
				}
			}
		}
	}
}
