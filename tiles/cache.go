package tiles

import (
	"container/list"
	"math"
	"slices"
	"sync"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"
)

// tile is one generated tile: its gzipped bytes (nil when empty or not
// compressed yet), the uncompressed MVT (kept only until the tile is cached),
// the size of the uncompressed MVT and its ETag (a hash of those bytes).
type tile struct {
	gz   []byte
	mvt  []byte
	size int
	etag string
	// Header values of the gzipped response, computed once when the tile
	// is cached (nil before): the cached path then allocates no strings.
	gzETag, gzLength []string
	// wireOK and wireNotModified are the header lines (each ending in CRLF,
	// in net/http's order) of the 200 (or, for an empty tile, 204) and the
	// 304 that ServeWire answers: computed once when the tile is cached.
	wireOK, wireNotModified []byte
}

// empty reports whether the tile has no features (served as 204).
func (t *tile) empty() bool { return t.size == 0 }

// tileKey identifies a cached tile: the canonical layer set, the tile
// coordinates and the normalised filters.
type tileKey struct {
	layers  string // canonical, comma-separated
	z, x, y int
	filters string // Filters.String()
}

// entry is a cached tile and its place in the LRU list.
type entry struct {
	key    tileKey
	layers []string
	tile   *tile
	cost   int64
	elem   *list.Element
}

// entryOverhead approximates the bytes an entry costs besides its tile bytes
// and key (struct, map slot, list element).
const entryOverhead = 256

// cache is an in-memory LRU of tiles bounded in bytes. Each layer has a
// generation counter bumped by every invalidation of that layer: a tile
// generated while one of its layers was invalidated is not stored, so a
// query that read the data before an edit cannot put a stale tile back.
type cache struct {
	mu    sync.Mutex
	max   int64 // bytes; 0 disables storing
	used  int64
	lru   *list.List // front: most recently used
	byKey map[tileKey]*entry
	gen   map[string]uint64

	hits, misses, evictions, invalidations uint64

	wire wireLines // set once, before use
}

// wireLines is what a cache needs to precompute the header lines of the
// wire path: the Cache-Control value ("" when it cannot be sent as is).
type wireLines struct{ cacheControl string }

func newCache(maxBytes int64) *cache {
	return &cache{max: maxBytes, lru: list.New(), byKey: map[tileKey]*entry{}, gen: map[string]uint64{}}
}

// generation returns the sum of the layers' generations: it changes when
// any of them is invalidated.
func (c *cache) generation(layers []string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var g uint64
	for _, l := range layers {
		g += c.gen[l]
	}
	return g
}

// get returns the cached tile for key, marking it recently used.
func (c *cache) get(key tileKey) (*tile, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[key]
	if !ok {
		c.misses++
		return nil, false
	}
	c.hits++
	c.lru.MoveToFront(e.elem)
	return e.tile, true
}

// peek is get for the fast path: it counts a hit but not a miss (a miss
// goes on to the general path, whose get counts it).
func (c *cache) peek(key tileKey) (*tile, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[key]
	if !ok {
		return nil, false
	}
	c.hits++
	c.lru.MoveToFront(e.elem)
	return e.tile, true
}

// put stores t under key unless the cache is off, the tile is larger than an
// eighth of the cache, or a layer was invalidated since gen was read.
func (c *cache) put(key tileKey, layers []string, gen uint64, t *tile) bool {
	cost := int64(len(t.gz)+len(key.layers)+len(key.filters)+len(t.etag)) + entryOverhead
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max <= 0 || cost > c.max/8 || (t.gz == nil && t.size > 0) {
		return false
	}
	var now uint64
	for _, l := range layers {
		now += c.gen[l]
	}
	if now != gen {
		return false
	}
	if old, ok := c.byKey[key]; ok {
		c.remove(old)
	}
	stored := &tile{gz: t.gz, size: t.size, etag: t.etag} // the cache keeps only the gzipped bytes
	if !t.empty() {
		stored.gzETag = []string{gzipETag(t.etag)}
		stored.gzLength = []string{itoa(len(t.gz))}
	}
	if c.wire.cacheControl != "" {
		stored.wireOK, stored.wireNotModified = c.wire.lines(stored)
	}
	e := &entry{key: key, layers: layers, tile: stored, cost: cost}
	e.elem = c.lru.PushFront(e)
	c.byKey[key] = e
	c.used += cost
	for c.used > c.max {
		c.remove(c.lru.Back().Value.(*entry))
		c.evictions++
	}
	return true
}

