// Package postgis is lastmile's PostgreSQL side: the connection pool,
// embedded migrations, the feature store and the mapping of database errors
// to lastmile errors. The managed local cluster is in postgis/cluster and
// per-test databases in postgis/pgtest.
package postgis

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Open connects a pool to url, with the lastmile schema first on the search
// path, and checks the server answers. Errors are one line saying what to fix.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database URL is malformed (%s); expected e.g. postgres://user:pass@host:5432/db", firstLine(err))
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = "lastmile,public"
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "lastmile"
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	cfg.HealthCheckPeriod = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database URL is not usable: %s", firstLine(err))
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot connect to the database at %s: %s", describe(cfg.ConnConfig), firstLine(err))
	}
	return pool, nil
}

// CheckExtensions returns a one-line error naming scripts/setup when PostGIS
// or pgRouting is not installed on the server.
func CheckExtensions(ctx context.Context, pool *pgxpool.Pool) error {
	rows, err := pool.Query(ctx, `SELECT name FROM pg_available_extensions WHERE name IN ('postgis', 'pgrouting')`)
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	var missing []string
	for _, want := range []string{"postgis", "pgrouting"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			missing = append(missing, want)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the database server lacks the %s extension(s): run scripts/setup (Debian: apt-get install postgresql-15-postgis-3 postgresql-15-pgrouting)", strings.Join(missing, " and "))
	}
	return nil
}

func describe(c *pgx.ConnConfig) string {
	if strings.HasPrefix(c.Host, "/") {
		return fmt.Sprintf("socket %s/.s.PGSQL.%d (database %s)", c.Host, c.Port, c.Database)
	}
	return fmt.Sprintf("%s:%d (database %s)", c.Host, c.Port, c.Database)
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
