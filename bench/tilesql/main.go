// Command tilesql measures the tile SQL alone, the limit of the uncached tile
// path in bench/bench-tiles.sh: for every tile path of a list it asks the
// tile service for the statement a request runs (tiles.Service.TileSQL,
// overviews brought up to date beforehand, not timed), then runs those
// statements in a loop over the list from -c connections, one round trip
// per tile, for -d, reading the MVT bytes and nothing else: no HTTP, no
// gzip, no cache. It prints one line a shell can parse:
//
//	RESULT requests=… rps=… p50_ms=… p99_ms=… max_ms=… errors=… bytes=…
//
// With -check SERVER it instead fetches up to 50 of the list's tiles
// (spread over it) from the lastmile server at SERVER, 8 at a time
// (Accept-Encoding: identity; so that the server batches them, batch.go),
// and compares each with its statement's bytes: it prints
//
//	CHECK tiles=… equal=…
//
// and exits 1 when a tile differs.
//
// Usage: tilesql -database-url URL [-c 16] [-d 15s] [-check SERVER] LIST
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/tiles"
)

func main() {
	dbURL := flag.String("database-url", os.Getenv("DATABASE_URL"), "PostgreSQL URL")
	conns := flag.Int("c", 16, "concurrent connections")
	dur := flag.Duration("d", 15*time.Second, "duration")
	check := flag.String("check", "", "compare the tiles of lastmile at this URL with their statements' bytes instead")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: tilesql -database-url URL [-c 16] [-d 15s] [-check SERVER] LIST")
		os.Exit(2)
	}
	if err := run(*dbURL, *conns, *dur, *check, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "tilesql:", err)
		os.Exit(1)
	}
}

type stmt struct {
	path string
	sql  string
	args []any
}

func run(dbURL string, conns int, dur time.Duration, check, list string) error {
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return err
	}
	cfg.MaxConns = int32(conns)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	raw, err := os.ReadFile(list)
	if err != nil {
		return err
	}
	svc := tiles.New(pool, layer.Default(), slog.New(slog.DiscardHandler), tiles.Options{})
	var stmts []stmt
	for _, p := range strings.Fields(string(raw)) {
		sql, args, ok, err := svc.TileSQL(ctx, p)
		if err != nil {
			return err
		}
		if ok {
			stmts = append(stmts, stmt{p, sql, args})
		}
	}
	if len(stmts) == 0 {
		return fmt.Errorf("no tile with a visible layer in %s", list)
	}
	if check != "" {
		return checkTiles(ctx, pool, check, stmts)
	}
	var (
		next, bytes, errs atomic.Int64
		mu                sync.Mutex
		lat               []time.Duration
		wg                sync.WaitGroup
	)
	deadline := time.Now().Add(dur)
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(deadline) {
				// One sequence for all the connections, in the order the
				// tiles are taken (as wrk's thread takes them for its
				// connections): every tile is asked equally often, however
				// long it takes. (With an offset per connection on a shared
				// counter, which tile a draw gave depended on which connection
				// drew it: the OSM extract's largest z10 tile was asked about
				// half as often as its share.)
				s := stmts[(next.Add(1)-1)%int64(len(stmts))]
				t0 := time.Now()
				var mvt []byte
				if err := pool.QueryRow(ctx, s.sql, s.args...).Scan(&mvt); err != nil && err != pgx.ErrNoRows {
					errs.Add(1)
					continue
				}
				mine = append(mine, time.Since(t0))
				bytes.Add(int64(len(mvt)))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	fmt.Printf("RESULT requests=%d rps=%.1f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f errors=%d bytes=%d\n",
		len(lat), float64(len(lat))/elapsed.Seconds(), pct(0.5), pct(0.99), pct(1), errs.Load(), bytes.Load())
	return nil
}

// checkTiles compares up to 50 of the tiles, fetched from the server 8 at
// a time, with their statements' bytes.
func checkTiles(ctx context.Context, pool *pgxpool.Pool, server string, stmts []stmt) error {
	step := max(1, len(stmts)/50)
	var sample []stmt
	for i := 0; i < len(stmts) && len(sample) < 50; i += step {
		sample = append(sample, stmts[i])
	}
	var (
		equal, next atomic.Int64
		wg          sync.WaitGroup
		mu          sync.Mutex
		firstErr    error
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(len(sample)); i = next.Add(1) - 1 {
				s := sample[i]
				err := checkTile(ctx, pool, server, s)
				if err == nil {
					equal.Add(1)
					continue
				}
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	fmt.Printf("CHECK tiles=%d equal=%d\n", len(sample), equal.Load())
	return firstErr
}

func checkTile(ctx context.Context, pool *pgxpool.Pool, server string, s stmt) error {
	var want []byte
	if err := pool.QueryRow(ctx, s.sql, s.args...).Scan(&want); err != nil && err != pgx.ErrNoRows {
		return fmt.Errorf("%s: %w", s.path, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+s.path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept-Encoding", "identity")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	got, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if (res.StatusCode != http.StatusOK && res.StatusCode != http.StatusNoContent) || !bytes.Equal(got, want) {
		return fmt.Errorf("%s: the server sent %d bytes (%s), the statement returns %d", s.path, len(got), res.Status, len(want))
	}
	return nil
}
