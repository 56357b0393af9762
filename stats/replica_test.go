package stats

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/cluster"
)

// TestReadReplica: the stats answer on a real streaming replica (a hot
// standby, which refuses writes) exactly as on the primary: from the
// precomputed tables when the primary has brought them up to date, by the
// direct query while a change is pending, and a network question while
// the graph is behind is a clear unavailable error, not a failed write.
func TestReadReplica(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	primary, err := cluster.New(cluster.Options{Dir: filepath.Join(dir, "primary")})
	if err != nil {
		t.Fatal(err)
	}
	if err := primary.Start(ctx); err != nil {
		t.Fatalf("%v (run scripts/setup to install PostgreSQL 15, PostGIS and pgRouting)", err)
	}
	t.Cleanup(func() { primary.Stop(context.Background()) })
	pp := openMigrated(t, primary.URL(), true)
	a := addRoad(t, pp, road{ext: "A", surface: "cement", pts: [][2]float64{{110, 30}, {110, 30.02}}})
	addRoad(t, pp, road{ext: "B", surface: "earth", pts: [][2]float64{{110, 30.02}, {110.02, 30.02}}})
	addVillage(t, pp, village{name: "V1", code: "130101001001", pop: 10, lon: 110.003, lat: 30.01})
	addVillage(t, pp, village{name: "V2", code: "130101001002", pop: 20, lon: 110.018, lat: 30.024})
	if err := Refresh(ctx, pp); err != nil {
		t.Fatal(err)
	}

	standby, err := primary.Standby(ctx, filepath.Join(dir, "standby"))
	if err != nil {
		t.Fatal(err)
	}
	if err := standby.Start(ctx); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "standby", "postmaster.log"))
		t.Fatalf("%v\n%s", err, log)
	}
	t.Cleanup(func() { standby.Stop(context.Background()) })
	rp := openMigrated(t, standby.URL(), false)
	if ro, err := readOnly(ctx, rp); err != nil || !ro {
		t.Fatalf("the standby is not in recovery: %v %v", ro, err)
	}

	straight := "source_filter=hardened&within_m=1000&list=uncovered"
	network := "source_filter=hardened&within_m=1500&method=network&list=uncovered"
	same := func(stage string, q string, wantUncovered int) {
		t.Helper()
		onReplica := run(t, rp, Coverage, q)
		onPrimary := run(t, pp, Coverage, q)
		if !reflect.DeepEqual(onReplica.Groups, onPrimary.Groups) || !reflect.DeepEqual(onReplica.Uncovered, onPrimary.Uncovered) {
			t.Fatalf("%s, %s:\nreplica %v %v\nprimary %v %v", stage, q, onReplica.Groups, onReplica.Uncovered, onPrimary.Groups, onPrimary.Uncovered)
		}
		if len(onPrimary.Uncovered) != wantUncovered {
			t.Errorf("%s, %s: %d uncovered, want %d: %v", stage, q, len(onPrimary.Uncovered), wantUncovered, onPrimary.Uncovered)
		}
	}
	caughtUp(t, pp, rp)
	ready, err := accessReady(ctx, rp)
	if err != nil || !ready {
		t.Fatalf("village_access not ready on the replica after a refresh: %v %v", ready, err)
	}
	same("refreshed", straight, 1) // V2 is 2.1 km from A
	same("refreshed", network, 1)

	// Harden B on the primary without a refresh: the replica sees the change
	// pending and answers directly; its graph is behind.
	mustExec(t, pp, `UPDATE lastmile.roads SET surface = 'asphalt' WHERE ext_id = 'B'`)
	caughtUp(t, pp, rp)
	if ready, err := accessReady(ctx, rp); err != nil || ready {
		t.Fatalf("village_access ready on the replica with a change pending: %v %v", ready, err)
	}
	if res := run(t, rp, Coverage, straight); len(res.Uncovered) != 0 || res.Total["covered"] != int64(2) {
		t.Errorf("replica, change pending: %v %v, want both covered", res.Total, res.Uncovered)
	}
	v, _ := url.ParseQuery(network)
	if _, _, err := Coverage(ctx, rp, layer.Default(), v); lastmile.ErrorCode(err) != lastmile.EUNAVAILABLE {
		t.Errorf("network on a replica whose graph is behind: %v, want an unavailable error", err)
	}
	if err := Refresh(ctx, pp); err != nil {
		t.Fatal(err)
	}
	caughtUp(t, pp, rp)
	same("after the edit and a refresh", straight, 0)
	same("after the edit and a refresh", network, 0)

	// A road moved far away and a refresh: V1 is uncovered on both.
	mustExec(t, pp, `UPDATE lastmile.roads SET geom = ST_Translate(geom, 1, 1) WHERE id = $1`, a)
	if err := Refresh(ctx, pp); err != nil {
		t.Fatal(err)
	}
	caughtUp(t, pp, rp)
	same("after moving A", straight, 1)
}

// openMigrated connects to url's database and, on the primary, migrates it.
func openMigrated(t *testing.T, url string, migrate bool) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	pool, err := postgis.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if migrate {
		if _, err := postgis.Migrate(ctx, pool); err != nil {
			t.Fatal(err)
		}
	}
	return pool
}

// caughtUp waits until the replica has replayed everything the primary
// has written so far.
func caughtUp(t *testing.T, primary, replica *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	var lsn string
	if err := primary.QueryRow(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	// The test cluster commits asynchronously: a synchronous commit flushes
	// (and so sends) everything written before it.
	if _, err := primary.Exec(ctx, `BEGIN; SET LOCAL synchronous_commit = on; SELECT txid_current(); COMMIT`); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var done bool
		if err := replica.QueryRow(ctx, `SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn`, lsn).Scan(&done); err != nil {
			t.Fatal(err)
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica did not replay up to %s within 30 s", lsn)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
