package tiles

import (
	"net/http"
	"strings"

	"github.com/lastmile/lastmile/server/respond"
)

// TileRoute is the route template of a tile request, as the router names
// it (the metrics label of both the fast and the general path).
const TileRoute = "/tiles/{layers}/{z}/{x}/{y}"

// FastPrefix is the path prefix of the requests ServeFast may answer.
func (s *Service) FastPrefix() string { return "/tiles/" }

// ServeFast answers a GET or HEAD of a cached tile, asked for without a
// query string by a client that accepts gzip, before the router: the tile's
// stored gzip bytes and precomputed headers, or a 304 for a matching
// If-None-Match — the same response as serveTile gives. For any other
// request (not a tile path, a bad one, filters, no gzip, a tile not in the
// cache) it writes nothing and returns ok=false, and the request takes the
// general path, which answers and counts the miss.
func (s *Service) ServeFast(w http.ResponseWriter, r *http.Request) (status int, route string, ok bool) {
	if r.URL.RawQuery != "" || !respond.AcceptsGzip(r) {
		return 0, "", false
	}
	key, ok := s.fastKey(r.URL.Path)
	if !ok {
		return 0, "", false
	}
	t, ok := s.cache.peek(key)
	if !ok {
		return 0, "", false
	}
	h := w.Header()
	h["Cache-Control"] = s.cacheControl
	h["Vary"] = varyAcceptEncoding
	h["X-Cache"] = xCacheHit
	if t.empty() {
		h["Etag"] = []string{t.etag}
	} else {
		h["Etag"] = t.gzETag
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && respond.MatchETag(inm, true, t.etag, gzipETag(t.etag)) {
		w.WriteHeader(http.StatusNotModified)
		return http.StatusNotModified, TileRoute, true
	}
	if t.empty() {
		w.WriteHeader(http.StatusNoContent)
		return http.StatusNoContent, TileRoute, true
	}
	h["Content-Type"] = contentType
	h["Content-Encoding"] = contentEncodingGzip
	h["Content-Length"] = t.gzLength
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(t.gz)
	}
	return http.StatusOK, TileRoute, true
}

// fastKey parses /tiles/{layers}/{z}/{x}/{y}.{mvt|pbf} into a cache key
// without allocating in the common case (one layer): ok=false for anything
// the general path must judge (and answer with an error, if it is one).
func (s *Service) fastKey(path string) (tileKey, bool) {
	rest, ok := strings.CutPrefix(path, "/tiles/")
	if !ok {
		return tileKey{}, false
	}
	list, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return tileKey{}, false
	}
	zs, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return tileKey{}, false
	}
	xs, ys, ok := strings.Cut(rest, "/")
	if !ok || strings.IndexByte(ys, '/') >= 0 {
		return tileKey{}, false
	}
	z, x, y, err := parseTile(zs, xs, ys)
	if err != nil {
		return tileKey{}, false
	}
	canonical, ok := s.canonicalLayers(list)
	if !ok {
		return tileKey{}, false
	}
	return tileKey{layers: canonical, z: z, x: x, y: y}, true
}

// maxCanonical bounds the layer lists whose canonical form is remembered.
const maxCanonical = 1024

// canonicalLayers returns the canonical form of a layer list (catalog
// order, no duplicates): the list itself for one layer, else remembered
// from an earlier request (up to maxCanonical lists) or worked out.
func (s *Service) canonicalLayers(list string) (string, bool) {
	if _, ok := s.catalog.Layer(list); ok {
		return list, true
	}
	if c, ok := s.canonical.Load(list); ok {
		return c.(string), true
	}
	layers, err := s.parseLayers(list)
	if err != nil {
		return "", false
	}
	c := layerNames(layers)
	if s.canonicalN.Add(1) <= maxCanonical {
		s.canonical.Store(strings.Clone(list), c)
	}
	return c, true
}

// ServeWire is ServeFast for the server's wire path (server.WirePath),
// which parses keep-alive requests itself: for a GET or HEAD of path (no
// query string) with those Accept-Encoding values and that first
// If-None-Match value, it returns the status, the header lines of the
// response (each ending in CRLF, as net/http writes ServeFast's headers,
// without the server's own) and the body to send — the tile's stored gzip
// bytes, nil for HEAD, 204 and 304. Both slices are shared and must not be
// modified. ok=false declines, as ServeFast does, and also when the cache
// keeps no wire lines (an unsendable --tile-cache-control).
func (s *Service) ServeWire(method, path string, acceptEncoding []string, ifNoneMatch string) (lines, body []byte, status int, route string, ok bool) {
	if !respond.AcceptsGzipValues(acceptEncoding) {
		return nil, nil, 0, "", false
	}
	key, ok := s.fastKey(path)
	if !ok {
		return nil, nil, 0, "", false
	}
	t, ok := s.cache.peek(key)
	if !ok || t.wireOK == nil {
		return nil, nil, 0, "", false
	}
	if ifNoneMatch != "" && respond.MatchETag(ifNoneMatch, true, t.etag, gzipETag(t.etag)) {
		return t.wireNotModified, nil, http.StatusNotModified, TileRoute, true
	}
	if t.empty() {
		return t.wireOK, nil, http.StatusNoContent, TileRoute, true
	}
	if method == http.MethodHead {
		return t.wireOK, nil, http.StatusOK, TileRoute, true
	}
	return t.wireOK, t.gz, http.StatusOK, TileRoute, true
}

// newWireLines checks that the Cache-Control value can be written as it is
// (net/http would trim it and blank out line breaks): else the wire path is
// off for this service.
func newWireLines(cacheControl string) wireLines {
	if cacheControl != strings.TrimSpace(cacheControl) {
		return wireLines{}
	}
	for i := 0; i < len(cacheControl); i++ {
		if c := cacheControl[i]; c < 0x20 || c == 0x7f {
			return wireLines{}
		}
	}
	return wireLines{cacheControl: cacheControl}
}

// lines returns the header lines of ServeWire's 200 (204 for an empty
// tile) and 304 answers for t, sorted by name as net/http sorts them.
func (w wireLines) lines(t *tile) (ok, notModified []byte) {
	etag := t.etag
	if !t.empty() {
		etag = t.gzETag[0]
	}
	line := func(b []byte, k, v string) []byte {
		return append(append(append(append(b, k...), ": "...), v...), "\r\n"...)
	}
	var nm []byte
	nm = line(nm, "Cache-Control", w.cacheControl)
	nm = line(nm, "Etag", etag)
	nm = line(nm, "Vary", varyAcceptEncoding[0])
	nm = line(nm, "X-Cache", xCacheHit[0])
	if t.empty() {
		return nm, nm
	}
	ok = line(ok, "Cache-Control", w.cacheControl)
	ok = line(ok, "Content-Encoding", contentEncodingGzip[0])
	ok = line(ok, "Content-Length", t.gzLength[0])
	ok = line(ok, "Content-Type", contentType[0])
	ok = line(ok, "Etag", etag)
	ok = line(ok, "Vary", varyAcceptEncoding[0])
	ok = line(ok, "X-Cache", xCacheHit[0])
	return ok, nm
}
