package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lastmile/lastmile/postgis/cluster"
)

var goroutinesMetric = regexp.MustCompile(`(?m)^go_goroutines (\d+)`)

// goroutines reads go_goroutines from the metrics listener at addr (it
// answers while the database is down, when a token could not be checked).
func goroutines(t *testing.T, addr string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := goroutinesMetric.FindSubmatch(b)
	if m == nil {
		t.Fatal("no go_goroutines metric")
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// TestDatabaseRestart drives a steady load of feature, tile and readiness
// requests, stops PostgreSQL (fast shutdown) for a few seconds and starts it
// again, without restarting lastmile.
func TestDatabaseRestart(t *testing.T) {
	dir, err := os.MkdirTemp("", "lmf")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a free port for --metrics-addr
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := ln.Addr().String()
	ln.Close()
	base, stop := startServe(t, dir, "--metrics-addr", metricsAddr)
	defer stop()
	pg, err := cluster.New(cluster.Options{Dir: filepath.Join(dir, "pg")})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 20 * time.Second}
	paths := []string{
		"/ogc/collections/roads/items?limit=5",
		"/tiles/roads,villages/10/840/388.mvt?status=completed",
		"/api/stats/progress?layer=house_renovations",
		"/readyz",
	}
	type result struct {
		status  int
		elapsed time.Duration
		down    bool
	}
	var (
		mu      sync.Mutex
		results []result
		dbDown  atomic.Bool
		stopped = make(chan struct{})
		wg      sync.WaitGroup
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stopped:
					return
				default:
				}
				down := dbDown.Load()
				start := time.Now()
				resp, err := client.Get(base + paths[(i+w)%len(paths)])
				// A request that overlapped the outage at either end counts
				// as one made while the database was down.
				r := result{elapsed: time.Since(start), down: down || dbDown.Load()}
				if err != nil {
					r.status = -1
				} else {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					r.status = resp.StatusCode
				}
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}(w)
	}
	time.Sleep(1500 * time.Millisecond)
	baseline := goroutines(t, metricsAddr)

	ctx := context.Background()
	dbDown.Store(true)
	if err := pg.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	resp, err := client.Get(base + "/readyz")
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz while the database is down: %v %v", resp, err)
	}
	resp.Body.Close()

	if err := pg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	var recovery time.Duration
	for {
		ok := 0
		for _, p := range paths {
			if r, err := client.Get(base + p); err == nil {
				io.Copy(io.Discard, r.Body)
				r.Body.Close()
				if r.StatusCode < 300 {
					ok++
				}
			}
		}
		if ok == len(paths) {
			recovery = time.Since(restarted)
			break
		}
		if time.Since(restarted) > 10*time.Second {
			t.Fatalf("not fully serving 10 s after PostgreSQL restarted")
		}
		time.Sleep(100 * time.Millisecond)
	}
	dbDown.Store(false)
	time.Sleep(time.Second)
	close(stopped)
	wg.Wait()

	if recovery > 5*time.Second {
		t.Errorf("full service %v after restart, want ≤ 5 s", recovery)
	}
	counts := map[string]int{}
	var slowest time.Duration
	for _, r := range results {
		key := fmt.Sprintf("%v/%d", r.down, r.status)
		counts[key]++
		if r.down && r.elapsed > slowest {
			slowest = r.elapsed
		}
		switch {
		case r.status == -1 || r.status >= 500 && r.status != http.StatusServiceUnavailable:
			t.Errorf("a request got %d (down=%v)", r.status, r.down)
		case !r.down && r.status >= 300:
			t.Errorf("a request got %d while the database was up", r.status)
		}
	}
	if counts["true/503"] == 0 {
		t.Errorf("no 503 while the database was down: %v", counts)
	}
	// failing fast, not waiting for the database until the 30 s request
	// timeout: the bound is loose (a loaded machine stretches the fast path;
	// speed itself is measured in make bench, not here)
	if slowest > 10*time.Second {
		t.Errorf("slowest answer while the database was down took %v, want well under the 30 s request timeout (< 10 s)", slowest)
	}
	// Goroutines return to their baseline (allow the pool's reconnections).
	var after int
	for i := 0; i < 20; i++ {
		if after = goroutines(t, metricsAddr); after <= baseline+3 {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if after > baseline+3 {
		t.Errorf("goroutines %d after recovery, baseline %d", after, baseline)
	}
	t.Logf("requests by (db down/status): %v; slowest while down %v; full service %v after PostgreSQL restarted; goroutines %d → %d",
		counts, slowest, recovery, baseline, after)
}
