package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/server/respond"
	"github.com/lastmile/lastmile/tiles"
)

// Handler serves an archive read-only at the tile server's URLs:
// GET /tiles, /tiles/{layers}.json (TileJSON 3.0) and
// /tiles/{layers}/{z}/{x}/{y}.mvt, where layers is the archive's layer set.
// Tiles are sent gzip-encoded to clients that accept it (as stored) and
// decompressed to others; a tile the archive lacks is 204, as an empty tile
// of the server.
type Handler struct {
	r            Reader
	meta         *Metadata
	layers       string
	filters      url.Values // the archive's filters, parsed
	cacheControl string
}

// NewHandler returns the handler of an open archive.
func NewHandler(r Reader, cacheControl string) *Handler {
	m := r.Metadata()
	layers := m.Source.Layers
	if layers == "" { // not written by lastmile: the vector layers
		var ids []string
		for _, vl := range m.VectorLayers {
			ids = append(ids, vl.ID)
		}
		layers = strings.Join(ids, ",")
	}
	f, _ := url.ParseQuery(m.Source.Filters)
	return &Handler{r: r, meta: m, layers: layers, filters: f, cacheControl: cacheControl}
}

// Register adds the routes.
func (h *Handler) Register(r *mux.Router) {
	get := []string{http.MethodGet, http.MethodHead}
	r.Handle("/tiles", respond.HandlerFunc(h.serveCatalog)).Methods(get...)
	r.Handle("/tiles/{layers}.json", respond.HandlerFunc(h.serveTileJSON)).Methods(get...)
	r.Handle("/tiles/{layers}/{z}/{x}/{y}", respond.HandlerFunc(h.serveTile)).Methods(get...)
}

// check accepts the archive's layer set, and no filters or the archive's.
func (h *Handler) check(r *http.Request, layers string) error {
	if layers != h.layers {
		return lastmile.Errorf(lastmile.ENOTFOUND, "this archive holds the layer set %q, not %q", h.layers, shortText(layers))
	}
	if r.URL.RawQuery == "" {
		return nil
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil || !sameValues(q, h.filters) {
		return lastmile.Errorf(lastmile.ENOTFOUND, "this archive holds the tiles with filters %q only; other filters need the tile server",
			h.meta.Source.Filters)
	}
	return nil
}

func sameValues(a, b url.Values) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, ",") != strings.Join(b[k], ",") {
			return false
		}
	}
	return true
}

func shortText(s string) string { return lastmile.ClipTo(s, 60) }

func (h *Handler) tileURL(base string) string {
	u := base + "/tiles/" + h.layers + "/{z}/{x}/{y}.mvt"
	if h.meta.Source.Filters != "" {
		u += "?" + h.meta.Source.Filters
	}
	return u
}

func (h *Handler) tileJSON(base string) *tiles.TileJSON {
	m := h.meta
	return &tiles.TileJSON{
		TileJSON: "3.0.0", Name: m.Name, Description: m.Description, Version: m.Version,
		Attribution: m.Attribution, Scheme: "xyz", Tiles: []string{h.tileURL(base)},
		MinZoom: m.MinZoom, MaxZoom: m.MaxZoom, Bounds: m.Bounds, Center: m.Center,
		VectorLayers: m.VectorLayers,
	}
}

func (h *Handler) serveTileJSON(w http.ResponseWriter, r *http.Request) error {
	if err := h.check(r, mux.Vars(r)["layers"]); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-cache")
	respond.JSON(w, http.StatusOK, h.tileJSON(baseURL(r)))
	return nil
}

func (h *Handler) serveCatalog(w http.ResponseWriter, r *http.Request) error {
	base := baseURL(r)
	respond.JSON(w, http.StatusOK, map[string]any{
		"tilesets": []map[string]any{{
			"name": h.layers, "tilejson": base + "/tiles/" + h.layers + ".json", "tiles": h.tileURL(base),
			"minzoom": h.meta.MinZoom, "maxzoom": h.meta.MaxZoom, "archive": true,
			"generated": h.meta.Source.Generated,
		}},
	})
	return nil
}

func (h *Handler) serveTile(w http.ResponseWriter, r *http.Request) error {
	vars := mux.Vars(r)
	if err := h.check(r, vars["layers"]); err != nil {
		return err
	}
	z, x, y, err := parseTile(vars["z"], vars["x"], vars["y"])
	if err != nil {
		return err
	}
	gz, err := h.r.Tile(z, x, y)
	if err != nil {
		return err
	}
	hd := w.Header()
	hd.Set("Cache-Control", h.cacheControl)
	hd.Set("Vary", "Accept-Encoding")
	if gz == nil {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	sum := sha256.Sum256(gz)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	hd.Set("Etag", etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, strings.Trim(etag, `"`)) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	body := gz
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		hd.Set("Content-Encoding", "gzip")
	} else if body, err = gunzip(gz); err != nil {
		return err
	}
	hd.Set("Content-Type", tiles.ContentType)
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
	return nil
}

// acceptsGzip reports whether Accept-Encoding allows gzip (listed, or
// through *, with a q other than 0).
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "gzip" && name != "x-gzip" && name != "*" {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			k, v, found := strings.Cut(strings.TrimSpace(p), "=")
			if found && strings.EqualFold(strings.TrimSpace(k), "q") {
				if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil || q <= 0 {
					return false
				}
			}
		}
		return true
	}
	return false
}

// parseTile validates z/x/y.mvt (or .pbf).
func parseTile(zs, xs, ys string) (z, x, y int, err error) {
	base, ext, ok := strings.Cut(ys, ".")
	if !ok || (ext != "mvt" && ext != "pbf") {
		return 0, 0, 0, lastmile.Invalid("a tile URL ends in /{z}/{x}/{y}.mvt (or .pbf)",
			lastmile.Problem{Field: "format", Value: shortText(ys), Message: "must be {y}.mvt or {y}.pbf"})
	}
	num := func(name, s string, hi int) (int, *lastmile.Problem) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > hi || strings.TrimLeft(s, "0123456789") != "" || (len(s) > 1 && s[0] == '0') {
			return 0, &lastmile.Problem{Field: name, Value: shortText(s), Message: "must be an integer from 0 to " + strconv.Itoa(hi)}
		}
		return n, nil
	}
	var p *lastmile.Problem
	if z, p = num("z", zs, MaxZoom); p != nil {
		return 0, 0, 0, lastmile.Invalid("invalid tile coordinates", *p)
	}
	var problems []lastmile.Problem
	if x, p = num("x", xs, 1<<z-1); p != nil {
		problems = append(problems, *p)
	}
	if y, p = num("y", base, 1<<z-1); p != nil {
		problems = append(problems, *p)
	}
	if len(problems) > 0 {
		return 0, 0, 0, lastmile.Invalid("invalid tile coordinates", problems...)
	}
	return z, x, y, nil
}

// baseURL is the scheme and host clients reached us by.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("X-Forwarded-Proto"), ",")[0])); p == "http" || p == "https" {
		scheme = p
	}
	host := r.Host
	if host == "" {
		host = "localhost"
	}
	return scheme + "://" + host
}
