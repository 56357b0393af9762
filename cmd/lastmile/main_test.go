package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

func TestBadInputIsOneClearLine(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown command", []string{"frobnicate"}, nil, `unknown command "frobnicate"`},
		{"malformed URL", []string{"migrate", "--database-url", "postgres://u:p@host:notaport/db"}, nil, "database URL is malformed"},
		{"malformed URL from env", []string{"migrate"}, map[string]string{"DATABASE_URL": "postgres://%zz"}, "database URL is malformed"},
		{"unreachable server", []string{"migrate", "--database-url", "postgres://u@127.0.0.1:1/db?connect_timeout=2"}, nil, "cannot connect to the database at 127.0.0.1:1"},
		{"bad env twin", []string{"serve"}, map[string]string{"LASTMILE_REQUEST_TIMEOUT": "soon"}, `LASTMILE_REQUEST_TIMEOUT="soon"`},
		{"data dir is a file", []string{"migrate", "--data-dir", "/etc/hostname"}, nil, "not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			err := run(ctx, tt.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if strings.Count(err.Error(), "\n") > 0 {
				t.Errorf("error is more than one line: %q", err)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), nil, &out); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"serve", "demo", "migrate", "import", "stats", "rank", "token"} {
		if !strings.Contains(out.String(), "  "+c) {
			t.Errorf("usage lacks %s", c)
		}
	}
	if err := run(context.Background(), []string{"serve", "-h"}, io.Discard); err != flag.ErrHelp {
		t.Errorf("serve -h: %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

var servingURL = regexp.MustCompile(`serving on (http://\S+)`)

// startServe runs `lastmile serve` (with extra flags) on the managed cluster
// under dataDir and returns its URL and a function that stops it (and its
// PostgreSQL).
func startServe(t *testing.T, dataDir string, flags ...string) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir}, flags...)
	go func() { done <- run(ctx, args, out) }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := servingURL.FindStringSubmatch(out.String()); m != nil {
			return m[1], func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("serve: %v", err)
				}
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v (run scripts/setup if PostgreSQL is missing)", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	cancel()
	t.Fatal("serve did not start within 60 s")
	return "", nil
}

func TestServeRestartKeepsEdits(t *testing.T) {
	dir, err := os.MkdirTemp("", "lms")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	url, stop := startServe(t, dir)
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(url + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
	stop()
	// Edit the stopped cluster's data directly through a second process
	// lifetime: start, write, stop, start again, read.
	var db dbFlags
	db.dataDir = dir
	d, err := db.open(context.Background(), newLogger())
	if err != nil {
		t.Fatal(err)
	}
	ctx := postgis.WithActor(context.Background(), postgis.Actor{Name: "test"})
	_, err = d.Pool.Exec(ctx, `INSERT INTO lastmile.villages (name, geom) VALUES ('留存村', ST_SetSRID(ST_MakePoint(117.2, 37.3), 4326))`)
	d.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pg", "PG_VERSION")); err != nil {
		t.Fatalf("no cluster under --data-dir: %v", err)
	}
	url, stop = startServe(t, dir)
	defer stop()
	d, err = db.open(context.Background(), newLogger())
	if err != nil {
		t.Fatal(err)
	}
	var name string
	err = d.Pool.QueryRow(ctx, `SELECT name FROM lastmile.villages`).Scan(&name)
	d.Close(context.Background()) // the server started the cluster: it keeps running
	if err != nil || name != "留存村" {
		t.Fatalf("after restart: %q, %v", name, err)
	}
	resp, err := http.Get(url + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz after another command used the server's cluster: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestReadReplicaUnreachable: a read replica that cannot be reached is one
// clear line naming it, not a server serving stats from nowhere.
func TestReadReplicaUnreachable(t *testing.T) {
	err := run(context.Background(), []string{"serve", "--database-url", pgtest.URL(t), "--addr", "127.0.0.1:0",
		"--read-database-url", "postgres://u@127.0.0.1:1/db?connect_timeout=2"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "read replica: cannot connect to the database at 127.0.0.1:1") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v, want one line about the read replica", err)
	}
}
