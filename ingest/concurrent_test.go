package ingest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// seqOf returns a GeoJSONSeq of roads ext_id road:from … road:to with surface.
func seqOf(from, to int, surface string) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, `{"type":"Feature","geometry":{"type":"LineString","coordinates":[[117.%04d,37.2],[117.%04d,37.21]]},"properties":{"ext_id":"road:%d","status":"completed","surface":%q}}`+"\n", i, i, i, surface)
	}
	return b.String()
}

// TestConcurrentOverlappingImports: two imports racing on overlapping
// ext_ids both succeed, one after the other; every feature is in once, the
// overlap carries the later import's values, and history has one row per
// accepted version.
func TestConcurrentOverlappingImports(t *testing.T) {
	pool := pgtest.New(t)
	im := NewImporter(pool, layer.Default(), nil)
	files := map[string]string{"a.geojsonl": seqOf(1, 400, "cement"), "b.geojsonl": seqOf(201, 600, "asphalt")}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for name, body := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := im.Import(context.Background(), []Job{{Source: name, Layer: "roads", Reader: NewGeoJSONSeqReader(strings.NewReader(body))}}, Options{Actor: name})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("import: %v", err)
		}
	}
	ctx := context.Background()
	var rows, overlap, mixed, history, v2 int
	pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.roads`).Scan(&rows)
	pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.roads WHERE split_part(ext_id, ':', 2)::int BETWEEN 201 AND 400`).Scan(&overlap)
	// The overlap is entirely the first or entirely the second import's.
	pool.QueryRow(ctx, `SELECT count(DISTINCT surface) FROM lastmile.roads WHERE split_part(ext_id, ':', 2)::int BETWEEN 201 AND 400`).Scan(&mixed)
	pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.feature_history WHERE layer = 'roads'`).Scan(&history)
	pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.roads WHERE version = 2`).Scan(&v2)
	if rows != 600 || overlap != 200 || mixed != 1 || history != 800 || v2 != 200 {
		t.Fatalf("rows %d (want 600), overlap %d (200), surfaces in the overlap %d (1), history %d (800), version-2 rows %d (200)",
			rows, overlap, mixed, history, v2)
	}
}

// pausingReader yields the records of r, pausing after the first n until
// resume is closed (an import held in the middle of its COPY).
type pausingReader struct {
	r      Reader
	n      int
	paused chan struct{}
	resume chan struct{}
}

func (p *pausingReader) Next() (*Record, error) {
	if p.n == 0 {
		close(p.paused)
		<-p.resume
	}
	p.n--
	return p.r.Next()
}

// TestReadersDuringFirstLoad: while a first load is in the middle of its
// COPY into the empty layer, readers of that layer (its rows, its history,
// through the indexes a tile or a bbox query uses) answer at once and see
// none of the import's rows, and the feature API can write to it; after
// the commit every row is there with its history.
func TestReadersDuringFirstLoad(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	im := NewImporter(pool, layer.Default(), nil)
	r := &pausingReader{r: NewGeoJSONSeqReader(strings.NewReader(seqOf(1, 3000, "cement"))), n: 2000,
		paused: make(chan struct{}), resume: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := im.Import(ctx, []Job{{Source: "big.geojsonl", Layer: "roads", Reader: r}}, Options{Actor: "loader"})
		done <- err
	}()
	resume := sync.OnceFunc(func() { close(r.resume) })
	defer func() {
		resume()
		<-done
	}()
	select {
	case <-r.paused:
	case err := <-done:
		t.Fatalf("the import ended before it paused: %v", err)
	}
	// the COPY has received rows (they are read in batches of about
	// 64 KB); readers must not wait for it
	for _, q := range []string{
		`SELECT count(*) FROM lastmile.roads`,
		`SELECT count(*) FROM lastmile.roads WHERE geom_3857 && ST_TileEnvelope(12, 3379, 1566)`,
		`SELECT count(*) FROM lastmile.roads WHERE ST_DWithin(geom::geography, 'SRID=4326;POINT(117.1 37.2)'::geography, 5000)`,
		`SELECT count(*) FROM lastmile.feature_history_full WHERE layer = 'roads'`,
	} {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		tx.Exec(ctx, `SET LOCAL lock_timeout = '2s'`)
		if err := tx.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Errorf("%s during the load: %v", q, err)
		} else if n != 0 {
			t.Errorf("%s during the load: %d rows, want 0 (nothing committed)", q, n)
		}
		tx.Rollback(ctx)
	}
	var id int64
	wtx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wtx.Exec(ctx, `SET LOCAL lock_timeout = '2s'`)
	if err := wtx.QueryRow(ctx, `INSERT INTO lastmile.roads (ext_id, status, geom) VALUES ('api-1', 'completed', 'SRID=4326;LINESTRING(118 37, 118.01 37)') RETURNING id`).Scan(&id); err != nil {
		t.Errorf("a write during the load: %v", err)
	}
	if err := wtx.Commit(ctx); err != nil {
		t.Errorf("a write during the load: %v", err)
	}
	resume()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	done <- nil // for the deferred wait
	var rows, history int
	pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.roads`).Scan(&rows)
	pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.feature_history_full WHERE layer = 'roads' AND op = 'insert' AND new_row IS NOT NULL AND new_geom IS NOT NULL`).Scan(&history)
	if rows != 3001 || history != 3001 {
		t.Errorf("after the load: %d rows, %d inserts in the history with their images; want 3001", rows, history)
	}
}
