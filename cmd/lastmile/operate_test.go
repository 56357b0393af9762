package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// TestVersionStamped builds lastmile as make build does, with a version,
// commit and date stamped in, and checks that `lastmile version` prints
// them (and --json carries them).
func TestVersionStamped(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "lastmile")
	const commit = "0123456789abcdef0123456789abcdef01234567"
	ldflags := "-X github.com/lastmile/lastmile/version.version=v9.9.9-test -X github.com/lastmile/lastmile/version.commit=" + commit +
		" -X github.com/lastmile/lastmile/version.date=2026-12-02T00:00:00Z"
	if out, err := exec.Command("go", "build", "-ldflags", ldflags, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out); !strings.Contains(got, "lastmile v9.9.9-test commit "+commit) || !strings.Contains(got, "built 2026-12-02T00:00:00Z") {
		t.Errorf("lastmile version = %q", got)
	}
	out, err = exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Version, Commit, Date, Platform string }
	if err := json.Unmarshal(out, &v); err != nil || v.Version != "v9.9.9-test" || v.Commit != commit || v.Date != "2026-12-02T00:00:00Z" || v.Platform == "" {
		t.Errorf("version --json = %s (%v)", out, err)
	}
}

// previousReleaseDB returns a database made by the previous release's
// migrations (postgis/testdata/previous-release), with a few rows.
func previousReleaseDB(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	url := pgtest.Empty(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	dir := filepath.Join("..", "..", "postgis", "testdata", "previous-release")
	files, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations in %s: %v", dir, err)
	}
	if _, err := conn.Exec(ctx, `CREATE SCHEMA lastmile; CREATE TABLE lastmile.schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		var v int
		fmt.Sscanf(name, "%d_", &v)
		if _, err := conn.Exec(ctx, string(b)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO lastmile.schema_migrations (version, name) VALUES ($1, $2)`, v, name); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, `INSERT INTO lastmile.villages (name, geom) VALUES ('old village', ST_SetSRID(ST_MakePoint(103, 26), 4326))`); err != nil {
		t.Fatal(err)
	}
	return url
}

// TestMigrateCheckBackupAndNewer: --check lists what would run and exits
// 2 without changing anything; --backup writes a backup of the schema as it
// was before migrating; a schema newer than the binary is refused by
// migrate, migrate --check and serve alike, unchanged.
func TestMigrateCheckBackupAndNewer(t *testing.T) {
	ctx := context.Background()
	url := previousReleaseDB(t)
	// The first --check reads the database from an env file, as the
	// service's is read.
	t.Setenv("DATABASE_URL", "") // restored when the test ends
	os.Unsetenv("DATABASE_URL")
	envFile := filepath.Join(t.TempDir(), "lastmile.env")
	os.WriteFile(envFile, []byte("# the service's settings\nDATABASE_URL=\""+url+"\"\n\n"), 0o640)
	var out bytes.Buffer
	err := run(ctx, []string{"migrate", "--check", "--env-file", envFile}, &out)
	os.Unsetenv("DATABASE_URL")
	t.Logf("migrate --check:\n%s%v (exit %d)", out.String(), err, exitCode(err))
	pending := sincePreviousRelease(t)
	if exitCode(err) != 2 || !strings.Contains(err.Error(), fmt.Sprintf("%d migration(s) pending", len(pending))) {
		t.Fatalf("migrate --check: exit %d, %v, want 2 and %d pending", exitCode(err), err, len(pending))
	}
	for _, m := range pending {
		if !strings.Contains(out.String(), "would apply "+m) {
			t.Errorf("migrate --check does not list %s:\n%s", m, out.String())
		}
	}
	pool, err := postgis.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if st, err := postgis.Status(ctx, pool); err != nil || len(st.Pending) != len(pending) {
		t.Fatalf("--check changed the database: %+v %v", st, err)
	}

	backup := filepath.Join(t.TempDir(), "before.dump")
	out.Reset()
	if err := run(ctx, []string{"migrate", "--backup", backup, "--database-url", url}, &out); err != nil {
		t.Fatalf("migrate --backup: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "backup written to "+backup) || !strings.Contains(out.String(), "applied 0070_access_build_online.sql") {
		t.Errorf("migrate --backup output:\n%s", out.String())
	}
	pgRestore, err := pgTool("pg_restore")
	if err != nil {
		t.Fatal(err)
	}
	list, err := exec.Command(pgRestore, "--list", backup).Output()
	if err != nil {
		t.Fatalf("pg_restore --list: %v", err)
	}
	// The backup holds the schema before the upgrade: villages with its
	// row, and no route_changes (added by 0060).
	if !strings.Contains(string(list), "TABLE DATA lastmile villages") || strings.Contains(string(list), "route_changes") {
		t.Errorf("backup is not of the schema before migrating:\n%s", list)
	}
	out.Reset()
	if err := run(ctx, []string{"migrate", "--check", "--database-url", url}, &out); err != nil || !strings.Contains(out.String(), "nothing to apply") {
		t.Errorf("migrate --check after migrating: %v\n%s", err, out.String())
	}

	// A newer lastmile's migration: every command refuses, nothing changes.
	if _, err := pool.Exec(ctx, `INSERT INTO lastmile.schema_migrations (version, name) VALUES (9990, '9990_future.sql')`); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"migrate", "--database-url", url},
		{"migrate", "--check", "--database-url", url},
		{"serve", "--database-url", url, "--addr", "127.0.0.1:0"},
	} {
		err := run(ctx, args, &bytes.Buffer{})
		if exitCode(err) != 1 || !strings.Contains(err.Error(), "newer than this lastmile binary") || !strings.Contains(err.Error(), "9990_future.sql") {
			t.Errorf("%v on a newer schema: exit %d, %v", args[:2], exitCode(err), err)
		}
	}
}

