// Package stats computes coverage, lengths, progress, the Rural Access Index
// and network reach in PostGIS, and renders results as JSON and CSV.
// Relocation-site ranking is package rank.
package stats

import (
	"log/slog"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/admit"
	"github.com/lastmile/lastmile/layer"
)

// Handler serves the /api/stats/ endpoints.
type Handler struct {
	pool    *pgxpool.Pool
	catalog *layer.Catalog
	log     *slog.Logger
	gate    *admit.Gate // nil: no admission control, no cache
}

// WithGate admits the expensive statistics through g and answers repeated
// questions from its cache.
func (h *Handler) WithGate(g *admit.Gate) *Handler { h.gate = g; return h }

// NewHandler returns the statistics handler.
func NewHandler(pool *pgxpool.Pool, catalog *layer.Catalog, log *slog.Logger) *Handler {
	return &Handler{pool: pool, catalog: catalog, log: log}
}

// Register adds the statistics routes.
func (h *Handler) Register(r *mux.Router) { h.registerStats(r) }
