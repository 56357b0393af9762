package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
)

// lastmileProcess runs `lastmile serve` as a child process (this test binary
// re-executed) and returns its URL.
func lastmileProcess(t *testing.T, dataDir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir)
	cmd.Env = append(os.Environ(), "LASTMILE_RUN_MAIN=1")
	stdout, _ := cmd.StdoutPipe()
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	urls := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if m := servingURL.FindStringSubmatch(lines.Text()); m != nil {
				urls <- m[1]
			}
		}
	}()
	select {
	case u := <-urls:
		return cmd, u
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("lastmile did not start within 60 s:\n%s", stderr.String())
	}
	return nil, ""
}

// TestKillDuringImportAndEdits kills -9 lastmile and its PostgreSQL in the
// middle of a large import and a burst of edits, restarts on the same data
// directory, and checks that every feature is fully in or out, that every
// acknowledged write survived, and that history agrees with the tables.
func TestKillDuringImportAndEdits(t *testing.T) {
	dir, err := os.MkdirTemp("", "lmk")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	proc, base := lastmileProcess(t, dir)

	ctx := context.Background()
	var flags dbFlags
	flags.dataDir = dir
	db, err := flags.open(ctx, newLogger()) // the server owns the cluster: this leaves it running
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := postgis.NewTokens(db.Pool, layer.Default()).Create(ctx, "crash test", []string{"admin"})
	db.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	auth := "Bearer " + secret

	// A large import, streamed slowly so it is in flight when we kill.
	const importN = 20000
	pr, pw := io.Pipe()
	go func() {
		w := bufio.NewWriter(pw)
		for i := 0; i < importN; i++ {
			fmt.Fprintf(w, `{"type":"Feature","geometry":{"type":"LineString","coordinates":[[117.%04d,37.1],[117.%04d,37.11]]},"properties":{"ext_id":"crash:%d","status":"completed","surface":"cement"}}`+"\n", i%9999, i%9999, i)
			if i == importN/2 {
				w.Flush()
				time.Sleep(3 * time.Second) // the kill lands here
			}
		}
		w.Flush()
		pw.Close()
	}()
	go func() {
		req, _ := http.NewRequest("POST", base+"/api/import/roads?format=geojsonseq", pr)
		req.Header.Set("Authorization", auth)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()

	// A burst of edits; remember which the server acknowledged.
	var mu sync.Mutex
	var acked []int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"type":"Feature","geometry":{"type":"Point","coordinates":[117.%d%03d,37.2]},"properties":{"name":"v%d-%d","population":%d}}`, w, i%1000, w, i, i)
				req, _ := http.NewRequest("POST", base+"/ogc/collections/villages/items", strings.NewReader(body))
				req.Header.Set("Authorization", auth)
				req.Header.Set("Content-Type", "application/geo+json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return
				}
				loc := resp.Header.Get("Location")
				resp.Body.Close()
				if resp.StatusCode == 201 {
					id, _ := strconv.ParseInt(loc[strings.LastIndex(loc, "/")+1:], 10, 64)
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				}
			}
		}(w)
	}
	time.Sleep(1500 * time.Millisecond)

	// kill -9 lastmile, then the postmaster: a power cut for both.
	proc.Process.Signal(syscall.SIGKILL)
	proc.Wait()
	pidFile, _ := os.ReadFile(filepath.Join(dir, "pg", "postmaster.pid"))
	pgPid, _ := strconv.Atoi(strings.SplitN(string(pidFile), "\n", 2)[0])
	if pgPid > 0 {
		syscall.Kill(pgPid, syscall.SIGKILL)
	}
	close(stop)
	wg.Wait()
	time.Sleep(500 * time.Millisecond)
	if len(acked) == 0 {
		t.Fatal("no edit was acknowledged before the kill")
	}

	// Restart on the same data directory: PostgreSQL recovers from its WAL.
	proc, base = lastmileProcess(t, dir)
	defer func() { proc.Process.Signal(syscall.SIGINT); proc.Wait() }()
	resp, err := http.Get(base + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz after restart: %v %v", resp, err)
	}
	resp.Body.Close()

	db, err = flags.open(ctx, newLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	q := func(sql string, args ...any) int {
		var n int
		if err := db.Pool.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	if n := q(`SELECT count(*) FROM lastmile.roads WHERE ext_id LIKE 'crash:%'`); n != 0 && n != importN {
		t.Errorf("import half-written: %d of %d roads", n, importN)
	}
	if n := q(`SELECT count(*) FROM lastmile.villages WHERE id = ANY($1)`, acked); n != len(acked) {
		t.Errorf("%d of %d acknowledged edits survived", n, len(acked))
	}
	for _, table := range []string{"villages", "roads"} {
		// Every row has the history row of its current version, and every
		// inserted feature without a delete still exists.
		if n := q(`SELECT count(*) FROM lastmile.` + table + ` t WHERE NOT EXISTS (SELECT 1 FROM lastmile.feature_history h
			WHERE h.layer = '` + table + `' AND h.feature_id = t.id AND h.version = t.version)`); n != 0 {
			t.Errorf("%s: %d rows without history of their version", table, n)
		}
		if n := q(`SELECT count(*) FROM lastmile.feature_history h WHERE h.layer = '` + table + `' AND h.op = 'insert'
			AND NOT EXISTS (SELECT 1 FROM lastmile.` + table + ` t WHERE t.id = h.feature_id)
			AND NOT EXISTS (SELECT 1 FROM lastmile.feature_history d WHERE d.layer = h.layer AND d.feature_id = h.feature_id AND d.op = 'delete')`); n != 0 {
			t.Errorf("%s: history records %d inserts whose rows are gone", table, n)
		}
	}
	t.Logf("acknowledged edits %d, all present; imported roads after the kill: %d of %d (all or nothing)",
		len(acked), q(`SELECT count(*) FROM lastmile.roads`), importN)
}
