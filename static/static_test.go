package static

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gorilla/mux"
)

func get(t *testing.T, h http.Handler, path string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func router(p *Page) *mux.Router {
	r := mux.NewRouter()
	p.Register(r)
	return r
}

func TestPage(t *testing.T) {
	r := router(New())
	tests := []struct {
		name, path, ctype, contains string
	}{
		{"index", "/", "text/html", "/app/main.js"},
		{"app", "/app/main.js", "text/javascript", "maplibre"},
		{"css", "/app/style.css", "text/css", "#map"},
		{"catalog", "/app/catalog.json", "application/json", `"roads"`},
		{"config", "/app/config.json", "application/json", `"vendor"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := get(t, r, tc.path)
			if w.Code != http.StatusOK {
				t.Fatalf("GET %s: %d %s", tc.path, w.Code, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.ctype) {
				t.Errorf("GET %s: Content-Type %q, want %q", tc.path, ct, tc.ctype)
			}
			if !strings.Contains(w.Body.String(), tc.contains) {
				t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
			}
		})
	}
	if w := get(t, r, "/"); !strings.Contains(w.Header().Get("Content-Security-Policy"), "default-src 'self'") ||
		!strings.Contains(w.Header().Get("Content-Security-Policy"), "frame-ancestors 'self'") || w.Header().Get("X-Frame-Options") != "SAMEORIGIN" {
		t.Errorf("index without a same-origin CSP and frame-ancestors: %q", w.Header().Get("Content-Security-Policy"))
	}
	etag := get(t, r, "/app/main.js").Header().Get("ETag")
	if w := get(t, r, "/app/main.js", "If-None-Match", etag); w.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", w.Code)
	}
	if w := get(t, r, "/app/main.js", "Accept-Encoding", "gzip"); w.Header().Get("Content-Encoding") != "gzip" {
		t.Errorf("main.js not gzipped for a gzip client")
	}
	if w := get(t, r, "/app/main.js", "Accept-Encoding", "gzip;q=0, identity"); w.Header().Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0: Content-Encoding %q, want none", w.Header().Get("Content-Encoding"))
	}
	gzTag := get(t, r, "/app/main.js", "Accept-Encoding", "gzip").Header().Get("ETag")
	if gzTag == etag || gzTag == "" {
		t.Errorf("the gzip form's ETag %q is the plain form's %q", gzTag, etag)
	}
	for _, inm := range []string{gzTag, "W/" + etag, `"other", ` + gzTag} {
		if w := get(t, r, "/app/main.js", "If-None-Match", inm, "Accept-Encoding", "gzip"); w.Code != http.StatusNotModified {
			t.Errorf("If-None-Match %s: %d, want 304", inm, w.Code)
		}
	}
	if w := get(t, r, "/app/main.js", "If-None-Match", `"other"`); w.Code != http.StatusOK {
		t.Errorf(`If-None-Match "other": %d, want 200`, w.Code)
	}
	if w := get(t, r, "/vendor/../../go.mod"); w.Code == http.StatusOK {
		t.Errorf("vendor path traversal answered 200")
	}
	if w := get(t, r, "/vendor/maplibre-gl/package.json"); w.Code != http.StatusNotFound {
		t.Errorf("non-whitelisted vendor file: %d, want 404", w.Code)
	}
}

func TestVendorMissing(t *testing.T) {
	r := router(New(Options{Dir: t.TempDir()}))
	w := get(t, r, "/vendor/maplibre-gl/maplibre-gl.mjs")
	if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "scripts/setup") {
		t.Errorf("missing library: %d %s, want 404 naming scripts/setup", w.Code, w.Body)
	}
	var c Config
	if err := json.Unmarshal(get(t, r, "/app/config.json").Body.Bytes(), &c); err != nil {
		t.Fatal(err)
	}
	if c.Vendor["maplibre"] || !strings.Contains(c.Setup, "scripts/setup") {
		t.Errorf("config %+v: want maplibre missing and a setup message", c)
	}
}

func TestVendorPresent(t *testing.T) {
	dir := t.TempDir()
	for rel, body := range map[string]string{
		"node_modules/maplibre-gl/package.json":         "{}",
		"node_modules/maplibre-gl/dist/maplibre-gl.mjs": "export const Map = 1;",
		"node_modules/echarts/dist/echarts.esm.min.mjs": "export const init = 1;",
	} {
		f := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(f), 0o755)
		os.WriteFile(f, []byte(body), 0o644)
	}
	r := router(New(Options{Dir: dir}))
	w := get(t, r, "/vendor/maplibre-gl/maplibre-gl.mjs")
	if w.Code != http.StatusOK || w.Body.String() != "export const Map = 1;" || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/javascript") {
		t.Errorf("vendor file: %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	var c Config
	json.Unmarshal(get(t, r, "/app/config.json").Body.Bytes(), &c)
	if !c.Vendor["maplibre"] || !c.Vendor["echarts"] || c.Setup != "" {
		t.Errorf("config %+v: want both libraries present", c)
	}
}

func TestBasemap(t *testing.T) {
	tests := []struct {
		name, url, origin string
		gcj               bool
	}{
		{"none", "", "", false},
		{"tianditu", "https://t0.tianditu.gov.cn/vec_w/wmts?x={x}&y={y}&l={z}", "https://t0.tianditu.gov.cn", false},
		{"amap", "https://webrd01.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}&style=8", "https://webrd01.is.autonavi.com", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := basemapOrigin(tc.url); got != tc.origin {
				t.Errorf("origin %q, want %q", got, tc.origin)
			}
			if got := isGCJ02(tc.url); got != tc.gcj {
				t.Errorf("gcj02 %v, want %v", got, tc.gcj)
			}
			r := router(New(Options{BasemapURL: tc.url}))
			var c Config
			json.Unmarshal(get(t, r, "/app/config.json").Body.Bytes(), &c)
			if (c.Basemap != nil) != (tc.url != "") || (c.Basemap != nil && c.Basemap.GCJ02 != tc.gcj) {
				t.Errorf("config basemap %+v", c.Basemap)
			}
			if tc.origin != "" && !strings.Contains(get(t, r, "/").Header().Get("Content-Security-Policy"), tc.origin) {
				t.Errorf("CSP does not allow the basemap origin")
			}
		})
	}
}

// TestPageSameOrigin guards the offline promise: the page's own files name
// no other origin (libraries come from /vendor/, data from this server).
func TestPageSameOrigin(t *testing.T) {
	p := New()
	for name, a := range p.files {
		for _, s := range []string{"http://", "https://", "//cdn", "fonts.googleapis"} {
			if strings.Contains(string(a.body), s) {
				t.Errorf("%s contains %q: the page must load nothing from another origin", name, s)
			}
		}
	}
	if len(p.files) < 3 {
		t.Errorf("embedded page files: %d, want index.html, main.js and its modules, style.css", len(p.files))
	}
}

// TestEmbeddedLibraries: a binary holding every library serves them from
// itself (with their versions) and never looks at the disk; one holding only
// some falls back to node_modules and names the missing files.
func TestEmbeddedLibraries(t *testing.T) {
	full := fstest.MapFS{"vendor/README.md": {Data: []byte("readme")}}
	for url := range vendorFiles {
		full["vendor/"+url] = &fstest.MapFile{Data: []byte("/* " + url + " */")}
	}
	full["vendor/maplibre-gl/package.json"] = &fstest.MapFile{Data: []byte(`{"name":"maplibre-gl","version":"9.8.7"}`)}
	full["vendor/echarts/package.json"] = &fstest.MapFile{Data: []byte(`{"version":"1.2.3"}`)}

	t.Run("complete", func(t *testing.T) {
		p := &Page{files: map[string]*asset{}, vendor: map[string]*asset{}}
		p.findLibraries(full)
		libs := p.Libraries()
		if libs.Source != "embedded" || len(libs.Missing) != 0 || libs.Versions["maplibre-gl"] != "9.8.7" || libs.Versions["echarts"] != "1.2.3" {
			t.Fatalf("libraries %+v, want embedded with versions 9.8.7 and 1.2.3", libs)
		}
		r := router(p)
		for url := range vendorFiles {
			w := get(t, r, "/vendor/"+url)
			if w.Code != http.StatusOK || w.Body.String() != "/* "+url+" */" || w.Header().Get("ETag") == "" {
				t.Errorf("/vendor/%s: %d %q", url, w.Code, w.Body)
			}
		}
		if w := get(t, r, "/vendor/README.md"); w.Code != http.StatusNotFound {
			t.Errorf("README.md served: %d", w.Code)
		}
		var c Config
		json.Unmarshal(get(t, r, "/app/config.json").Body.Bytes(), &c)
		if !c.Vendor["maplibre"] || !c.Vendor["echarts"] || c.Setup != "" || c.Libraries.Source != "embedded" {
			t.Errorf("config %+v", c)
		}
	})
	t.Run("partial", func(t *testing.T) {
		partial := fstest.MapFS{"vendor/echarts/echarts.esm.min.mjs": {Data: []byte("x")}}
		// no --static-dir: the search may find the source tree's node_modules
		p := &Page{files: map[string]*asset{}, vendor: map[string]*asset{}}
		p.findLibraries(partial)
		libs := p.Libraries()
		if libs.Source == "embedded" {
			t.Fatalf("a partial embed counted as embedded: %+v", libs)
		}
		if libs.Source == "" && (len(libs.Missing) != len(vendorFiles) || !strings.Contains(libs.MissingMessage(), "make build")) {
			t.Errorf("nothing found: %+v %q", libs, libs.MissingMessage())
		}
	})
	t.Run("nothing", func(t *testing.T) {
		p := &Page{opts: Options{Dir: t.TempDir()}, files: map[string]*asset{}, vendor: map[string]*asset{}}
		p.findLibraries(full) // --static-dir wins over the embedded files
		libs := p.Libraries()
		want := []string{"echarts/echarts.esm.min.mjs", "maplibre-gl/maplibre-gl-worker.mjs", "maplibre-gl/maplibre-gl.css", "maplibre-gl/maplibre-gl.mjs", "pmtiles/pmtiles.js"}
		if libs.Source != "" || strings.Join(libs.Missing, ",") != strings.Join(want, ",") {
			t.Errorf("libraries %+v, want missing %v", libs, want)
		}
		if m := libs.MissingMessage(); !strings.Contains(m, "make build") || !strings.Contains(m, "maplibre-gl/maplibre-gl.mjs") {
			t.Errorf("message %q", m)
		}
	})
}

// TestVendorList: vendor.txt names each library the page loads.
func TestVendorList(t *testing.T) {
	want := map[string]string{
		"maplibre-gl/maplibre-gl.mjs":        "maplibre-gl/dist/maplibre-gl.mjs",
		"maplibre-gl/maplibre-gl-worker.mjs": "maplibre-gl/dist/maplibre-gl-worker.mjs",
		"maplibre-gl/maplibre-gl.css":        "maplibre-gl/dist/maplibre-gl.css",
		"echarts/echarts.esm.min.mjs":        "echarts/dist/echarts.esm.min.mjs",
		"pmtiles/pmtiles.js":                 "pmtiles/dist/pmtiles.js",
	}
	if len(vendorFiles) != len(want) {
		t.Fatalf("vendor files %v, want %v", vendorFiles, want)
	}
	for k, v := range want {
		if vendorFiles[k] != v {
			t.Errorf("%s → %q, want %q", k, vendorFiles[k], v)
		}
	}
}
