package tiles

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"testing"
	"time"

	"github.com/lastmile/lastmile/demo"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgtest"
	"github.com/lastmile/lastmile/stats"
)

// TestOverviewCoverageFromAccess: the count points' covered villages are
// read from the stats' village_access when it is current, and equal the
// counts measured directly (ST_DWithin 2 km of an all-season road); with a
// change pending in its log they are measured directly again.
func TestOverviewCoverageFromAccess(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	if _, err := demo.Load(ctx, pool, demo.Generate(1)); err != nil {
		t.Fatal(err)
	}
	exec := func(sql string) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	svc := New(pool, layer.Default(), slog.New(slog.NewTextHandler(io.Discard, nil)), Options{})
	rebuild := func() (map[string]int, int) {
		t.Helper()
		exec(`UPDATE lastmile.overview_state SET full_rebuild = true`)
		if rep, err := svc.RefreshOverviews(ctx); err != nil || !rep.Full {
			t.Fatalf("refresh %+v: %v", rep, err)
		}
		rows, err := pool.Query(ctx, `SELECT level || ' ' || code, covered FROM lastmile.village_overview`)
		if err != nil {
			t.Fatal(err)
		}
		m, total := map[string]int{}, 0
		for rows.Next() {
			var k string
			var c int
			if err := rows.Scan(&k, &c); err != nil {
				t.Fatal(err)
			}
			m[k] = c
			if k[:6] == "county" {
				total += c
			}
		}
		return m, total
	}
	// fewer all-season roads, so that some villages are not covered
	exec(`UPDATE lastmile.roads SET surface = 'earth', tech_grade = 'substandard' WHERE id % 3 <> 0`)
	direct, total := rebuild() // village_access not built: measured directly
	var villages int
	pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.villages`).Scan(&villages)
	if total == 0 || total == villages {
		t.Fatalf("%d of %d villages covered: the fixture does not discriminate", total, villages)
	}
	if err := stats.Refresh(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if fast, _ := rebuild(); !maps.Equal(fast, direct) {
		t.Errorf("covered counts from village_access %v, measured %v", fast, direct)
	}
	// read from village_access indeed: one covered village recorded far
	exec(`UPDATE lastmile.village_access SET distance_m = 1e6 WHERE definition = 'all_season' AND village_id =
		(SELECT min(village_id) FROM lastmile.village_access WHERE definition = 'all_season' AND distance_m <= 2000)`)
	if _, n := rebuild(); n != total-1 {
		t.Errorf("with one village recorded far in village_access: %d covered, want %d", n, total-1)
	}
	// a change pending in village_access's log: measured directly
	exec(`UPDATE lastmile.roads SET name = coalesce(name, '') || ' (renamed)' WHERE id = (SELECT min(id) FROM lastmile.roads)`)
	var pending int
	if pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.access_changes`).Scan(&pending); pending == 0 {
		t.Fatal("the road edit was not logged for village_access")
	}
	if m, _ := rebuild(); !maps.Equal(m, direct) {
		t.Errorf("with a change pending: %v, want the measured %v", m, direct)
	}
}

// TestOverviewFirstBuildDoesNotHoldTiles: while the first build of the
// overviews runs (here held up by another session holding its lock), a
// low-zoom tile is answered 503 with Retry-After after overviewFirstWait,
// not at the request timeout; WarmOverviews (serve's start-up) then builds
// them and the tile is drawn.
func TestOverviewFirstBuildDoesNotHoldTiles(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	conn, err := h.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, overviewLock); err != nil {
		t.Fatal(err)
	}
	path := tilePath("villages", tileAt(106.65, 26.61, 5), "")
	start := time.Now()
	res := h.get(path)
	took := time.Since(start)
	if res.status != http.StatusServiceUnavailable || res.header.Get("Retry-After") == "" {
		t.Fatalf("a tile during the first build: %d (Retry-After %q) %s", res.status, res.header.Get("Retry-After"), res.body)
	}
	if took < overviewFirstWait || took > overviewFirstWait+3*time.Second {
		t.Errorf("answered after %s, want about %s", took, overviewFirstWait)
	}
	warmed := make(chan error, 1)
	go func() { warmed <- h.svc.WarmOverviews(ctx) }()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, overviewLock); err != nil {
		t.Fatal(err)
	}
	if err := <-warmed; err != nil {
		t.Fatal(err)
	}
	if res := h.get(path); res.status != http.StatusOK {
		t.Fatalf("after the build: %d %s", res.status, res.body)
	}
}
