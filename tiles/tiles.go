// Package tiles serves Mapbox Vector Tiles generated in PostGIS from the
// stored geom_3857, their TileJSON 3.0 descriptions, and a byte-bounded tile
// cache invalidated by edits.
//
// A tile of one or more catalog layers is one SQL statement (tiles/sql/
// layer.sql per layer, concatenated) run with parallel workers off. Tiles
// are cached gzipped under layers + z/x/y + normalised filters; concurrent
// misses of one key share one query (singleflight); Invalidate drops the
// cached tiles an edit touches at every zoom.
package tiles

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"golang.org/x/sync/singleflight"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/server/respond"
)

// Options configure the tile service.
type Options struct {
	CacheBytes   int64         // bytes of gzipped tiles kept in memory; 0 disables the cache
	CacheControl string        // Cache-Control header of tiles
	MaxFeatures  int           // features per layer per tile
	Attribution  string        // TileJSON attribution
	QueryTimeout time.Duration // time limit of one tile query
}

// RegisterFlags adds the options' flags to fs.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.Int64Var(&o.CacheBytes, "tile-cache-bytes", 256<<20, "bytes of gzipped tiles cached in memory (0 disables the cache)")
	fs.StringVar(&o.CacheControl, "tile-cache-control", "public, max-age=60", "Cache-Control header sent with tiles")
	fs.IntVar(&o.MaxFeatures, "tile-max-features", 10000, "most features of one layer in one tile (the longest lines are kept)")
	fs.StringVar(&o.Attribution, "tile-attribution", "lastmile", "attribution in TileJSON")
	fs.DurationVar(&o.QueryTimeout, "tile-query-timeout", 20*time.Second, "time limit of one tile query")
}

// withDefaults fills unset options (a zero Options, as in tests, gets the
// flag defaults except the cache, which stays off unless sized).
func (o Options) withDefaults() Options {
	if o.CacheControl == "" {
		o.CacheControl = "public, max-age=60"
	}
	if o.MaxFeatures <= 0 {
		o.MaxFeatures = 10000
	}
	if o.Attribution == "" {
		o.Attribution = "lastmile"
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = 20 * time.Second
	}
	return o
}

// Service generates, caches and serves tiles.
type Service struct {
	pool    *pgxpool.Pool
	catalog *layer.Catalog
	log     *slog.Logger
	opts    Options
	cache   *cache
	flight  singleflight.Group
	// generated counts tile queries run (cache misses after singleflight).
	generated atomic.Uint64
	// batched counts the tiles generated in a statement with others.
	batched atomic.Uint64

	cacheControl []string // the Cache-Control header value
	params       sync.Map // layer set → map[string]filterParam
	canonical    sync.Map // layer list as asked → canonical (fast path)
	canonicalN   atomic.Int64
	plans        sync.Map // planKey → query (x and y to be set)
	plansN       atomic.Int64
	extentMu     sync.Mutex
	extents      map[string]*extent // per layer; dropped on invalidation
}

// extent is a layer's data bounds; ok is false for an empty table.
type extent struct {
	bound orb.Bound
	ok    bool
}

// New returns the tile service.
func New(pool *pgxpool.Pool, catalog *layer.Catalog, log *slog.Logger, opts Options) *Service {
	if log == nil {
		log = slog.Default()
	}
	opts = opts.withDefaults()
	c := newCache(opts.CacheBytes)
	c.wire = newWireLines(opts.CacheControl)
	return &Service{
		pool: pool, catalog: catalog, log: log, opts: opts,
		cache:        c,
		cacheControl: []string{opts.CacheControl},
		extents:      map[string]*extent{},
	}
}

// Invalidate drops cached tiles of layer that intersect the bounds (lon/lat,
// grown by the tile buffer) at every zoom, in every cached layer set that
// contains the layer, and forgets the layer's TileJSON extent. With no
// bounds it drops all of the layer's tiles. Pass it to Store.OnChange.
func (s *Service) Invalidate(layerName string, bounds []orb.Bound) {
	n := s.cache.invalidate(layerName, bounds)
	s.extentMu.Lock()
	delete(s.extents, layerName)
	s.extentMu.Unlock()
	s.log.Debug("tiles invalidated", "layer", layerName, "bounds", len(bounds), "dropped", n)
}

