package tiles

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/server/respond"
)

// ContentType is the media type of Mapbox Vector Tiles.
const ContentType = "application/vnd.mapbox-vector-tile"

// Register adds the /tiles routes.
func (s *Service) Register(r *mux.Router) {
	get := []string{http.MethodGet, http.MethodHead}
	r.Handle("/tiles", respond.HandlerFunc(s.serveCatalog)).Methods(get...)
	r.Handle("/tiles/{layers}.json", respond.HandlerFunc(s.serveTileJSON)).Methods(get...)
	r.Handle("/tiles/{layers}/{z}/{x}/{y}", respond.HandlerFunc(s.serveTile)).Methods(get...)
}

// parseLayers resolves a comma-separated layer list to catalog layers in
// catalog order, without duplicates; an unknown layer is not found.
func (s *Service) parseLayers(list string) ([]*layer.Layer, error) {
	want := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		if _, ok := s.catalog.Layer(name); !ok {
			return nil, lastmile.Errorf(lastmile.ENOTFOUND, "no tile layer %q (layers: %s)",
				shorten(name), strings.Join(s.catalog.Names(), ", "))
		}
		want[name] = true
	}
	var out []*layer.Layer
	for _, l := range s.catalog.Layers() {
		if want[l.Name] {
			out = append(out, l)
		}
	}
	return out, nil
}

// parseTile validates z/x/y{.mvt|.pbf}: z in 0…22, x and y in 0…2^z-1.
func parseTile(zs, xs, ys string) (z, x, y int, err error) {
	base, ext, ok := strings.Cut(ys, ".")
	if !ok || (ext != "mvt" && ext != "pbf") {
		return 0, 0, 0, lastmile.Invalid("a tile URL ends in /{z}/{x}/{y}.mvt (or .pbf)",
			lastmile.Problem{Field: "format", Value: shorten(ys), Message: "must be {y}.mvt or {y}.pbf"})
	}
	var problems []lastmile.Problem
	num := func(name, s string, max int) int {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > max || (len(s) > 1 && s[0] == '0') {
			problems = append(problems, lastmile.Problem{Field: name, Value: shorten(s),
				Message: "must be an integer from 0 to " + itoa(max)})
			return -1
		}
		return n
	}
	z = num("z", zs, maxZoom)
	if z < 0 {
		return 0, 0, 0, lastmile.Invalid("invalid tile coordinates", problems...)
	}
	n := 1<<z - 1
	x = num("x", xs, n)
	y = num("y", base, n)
	if len(problems) > 0 {
		return 0, 0, 0, lastmile.Invalid("invalid tile coordinates", problems...)
	}
	return z, x, y, nil
}

// serveTile answers GET /tiles/{layers}/{z}/{x}/{y}.mvt.
func (s *Service) serveTile(w http.ResponseWriter, r *http.Request) error {
	vars := mux.Vars(r)
	layers, err := s.parseLayers(vars["layers"])
	if err != nil {
		return err
	}
	z, x, y, err := parseTile(vars["z"], vars["x"], vars["y"])
	if err != nil {
		return err
	}
	filters, err := ParseFilters(layers, r.URL.Query())
	if err != nil {
		return err
	}
	t, hit, err := s.fetch(r.Context(), tileRequest{layers: layers, z: z, x: x, y: y, filters: filters})
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Cache-Control", s.opts.CacheControl)
	h.Set("Vary", "Accept-Encoding")
	if hit {
		h.Set("X-Cache", "HIT")
	} else {
		h.Set("X-Cache", "MISS")
	}
	gz := acceptsGzip(r.Header.Get("Accept-Encoding"))
	etag := t.etag
	if gz && !t.empty() {
		etag = gzipETag(t.etag)
	}
	h.Set("ETag", etag)
	if matchesETag(r.Header.Get("If-None-Match"), t.etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	if t.empty() {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	h.Set("Content-Type", ContentType)
	body, err := s.body(t, gz)
	if err != nil {
		return err
	}
	if gz {
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
	return nil
}

// gzipETag is the ETag of the gzip-encoded representation.
func gzipETag(etag string) string { return strings.TrimSuffix(etag, `"`) + `-gz"` }

// matchesETag reports whether an If-None-Match header matches the tile's
// ETag in either encoding (weak comparison: W/ prefixes are ignored).
func matchesETag(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == etag || tag == gzipETag(etag) {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip (listed
// with a non-zero q, or through * with a non-zero q).
func acceptsGzip(header string) bool {
	star := false
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "gzip" && name != "x-gzip" && name != "*" {
			continue
		}
		ok := true
		for _, p := range strings.Split(params, ";") {
			k, v, found := strings.Cut(strings.TrimSpace(p), "=")
			if found && strings.EqualFold(strings.TrimSpace(k), "q") {
				q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				ok = err == nil && q > 0
			}
		}
		if name == "*" {
			star = ok
			continue
		}
		return ok
	}
	return star
}
