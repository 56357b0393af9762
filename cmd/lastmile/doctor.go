package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/static"
	"github.com/lastmile/lastmile/version"
)

// Minimum versions lastmile needs (doctor checks them; docs/operate.md
// lists why). Tested on PostgreSQL 15, PostGIS 3.3, pgRouting 3.4.
var (
	minPostgres  = [2]int{12, 0} // generated stored columns
	minPostGIS   = [2]int{3, 1}  // ST_TileEnvelope(margin), ST_SquareGrid
	minPgRouting = [2]int{3, 0}  // pgr_connectedComponents, pgr_drivingDistance(array of starts)
)

// finding is one line of the doctor's report.
type finding struct {
	level string // ok, info, warn, FAIL
	what  string
	fix   string
}

type doctorFlags struct {
	db          dbFlags
	page        static.Options
	serviceUser string
	minFree     int64
}

func cmdDoctor(ctx context.Context, args []string, out io.Writer) error {
	args, err := withEnvFile(args)
	if err != nil {
		return err
	}
	fs := newFlagSet("doctor", out)
	fs.String("env-file", "", "read KEY=VALUE settings from this file first, e.g. the service's /etc/lastmile/lastmile.env (variables already set win)")
	var f doctorFlags
	f.db.register(fs)
	f.page.RegisterFlags(fs)
	fs.StringVar(&f.serviceUser, "service-user", "", "the user lastmile runs as (e.g. lastmile, from the systemd unit); default: the user running doctor")
	fs.Int64Var(&f.minFree, "min-free", 1<<30, "free bytes the data directory's file system needs at least")
	if err := parse(fs, args); err != nil {
		return err
	}
	var r []finding
	add := func(level, what, fix string) { r = append(r, finding{level, what, fix}) }

	v := version.Get()
	add("info", fmt.Sprintf("binary: lastmile %s, commit %s, built %s, %s %s", v.Version, v.Commit, v.Date, v.GoVersion, v.Platform), "")

	// The page's libraries.
	libs := static.New(f.page).Libraries()
	if msg := libs.MissingMessage(); msg != "" {
		add("FAIL", "map page: "+strings.Split(msg, ": build")[0], "build the binary with make build (it embeds them), or give --static-dir a directory holding node_modules")
	} else {
		add("ok", fmt.Sprintf("map page libraries %s (maplibre-gl %s, echarts %s)", libSource(libs.Source), libs.Versions["maplibre-gl"], libs.Versions["echarts"]), "")
	}

	// The data directory (the managed cluster's, or one named explicitly).
	managed := f.db.url == ""
	dataDirGiven := flagGiven(fs, "data-dir") || os.Getenv("LASTMILE_DATA_DIR") != ""
	dataOK := true
	if managed || dataDirGiven {
		dataOK = checkDataDir(f, managed, add)
	} else {
		add("info", "data directory: not used (the database is external, --database-url)", "")
	}

	// The database.
	if managed && !dataOK {
		add("FAIL", "database: not checked (the managed cluster lives in the data directory)", "fix the data directory first")
	} else if pg := filepath.Join(f.db.dataDir, "pg", "PG_VERSION"); managed && !fileExists(pg) {
		add("info", "database: the managed cluster does not exist yet under "+f.db.dataDir+"; lastmile serve creates it on first start (doctor creates nothing)", "")
	} else {
		checkDatabase(ctx, f, add)
	}

	problems := 0
	for _, x := range r {
		fmt.Fprintf(out, "%-4s  %s\n", x.level, x.what)
		if x.fix != "" && x.level != "ok" {
			fmt.Fprintf(out, "      fix: %s\n", x.fix)
		}
		if x.level == "FAIL" {
			problems++
		}
	}
	if problems > 0 {
		return &exitError{code: 1, err: fmt.Errorf("doctor found %d problem(s): see the FAIL lines above", problems)}
	}
	fmt.Fprintln(out, "no problems found")
	return nil
}

func libSource(src string) string {
	if src == "embedded" {
		return "embedded in the binary"
	}
	return "read from " + src
}

