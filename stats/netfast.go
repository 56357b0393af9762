package stats

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Warm network coverage of villages (issue 14, "Scale"): the question
// asked again with any distance, grouping or target filter reads the
// villages' measures kept beside its definition's search
// (network_fast.sql) instead of every vertex's cost (80 MB at national
// scale) and every village's snap, and sums them per group in SQL.

// fastNetworkAnswers counts the answers given from kept village measures
// (for the tests).
var fastNetworkAnswers atomic.Int64

// fastNetworkable reports whether the request can be answered from kept
// village measures: villages by roads, no as_of, no list.
func (req *coverageRequest) fastNetworkable() bool {
	return req.method == "network" && usePack && !req.list && req.asOf == nil && !req.placeSources() &&
		req.targetSQL == "" && req.target.Table == "villages"
}

// fastNetwork answers the request from the kept village measures; ok false
// when there are none for this definition and graph version.
func (req *coverageRequest) fastNetwork(ctx context.Context, pool *pgxpool.Pool) (map[string]*coverageTally, bool, error) {
	if !req.fastNetworkable() {
		return nil, false, nil
	}
	tx, err := networkTx(ctx, pool)
	if err != nil {
		return nil, false, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	tm := newStepTimer()
	var replica, current, kept bool
	var version int64
	key := req.searchKey()
	if err := tx.QueryRow(ctx, `SELECT pg_is_in_recovery(), `+snapsCurrentSQL+`, (SELECT version FROM lastmile.route_cache_state),
		EXISTS (SELECT 1 FROM lastmile.route_search_cache c JOIN lastmile.route_cache_state s ON c.version = s.version
		        WHERE c.key = $1 AND c.village_ids IS NOT NULL)`, key).Scan(&replica, &current, &version, &kept); err != nil {
		return nil, false, fmt.Errorf("routing graph state: %w", err)
	}
	if replica || !current || !kept {
		return nil, false, nil
	}
	parts := req.sqlParts()
	a := slices.Clone(req.args)
	within := req.within
	if req.metric == "time" {
		within = req.withinMin
	}
	parts["within"] = a.Add(within) + "::float8"
	parts["key"] = a.Add(key) + "::text"
	parts["version"] = a.Add(version) + "::bigint"
	switch req.groupBy {
	case "county":
		parts["group"] = "CASE WHEN length(full_code) = 12 THEN left(full_code, 6) || '000000' ELSE '' END"
	case "township":
		parts["group"] = "CASE WHEN length(full_code) = 12 THEN left(full_code, 9) || '000' ELSE '' END"
	default:
		parts["group"] = "''"
	}
	rows, err := tx.Query(ctx, statsSQL.Fill("network_fast.sql", parts), a...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	groups := map[string]*coverageTally{}
	for rows.Next() {
		var code string
		var t coverageTally
		if err := rows.Scan(&code, &t.total, &t.covered, &t.population, &t.populationCovered, &t.poorHouseholds, &t.poorHouseholdsCv); err != nil {
			return nil, false, err
		}
		groups[code] = &t
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	tm.step("kept village measures summed")
	fastNetworkAnswers.Add(1)
	return groups, true, nil
}

// keepVillageMeasures stores, beside the kept search, the measure of every
// village in out (all villages: no target filter) — best effort, as
// storeSearch.
func (req *coverageRequest) keepVillageMeasures(ctx context.Context, pool *pgxpool.Pool, key string, version int64, out []targetRow) {
	if req.targetSQL != "" || req.target.Table != "villages" || len(req.targetFilter.SQL) > 0 || req.asOf != nil || req.placeSources() {
		return
	}
	ids := make([]int64, len(out))
	measure := make([]float64, len(out))
	for i, t := range out {
		ids[i], measure[i] = t.ID, math.Inf(1)
		switch {
		case req.metric == "time" && t.TimeMin != nil:
			measure[i] = *t.TimeMin
		case req.metric != "time" && t.DistanceM != nil:
			measure[i] = *t.DistanceM
		}
	}
	_, _ = pool.Exec(ctx, `UPDATE lastmile.route_search_cache SET village_ids = $3, village_measure = $4
		WHERE key = $1 AND version = $2 AND village_ids IS NULL`, key, version, ids, measure)
}
