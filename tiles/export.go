package tiles

import (
	"context"
	"fmt"

	"github.com/lastmile/lastmile/layer"
)

// renderMaxZoom is the highest zoom Render accepts (as the tile URLs).
const renderMaxZoom = 22

// Layers resolves a comma-separated layer list as the tile URLs do: catalog
// layers in catalog order, without duplicates; an unknown layer is not
// found.
func (s *Service) Layers(list string) ([]*layer.Layer, error) { return s.parseLayers(list) }

// Render returns tile z/x/y of the layers with the filters, exactly as the
// server sends it (before HTTP compression), generated afresh: it bypasses
// the cache and neither reads nor fills it. An empty tile is nil. Archive
// exports use it so that an archive holds the server's tiles byte for byte.
func (s *Service) Render(ctx context.Context, layers []*layer.Layer, z, x, y int, filters Filters) ([]byte, error) {
	if z < 0 || z > renderMaxZoom || x < 0 || y < 0 || x >= 1<<z || y >= 1<<z {
		return nil, fmt.Errorf("tile %d/%d/%d is outside the tile grid", z, x, y)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.QueryTimeout)
	defer cancel()
	s.generated.Add(1)
	t, err := s.generate(ctx, tileRequest{layers: layers, z: z, x: x, y: y, filters: filters})
	if err != nil {
		return nil, err
	}
	if t.empty() {
		return nil, nil
	}
	return t.mvt, nil
}

// TileJSON returns the TileJSON of the layers with the filters, its tile
// URL under base (scheme://host, or "" for a path-only template).
func (s *Service) TileJSON(ctx context.Context, base string, layers []*layer.Layer, filters Filters) (*TileJSON, error) {
	return s.tileJSON(ctx, base, layers, filters)
}