// Stats returns the cache's size and counters.
func (s *Service) Stats() CacheStats {
	st := s.cache.stats()
	st.Generated = s.generated.Load()
	st.Batched = s.batched.Load()
	return st
}

// tileRequest is a parsed, validated tile request.
type tileRequest struct {
	layers  []*layer.Layer // requested, in catalog order, distinct
	z, x, y int
	filters Filters
}

// key returns the cache key.
func (t tileRequest) key() tileKey {
	return tileKey{layers: layerNames(t.layers), z: t.z, x: t.x, y: t.y, filters: t.filters.String()}
}

// names returns the requested layers' names.
func (t tileRequest) names() []string {
	out := make([]string, len(t.layers))
	for i, l := range t.layers {
		out[i] = l.Name
	}
	return out
}

// visible returns the requested layers present at the tile's zoom.
func (t tileRequest) visible() []*layer.Layer {
	var out []*layer.Layer
	for _, l := range t.layers {
		if t.z >= l.MinZoom {
			out = append(out, l)
		}
	}
	return out
}

// fetch returns the tile from the cache or generates it, collapsing
// concurrent misses of one key. hit reports a cache hit.
func (s *Service) fetch(ctx context.Context, req tileRequest) (t *tile, hit bool, err error) {
	key := req.key()
	if t, ok := s.cache.get(key); ok {
		return t, true, nil
	}
	names := req.names()
	gen := s.cache.generation(names)
	// The generation is part of the flight key: a request that arrives after
	// an invalidation never joins a query started before it.
	flightKey := fmt.Sprintf("%s/%d/%d/%d?%s#%d", key.layers, key.z, key.x, key.y, key.filters, gen)
	ch := s.flight.DoChan(flightKey, func() (any, error) {
		// Detached from the first caller: its cancellation must not fail the
		// others, and a finished tile is worth caching.
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.QueryTimeout)
		defer cancel()
		start := time.Now()
		s.generated.Add(1)
		t, err := s.generate(qctx, req)
		if err != nil {
			return nil, err
		}
		if d := time.Since(start); d > time.Second {
			s.log.Warn("slow tile", "layers", key.layers, "z", req.z, "x", req.x, "y", req.y,
				"filters", key.filters, "ms", d.Milliseconds(), "bytes", t.size)
		}
		s.cache.put(key, names, gen, t)
		return t, nil
	})
	select {
	case <-ctx.Done():
		return nil, false, ctx.Err()
	case res := <-ch:
		if res.Err != nil {
			return nil, false, res.Err
		}
		return res.Val.(*tile), false, nil
	}
}

// generate runs the tile query and packs the result.
func (s *Service) generate(ctx context.Context, req tileRequest) (*tile, error) {
	q, ok, err := s.plan(ctx, req)
	if err != nil {
		return nil, err
	}
	if !ok {
		return s.packTile(nil)
	}
	mvt, err := s.run(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("tile %s/%d/%d/%d: %w", layerNames(req.layers), req.z, req.x, req.y, err)
	}
	return s.packTile(mvt)
}

// TileSQL returns the statement and arguments a request for the tile path
// (/tiles/{layers}/{z}/{x}/{y}.mvt, no filters) runs (after bringing the
// overviews it draws up to date), or ok=false when no layer is visible at that zoom:
// bench/tilesql times the SQL alone with it.
func (s *Service) TileSQL(ctx context.Context, path string) (sql string, args []any, ok bool, err error) {
	key, ok := s.fastKey(path)
	if !ok {
		return "", nil, false, fmt.Errorf("not a tile path: %s", path)
	}
	layers, err := s.parseLayers(key.layers)
	if err != nil {
		return "", nil, false, err
	}
	q, ok, err := s.plan(ctx, tileRequest{layers: layers, z: key.z, x: key.x, y: key.y})
	return q.sql, q.args, ok, err
}