// doctor runs lastmile doctor and returns its output and error.
func doctor(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"doctor"}, args...), &out)
	t.Logf("lastmile doctor %s:\n%s%v (exit %d)", strings.Join(args, " "), out.String(), err, exitCode(err))
	return out.String(), err
}

func TestDoctor(t *testing.T) {
	ctx := context.Background()
	goodDir := t.TempDir()

	t.Run("healthy", func(t *testing.T) {
		out, err := doctor(t, "--database-url", pgtest.URL(t), "--data-dir", goodDir)
		if err != nil {
			t.Fatalf("doctor on a healthy database: %v\n%s", err, out)
		}
		ms, _ := postgis.Migrations()
		for _, want := range []string{"ok    PostgreSQL ", "ok    PostGIS ", "ok    pgRouting ", "ok    map page libraries",
			fmt.Sprintf("ok    migrations: all %d applied", len(ms)), "ok    data directory " + goodDir, "ok    free space under", "no problems found"} {
			if !strings.Contains(out, want) {
				t.Errorf("doctor output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "FAIL") {
			t.Errorf("healthy doctor output has a FAIL:\n%s", out)
		}
	})

	t.Run("without pgRouting", func(t *testing.T) {
		url := pgtest.URL(t)
		pool, err := postgis.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		_, err = pool.Exec(ctx, `DROP EXTENSION pgrouting`)
		pool.Close()
		if err != nil {
			t.Fatal(err)
		}
		out, err := doctor(t, "--database-url", url, "--data-dir", goodDir)
		if exitCode(err) != 1 || !strings.Contains(out, "FAIL  pgRouting ") || !strings.Contains(out, "not installed in this database") ||
			!strings.Contains(out, "CREATE EXTENSION pgrouting") || !strings.Contains(out, "ok    PostGIS") {
			t.Errorf("doctor without pgRouting: exit %d %v\n%s", exitCode(err), err, out)
		}
	})

	t.Run("pending migration", func(t *testing.T) {
		out, err := doctor(t, "--database-url", previousReleaseDB(t), "--data-dir", goodDir)
		pending := sincePreviousRelease(t)
		if exitCode(err) != 1 || !strings.Contains(out, fmt.Sprintf("FAIL  migrations: %d pending (%s)", len(pending), strings.Join(pending, ", "))) ||
			!strings.Contains(out, "fix: lastmile migrate --backup FILE") {
			t.Errorf("doctor with pending migrations: exit %d %v\n%s", exitCode(err), err, out)
		}
	})

	t.Run("newer schema", func(t *testing.T) {
		url := pgtest.URL(t)
		pool, _ := postgis.Open(ctx, url)
		pool.Exec(ctx, `INSERT INTO lastmile.schema_migrations (version, name) VALUES (9990, '9990_future.sql')`)
		pool.Close()
		out, err := doctor(t, "--database-url", url, "--data-dir", goodDir)
		if exitCode(err) != 1 || !strings.Contains(out, "FAIL  migrations: the database schema is newer than this lastmile binary") {
			t.Errorf("doctor on a newer schema: exit %d %v\n%s", exitCode(err), err, out)
		}
	})

	t.Run("wrong data-dir owner", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Fatal("this test makes a directory owned by another user: it needs root (as in CI and scripts/setup's machine)")
		}
		dir := t.TempDir()
		if err := os.Chown(dir, 54321, 54321); err != nil {
			t.Fatal(err)
		}
		out, err := doctor(t, "--database-url", pgtest.URL(t), "--data-dir", dir)
		want := fmt.Sprintf("FAIL  data directory %s is owned by uid 54321, but lastmile runs as root (uid 0)", dir)
		if exitCode(err) != 1 || !strings.Contains(out, want) || !strings.Contains(out, "fix: chown -R root "+dir) {
			t.Errorf("doctor with a wrong owner: exit %d %v\n%s\nwant %q", exitCode(err), err, out, want)
		}
	})

	t.Run("unreachable database", func(t *testing.T) {
		out, err := doctor(t, "--database-url", "postgres://u@127.0.0.1:1/db?connect_timeout=2")
		if exitCode(err) != 1 || !strings.Contains(out, "FAIL  database: cannot connect to the database at 127.0.0.1:1") {
			t.Errorf("doctor on an unreachable database: exit %d %v\n%s", exitCode(err), err, out)
		}
	})
}