func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// checkDataDir checks the data directory's owner and free space; it
// reports whether the directory is usable.
func checkDataDir(f doctorFlags, managed bool, add func(level, what, fix string)) bool {
	dir, err := filepath.Abs(f.db.dataDir)
	if err != nil {
		dir = f.db.dataDir
	}
	// Who must own it: the service user; as root without one, root owns
	// the directory and the cluster inside runs as postgres.
	wantUID, wantName := os.Geteuid(), "the current user"
	if u, err := user.LookupId(strconv.Itoa(wantUID)); err == nil {
		wantName = u.Username
	}
	if f.serviceUser != "" {
		u, err := user.Lookup(f.serviceUser)
		if err != nil {
			add("FAIL", fmt.Sprintf("service user %q does not exist", f.serviceUser), "create it: useradd --system --home-dir /var/lib/lastmile --shell /usr/sbin/nologin "+f.serviceUser)
			return false
		}
		wantUID, _ = strconv.Atoi(u.Uid)
		wantName = u.Username
	}
	ok := true
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		add("info", fmt.Sprintf("data directory %s does not exist yet: lastmile creates it on first start", dir), "")
	case err != nil:
		add("FAIL", fmt.Sprintf("data directory %s: %v", dir, err), "check the path and its permissions")
		return false
	case !st.IsDir():
		add("FAIL", fmt.Sprintf("data directory %s is not a directory", dir), "give --data-dir (LASTMILE_DATA_DIR) a directory")
		return false
	default:
		uid := int(st.Sys().(*syscall.Stat_t).Uid)
		if uid != wantUID {
			add("FAIL", fmt.Sprintf("data directory %s is owned by %s, but lastmile runs as %s", dir, userName(uid), userName(wantUID)),
				fmt.Sprintf("chown -R %s %s (or run lastmile as its owner)", wantName, dir))
			ok = false
		} else {
			add("ok", fmt.Sprintf("data directory %s, owned by %s", dir, userName(uid)), "")
		}
		if pg := filepath.Join(dir, "pg"); managed {
			if pst, err := os.Stat(pg); err == nil {
				want := wantUID
				if want == 0 {
					if pu, err := user.Lookup("postgres"); err == nil {
						want, _ = strconv.Atoi(pu.Uid) // as root, the cluster runs as postgres
					}
				}
				if got := int(pst.Sys().(*syscall.Stat_t).Uid); got != want {
					add("FAIL", fmt.Sprintf("cluster directory %s is owned by %s, but the cluster runs as %s", pg, userName(got), userName(want)),
						fmt.Sprintf("chown -R %s %s", userName(want), pg))
					ok = false
				}
			}
		}
	}
	// Free space, on the directory or the nearest existing parent.
	probe := dir
	for {
		if _, err := os.Stat(probe); err == nil || probe == filepath.Dir(probe) {
			break
		}
		probe = filepath.Dir(probe)
	}
	var sfs syscall.Statfs_t
	if err := syscall.Statfs(probe, &sfs); err == nil {
		free := int64(sfs.Bavail) * int64(sfs.Bsize)
		total := int64(sfs.Blocks) * int64(sfs.Bsize)
		line := fmt.Sprintf("free space under %s: %s of %s", probe, bytesIEC(free), bytesIEC(total))
		if free < f.minFree {
			add("FAIL", line+fmt.Sprintf(" (less than --min-free %s)", bytesIEC(f.minFree)), "free space or move --data-dir to a larger file system; PostgreSQL stops accepting writes when its disk is full")
			ok = false
		} else {
			add("ok", line, "")
		}
	}
	return ok
}

func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return fmt.Sprintf("%s (uid %d)", u.Username, uid)
	}
	return fmt.Sprintf("uid %d", uid)
}

