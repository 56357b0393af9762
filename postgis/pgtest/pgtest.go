// Package pgtest gives each test a fresh, migrated lastmile database cloned
// from a template, on a PostgreSQL cluster the test binary starts itself (or
// on $LASTMILE_TEST_DATABASE_URL). A missing PostgreSQL or PostGIS fails the
// test with a message naming scripts/setup; it never skips.
//
// A package using it calls pgtest.Main from TestMain so the cluster is
// stopped when its tests end:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/cluster"
	"github.com/lastmile/lastmile/postgis/pgsql"
)

// EnvURL names the variable that points tests at an existing server (a
// superuser URL of any database on it).
const EnvURL = "LASTMILE_TEST_DATABASE_URL"

// server is the shared state of one test binary: its cluster and template.
// It is test-only; the production code has no package-level state.
var server struct {
	once     sync.Once
	err      error
	cluster  *cluster.Cluster
	tmpDir   string
	adminURL string
	template string
}

// Main runs the tests and stops the cluster started for them.
func Main(m *testing.M) {
	code := m.Run()
	if server.cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		server.cluster.Stop(ctx)
		cancel()
		os.RemoveAll(server.tmpDir)
	}
	os.Exit(code)
}

func setup() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	server.adminURL = os.Getenv(EnvURL)
	if server.adminURL == "" {
		dir, err := os.MkdirTemp("", "lmpg")
		if err != nil {
			return err
		}
		server.tmpDir = dir
		c, err := cluster.New(cluster.Options{Dir: dir + "/pg"})
		if err != nil {
			return err
		}
		if err := c.Start(ctx); err != nil {
			return err
		}
		server.cluster = c
		server.adminURL = c.DatabaseURL("postgres")
	}
	server.template = "lastmile_tmpl_" + postgis.SchemaHash()
	admin, err := pgx.Connect(ctx, server.adminURL)
	if err != nil {
		return fmt.Errorf("connecting to the test server: %w", err)
	}
	defer admin.Close(ctx)
	// Several test binaries may share one server: build the template once.
	if _, err := admin.Exec(ctx, `SELECT pg_advisory_lock(4242)`); err != nil {
		return err
	}
	defer admin.Exec(ctx, `SELECT pg_advisory_unlock(4242)`)
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, server.template).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	tmp := server.template + "_building"
	admin.Exec(ctx, `DROP DATABASE IF EXISTS `+pgsql.Ident(tmp))
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+pgsql.Ident(tmp)); err != nil {
		return err
	}
	pool, err := postgis.Open(ctx, withDatabase(server.adminURL, tmp))
	if err != nil {
		return err
	}
	if err := postgis.CheckExtensions(ctx, pool); err != nil {
		pool.Close()
		return err
	}
	_, err = postgis.Migrate(ctx, pool)
	pool.Close()
	if err != nil {
		return err
	}
	_, err = admin.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s RENAME TO %s`,
		pgsql.Ident(tmp), pgsql.Ident(server.template)))
	return err
}

// withDatabase returns url with its database replaced by name. It handles
// both URL and key=value connection strings.
func withDatabase(connString, name string) string {
	u, err := url.Parse(connString)
	if err != nil || u.Scheme == "" {
		return connString + " dbname=" + name
	}
	u.Path = "/" + name
	return u.String()
}

func ready(t testing.TB) {
	t.Helper()
	server.once.Do(func() { server.err = setup() })
	if server.err != nil {
		t.Fatalf("PostGIS test database unavailable: %v\n(run scripts/setup to install PostgreSQL 15, PostGIS and pgRouting, or set %s)", server.err, EnvURL)
	}
}

// URL creates a fresh migrated database for the test, dropped when the test
// ends, and returns its connection URL (for subprocesses such as ogr2ogr or
// a lastmile server).
func URL(t testing.TB) string {
	t.Helper()
	ready(t)
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	admin, err := pgx.Connect(ctx, server.adminURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`,
		pgsql.Ident(name), pgsql.Ident(server.template))); err != nil {
		t.Fatalf("pgtest: creating test database: %v", err)
	}
	t.Cleanup(func() {
		admin, err := pgx.Connect(ctx, server.adminURL)
		if err != nil {
			return
		}
		defer admin.Close(ctx)
		admin.Exec(ctx, `DROP DATABASE IF EXISTS `+pgsql.Ident(name)+` WITH (FORCE)`)
	})
	return withDatabase(server.adminURL, name)
}

// Empty creates a fresh database with no migrations applied (no lastmile
// schema, no extensions), dropped when the test ends, and returns its URL:
// for tests of migrating itself (upgrades from an older release).
func Empty(t testing.TB) string {
	t.Helper()
	ready(t)
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	name := "e_" + hex.EncodeToString(b)
	admin, err := pgx.Connect(ctx, server.adminURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: creating empty database: %v", err)
	}
	t.Cleanup(func() {
		admin, err := pgx.Connect(ctx, server.adminURL)
		if err != nil {
			return
		}
		defer admin.Close(ctx)
		admin.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`)
	})
	return withDatabase(server.adminURL, name)
}

// New returns a pool on a fresh migrated database, closed when the test ends.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	url := URL(t)
	pool, err := postgis.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(pool.Close) // registered after the drop, so it runs first
	return pool
}