// TestInstallService writes the unit and environment file into a temporary
// root: the unit runs serve as the service user with the environment file;
// the environment file has every serve flag's LASTMILE_* twin; a second run
// keeps an edited environment file; --dry-run writes nothing.
func TestInstallService(t *testing.T) {
	root := t.TempDir()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"install-service", "--root", root}, &out); err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile(filepath.Join(root, "etc/systemd/system/lastmile.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nUser=lastmile\n", "\nEnvironmentFile=/etc/lastmile/lastmile.env\n", "\nExecStart=/usr/local/bin/lastmile serve\n",
		"\nExecReload=/bin/kill -HUP $MAINPID\n", "\nStateDirectory=lastmile\n", "\nKillMode=mixed\n", "\nWantedBy=multi-user.target\n"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	envName := filepath.Join(root, "etc/lastmile/lastmile.env")
	env, err := os.ReadFile(envName)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(envName); st.Mode().Perm() != 0o640 {
		t.Errorf("env file mode %v, want 0640", st.Mode().Perm())
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var sf serveFlags
	sf.register(fs)
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		twin := "LASTMILE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_")) + "="
		if !strings.Contains(string(env), "\n"+twin) && !strings.Contains(string(env), "\n#"+twin) {
			t.Errorf("env file lacks %s", twin)
		}
	})
	for _, want := range []string{"\nLASTMILE_DATA_DIR=/var/lib/lastmile\n", "\nLASTMILE_ADDR=127.0.0.1:8080\n", "\nLASTMILE_LOG_FORMAT=json\n", "\n#LASTMILE_REQUEST_TIMEOUT=30s\n"} {
		if !strings.Contains(string(env), want) {
			t.Errorf("env file lacks %q", want)
		}
	}
	if n < 20 {
		t.Errorf("serve has only %d flags?", n)
	}
	if !strings.Contains(out.String(), "systemctl enable --now lastmile") || !strings.Contains(out.String(), "useradd --system") {
		t.Errorf("install-service does not print the next steps:\n%s", out.String())
	}
	// The service's environment parses as serve's configuration.
	for _, line := range strings.Split(string(env), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			t.Setenv(k, v)
		}
	}
	fs2 := flag.NewFlagSet("serve", flag.ContinueOnError)
	var sf2 serveFlags
	sf2.register(fs2)
	if err := parse(fs2, nil); err != nil || sf2.db.dataDir != "/var/lib/lastmile" || sf2.server.Addr != "127.0.0.1:8080" || sf2.log.format != "json" {
		t.Errorf("env file as serve's configuration: %v %+v", err, sf2)
	}

	os.WriteFile(envName, []byte("DATABASE_URL=postgres://edited\n"), 0o640)
	out.Reset()
	if err := run(context.Background(), []string{"install-service", "--root", root}, &out); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(envName); string(b) != "DATABASE_URL=postgres://edited\n" || !strings.Contains(out.String(), "kept "+envName) {
		t.Errorf("second install-service overwrote the edited env file: %q\n%s", b, out.String())
	}

	dry := t.TempDir()
	out.Reset()
	if err := run(context.Background(), []string{"install-service", "--root", dry, "--dry-run", "--user", "gis", "--data-dir", "/var/lib/gis/lastmile"}, &out); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dry); len(entries) != 0 {
		t.Errorf("--dry-run wrote %v", entries)
	}
	if !strings.Contains(out.String(), "\nUser=gis\n") || !strings.Contains(out.String(), "\nStateDirectory=gis/lastmile\n") || !strings.Contains(out.String(), "LASTMILE_DATA_DIR=/var/lib/gis/lastmile") {
		t.Errorf("--dry-run output:\n%s", out.String())
	}
	if err := run(context.Background(), []string{"install-service", "--root", dry, "--data-dir", "/srv/x"}, &out); err == nil || !strings.Contains(err.Error(), "under /var/lib") {
		t.Errorf("--data-dir outside /var/lib: %v", err)
	}
}