func bytesIEC(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// checkDatabase checks the server, its extensions, the migrations and the
// precomputed tables. It never migrates.
func checkDatabase(ctx context.Context, f doctorFlags, add func(level, what, fix string)) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := f.db.connectNoCheck(ctx, log)
	if err != nil {
		add("FAIL", "database: "+err.Error(), "see the message; for an external database check DATABASE_URL / --database-url")
		return
	}
	defer db.Close(context.WithoutCancel(ctx))
	pool := db.Pool

	var pgVersion string
	var pgNum int
	if err := pool.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('server_version_num')::int`).Scan(&pgVersion, &pgNum); err != nil {
		add("FAIL", "database: "+err.Error(), "")
		return
	}
	if pgNum/10000 < minPostgres[0] {
		add("FAIL", fmt.Sprintf("PostgreSQL %s (minimum %d)", pgVersion, minPostgres[0]), "upgrade PostgreSQL (Debian: apt-get install postgresql-15)")
	} else {
		add("ok", fmt.Sprintf("PostgreSQL %s (minimum %d)", pgVersion, minPostgres[0]), "")
	}

	major := "15"
	if pgNum > 0 {
		major = strconv.Itoa(pgNum / 10000)
	}
	for _, ext := range []struct {
		name, title string
		min         [2]int
		pkg         string
	}{
		{"postgis", "PostGIS", minPostGIS, "postgresql-" + major + "-postgis-3"},
		{"pgrouting", "pgRouting", minPgRouting, "postgresql-" + major + "-pgrouting"},
	} {
		var installed, available *string
		err := pool.QueryRow(ctx, `SELECT (SELECT extversion FROM pg_extension WHERE extname = $1),
			(SELECT default_version FROM pg_available_extensions WHERE name = $1)`, ext.name).Scan(&installed, &available)
		minStr := fmt.Sprintf("%d.%d", ext.min[0], ext.min[1])
		switch {
		case err != nil:
			add("FAIL", ext.title+": "+err.Error(), "")
		case installed == nil && available == nil:
			add("FAIL", fmt.Sprintf("%s: not available on the database server", ext.title),
				fmt.Sprintf("install it on the server (Debian: apt-get install %s; scripts/setup does this), then CREATE EXTENSION %s in the database", ext.pkg, ext.name))
		case installed == nil:
			add("FAIL", fmt.Sprintf("%s %s is available on the server but not installed in this database", ext.title, *available),
				fmt.Sprintf("as a superuser: CREATE EXTENSION %s SCHEMA public; (lastmile migrate does it when it may)", ext.name))
		case versionLess(*installed, ext.min):
			add("FAIL", fmt.Sprintf("%s %s (minimum %s)", ext.title, *installed, minStr), fmt.Sprintf("upgrade %s, then ALTER EXTENSION %s UPDATE", ext.pkg, ext.name))
		default:
			add("ok", fmt.Sprintf("%s %s (minimum %s)", ext.title, *installed, minStr), "")
		}
	}

	st, err := postgis.Status(ctx, pool)
	switch {
	case err != nil:
		add("FAIL", "migrations: "+err.Error(), "")
		return
	case len(st.Unknown) > 0:
		add("FAIL", "migrations: "+st.CheckNotNewer().Error(), "install the newer lastmile binary that applied them")
	case len(st.Pending) > 0:
		var names []string
		for _, m := range st.Pending {
			names = append(names, m.Name)
		}
		add("FAIL", fmt.Sprintf("migrations: %d pending (%s); /readyz answers 503 until they are applied", len(st.Pending), strings.Join(names, ", ")),
			"lastmile migrate --backup FILE (or restart lastmile serve, which applies them)")
	default:
		add("ok", fmt.Sprintf("migrations: all %d applied (latest %s)", len(st.Applied), st.Latest), "")
	}
	if len(st.Applied) == 0 {
		return
	}

	// The precomputed tables (stats/refresh.go keeps them current while
	// serve runs; a stale one is rebuilt on the next question).
	var gen, built, edges, vertices int64
	var builtAt *time.Time
	if err := pool.QueryRow(ctx, `SELECT generation, built_generation, built_at, edges, vertices FROM lastmile.route_graph_state`).
		Scan(&gen, &built, &builtAt, &edges, &vertices); err != nil {
		add("FAIL", "routing graph state: "+err.Error(), "lastmile migrate")
	} else if built == 0 {
		add("info", "routing graph: not built yet (built on the first network question or by serve's --stats-refresh)", "")
	} else if gen > built {
		add("info", fmt.Sprintf("routing graph: %d edges, %d vertices, built %s; %d road write(s) since, brought up to date by serve's --stats-refresh or the next network question",
			edges, vertices, builtAt.UTC().Format(time.RFC3339), gen-built), "")
	} else {
		add("ok", fmt.Sprintf("routing graph: current, %d edges, %d vertices, built %s", edges, vertices, builtAt.UTC().Format(time.RFC3339)), "")
	}
	var accessBuilt bool
	var accessAt *time.Time
	var changes, rows int64
	if err := pool.QueryRow(ctx, `SELECT built, built_at, (SELECT count(*) FROM lastmile.access_changes), (SELECT count(*) FROM lastmile.village_access)
		FROM lastmile.access_state`).Scan(&accessBuilt, &accessAt, &changes, &rows); err != nil {
		add("FAIL", "village access state: "+err.Error(), "lastmile migrate")
	} else if !accessBuilt {
		add("info", "nearest-road table (village_access): not built yet (built on the first coverage question or by serve's --stats-refresh)", "")
	} else if changes > 0 {
		add("info", fmt.Sprintf("nearest-road table (village_access): %d rows, %d logged change(s) to apply on the next refresh", rows, changes), "")
	} else {
		add("ok", fmt.Sprintf("nearest-road table (village_access): current, %d rows, built %s", rows, accessAt.UTC().Format(time.RFC3339)), "")
	}
}

// versionLess reports whether an extension version ("3.3.2", "3.4.2dev")
// is below min.
func versionLess(v string, min [2]int) bool {
	parts := strings.SplitN(v, ".", 3)
	num := func(i int) int {
		if i >= len(parts) {
			return 0
		}
		s := parts[i]
		end := 0
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end++
		}
		n, _ := strconv.Atoi(s[:end])
		return n
	}
	if num(0) != min[0] {
		return num(0) < min[0]
	}
	return num(1) < min[1]
}
