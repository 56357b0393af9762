package stats

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/layer"
)

// accessRadius bounds the search for villages nearer to a changed road:
// villages farther than this from it are checked only when their recorded
// distance is larger (or none). Any value is exact; it only trades work.
const accessRadius = 100000.0

// accessRebuildAbove is the number of logged changes above which the table
// is rebuilt rather than updated (after a bulk import).
const accessRebuildAbove = 50000

// accessDefinitions returns the precomputed source predicates over roads
// aliased s: "any" completed road and each shared definition, completed —
// the same predicates the direct query uses.
func accessDefinitions() map[string]string {
	m := map[string]string{"any": "s.status = 'completed'"}
	for name, d := range layer.Definitions() {
		m[name] = "(" + d.SQL("s") + " AND s.status = 'completed')"
	}
	return m
}

func accessNames() []string {
	var n []string
	for k := range accessDefinitions() {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// precomputedDefinition returns the village_access definition that answers
// req, or "" when the request needs the direct query (another target or
// source, as_of, the network method, field filters on the source).
func (req *coverageRequest) precomputedDefinition() string {
	if !req.precomputed || req.target.Name != "villages" || req.source.Name != "roads" ||
		req.method != "straight" || req.asOf != nil || req.sourceFilter.HasStatus {
		return ""
	}
	switch {
	case len(req.sourceFilter.Terms) == 0:
		return "any"
	case len(req.sourceFilter.Terms) == 1 && len(req.sourceFilter.Definitions) == 1:
		return req.sourceFilter.Definitions[0].Name
	}
	return ""
}

// accessLock is the advisory lock that serialises the upkeep of
// village_access: a session lock, since a build spans transactions.
const accessLock = 7283747

// errRebuild tells ensureAccess that the logged changes are better met by a
// rebuild (a bulk load).
var errRebuild = errors.New("rebuild village_access")

// ensureAccess builds lastmile.village_access on first use and afterwards
// applies the logged changes to roads and villages. It reports false when
// the table cannot answer now: the database lacks it (an older schema), or
// another session is building it (minutes at national scale) — the direct
// query answers meanwhile, rather than waiting.
func ensureAccess(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('lastmile.village_access') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		return false, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Release()
	var locked, built bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1), (SELECT built FROM lastmile.access_state)`, accessLock).Scan(&locked, &built); err != nil {
		return false, err
	}
	if !locked {
		if !built {
			return false, nil
		}
		// someone is applying changes: that takes moments
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, accessLock); err != nil {
			return false, err
		}
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, accessLock)
	if !locked { // after the wait: the state again, in a statement (snapshot) of its own
		if err := conn.QueryRow(ctx, `SELECT built FROM lastmile.access_state`).Scan(&built); err != nil {
			return false, err
		}
	}
	update := func() error {
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error { return updateAccess(ctx, tx) })
	}
	if built {
		if err = update(); !errors.Is(err, errRebuild) {
			return err == nil, wrapAccess(err)
		}
	}
	if built, err = buildAccess(ctx, conn); err != nil || !built {
		return false, wrapAccess(err)
	}
	// what was written during the build
	if err = update(); errors.Is(err, errRebuild) {
		return false, nil // a bulk load during the build: rebuilt next time
	}
	return err == nil, wrapAccess(err)
}

func wrapAccess(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("village access: %w", err)
}

// accessInsert heads the INSERT of access_nearest.sql's rows.
const accessInsert = "INSERT INTO lastmile.village_access (definition, village_id, distance_m, road_id, county, township, population, poor_households)\n"

// buildAccess computes every village's nearest road per definition without
// blocking writers: logging is turned on first, the writers that began
// before it finish (a brief SHARE lock), then the table is computed while
// writers go on — their changes are logged and applied by the next
// ensureAccess, as after any edit. It reports false when a write that could
// not be logged (a bulk statement, a TRUNCATE) overlapped the build, which
// is then void.
func buildAccess(ctx context.Context, conn *pgxpool.Conn) (built bool, err error) {
	if _, err := conn.Exec(ctx, `UPDATE lastmile.access_state SET built = false, logging = true`); err != nil {
		return false, err
	}
	defer func() {
		if err != nil {
			conn.Exec(context.WithoutCancel(ctx), `UPDATE lastmile.access_state SET logging = false`)
		}
	}()
	var generation int64
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE lastmile.roads, lastmile.villages IN SHARE MODE;
			DELETE FROM lastmile.access_changes`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT generation FROM lastmile.access_state`).Scan(&generation)
	})
	if err != nil {
		return false, err
	}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `TRUNCATE lastmile.village_access; ANALYZE lastmile.roads; ANALYZE lastmile.villages`); err != nil {
			return err
		}
		for _, name := range accessNames() {
			sql := accessInsert +
				statsSQL.Fill("access_nearest.sql", map[string]string{"definition": "$1::text", "pred": accessDefinitions()[name], "villages": "true"})
			if _, err := tx.Exec(ctx, sql, name); err != nil {
				return err
			}
		}
		if err := tx.QueryRow(ctx, `UPDATE lastmile.access_state SET built = (generation = $1), logging = false, built_at = now()
			RETURNING built`, generation).Scan(&built); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `ANALYZE lastmile.village_access`)
		return err
	})
	return built, err
}

// updateAccess applies the logged changes: villages that changed, or whose
// recorded nearest road changed, are recomputed; villages now nearer to a
// changed road than to their recorded one take it.
func updateAccess(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `DELETE FROM lastmile.access_changes RETURNING layer, feature_id`)
	if err != nil {
		return err
	}
	var roads, villages []int64
	for rows.Next() {
		var l string
		var id int64
		if err := rows.Scan(&l, &id); err != nil {
			return err
		}
		if l == "roads" {
			roads = append(roads, id)
		} else {
			villages = append(villages, id)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(roads) == 0 && len(villages) == 0 {
		return nil
	}
	if len(roads)+len(villages) > accessRebuildAbove {
		return errRebuild // a bulk load: start over
	}
	if _, err := tx.Exec(ctx, `DELETE FROM lastmile.village_access a WHERE a.village_id = ANY($1)
		AND NOT EXISTS (SELECT 1 FROM lastmile.villages v WHERE v.id = a.village_id)`, villages); err != nil {
		return err
	}
	for _, name := range accessNames() {
		pred := accessDefinitions()[name]
		// Recompute villages that changed or lost (maybe) their nearest road.
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS access_redo (village_id bigint) ON COMMIT DROP;
			TRUNCATE access_redo`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO access_redo
			SELECT village_id FROM lastmile.village_access WHERE definition = $1 AND road_id = ANY($2)
			UNION SELECT id FROM lastmile.villages WHERE id = ANY($3)`, name, roads, villages); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM lastmile.village_access WHERE definition = $1
			AND village_id IN (SELECT village_id FROM access_redo)`, name); err != nil {
			return err
		}
		sql := accessInsert +
			statsSQL.Fill("access_nearest.sql", map[string]string{"definition": "$1::text", "pred": pred,
				"villages": "v.id IN (SELECT village_id FROM access_redo)"})
		if _, err := tx.Exec(ctx, sql, name); err != nil {
			return err
		}
		if len(roads) == 0 {
			continue
		}
		for _, candidates := range []string{
			"ST_DWithin(s.geom::geography, v.geom::geography, $3)",
			"v.id IN (SELECT village_id FROM lastmile.village_access WHERE definition = $1 AND (distance_m IS NULL OR distance_m > $3))",
		} {
			sql := statsSQL.Fill("access_nearer.sql", map[string]string{"candidates": candidates, "pred": pred})
			if _, err := tx.Exec(ctx, sql, name, roads, accessRadius); err != nil {
				return err
			}
		}
	}
	return nil
}