// TestSystemdAcceptsTheUnit: systemd-analyze verify finds nothing wrong
// with the unit (with the binary and user it names present).
func TestSystemdAcceptsTheUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze not found: run scripts/setup (it installs systemd)")
	}
	self, _ := os.Executable()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"install-service", "--dry-run", "--binary", self, "--user", "root"}, &out); err != nil {
		t.Fatal(err)
	}
	unit, _, _ := strings.Cut(strings.SplitN(out.String(), "\n", 2)[1], "\n# /")
	f := filepath.Join(t.TempDir(), "lastmile-test.service")
	os.WriteFile(f, []byte(unit), 0o644)
	msg, err := exec.Command(analyze, "verify", f).CombinedOutput()
	// verify also reports the host's own units; only lines about ours count
	var ours []string
	for _, l := range strings.Split(string(msg), "\n") {
		if strings.Contains(l, "lastmile-test.service") {
			ours = append(ours, l)
		}
	}
	if len(ours) > 0 {
		t.Errorf("systemd-analyze verify (%v):\n%s", err, strings.Join(ours, "\n"))
	}
}

func TestLogFormat(t *testing.T) {
	var b bytes.Buffer
	log, err := loggerTo(&b, "json")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hello", "request_id", "r1", "status", 200)
	var rec map[string]any
	if err := json.Unmarshal(b.Bytes(), &rec); err != nil || rec["msg"] != "hello" || rec["request_id"] != "r1" || rec["status"] != float64(200) || rec["level"] != "INFO" {
		t.Errorf("json log line %s: %v", b.String(), err)
	}
	if _, err := loggerTo(&b, "xml"); err == nil || !strings.Contains(err.Error(), "use text or json") {
		t.Errorf("--log-format xml: %v", err)
	}
	err = run(context.Background(), []string{"serve", "--log-format", "yaml"}, &b)
	if err == nil || !strings.Contains(err.Error(), `--log-format "yaml"`) {
		t.Errorf("serve --log-format yaml: %v", err)
	}
}

