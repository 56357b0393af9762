package tiles

import (
	"math"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"
)

func testTile(n int) *tile {
	return &tile{gz: make([]byte, n), size: n, etag: `"x"`}
}

func key(layers string, z, x, y int) tileKey { return tileKey{layers: layers, z: z, x: x, y: y} }

func TestCacheEvictsByBytes(t *testing.T) {
	c := newCache(8 * 1024)
	for i := 0; i < 20; i++ {
		if !c.put(key("roads", 10, i, 0), []string{"roads"}, 0, testTile(700)) {
			t.Fatalf("put %d refused", i)
		}
		if i == 3 {
			c.get(key("roads", 10, 0, 0)) // keep tile 0 recently used
		}
	}
	st := c.stats()
	if st.Bytes > 8*1024 || st.Bytes <= 0 {
		t.Errorf("cache holds %d bytes, limit 8192", st.Bytes)
	}
	perTile := int64(700 + len("roads") + len(`"x"`) + entryOverhead)
	if want := int(8 * 1024 / perTile); st.Tiles != want {
		t.Errorf("%d tiles cached, want %d", st.Tiles, want)
	}
	if _, ok := c.get(key("roads", 10, 19, 0)); !ok {
		t.Error("the newest tile was evicted")
	}
	if _, ok := c.get(key("roads", 10, 1, 0)); ok {
		t.Error("an old tile was kept")
	}
	if st.Evictions != uint64(20-st.Tiles) {
		t.Errorf("evictions %d", st.Evictions)
	}
	if c.put(key("roads", 10, 99, 0), []string{"roads"}, 0, testTile(2000)) {
		t.Error("a tile larger than an eighth of the cache was stored")
	}
	off := newCache(0)
	if off.put(key("roads", 1, 0, 0), []string{"roads"}, 0, testTile(1)) {
		t.Error("a disabled cache stored a tile")
	}
}

func TestCacheRefusesStaleTiles(t *testing.T) {
	c := newCache(1 << 20)
	gen := c.generation([]string{"roads", "villages"})
	c.invalidate("villages", []orb.Bound{{Min: orb.Point{0, 0}, Max: orb.Point{1, 1}}})
	if c.put(key("roads,villages", 5, 0, 0), []string{"roads", "villages"}, gen, testTile(10)) {
		t.Error("a tile generated before an invalidation of one of its layers was stored")
	}
	if !c.put(key("roads", 5, 0, 0), []string{"roads"}, c.generation([]string{"roads"}), testTile(10)) {
		t.Error("a tile of another layer was refused")
	}
}

func TestCacheInvalidate(t *testing.T) {
	edit := orb.Bound{Min: orb.Point{106.62, 26.58}, Max: orb.Point{106.63, 26.65}}
	in := func(lon, lat float64, z int) tileKey {
		tl := maptile.At(orb.Point{lon, lat}, maptile.Zoom(z))
		return tileKey{z: z, x: int(tl.X), y: int(tl.Y)}
	}
	tests := []struct {
		name    string
		layers  string
		at      tileKey
		dropped bool
	}{
		{"inside at z14", "roads", in(106.625, 26.60, 14), true},
		{"inside at z0", "roads", in(106.625, 26.60, 0), true},
		{"inside at z22", "roads", in(106.625, 26.60, 22), true},
		{"inside, layer set", "villages,roads", in(106.625, 26.60, 12), true},
		{"inside, other layer", "villages", in(106.625, 26.60, 12), false},
		{"far away", "roads", in(107.5, 27.5, 14), false},
		{"next tile east at z14", "roads", tileKey{z: 14, x: in(106.63, 26.6, 14).x + 1, y: in(106.63, 26.6, 14).y}, false},
	}
	c := newCache(1 << 20)
	for _, tc := range tests {
		tc.at.layers = tc.layers
		c.put(tc.at, splitLayers(tc.layers), 0, testTile(10))
	}
	c.invalidate("roads", []orb.Bound{edit})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.at.layers = tc.layers
			_, ok := c.get(tc.at)
			if ok == tc.dropped {
				t.Errorf("tile %v cached = %v, want %v", tc.at, ok, !tc.dropped)
			}
		})
	}
	// No bounds: every tile of the layer goes.
	c.put(key("roads", 3, 1, 1), []string{"roads"}, c.generation([]string{"roads"}), testTile(1))
	if n := c.invalidate("roads", nil); n != 3 { // the z3 tile, the far-away one, the next tile east
		t.Errorf("dropped %d tiles, want 3", n)
	}
}

func splitLayers(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

func TestRangesOfBuffer(t *testing.T) {
	const z = 10
	n := float64(int(1) << z)
	lonAt := func(x float64) float64 { return x/n*360 - 180 }
	tests := []struct {
		name   string
		x      float64 // fractional tile x of a point
		x0, x1 int
	}{
		{"middle of tile 100", 100.5, 100, 100},
		{"just inside the west buffer", 100.01, 99, 100},
		{"just inside the east buffer", 100.99, 100, 101},
		{"outside the buffers", 100.02, 100, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lon := lonAt(tc.x)
			r := rangesOf(orb.Bound{Min: orb.Point{lon, 10}, Max: orb.Point{lon, 10}})[z]
			if r.x0 != tc.x0 || r.x1 != tc.x1 {
				t.Errorf("x range %d…%d, want %d…%d", r.x0, r.x1, tc.x0, tc.x1)
			}
		})
	}
	whole := rangesOf(orb.Bound{Min: orb.Point{-180, -90}, Max: orb.Point{180, 90}})
	for z, r := range whole {
		last := int(1)<<z - 1
		if r != (tileRange{0, last, 0, last}) {
			t.Errorf("z%d: whole world %+v", z, r)
		}
	}
}

// TestRangesOfRows checks the rows rangesOf gives against the Web Mercator
// formula written out here (y = (1 − ln(tan φ + sec φ)/π)/2 · 2^z), grown
// by the buffer, for bounds from the equator to beyond the projection's
// latitude limit.
func TestRangesOfRows(t *testing.T) {
	row := func(lat float64, z int) float64 {
		lat = math.Max(-maxLat, math.Min(maxLat, lat)) // the world's edge, rows 0 and 2^z
		r := lat * math.Pi / 180
		return (1 - math.Log(math.Tan(r)+1/math.Cos(r))/math.Pi) / 2 * float64(int(1)<<z)
	}
	clamp := func(v float64, z int) int { return int(math.Max(0, math.Min(float64(int(1)<<z-1), v))) }
	bounds := []orb.Bound{
		{Min: orb.Point{106.62, 26.58}, Max: orb.Point{106.63, 26.65}},
		{Min: orb.Point{-10, -0.001}, Max: orb.Point{10, 0.001}},
		{Min: orb.Point{100, 60}, Max: orb.Point{120, 84}},
		{Min: orb.Point{0, -89}, Max: orb.Point{1, -86}},
		{Min: orb.Point{0, 86}, Max: orb.Point{1, 89}},
	}
	for _, b := range bounds {
		got := rangesOf(b)
		for z := 0; z <= maxZoom; z++ {
			y0 := clamp(math.Floor(row(b.Max[1], z)-bufferTiles), z)
			y1 := clamp(math.Floor(row(b.Min[1], z)+bufferTiles), z)
			if got[z].y0 != y0 || got[z].y1 != y1 {
				t.Errorf("%v z%d: rows %d…%d, want %d…%d", b, z, got[z].y0, got[z].y1, y0, y1)
			}
		}
	}
}
