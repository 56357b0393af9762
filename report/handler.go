package report

import (
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/server/respond"
)

// Routes is a package's routes (tiles.Service is one).
type Routes interface {
	Register(r *mux.Router)
}

// TileHandler returns a handler serving only the tile routes, for the
// report's map.
func TileHandler(tiles Routes) http.Handler {
	r := mux.NewRouter()
	tiles.Register(r)
	return r
}

// Handler serves GET /reports/{admin_code}.
type Handler struct {
	builder *Builder
}

// NewHandler returns the report handler; the map is drawn from the tiles
// the tile routes answer.
func NewHandler(pool *pgxpool.Pool, catalog *layer.Catalog, tiles Routes, log *slog.Logger) *Handler {
	return &Handler{builder: &Builder{Pool: pool, Catalog: catalog, Tiles: TileHandler(tiles), Log: log}}
}

// Register adds GET /reports/{admin_code}.
func (h *Handler) Register(r *mux.Router) {
	r.Handle("/reports/{admin_code}", respond.HandlerFunc(h.serve)).Methods(http.MethodGet, http.MethodHead)
}

// serve answers GET /reports/{admin_code}?as_of=&compare=&lang=: the
// report as one self-contained HTML page; bad parameters are a 400, an
// unknown area a 404, both as the JSON error.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	req, err := ParseRequest(mux.Vars(r)["admin_code"], r.URL.Query())
	if err != nil {
		return err
	}
	rep, err := h.builder.Build(r.Context(), req)
	if err != nil {
		return err
	}
	body, err := rep.HTML()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Language", map[string]string{"zh": "zh-CN", "en": "en"}[req.Lang])
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
	return nil
}
