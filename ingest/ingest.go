// Package ingest reads features from outside files (GeoJSON, GeoJSONSeq,
// CSV, KML, OSM PBF, any GDAL format through ogr2ogr), normalises them (CRS,
// attribute mapping, validation) and loads them in one transaction with a
// per-row report.
package ingest

import (
	"log/slog"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
)

// Handler serves POST /api/import/{layer}.
type Handler struct{}

// NewHandler returns the import handler.
func NewHandler(pool *pgxpool.Pool, catalog *layer.Catalog, store *postgis.Store, log *slog.Logger) *Handler {
	return &Handler{}
}

// Register adds the import route.
func (h *Handler) Register(r *mux.Router) {}
