package tiles

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/server/respond"
)

// ContentType is the media type of Mapbox Vector Tiles.
const ContentType = "application/vnd.mapbox-vector-tile"

// Header values shared by every response (never modified).
var (
	contentType         = []string{ContentType}
	varyAcceptEncoding  = []string{"Accept-Encoding"}
	xCacheHit           = []string{"HIT"}
	xCacheMiss          = []string{"MISS"}
	contentEncodingGzip = []string{"gzip"}
)

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
	if l, ok := s.catalog.Layer(list); ok { // the common case: one layer
		return []*layer.Layer{l}, nil
	}
	names := strings.Split(list, ",")
	for _, name := range names {
		if _, ok := s.catalog.Layer(name); !ok {
			return nil, lastmile.Errorf(lastmile.ENOTFOUND, "no tile layer %q (layers: %s)",
				lastmile.Clip(name), strings.Join(s.catalog.Names(), ", "))
		}
	}
	var out []*layer.Layer
	for _, l := range s.catalog.Layers() {
		for _, name := range names {
			if l.Name == name {
				out = append(out, l)
				break
			}
		}
	}
	return out, nil
}

// parseFilters validates the request's filters against the layers, with
// the layers' accepted parameters computed once per layer set.
func (s *Service) parseFilters(layers []*layer.Layer, rawQuery string) (Filters, error) {
	if rawQuery == "" {
		return nil, nil
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, lastmile.Invalid("the query string is malformed", lastmile.Problem{Field: "query", Value: lastmile.Clip(rawQuery), Message: err.Error()})
	}
	if len(q) == 0 {
		return nil, nil
	}
	names := layerNames(layers)
	accepted, ok := s.params.Load(names)
	if !ok {
		accepted, _ = s.params.LoadOrStore(names, filterParams(layers))
	}
	return parseFilters(layers, accepted.(map[string]filterParam), q)
}

// parseTile validates z/x/y{.mvt|.pbf}: z in 0…22, x and y in 0…2^z-1.
func parseTile(zs, xs, ys string) (z, x, y int, err error) {
	base, ext, ok := strings.Cut(ys, ".")
	if !ok || (ext != "mvt" && ext != "pbf") {
		return 0, 0, 0, lastmile.Invalid("a tile URL ends in /{z}/{x}/{y}.mvt (or .pbf)",
			lastmile.Problem{Field: "format", Value: lastmile.Clip(ys), Message: "must be {y}.mvt or {y}.pbf"})
	}
	var problems []lastmile.Problem
	num := func(name, s string, max int) int {
		digits := s != "" && len(s) <= 8 && strings.Trim(s, "0123456789") == ""
		n, err := strconv.Atoi(s)
		if !digits || err != nil || n > max || (len(s) > 1 && s[0] == '0') {
			problems = append(problems, lastmile.Problem{Field: name, Value: lastmile.Clip(s),
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
	filters, err := s.parseFilters(layers, r.URL.RawQuery)
	if err != nil {
		return err
	}
	t, hit, err := s.fetch(r.Context(), tileRequest{layers: layers, z: z, x: x, y: y, filters: filters})
	if err != nil { // a client that went away gets nothing (respond.Error); the tile is still cached for the next one
		return err
	}
	// Header keys are canonical already: set the map directly.
	h := w.Header()
	h["Cache-Control"] = s.cacheControl
	h["Vary"] = varyAcceptEncoding
	if hit {
		h["X-Cache"] = xCacheHit
	} else {
		h["X-Cache"] = xCacheMiss
	}
	gz := respond.AcceptsGzip(r)
	etag := t.etag
	if gz && !t.empty() {
		etag = gzipETag(t.etag)
	}
	h["Etag"] = []string{etag}
	// If-None-Match matches the tile in either encoding (weak comparison).
	if respond.MatchETag(r.Header.Get("If-None-Match"), true, t.etag, gzipETag(t.etag)) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	if t.empty() {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	h["Content-Type"] = contentType
	body, err := s.body(t, gz)
	if err != nil {
		return err
	}
	if gz {
		h["Content-Encoding"] = contentEncodingGzip
	}
	h["Content-Length"] = []string{itoa(len(body))}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
	return nil
}

// gzipETag is the ETag of the gzip-encoded representation.
func gzipETag(etag string) string { return strings.TrimSuffix(etag, `"`) + `-gz"` }
