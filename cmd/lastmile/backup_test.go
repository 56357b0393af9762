package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/demo"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// TestMain runs the tests, or — when LASTMILE_RUN_MAIN=1 — lastmile itself,
// so tests can start real lastmile processes (and kill -9 them) without a
// separate build.
func TestMain(m *testing.M) {
	if os.Getenv("LASTMILE_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	pgtest.Main(m)
}

// checksum is a digest of every asset table and the history.
func checksum(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var sum string
	err := pool.QueryRow(context.Background(), `SELECT md5(
		(SELECT coalesce(string_agg(v::text, '|' ORDER BY id), '') FROM lastmile.villages v) ||
		(SELECT coalesce(string_agg(r::text, '|' ORDER BY id), '') FROM lastmile.roads r) ||
		(SELECT count(*)::text FROM lastmile.feature_history))`).Scan(&sum)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func TestBackupRestoreRoundTrip(t *testing.T) {
	url := pgtest.URL(t)
	ctx := postgis.WithActor(context.Background(), postgis.Actor{Name: "test"})
	pool, err := postgis.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := demo.Load(ctx, pool, demo.Generate(1)); err != nil {
		t.Fatal(err)
	}
	// The published figures, as the CLI prints them.
	figures := func() string {
		var out strings.Builder
		for _, args := range [][]string{
			{"coverage", "--csv", "source_filter=graded", "within_m=1000", "group_by=township"},
			{"lengths", "--csv", "layer=roads", "group_by=year,surface", "status=completed"},
			{"progress", "--csv", "layer=house_renovations", "group_by=township"},
			{"rai", "--csv"},
		} {
			if err := run(ctx, append([]string{"stats", args[0], "--database-url", url}, args[1:]...), &out); err != nil {
				t.Fatalf("stats %v: %v", args, err)
			}
		}
		return out.String()
	}
	statsBefore := figures()
	before := checksum(t, pool)
	file := filepath.Join(t.TempDir(), "lastmile.dump")
	if err := run(ctx, []string{"backup", "--database-url", url, "--out", file}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM lastmile.villages WHERE population > 2000; UPDATE lastmile.roads SET surface = 'earth'`); err != nil {
		t.Fatal(err)
	}
	if checksum(t, pool) == before {
		t.Fatal("edits did not change the checksum")
	}
	pool.Reset()
	if err := run(ctx, []string{"restore", "--database-url", url, "--in", file}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if after := checksum(t, pool); after != before {
		t.Fatalf("checksum after restore %s, before backup %s", after, before)
	}
	if statsAfter := figures(); statsAfter != statsBefore {
		t.Fatalf("statistics differ after the round trip:\nbefore:\n%s\nafter:\n%s", statsBefore, statsAfter)
	}
	if !strings.Contains(statsBefore, "495") { // villages within 1 km of a graded highway
		t.Fatalf("unexpected figures:\n%s", statsBefore)
	}
	// Later inserts still get fresh ids (sequences restored).
	if _, err := pool.Exec(ctx, `INSERT INTO lastmile.villages (name, geom) VALUES ('new', ST_SetSRID(ST_MakePoint(117, 37), 4326))`); err != nil {
		t.Fatalf("insert after restore: %v", err)
	}

	// A damaged file changes nothing and says so.
	bad := filepath.Join(t.TempDir(), "bad.dump")
	os.WriteFile(bad, []byte("PGDMP not really"), 0o600)
	mid := checksum(t, pool)
	pool.Reset()
	err = run(ctx, []string{"restore", "--database-url", url, "--in", bad}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "pg_restore failed") {
		t.Fatalf("bad file: %v", err)
	}
	if checksum(t, pool) != mid {
		t.Fatal("a failed restore changed the database")
	}
}
