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
