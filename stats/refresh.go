package stats

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile"
)

// Refresh brings the precomputed tables of the stats fast paths up to date
// on the primary: it builds lastmile.village_access when it is not built
// and applies the logged road and village changes, and brings the routing
// graph up to date. Questions asked on the primary do this themselves;
// Refresh run now and then (RefreshEvery) keeps the tables current for a
// read replica, which cannot write them, and takes the one-time build off
// the first question.
func Refresh(ctx context.Context, pool *pgxpool.Pool) error {
	if _, err := ensureAccess(ctx, pool); err != nil {
		return err
	}
	return ensureGraph(ctx, pool)
}

// RefreshAccess builds lastmile.village_access when it is not built, or
// applies the logged changes (Refresh without the routing graph). Another
// session building it meanwhile is not waited for.
func RefreshAccess(ctx context.Context, pool *pgxpool.Pool) error {
	_, err := ensureAccess(ctx, pool)
	return err
}

// RefreshEvery runs Refresh every interval until ctx ends. A failure is
// logged once (and its end once), not at every tick.
func RefreshEvery(ctx context.Context, pool *pgxpool.Pool, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := ""
	for {
		err := Refresh(ctx, pool)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && err.Error() != failing:
			failing = err.Error()
			log.Warn("stats refresh failed", "err", err)
		case err == nil && failing != "":
			failing = ""
			log.Info("stats refresh works again")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// readOnly reports whether pool is a read replica (a hot standby): the
// stats then use precomputed tables only when the primary has brought them
// up to date, and never write.
func readOnly(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	var r bool
	err := pool.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&r)
	return r, err
}

// accessReady makes village_access current and reports whether it answers
// questions: on the primary it is built or updated as needed; on a replica
// it answers only when built with no change pending (else the direct query
// answers, exactly, just slower).
func accessReady(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	ro, err := readOnly(ctx, pool)
	if err != nil {
		return false, err
	}
	if !ro {
		return ensureAccess(ctx, pool)
	}
	var ready bool
	err = pool.QueryRow(ctx, `SELECT to_regclass('lastmile.village_access') IS NOT NULL
		AND (SELECT built FROM lastmile.access_state)
		AND NOT EXISTS (SELECT 1 FROM lastmile.access_changes)`).Scan(&ready)
	return ready, err
}

// graphReady brings the routing graph up to date on the primary; on a
// replica a graph behind the roads is an unavailable error (the primary's
// refresh catches up within seconds).
func graphReady(ctx context.Context, pool *pgxpool.Pool) error {
	ro, err := readOnly(ctx, pool)
	if err != nil {
		return err
	}
	if !ro {
		return ensureGraph(ctx, pool)
	}
	var stale bool
	if err := pool.QueryRow(ctx, `SELECT generation > built_generation FROM lastmile.route_graph_state`).Scan(&stale); err != nil {
		return fmt.Errorf("routing graph state: %w", err)
	}
	if stale {
		return lastmile.Errorf(lastmile.EUNAVAILABLE, "the routing graph of this read replica is behind its roads; the primary brings it up to date within seconds: try again")
	}
	return nil
}