// plan brings the overviews the request draws up to date and builds its
// tile query; ok=false when no layer is drawn at the zoom.
func (s *Service) plan(ctx context.Context, req tileRequest) (q query, ok bool, err error) {
	visible := req.visible()
	if len(visible) == 0 {
		return query{}, false, nil
	}
	for _, l := range visible {
		if usesOverview(l, req.z, req.filters) {
			if err := s.ensureOverviews(ctx); err != nil {
				return query{}, false, fmt.Errorf("overviews: %w", err)
			}
			break
		}
	}
	q = s.tileQuery(visible, req.z, req.x, req.y, req.filters)
	return q, q.sql != "", nil
}

// planKey identifies the statements that differ only in x and y ($2, $3).
type planKey struct {
	layers  string // the visible layers
	z       int
	filters string // Filters.String()
}

// maxPlans bounds the remembered statements (layer sets × zooms × filters).
const maxPlans = 4096

// tileQuery is the package's tileQuery with the statement text remembered
// per layer set, zoom and filters: building it (templates, the zoom rules'
// SQL, property lists) was a tenth of the server's CPU on a small uncached
// tile, and only its $2 and $3 (x, y) change from tile to tile.
func (s *Service) tileQuery(visible []*layer.Layer, z, x, y int, filters Filters) query {
	key := planKey{layers: layerNames(visible), z: z, filters: filters.String()}
	if v, ok := s.plans.Load(key); ok {
		p := v.(query)
		args := slices.Clone(p.args)
		args[1], args[2] = x, y
		return query{sql: p.sql, args: args, group: p.group}
	}
	q := tileQuery(visible, z, x, y, filters, s.opts.MaxFeatures)
	if q.sql != "" && s.plansN.Add(1) <= maxPlans {
		v, _ := s.plans.LoadOrStore(key, query{sql: q.sql, args: slices.Clone(q.args), group: newTileGroup(q.sql)})
		q.group = v.(query).group
	}
	return q
}

// run executes a tile query: one statement, planned without parallel
// workers (tileQuery ends it in serialClause), or one statement with other
// tiles of its group waiting for a connection at the same time (batch.go).
func (s *Service) run(ctx context.Context, q query) ([]byte, error) {
	if q.group != nil {
		return s.runGrouped(ctx, q.group, q)
	}
	return oneTile(ctx, s.pool, q)
}

// packTile wraps a generated MVT: its ETag, and its gzipped bytes when the
// cache will keep it (otherwise the handler compresses for clients that
// accept gzip, and others get the bytes as they are).
func (s *Service) packTile(mvt []byte) (*tile, error) {
	sum := sha256.Sum256(mvt)
	t := &tile{mvt: mvt, size: len(mvt), etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	if len(mvt) == 0 || s.opts.CacheBytes <= 0 {
		return t, nil
	}
	t.gz = respond.Gzip(mvt)
	return t, nil
}

// body returns the tile's bytes gzipped or not, compressing or
// decompressing when the tile lacks that form.
func (s *Service) body(t *tile, gzipped bool) ([]byte, error) {
	switch {
	case t.empty():
		return nil, nil
	case gzipped && t.gz != nil:
		return t.gz, nil
	case gzipped:
		return respond.Gzip(t.mvt), nil
	case t.mvt != nil:
		return t.mvt, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(t.gz))
	if err != nil {
		return nil, err
	}
	buf := bytes.NewBuffer(make([]byte, 0, t.size))
	_, err = io.Copy(buf, zr)
	return buf.Bytes(), err
}

// layerNames joins the layers' names with commas.
func layerNames(layers []*layer.Layer) string {
	var b []byte
	for i, l := range layers {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, l.Name...)
	}
	return string(b)
}

// itoa is strconv.Itoa, short.
func itoa(i int) string { return strconv.Itoa(i) }
