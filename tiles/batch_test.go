package tiles

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"
)

// TestBatchedTiles: tiles that wait for a connection together are run in
// one statement (a pool of one connection, 48 concurrent requests of two
// layer sets) and each comes out byte for byte as when generated alone;
// the first tile of a group runs alone (its time unknown).
func TestBatchedTiles(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	var reqs []string
	for _, layers := range []string{"roads", "roads,villages,facilities"} {
		c := tileAt(106.63, 26.605, 14)
		for dx := uint32(0); dx < 6; dx++ {
			for dy := uint32(0); dy < 4; dy++ {
				reqs = append(reqs, tilePath(layers, maptile.New(c.X+dx-3, c.Y+dy-2, 14), ""))
			}
		}
	}
	alone := map[string][]byte{}
	features := 0
	for _, p := range reqs {
		r := h.get(p)
		if r.status != 200 && r.status != 204 {
			t.Fatalf("%s: %d", p, r.status)
		}
		alone[p] = r.body
		layers, err := mvt.Unmarshal(r.body)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, l := range layers {
			features += len(l.Features)
		}
	}
	if features < 20 {
		t.Fatalf("%d features in the tiles: the test would prove little", features)
	}

	cfg := h.pool.Config()
	cfg.MaxConns = 1
	one, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	svc := New(one, h.catalog, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{QueryTimeout: 20 * time.Second})
	get := func(p string) []byte {
		key, ok := svc.fastKey(p)
		if !ok {
			t.Fatalf("not a tile path: %s", p)
		}
		layers, err := svc.parseLayers(key.layers)
		if err != nil {
			t.Fatal(err)
		}
		tl, _, err := svc.fetch(ctx, tileRequest{layers: layers, z: key.z, x: key.x, y: key.y})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		return tl.mvt
	}
	// one tile of each group first: its time is measured
	get(reqs[0])
	get(reqs[len(reqs)-1])
	if n := svc.Stats().Batched; n != 0 {
		t.Fatalf("%d tiles batched before any group's time was known", n)
	}
	got := make([][]byte, len(reqs))
	var wg sync.WaitGroup
	for i, p := range reqs[1 : len(reqs)-1] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i+1] = get(p)
		}()
	}
	wg.Wait()
	for i, p := range reqs[1 : len(reqs)-1] {
		if want := alone[p]; !bytes.Equal(got[i+1], want) {
			t.Errorf("%s: %d bytes batched, %d alone", p, len(got[i+1]), len(want))
		}
	}
	st := svc.Stats()
	t.Logf("%d features; generated %d, batched %d", features, st.Generated, st.Batched)
	if st.Batched < 10 || st.Generated != uint64(len(reqs)) {
		t.Errorf("generated %d (want %d), batched %d (want most of them)", st.Generated, len(reqs), st.Batched)
	}
}

// TestBatchLimit: a group's tiles are batched by their measured time: none
// before one is measured or from half the budget a tile, then as many as
// the budget holds, at most maxBatch.
func TestBatchLimit(t *testing.T) {
	for _, c := range []struct {
		per  time.Duration
		want int
	}{{0, 1}, {15 * time.Millisecond, 1}, {10 * time.Millisecond, 2}, {time.Millisecond, 20}, {100 * time.Microsecond, maxBatch}} {
		g := newTileGroup("SELECT $1, $2, $3, $20, $30")
		if c.per > 0 {
			g.measured(c.per, 1)
		}
		if got := g.limit(); got != c.want {
			t.Errorf("%v a tile: %d a batch, want %d", c.per, got, c.want)
		}
	}
	g := newTileGroup("SELECT $1, $2, $3, $20, $30")
	if want := `SELECT tile_xy.i, (SELECT $1, tile_xy.x, tile_xy.y, $20, $30) FROM lastmile.tile_batch($2::int[], $3::int[]) tile_xy`; g.batchSQL != want {
		t.Errorf("batch SQL %s", g.batchSQL)
	}
}
