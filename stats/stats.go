// Package stats computes coverage, lengths, progress, the Rural Access Index,
// network reach and relocation-site ranking in PostGIS, and renders results
// as JSON and CSV.
package stats

import (
	"log/slog"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/layer"
)

// Handler serves /api/stats/... and /api/sites/rank.
type Handler struct {
	pool    *pgxpool.Pool
	catalog *layer.Catalog
	log     *slog.Logger
}

// NewHandler returns the statistics handler.
func NewHandler(pool *pgxpool.Pool, catalog *layer.Catalog, log *slog.Logger) *Handler {
	return &Handler{pool: pool, catalog: catalog, log: log}
}

// Register adds the statistics and ranking routes.
func (h *Handler) Register(r *mux.Router) {
	h.registerStats(r)
	h.registerRank(r)
}
