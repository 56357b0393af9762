package postgis

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one embedded .sql file, applied once in its own transaction.
type Migration struct {
	Version int    // numeric prefix of the file name
	Name    string // file name
	SQL     string
}

// Migrations returns the embedded migrations in order.
func Migrations() ([]Migration, error) { return migrationsIn(migrationFiles, "migrations") }

// migrationsIn reads the migrations in dir of fsys, in order.
func migrationsIn(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		prefix, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and '_'", e.Name())
		}
		b, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", out[i-1].Name, out[i].Name, out[i].Version)
		}
	}
	return out, nil
}

// SchemaHash identifies the set of embedded migrations (used to name test
// templates, so a changed migration never reuses a stale template).
func SchemaHash() string {
	ms, _ := Migrations()
	h := sha256.New()
	for _, m := range ms {
		h.Write([]byte(m.Name))
		h.Write([]byte(m.SQL))
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// migrationLock is the advisory lock key that serialises concurrent migrators.
const migrationLock = 0x6c6173746d696c65 // "lastmile"

// Migrate applies every migration not yet recorded, each in its own
// transaction, and returns the names applied. It is safe to run from several
// processes at once.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (applied []string, err error) {
	defer lastmile.Wrap(&err, "migrate")
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	return migrate(ctx, pool, ms)
}

// migrate applies the migrations of ms not yet recorded.
func migrate(ctx context.Context, pool *pgxpool.Pool, ms []Migration) (applied []string, err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return nil, err
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrationLock)) //nolint:errcheck
	if _, err := conn.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS lastmile;
		CREATE TABLE IF NOT EXISTS lastmile.schema_migrations (
			version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, err
	}
	st, err := status(ctx, conn.Conn(), ms)
	if err != nil {
		return nil, err
	}
	if err := st.CheckNotNewer(); err != nil {
		return nil, err
	}
	for _, m := range st.Pending {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			// Inserts recorded since 0095 refer to their rows instead of
			// copying them: copy them in before a migration that may
			// change what a layer's table shows (a column added, dropped
			// or retyped), so history reads as it was recorded.
			var refs bool
			if err := tx.QueryRow(ctx, `SELECT to_regprocedure('lastmile.feature_history_materialize(text)') IS NOT NULL`).Scan(&refs); err != nil {
				return err
			}
			if refs {
				if _, err := tx.Exec(ctx, `SELECT lastmile.feature_history_materialize()`); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO lastmile.schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migration %s failed (nothing of it was applied): %w", m.Name, err)
		}
		applied = append(applied, m.Name)
	}
	return applied, nil
}

// ErrSchemaNewer is the error (errors.Is) of a database holding migrations
// this binary does not know: it was upgraded by a newer lastmile.
var ErrSchemaNewer = errors.New("the database schema is newer than this lastmile binary")

// AppliedMigration is a row of lastmile.schema_migrations.
type AppliedMigration struct {
	Version   int
	Name      string
	AppliedAt time.Time
}

// MigrationStatus compares the database's migrations with the binary's.
type MigrationStatus struct {
	Applied []AppliedMigration // recorded in the database, oldest version first
	Pending []Migration        // embedded, not yet applied
	// Unknown are recorded in the database but not embedded in this
	// binary: a newer lastmile applied them.
	Unknown []AppliedMigration
	// Latest is the newest migration this binary has.
	Latest string
}

// CheckNotNewer returns an error wrapping ErrSchemaNewer, saying what to do,
// when the database holds migrations this binary does not know.
func (s MigrationStatus) CheckNotNewer() error {
	if len(s.Unknown) == 0 {
		return nil
	}
	var names []string
	for _, u := range s.Unknown {
		names = append(names, fmt.Sprintf("%s (applied %s)", u.Name, u.AppliedAt.UTC().Format("2006-01-02 15:04 UTC")))
	}
	known := s.Latest
	if known == "" {
		known = "none"
	}
	return fmt.Errorf("%w: the database has migration(s) %s, which this binary does not know (it knows up to %s); nothing was changed: run the newer lastmile that applied them, or restore the backup taken before that upgrade (lastmile restore --in FILE) to go back to this one",
		ErrSchemaNewer, strings.Join(names, ", "), known)
}

// Status reports which migrations are applied, pending and unknown. It
// changes nothing.
func Status(ctx context.Context, pool *pgxpool.Pool) (_ MigrationStatus, err error) {
	defer lastmile.Wrap(&err, "migration status")
	ms, err := Migrations()
	if err != nil {
		return MigrationStatus{}, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return MigrationStatus{}, err
	}
	defer conn.Release()
	return status(ctx, conn.Conn(), ms)
}

func status(ctx context.Context, conn *pgx.Conn, ms []Migration) (MigrationStatus, error) {
	var st MigrationStatus
	if len(ms) > 0 {
		st.Latest = ms[len(ms)-1].Name
	}
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('lastmile.schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return st, err
	}
	if exists {
		rows, err := conn.Query(ctx, `SELECT version, name, applied_at FROM lastmile.schema_migrations ORDER BY version`)
		if err != nil {
			return st, err
		}
		st.Applied, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (AppliedMigration, error) {
			var a AppliedMigration
			err := row.Scan(&a.Version, &a.Name, &a.AppliedAt)
			return a, err
		})
		if err != nil {
			return st, err
		}
	}
	known := map[int]bool{}
	for _, m := range ms {
		known[m.Version] = true
	}
	applied := map[int]bool{}
	for _, a := range st.Applied {
		applied[a.Version] = true
		if !known[a.Version] {
			st.Unknown = append(st.Unknown, a)
		}
	}
	for _, m := range ms {
		if !applied[m.Version] {
			st.Pending = append(st.Pending, m)
		}
	}
	return st, nil
}

// Pending returns the names of migrations not yet applied (used by /readyz).
func Pending(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	todo, err := pending(ctx, conn.Conn(), ms)
	var names []string
	for _, m := range todo {
		names = append(names, m.Name)
	}
	return names, err
}

// pending returns the migrations of ms not recorded as applied.
func pending(ctx context.Context, conn *pgx.Conn, ms []Migration) ([]Migration, error) {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('lastmile.schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, err
	}
	if !exists {
		return ms, nil
	}
	rows, err := conn.Query(ctx, `SELECT version FROM lastmile.schema_migrations`)
	if err != nil {
		return nil, err
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, err
	}
	var todo []Migration
	for _, m := range ms {
		if !slices.Contains(versions, m.Version) {
			todo = append(todo, m)
		}
	}
	return todo, nil
}