// TestSIGHUPEmptiesTheTileCache: systemctl reload (SIGHUP) empties the tile
// cache of a running serve, which keeps serving.
func TestSIGHUPEmptiesTheTileCache(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--database-url", pgtest.URL(t), "--addr", "127.0.0.1:0", "--stats-refresh", "0"}, out)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	var base string
	for i := 0; i < 300 && base == ""; i++ {
		if m := servingURL.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
		time.Sleep(100 * time.Millisecond)
	}
	if base == "" {
		t.Fatal("serve did not start")
	}
	xcache := func() string {
		resp, err := http.Get(base + "/tiles/villages/0/0/0.mvt")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("X-Cache")
	}
	if a, b := xcache(), xcache(); a != "MISS" || b != "HIT" {
		t.Fatalf("before SIGHUP: X-Cache %s then %s, want MISS then HIT", a, b)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	got := ""
	for i := 0; i < 50; i++ { // the signal is handled asynchronously
		time.Sleep(100 * time.Millisecond)
		if got = xcache(); got == "MISS" {
			break
		}
	}
	if got != "MISS" {
		t.Errorf("after SIGHUP: X-Cache %s, want MISS (cache emptied)", got)
	}
}

func TestEnvFile(t *testing.T) {
	t.Setenv("LASTMILE_ADDR", "")
	os.Unsetenv("LASTMILE_ADDR")
	t.Setenv("LASTMILE_DATA_DIR", "/already/set")
	t.Setenv("LASTMILE_PRIVATE", "")
	os.Unsetenv("LASTMILE_PRIVATE")
	f := filepath.Join(t.TempDir(), "env")
	os.WriteFile(f, []byte("# comment\n\nLASTMILE_ADDR=127.0.0.1:9\nLASTMILE_DATA_DIR=/from/file\n LASTMILE_PRIVATE = 'true' \n"), 0o600)
	rest, err := withEnvFile([]string{"--check", "--env-file", f, "--backup=x"})
	if err != nil || strings.Join(rest, " ") != "--check --backup=x" {
		t.Fatalf("withEnvFile: %v %v", rest, err)
	}
	if os.Getenv("LASTMILE_ADDR") != "127.0.0.1:9" || os.Getenv("LASTMILE_DATA_DIR") != "/already/set" || os.Getenv("LASTMILE_PRIVATE") != "true" {
		t.Errorf("env after --env-file: ADDR=%q DATA_DIR=%q PRIVATE=%q", os.Getenv("LASTMILE_ADDR"), os.Getenv("LASTMILE_DATA_DIR"), os.Getenv("LASTMILE_PRIVATE"))
	}
	os.WriteFile(f, []byte("LASTMILE_ADDR=1\nnot an assignment\n"), 0o600)
	if _, err := withEnvFile([]string{"--env-file=" + f}); err == nil || !strings.Contains(err.Error(), ":2: not KEY=VALUE") {
		t.Errorf("bad line: %v", err)
	}
	if _, err := withEnvFile([]string{"--env-file"}); err == nil {
		t.Error("--env-file without a file: no error")
	}
}

// TestDoctorCreatesNothing: on a fresh machine (no managed cluster yet)
// doctor reports it and creates nothing.
func TestDoctorCreatesNothing(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	dir := filepath.Join(t.TempDir(), "data")
	out, err := doctor(t, "--data-dir", dir)
	if err != nil || !strings.Contains(out, "the managed cluster does not exist yet") || !strings.Contains(out, "does not exist yet: lastmile creates it") {
		t.Errorf("doctor before the first start: %v\n%s", err, out)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("doctor created %s", dir)
	}
}

// sincePreviousRelease names the migrations this binary has that the
// previous release (postgis/testdata/previous-release) lacks, in order.
func sincePreviousRelease(t *testing.T) []string {
	t.Helper()
	all, err := postgis.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range all {
		if _, err := os.Stat(filepath.Join("..", "..", "postgis", "testdata", "previous-release", m.Name)); os.IsNotExist(err) {
			out = append(out, m.Name)
		}
	}
	if len(out) == 0 {
		t.Fatal("no migration since the previous release: the pending-migration checks test nothing")
	}
	return out
}
