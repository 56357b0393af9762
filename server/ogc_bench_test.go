package server_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/lastmile/lastmile/server"
)

// generateRoads inserts n synthetic roads (a grid of short two-point lines
// over Liechtenstein) in one statement, with the history triggers off: this
// is a fixture for timing reads, not a test of writes.
func generateRoads(t *testing.T, e *ogcEnv, n int) {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	tx, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for _, sql := range []string{`ALTER TABLE lastmile.roads DISABLE TRIGGER roads_history`, `
		INSERT INTO lastmile.roads (name, status, surface, road_class, completed_on, geom)
		SELECT 'road ' || i,
		       (ARRAY['planned','under_construction','completed'])[1 + i % 3],
		       (ARRAY['earth','gravel','stone','cement','asphalt'])[1 + i % 5],
		       'village', DATE '2014-01-01' + (i % 1000),
		       ST_SetSRID(ST_MakeLine(ST_MakePoint(9.47 + (i % 400) * 0.0004, 47.05 + (i / 400) * 0.0008),
		                              ST_MakePoint(9.47 + (i % 400) * 0.0004 + 0.0003, 47.05 + (i / 400) * 0.0008 + 0.0004)), 4326)
		FROM generate_series(0, ` + strconv.Itoa(n) + ` - 1) AS i`,
		`ALTER TABLE lastmile.roads ENABLE TRIGGER roads_history`,
	} {
		if _, err := tx.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `ANALYZE lastmile.roads`); err != nil {
		t.Fatal(err)
	}
	t.Logf("generated %d roads in %v", n, time.Since(start).Round(time.Millisecond))
}

// TestOGCPage100k pages 100 000 generated features through /items with
// the largest page (limit=10000), following the next links, and logs the
// time. It is a measurement, not a timed assertion; it checks the count.
func TestOGCPage100k(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 100 000 features; skipped with -short")
	}
	const n = 100_000
	e := newOGC(t, server.Options{})
	generateRoads(t, e, n)

	for _, enc := range []string{"identity", "gzip"} {
		pageAll(t, e, n, enc)
	}
}

// pageAll follows the next links from the first page of 10 000 and logs
// the time, the bytes on the wire and the heap.
func pageAll(t *testing.T, e *ogcEnv, n int, encoding string) {
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	next := e.url + "/ogc/collections/roads/items?limit=10000"
	var features, pages int
	var bytes int64
	var firstByte time.Duration
	start := time.Now()
	for next != "" {
		reqStart := time.Now()
		req, _ := http.NewRequest("GET", next, nil)
		req.Header.Set("Accept-Encoding", encoding)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("GET %s: %d %s", next, resp.StatusCode, b)
		}
		if pages == 0 {
			firstByte = time.Since(reqStart)
		}
		cr := &countingReader{r: resp.Body}
		var body io.Reader = cr
		if resp.Header.Get("Content-Encoding") == "gzip" {
			if body, err = gzip.NewReader(cr); err != nil {
				t.Fatal(err)
			}
		} else if encoding == "gzip" {
			t.Fatal("gzip was asked for but not sent")
		}
		page, err := decodePage(body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		features += page.features
		bytes += cr.n
		pages++
		next = page.next
		if pages > n/10000+1 {
			t.Fatal("paging does not end")
		}
	}
	elapsed := time.Since(start)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if features != n || pages != n/10000 {
		t.Fatalf("paged %d features in %d pages, want %d in %d", features, pages, n, n/10000)
	}
	t.Logf("Accept-Encoding %s: paged %d features in %d pages of 10000: %v (%.0f features/s, %.1f MB on the wire, first page headers after %v); process heap in use %.1f MB before, %.1f MB after, %d GC cycles",
		encoding, features, pages, elapsed.Round(time.Millisecond), float64(features)/elapsed.Seconds(), float64(bytes)/1e6,
		firstByte.Round(time.Millisecond), float64(before.HeapInuse)/1e6, float64(after.HeapInuse)/1e6, after.NumGC-before.NumGC)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type pageSummary struct {
	features int
	next     string
}

// decodePage reads a FeatureCollection token by token, counting features
// without holding them, and returns the next link.
func decodePage(r io.Reader) (pageSummary, error) {
	var s pageSummary
	dec := json.NewDecoder(r)
	if _, err := dec.Token(); err != nil { // {
		return s, err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return s, err
		}
		switch tok {
		case "features":
			if _, err := dec.Token(); err != nil { // [
				return s, err
			}
			for dec.More() {
				var f struct{ Type string }
				if err := dec.Decode(&f); err != nil {
					return s, err
				}
				s.features++
			}
			if _, err := dec.Token(); err != nil { // ]
				return s, err
			}
		case "links":
			var links []struct{ Href, Rel string }
			if err := dec.Decode(&links); err != nil {
				return s, err
			}
			for _, l := range links {
				if l.Rel == "next" {
					s.next = l.Href
				}
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return s, err
			}
		}
	}
	return s, nil
}