func (c *cache) remove(e *entry) {
	c.lru.Remove(e.elem)
	delete(c.byKey, e.key)
	c.used -= e.cost
}

// tileRange is the inclusive range of tiles at one zoom a bound touches.
type tileRange struct{ x0, x1, y0, y1 int }

// maxZoom is the highest zoom served.
const maxZoom = 22

// bufferTiles is the tile buffer (64 of 4096 units) as a fraction of a tile.
const bufferTiles = 64.0 / 4096

// rangesOf returns, for every zoom 0…maxZoom, the tiles whose envelope grown
// by the buffer intersects b (lon/lat degrees), from orb's maptile.Fraction
// (fractional tile coordinates).
func rangesOf(b orb.Bound) [maxZoom + 1]tileRange {
	var out [maxZoom + 1]tileRange
	for z := 0; z <= maxZoom; z++ {
		n := float64(int(1) << z)
		nw := fraction(orb.Point{b.Min[0], b.Max[1]}, z)
		se := fraction(orb.Point{b.Max[0], b.Min[1]}, z)
		out[z] = tileRange{
			x0: clampTile(math.Floor(nw[0]-bufferTiles), n), x1: clampTile(math.Floor(se[0]+bufferTiles), n),
			y0: clampTile(math.Floor(nw[1]-bufferTiles), n), y1: clampTile(math.Floor(se[1]+bufferTiles), n),
		}
	}
	return out
}

// fraction is maptile.Fraction with the world's southern edge exact: south
// of maptile's latitude limit (−85.0511°) it answers n−1, the top of the
// last row, where the edge is n (the last row's northern buffer would then
// count as touched).
func fraction(p orb.Point, z int) orb.Point {
	f := maptile.Fraction(p, maptile.Zoom(z))
	switch {
	case p[1] > mapTileLat:
		f[1] = 0
	case p[1] < -mapTileLat:
		f[1] = float64(int(1) << z)
	}
	return f
}

// mapTileLat is the latitude beyond which maptile.Fraction answers the first
// or last row.
const mapTileLat = 85.0511

// maxLat is the latitude limit of Web Mercator tiles.
const maxLat = 85.0511287798066

func clampTile(v, n float64) int {
	return int(math.Max(0, math.Min(n-1, v)))
}

// invalidate drops the tiles of every layer set containing layerName that
// intersect any of bounds grown by the tile buffer, at every zoom (all of
// the layer's tiles when bounds is empty), and bumps the layer's generation.
// It returns how many tiles were dropped.
func (c *cache) invalidate(layerName string, bounds []orb.Bound) int {
	return c.invalidateBelow(layerName, bounds, maxZoom+1)
}

// invalidateBelow is invalidate for the tiles of zooms below below only.
func (c *cache) invalidateBelow(layerName string, bounds []orb.Bound, below int) int {
	ranges := make([][maxZoom + 1]tileRange, len(bounds))
	for i, b := range bounds {
		ranges[i] = rangesOf(b)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen[layerName]++
	dropped := 0
	for _, e := range c.byKey {
		if e.key.z >= below || !slices.Contains(e.layers, layerName) {
			continue
		}
		hit := len(bounds) == 0
		for i := 0; i < len(ranges) && !hit; i++ {
			r := ranges[i][e.key.z]
			hit = e.key.x >= r.x0 && e.key.x <= r.x1 && e.key.y >= r.y0 && e.key.y <= r.y1
		}
		if hit {
			c.remove(e)
			dropped++
		}
	}
	c.invalidations += uint64(dropped)
	return dropped
}

// stats returns the cache's counters.
func (c *cache) stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Tiles: len(c.byKey), Bytes: c.used, MaxBytes: c.max,
		Hits: c.hits, Misses: c.misses, Evictions: c.evictions, Invalidated: c.invalidations}
}

// CacheStats are the tile cache's size and counters.
type CacheStats struct {
	Tiles       int    `json:"tiles"`
	Bytes       int64  `json:"bytes"`
	MaxBytes    int64  `json:"max_bytes"`
	Hits        uint64 `json:"hits"`
	Misses      uint64 `json:"misses"`
	Evictions   uint64 `json:"evictions"`
	Invalidated uint64 `json:"invalidated"`
	Generated   uint64 `json:"generated"` // tile queries run
	Batched     uint64 `json:"batched"`   // of those, run in one statement with others (batch.go)
}