// fastCoverage answers req from village_access: tallies per group and, when
// asked, the uncovered villages.
func (req *coverageRequest) fastCoverage(ctx context.Context, pool *pgxpool.Pool, definition string) (map[string]*coverageTally, []targetRow, error) {
	a := slices.Clone(req.args)
	parts := map[string]string{
		"definition":    a.Add(definition) + "::text",
		"within":        a.Add(req.within) + "::float8",
		"target_filter": req.targetFilter.where(),
		"group":         "NULL::text",
		"join":          "",
	}
	if req.groupBy == "county" || req.groupBy == "township" {
		parts["group"] = req.groupBy
	}
	if len(req.targetFilter.SQL) > 0 {
		parts["join"] = "JOIN lastmile.villages t ON t.id = a.village_id"
	}
	rows, err := pool.Query(ctx, statsSQL.Fill("coverage_fast.sql", parts), a...)
	if err != nil {
		return nil, nil, err
	}
	groups := map[string]*coverageTally{}
	for rows.Next() {
		var code *string
		var t coverageTally
		if err := rows.Scan(&code, &t.total, &t.covered, &t.population, &t.populationCovered, &t.poorHouseholds, &t.poorHouseholdsCv); err != nil {
			rows.Close()
			return nil, nil, err
		}
		k := ""
		if code != nil {
			k = *code
		}
		groups[k] = &t
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	var list []targetRow
	if req.list {
		rows, err := pool.Query(ctx, statsSQL.Fill("coverage_fast_list.sql", parts), a...)
		if err != nil {
			return nil, nil, err
		}
		list, err = pgx.CollectRows(rows, scanTarget)
		if err != nil {
			return nil, nil, err
		}
	}
	return groups, list, nil
}
