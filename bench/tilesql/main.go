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
// Usage: tilesql -database-url URL -c 16 -d 15s LIST
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
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
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: tilesql -database-url URL [-c 16] [-d 15s] LIST")
		os.Exit(2)
	}
	if err := run(*dbURL, *conns, *dur, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "tilesql:", err)
		os.Exit(1)
	}
}

type stmt struct {
	sql  string
	args []any
}

func run(dbURL string, conns int, dur time.Duration, list string) error {
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
			stmts = append(stmts, stmt{sql, args})
		}
	}
	if len(stmts) == 0 {
		return fmt.Errorf("no tile with a visible layer in %s", list)
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
