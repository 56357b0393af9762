package stats

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Warm network coverage of villages (issue 14, "Scale"): the question
// asked again with any distance, grouping or target filter reads the
// villages' measures kept beside its definition's search
// (network_fast.sql) instead of every vertex's cost (80 MB at national
// scale) and every village's snap, and sums them per group in SQL.

// fastNetworkAnswers and fastNetworkGoAnswers count the answers given from
// kept village measures, summed in SQL and in Go (for the tests).
var fastNetworkAnswers, fastNetworkGoAnswers atomic.Int64

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
	if len(req.targetFilter.SQL) == 0 {
		// every village, with its code and counts as kept: summed here
		var measure []float64
		var codes []string
		var pop, poor []int64
		err := tx.QueryRow(ctx, `SELECT c.village_measure, c.village_codes, c.village_population, c.village_poor
			FROM lastmile.route_search_cache c JOIN lastmile.route_cache_state s ON c.version = s.version AND c.villages_gen = s.villages_gen
			WHERE c.key = $1`, key).Scan(&measure, &codes, &pop, &poor)
		if err == nil && len(codes) == len(measure) && len(pop) == len(measure) && len(poor) == len(measure) {
			within := req.within
			if req.metric == "time" {
				within = req.withinMin
			}
			groups := map[string]*coverageTally{}
			for i, m := range measure {
				code := groupCode(codes[i], req.groupBy)
				g, ok := groups[code]
				if !ok {
					g = &coverageTally{}
					groups[code] = g
				}
				g.total++
				g.population += pop[i]
				g.poorHouseholds += poor[i]
				if m <= within {
					g.covered++
					g.populationCovered += pop[i]
					g.poorHouseholdsCv += poor[i]
				}
			}
			tm.step("kept village measures summed in Go")
			fastNetworkGoAnswers.Add(1)
			return groups, true, nil
		} else if err == pgx.ErrNoRows {
			// kept before the villages changed: the question is answered
			// (and the measures kept again) the long way, once
			return nil, false, nil
		} else if err != nil {
			return nil, false, err
		}
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
func (req *coverageRequest) keepVillageMeasures(ctx context.Context, pool *pgxpool.Pool, key string, version, villagesGen int64, out []targetRow) {
	if req.targetSQL != "" || req.target.Table != "villages" || len(req.targetFilter.SQL) > 0 || req.asOf != nil || req.placeSources() {
		return
	}
	ids := make([]int64, len(out))
	measure := make([]float64, len(out))
	codes := make([]string, len(out))
	pop, poor := make([]int64, len(out)), make([]int64, len(out))
	for i, t := range out {
		ids[i], measure[i] = t.ID, math.Inf(1)
		if t.Code != nil {
			codes[i] = *t.Code
		}
		if t.Population != nil {
			pop[i] = *t.Population
		}
		if t.PoorHouseholds != nil {
			poor[i] = *t.PoorHouseholds
		}
		switch {
		case req.metric == "time" && t.TimeMin != nil:
			measure[i] = *t.TimeMin
		case req.metric != "time" && t.DistanceM != nil:
			measure[i] = *t.DistanceM
		}
	}
	_, _ = pool.Exec(ctx, `UPDATE lastmile.route_search_cache SET village_ids = $3, village_measure = $4,
			villages_gen = $5, village_codes = $6, village_population = $7, village_poor = $8
		WHERE key = $1 AND version = $2 AND (village_ids IS NULL OR villages_gen IS DISTINCT FROM $5)`, key, version, ids, measure, villagesGen, codes, pop, poor)
}
