package cluster_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/lastmile/lastmile/postgis/cluster"
)

func tempDir(t *testing.T) string {
	// Short paths: a Unix socket path must fit in 107 bytes.
	dir, err := os.MkdirTemp("", "lmc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestRestartKeepsData(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(tempDir(t), "pg")
	c, err := cluster.New(cluster.Options{Dir: dir})
	if err != nil {
		t.Fatalf("%v (run %s)", err, cluster.Setup)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop(context.Background()) })
	exec := func(sql string) string {
		conn, err := pgx.Connect(ctx, c.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var out string
		if err := conn.QueryRow(ctx, sql).Scan(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE kept AS SELECT 'still here'::text AS v`); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Running(ctx) {
		t.Fatal("running after Stop")
	}
	if _, err := os.Stat(c.SocketPath()); err == nil {
		t.Error("socket left after stop")
	}
	// A new Cluster value on the same directory reuses it.
	c2, err := cluster.New(cluster.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got := exec(`SELECT v FROM kept`); got != "still here" {
		t.Fatalf("after restart: %q", got)
	}
	// Start on a running cluster is a no-op.
	if err := c2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c2.SocketPath(), dir) {
		t.Errorf("socket %s not inside %s", c2.SocketPath(), dir)
	}
}

func TestBadDataDir(t *testing.T) {
	long := filepath.Join(tempDir(t), strings.Repeat("d", 100))
	if _, err := cluster.New(cluster.Options{Dir: long}); err == nil || !strings.Contains(err.Error(), "too long for a Unix socket") {
		t.Errorf("long path: err = %v", err)
	}
	file := filepath.Join(tempDir(t), "f")
	os.WriteFile(file, nil, 0o600)
	if _, err := cluster.New(cluster.Options{Dir: file}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("file as data dir: err = %v", err)
	}
	// An initialised directory owned by another user.
	foreign := filepath.Join(tempDir(t), "pg")
	os.MkdirAll(foreign, 0o700)
	os.WriteFile(filepath.Join(foreign, "PG_VERSION"), []byte("15\n"), 0o600)
	os.Chown(foreign, 12345, 12345)
	_, err := cluster.New(cluster.Options{Dir: foreign})
	if os.Geteuid() != 0 {
		t.Logf("not root: cannot chown; err = %v", err)
		return
	}
	if err == nil || !strings.Contains(err.Error(), "is owned by uid 12345") {
		t.Errorf("foreign owner: err = %v", err)
	}
}
