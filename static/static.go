// Package static serves the map page: its own HTML, JavaScript and CSS,
// embedded in the binary, and the browser libraries it needs (MapLibre GL JS,
// ECharts). `make build` embeds the libraries too (scripts/embed-vendor
// copies them from the npm packages scripts/setup installs into
// static/vendor/), so the binary is the only file a server needs. A binary
// built without them reads them at run time from a node_modules directory
// (--static-dir, ./static, beside the binary or the source tree), or says in
// its log, on the page and in `lastmile doctor` which files are missing.
// Nothing the page loads comes from another origin unless a basemap URL is
// configured.
package static

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/server/respond"
)

//go:embed page
var pageFS embed.FS

// vendorFS holds the libraries copied by scripts/embed-vendor (only its
// README when the binary was built without them).
//
//go:embed vendor
var vendorFS embed.FS

//go:embed vendor.txt
var vendorList string

// Options configure the page.
type Options struct {
	// Dir is a directory holding node_modules to read the libraries from,
	// instead of those embedded in the binary. Empty: the embedded ones, or,
	// when the binary has none, ./static, next to the executable and the
	// source tree the binary was built from.
	Dir string
	// BasemapURL is an optional raster XYZ template ({z}/{x}/{y}) drawn under
	// the layers. Empty: no basemap, no request leaves the server's origin.
	BasemapURL string
	// BasemapAttribution is shown on the map when a basemap is used.
	BasemapAttribution string
	// Catalog is the layer catalog the legend and popups are built from
	// (layer.Default() when nil).
	Catalog *layer.Catalog
}

// RegisterFlags adds the options' flags to fs.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Dir, "static-dir", "", "directory holding node_modules to serve the map page's libraries from instead of those embedded by make build (default: embedded; else ./static, beside the binary, or the source tree)")
	fs.StringVar(&o.BasemapURL, "basemap-url", "", "raster XYZ basemap template for the map page, e.g. https://host/{z}/{x}/{y}.png (default: none, nothing leaves the server's origin)")
	fs.StringVar(&o.BasemapAttribution, "basemap-attribution", "", "attribution shown for --basemap-url")
}

// vendorFiles are the library files the page may load, by URL path under
// /vendor/, and where each lives under node_modules (from vendor.txt).
var vendorFiles = parseVendorList(vendorList)

// libraryMain is each library's entry file, by the name the page knows.
var libraryMain = map[string]string{"maplibre": "maplibre-gl/maplibre-gl.mjs", "echarts": "echarts/echarts.esm.min.mjs"}

func parseVendorList(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && !strings.HasPrefix(f[0], "#") {
			m[f[0]] = f[1]
		}
	}
	return m
}

// Libraries says where the page's browser libraries come from.
type Libraries struct {
	// Source is "embedded", the node_modules directory they are read from,
	// or "" when none was found.
	Source string `json:"source"`
	// Versions of the npm packages, by package name (when known).
	Versions map[string]string `json:"versions,omitempty"`
	// Missing are the files (URL paths under /vendor/) the source lacks.
	Missing []string `json:"missing,omitempty"`
}

// Libraries reports where the libraries are served from and what is missing.
func (p *Page) Libraries() Libraries { return p.libs }

// MissingMessage says what to do about missing libraries ("" when none is).
func (l Libraries) MissingMessage() string {
	if len(l.Missing) == 0 {
		return ""
	}
	return "the map page's libraries (MapLibre GL JS, ECharts) are not in this binary and no node_modules holding them was found (missing: " +
		strings.Join(l.Missing, ", ") + "): build the binary with make build (it embeds them from static/node_modules, which scripts/setup installs with npm ci), or point --static-dir at a directory holding node_modules"
}

// Page serves the map page at / and its assets under /app/ and /vendor/.
type Page struct {
	opts    Options
	catalog *asset            // /app/catalog.json
	files   map[string]*asset // embedded page files by name
	libs    Libraries
	nodeDir string // node_modules the libraries are read from ("" when embedded or missing)

	mu     sync.Mutex
	vendor map[string]*asset // loaded vendor files by URL path
}

// asset is one served file, with its gzip form when that is smaller.
type asset struct {
	body, gz    []byte
	etag, ctype string
	mod         time.Time
}

// New returns the page handler.
func New(opts ...Options) *Page {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Catalog == nil {
		o.Catalog = layer.Default()
	}
	p := &Page{opts: o, files: map[string]*asset{}, vendor: map[string]*asset{}}
	sub, _ := fs.Sub(pageFS, "page")
	fs.WalkDir(sub, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, name)
		if err != nil {
			return err
		}
		p.files[name] = newAsset(name, b, time.Time{})
		return nil
	})
	cat, _ := json.Marshal(catalogJSON(o.Catalog))
	p.catalog = newAsset("catalog.json", cat, time.Time{})
	p.findLibraries(vendorFS)
	return p
}

