// Package tiles serves Mapbox Vector Tiles generated in PostGIS from the
// stored geom_3857, their TileJSON 3.0 descriptions, and a byte-bounded tile
// cache invalidated by edits.
package tiles

import (
	"flag"
	"log/slog"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile/layer"
)

// Options configure the tile service.
type Options struct{}

// RegisterFlags adds the options' flags to fs.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {}

// Service generates, caches and serves tiles.
type Service struct{}

// New returns the tile service.
func New(pool *pgxpool.Pool, catalog *layer.Catalog, log *slog.Logger, opts Options) *Service {
	return &Service{}
}

// Register adds the /tiles routes.
func (s *Service) Register(r *mux.Router) {}

// Invalidate drops cached tiles of layer that intersect the bounds.
func (s *Service) Invalidate(layer string, bounds []orb.Bound) {}
