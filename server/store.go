package server

import (
	"context"

	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
)

// FeatureStore is what the OGC API Features handlers read and write
// features through; *postgis.Store implements it. Errors are lastmile
// errors (not found, invalid, conflict, precondition) or internal ones,
// which respond.Error maps to HTTP statuses.
type FeatureStore interface {
	// Items hands the page of l's features that q selects to page, with
	// numberMatched from the same snapshot; a failing query returns its
	// error before page is called.
	Items(ctx context.Context, l *layer.Layer, q postgis.ItemsQuery, page postgis.PageFunc) error
	// Extent returns the bounds and completed_on range of l's features.
	Extent(ctx context.Context, l *layer.Layer) (postgis.Extent, error)
	// Get returns one feature, with its GeoJSON.
	Get(ctx context.Context, layerName string, id int64) (*postgis.Feature, error)
	// Create inserts a feature and returns it as stored.
	Create(ctx context.Context, layerName string, props map[string]any, geom orb.Geometry) (*postgis.Feature, error)
	// Replace and Patch change feature id if its version satisfies pre
	// (If-Match; the zero Precondition: unconditional).
	Replace(ctx context.Context, layerName string, id int64, pre postgis.Precondition, props map[string]any, geom orb.Geometry) (*postgis.Feature, error)
	Patch(ctx context.Context, layerName string, id int64, pre postgis.Precondition, props map[string]any, geom orb.Geometry) (*postgis.Feature, error)
	// Delete removes feature id if its version satisfies pre.
	Delete(ctx context.Context, layerName string, id int64, pre postgis.Precondition) error
	// History returns every recorded write of feature id, oldest first.
	History(ctx context.Context, layerName string, id int64) ([]postgis.HistoryEntry, error)
}

var _ FeatureStore = (*postgis.Store)(nil)