// findLibraries chooses where the libraries come from: --static-dir when
// given, else those embedded when all are, else a node_modules found on disk.
func (p *Page) findLibraries(embedded fs.FS) {
	if p.opts.Dir == "" {
		found := map[string]*asset{}
		for url := range vendorFiles {
			if b, err := fs.ReadFile(embedded, "vendor/"+url); err == nil {
				found[url] = newAsset(url, b, time.Time{})
			}
		}
		if len(found) == len(vendorFiles) {
			p.vendor = found
			p.libs = Libraries{Source: "embedded", Versions: versions(func(name string) ([]byte, error) {
				return fs.ReadFile(embedded, "vendor/"+name)
			})}
			return
		}
	}
	p.nodeDir = p.nodeModules()
	p.libs = Libraries{Source: p.nodeDir}
	for url, rel := range vendorFiles {
		if p.nodeDir == "" || !exists(filepath.Join(p.nodeDir, filepath.FromSlash(rel))) {
			p.libs.Missing = append(p.libs.Missing, url)
		}
	}
	sort.Strings(p.libs.Missing)
	if p.nodeDir != "" {
		p.libs.Versions = versions(func(name string) ([]byte, error) {
			return os.ReadFile(filepath.Join(p.nodeDir, filepath.FromSlash(name)))
		})
	}
}

// versions reads the version of each vendored package from its package.json.
func versions(read func(name string) ([]byte, error)) map[string]string {
	out := map[string]string{}
	for url := range vendorFiles {
		pkg, _, _ := strings.Cut(url, "/")
		if _, ok := out[pkg]; ok {
			continue
		}
		var meta struct{ Version string }
		if b, err := read(pkg + "/package.json"); err == nil && json.Unmarshal(b, &meta) == nil && meta.Version != "" {
			out[pkg] = meta.Version
		}
	}
	return out
}

func newAsset(name string, b []byte, mod time.Time) *asset {
	sum := sha256.Sum256(b)
	a := &asset{body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, mod: mod}
	a.ctype = mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".mjs", ".js":
		a.ctype = "text/javascript; charset=utf-8"
	case ".json":
		a.ctype = "application/json"
	case "":
		a.ctype = "application/octet-stream"
	}
	if len(b) > 1024 {
		if gz := respond.Gzip(b); len(gz) < len(b) {
			a.gz = gz
		}
	}
	return a
}

// Register adds the page routes.
func (p *Page) Register(r *mux.Router) {
	get := []string{http.MethodGet, http.MethodHead}
	r.HandleFunc("/", p.index).Methods(get...)
	r.HandleFunc("/app/config.json", p.configJSON).Methods(get...)
	r.HandleFunc("/app/catalog.json", p.catalogJSON).Methods(get...)
	r.PathPrefix("/app/").HandlerFunc(p.app).Methods(get...)
	r.PathPrefix("/vendor/").HandlerFunc(p.vendorFile).Methods(get...)
}

func (p *Page) index(w http.ResponseWriter, r *http.Request) {
	p.securityHeaders(w)
	serve(w, r, p.files["index.html"], "no-cache")
}

func (p *Page) app(w http.ResponseWriter, r *http.Request) {
	a, ok := p.files[strings.TrimPrefix(r.URL.Path, "/app/")]
	if !ok {
		notFound(w, "no such page file: "+r.URL.Path)
		return
	}
	serve(w, r, a, "no-cache")
}

// securityHeaders sets a Content-Security-Policy that keeps every request
// on the server's origin, except the configured basemap's tiles.
func (p *Page) securityHeaders(w http.ResponseWriter) {
	extra := ""
	if o := basemapOrigin(p.opts.BasemapURL); o != "" {
		extra = " " + o
	}
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; "+
		"style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:"+extra+"; "+
		"connect-src 'self'"+extra+"; worker-src 'self' blob:; child-src blob:; font-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'self'")
	w.Header().Set("X-Frame-Options", "SAMEORIGIN")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
}

func basemapOrigin(tmpl string) string {
	if tmpl == "" {
		return ""
	}
	// Subdomain templates ({s}) are not supported by MapLibre; take the
	// origin as written, with placeholders in the host made wildcards.
	u, err := url.Parse(strings.NewReplacer("{s}", "a", "{z}", "0", "{x}", "0", "{y}", "0").Replace(tmpl))
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// isGCJ02 reports whether a basemap URL is one of the Chinese commercial
// providers whose tiles are in the GCJ-02 ("Mars") datum.
func isGCJ02(tmpl string) bool {
	t := strings.ToLower(tmpl)
	for _, s := range []string{"autonavi", "amap", "gaode", "map.qq.com", "baidu", "bdimg"} {
		if strings.Contains(t, s) {
			return true
		}
	}
	return false
}

// Config is what the page learns from the server before it draws.
type Config struct {
	Basemap *Basemap `json:"basemap"`
	// Vendor reports which libraries are installed; the page shows Setup
	// when one is missing.
	Vendor    map[string]bool `json:"vendor"`
	Setup     string          `json:"setup,omitempty"`
	Libraries Libraries       `json:"libraries"`
}

// Basemap is the configured raster basemap.
type Basemap struct {
	URL         string `json:"url"`
	Attribution string `json:"attribution,omitempty"`
	// GCJ02: the tiles are offset (GCJ-02 datum) while lastmile's data are
	// WGS84; the page says so.
	GCJ02 bool `json:"gcj02"`
}

func (p *Page) configJSON(w http.ResponseWriter, r *http.Request) {
	c := Config{Vendor: map[string]bool{}}
	if p.opts.BasemapURL != "" {
		c.Basemap = &Basemap{URL: p.opts.BasemapURL, Attribution: p.opts.BasemapAttribution, GCJ02: isGCJ02(p.opts.BasemapURL)}
	}
	c.Libraries = p.libs
	missing := false
	for name, lib := range libraryMain {
		ok := !slices.Contains(p.libs.Missing, lib)
		c.Vendor[name] = ok
		missing = missing || !ok
	}
	if missing {
		c.Setup = "The map page's libraries (MapLibre GL JS, ECharts) are not in this lastmile binary: build it with make build (it embeds them from static/node_modules, which scripts/setup installs), or point --static-dir at a directory holding node_modules."
	}
	b, _ := json.Marshal(c)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func (p *Page) catalogJSON(w http.ResponseWriter, r *http.Request) {
	serve(w, r, p.catalog, "no-cache")
}

// vendorFile serves one whitelisted library file from node_modules.
func (p *Page) vendorFile(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/vendor/")
	rel, ok := vendorFiles[name]
	if !ok {
		notFound(w, "no such library file: "+r.URL.Path)
		return
	}
	p.mu.Lock()
	a, ok := p.vendor[name]
	p.mu.Unlock()
	if !ok {
		dir := p.nodeDir
		if dir == "" {
			notFound(w, "library "+name+" is not in this binary: build it with make build (after scripts/setup), or point --static-dir at a directory holding node_modules")
			return
		}
		file := filepath.Join(dir, filepath.FromSlash(rel))
		b, err := os.ReadFile(file)
		if err != nil {
			notFound(w, "library "+name+" is not installed in the node_modules this server reads: run scripts/setup (npm ci in static/)")
			return
		}
		var mod time.Time
		if fi, err := os.Stat(file); err == nil {
			mod = fi.ModTime()
		}
		a = newAsset(name, b, mod)
		p.mu.Lock()
		p.vendor[name] = a
		p.mu.Unlock()
	}
	serve(w, r, a, "public, max-age=3600")
}

// nodeModules returns the node_modules directory to read libraries from, or
// "" when none is found.
func (p *Page) nodeModules() string {
	var dirs []string
	if p.opts.Dir != "" {
		dirs = append(dirs, filepath.Join(p.opts.Dir, "node_modules"), p.opts.Dir)
	} else {
		dirs = append(dirs, filepath.Join("static", "node_modules"), "node_modules")
		if exe, err := os.Executable(); err == nil {
			d := filepath.Dir(exe)
			dirs = append(dirs, filepath.Join(d, "..", "static", "node_modules"), filepath.Join(d, "static", "node_modules"))
		}
		if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
			dirs = append(dirs, filepath.Join(filepath.Dir(file), "node_modules"))
		}
	}
	for _, d := range dirs {
		if exists(filepath.Join(d, "maplibre-gl", "package.json")) {
			return d
		}
	}
	return ""
}

func exists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

// serve writes a with conditional-request handling and gzip when accepted.
// The gzip form has an ETag of its own (a strong tag names one byte
// sequence); If-None-Match matches either form.
func serve(w http.ResponseWriter, r *http.Request, a *asset, cache string) {
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("Cache-Control", cache)
	h.Add("Vary", "Accept-Encoding")
	body, etag := a.body, a.etag
	if a.gz != nil && respond.AcceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body, etag = a.gz, gzipETag(a.etag)
	}
	h.Set("ETag", etag)
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		respond.MatchETag(r.Header.Get("If-None-Match"), true, a.etag, gzipETag(a.etag)) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	http.ServeContent(w, r, "", a.mod, bytes.NewReader(body))
}

// gzipETag is the ETag of an asset's gzip form.
func gzipETag(etag string) string { return strings.TrimSuffix(etag, `"`) + `-gz"` }

func notFound(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": "not_found", "message": msg}})
	w.Write(b)
}
