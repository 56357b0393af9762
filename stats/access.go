package stats

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

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
	if built, err = buildAccess(ctx, pool, conn); err != nil || !built {
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
// is then void. The table is written while access_state.built is false, so
// no question reads it half written.
func buildAccess(ctx context.Context, pool *pgxpool.Pool, conn *pgxpool.Conn) (built bool, err error) {
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
	timer := newAccessTimer()
	timer.step("logging on, writers before it finished")
	if _, err := conn.Exec(ctx, `TRUNCATE lastmile.village_access`); err != nil {
		return false, err
	}
	timer.step("truncate")
	if err := computeAccess(ctx, pool, conn, timer); err != nil {
		return false, err
	}
	if err := conn.QueryRow(ctx, `UPDATE lastmile.access_state SET built = (generation = $1), logging = false, built_at = now()
		RETURNING built`, generation).Scan(&built); err != nil {
		return false, err
	}
	_, err = conn.Exec(ctx, `ANALYZE lastmile.village_access`)
	timer.step("analyze village_access")
	return built, err
}

// accessTimer logs the time of each step of a village_access build to
// stderr when LASTMILE_ACCESS_TIMING is set (for bench/bench-national.sh).
type accessTimer struct {
	on   bool
	last time.Time
}

func newAccessTimer() *accessTimer {
	return &accessTimer{on: os.Getenv("LASTMILE_ACCESS_TIMING") != "", last: time.Now()}
}

func (t *accessTimer) step(name string, args ...any) {
	if !t.on {
		return
	}
	now := time.Now()
	fmt.Fprintf(os.Stderr, "village_access %s: %d ms%s\n", name, now.Sub(t.last).Milliseconds(), fmt.Sprint(args...))
	t.last = now
}

// accessGridBuilds and accessParallelBuilds count the builds made with the
// grid, and those on two connections (for the tests: that the data at hand
// took that path).
var accessGridBuilds, accessParallelBuilds atomic.Int64

// accessBatch is the number of villages whose rows one statement writes (a
// variable for the tests, which make small data take many batches on two
// connections).
var accessBatch = 2000

// computeAccess writes every village's rows of village_access, all read
// from one snapshot (taken after logging began): the completed roads and
// the villages are read into Go, each village's candidate nearest roads per
// definition found on a grid (accessgrid.go), and PostGIS computes the
// exact distances of the candidates — over two connections sharing the
// snapshot (pg_export_snapshot) when the pool allows, each writing half the
// villages. Data the grid's bounds do not hold for (longitudes spanning
// more than 180°, latitudes beyond 85°) is computed by access_nearest.sql,
// two index probes per village and definition.
func computeAccess(ctx context.Context, pool *pgxpool.Pool, conn *pgxpool.Conn, timer *accessTimer) error {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// JIT would compile every batch's statement (seconds each, for nothing)
	if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
		return err
	}
	names := accessNames()
	defs := accessDefinitions()
	sqlBuild := func() error {
		if _, err := tx.Exec(ctx, `ANALYZE lastmile.roads; ANALYZE lastmile.villages`); err != nil {
			return err
		}
		for _, name := range names {
			sql := accessInsert +
				statsSQL.Fill("access_nearest.sql", map[string]string{"definition": "$1::text", "pred": defs[name], "villages": "true"})
			if _, err := tx.Exec(ctx, sql, name); err != nil {
				return err
			}
		}
		return tx.Commit(ctx)
	}
	if len(names) > 31 { // the grid's candidates carry the definitions as bits of an int
		return sqlBuild()
	}
	var mask, preds []string
	for i, n := range names {
		mask = append(mask, fmt.Sprintf("CASE WHEN %s THEN %d ELSE 0 END", defs[n], 1<<i))
		preds = append(preds, defs[n])
	}
	b := newRoadGridBuilder(len(names))
	rows, err := tx.Query(ctx, `SELECT s.id, (`+strings.Join(mask, " + ")+`)::int, ST_AsBinary(ST_Force2D(s.geom))
		FROM lastmile.roads s WHERE `+strings.Join(preds, " OR "))
	if err != nil {
		return err
	}
	var id int64
	var m int32
	var wkb []byte
	_, err = pgx.ForEachRow(rows, []any{&id, &m, &wkb}, func() error { return b.add(id, uint32(m), wkb) })
	if err != nil {
		return err
	}
	type village struct {
		id       int64
		lon, lat float64
	}
	var villages []village
	var v village
	// (a village's point is never empty: villages_geom_not_empty)
	rows, err = tx.Query(ctx, `SELECT id, ST_X(geom), ST_Y(geom) FROM lastmile.villages ORDER BY id`)
	if err != nil {
		return err
	}
	_, err = pgx.ForEachRow(rows, []any{&v.id, &v.lon, &v.lat}, func() error {
		villages = append(villages, v)
		b.extend(v.lon, v.lat)
		return nil
	})
	if err != nil {
		return err
	}
	timer.step("read roads and villages", fmt.Sprintf(" (%d roads, %d villages)", len(b.g.roads), len(villages)))
	if len(villages) == 0 {
		return tx.Commit(ctx)
	}
	if !accessGridUsable(b.minLon, b.maxLon, b.minLat, b.maxLat) {
		return sqlBuild()
	}
	grid := b.build()
	accessGridBuilds.Add(1)
	// Villages near each other in one batch: their candidate roads, read by
	// id for the exact distances, then share pages (a road table is mostly
	// stored in the order its roads were loaded, which is seldom random).
	keys := make([]uint64, len(villages))
	for i, v := range villages {
		cx, cy := grid.cell(v.lon, v.lat)
		keys[i] = zOrder(uint32(cx), uint32(cy))
	}
	order := make([]int, len(villages))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return keys[order[a]] < keys[order[b]] })
	sorted := make([]village, len(villages))
	for i, j := range order {
		sorted[i] = villages[j]
	}
	villages = sorted
	timer.step("grid", fmt.Sprintf(" (%d pieces, %dx%d cells of %.4f°)", len(grid.piecePt), grid.nx, grid.ny, grid.h))
	txs := []pgx.Tx{tx}
	if pool != nil && pool.Config().MaxConns >= 2 && runtime.GOMAXPROCS(0) >= 2 && len(villages) >= 4*accessBatch {
		// a second connection on the same snapshot, if one is free soon
		var snapshot string
		if err := tx.QueryRow(ctx, `SELECT pg_export_snapshot()`).Scan(&snapshot); err != nil {
			return err
		}
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn2, err := pool.Acquire(actx)
		cancel()
		if err == nil {
			defer conn2.Release()
			tx2, err := conn2.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
			if err != nil {
				return err
			}
			defer tx2.Rollback(context.WithoutCancel(ctx))
			if _, err := tx2.Exec(ctx, `SET TRANSACTION SNAPSHOT `+quoteLiteral(snapshot)+`; SET LOCAL jit = off`); err != nil {
				return err
			}
			txs = append(txs, tx2)
			accessParallelBuilds.Add(1)
		}
	}
	sql := statsSQL.Fill("access_exact.sql", map[string]string{"definitions": strconv.Itoa(len(names))})
	all := uint32(1)<<len(names) - 1
	var pairs atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for w, wtx := range txs {
		part := villages[w*len(villages)/len(txs) : (w+1)*len(villages)/len(txs)]
		g.Go(func() error {
			s := grid.searcher()
			var cands []accessCandidate
			type pair struct {
				village, road int64
				mask          int32
			}
			var batchIDs, vids, rids []int64
			var masks []int32
			var ps []pair
			for len(part) > 0 {
				n := min(accessBatch, len(part))
				batch := part[:n]
				part = part[n:]
				batchIDs, vids, rids, masks, ps = batchIDs[:0], vids[:0], rids[:0], masks[:0], ps[:0]
				for _, v := range batch {
					batchIDs = append(batchIDs, v.id)
					cands = s.candidates(v.lon, v.lat, all, cands[:0])
					for _, c := range cands {
						ps = append(ps, pair{v.id, grid.roads[c.road], int32(c.mask)})
					}
				}
				sort.Slice(ps, func(a, b int) bool { return ps[a].road < ps[b].road })
				for _, p := range ps {
					vids, rids, masks = append(vids, p.village), append(rids, p.road), append(masks, p.mask)
				}
				pairs.Add(int64(len(vids)))
				if _, err := wtx.Exec(gctx, sql, batchIDs, vids, rids, masks, names); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	timer.step("candidates and exact distances", fmt.Sprintf(" (%d connections, %d candidates)", len(txs), pairs.Load()))
	for i := len(txs) - 1; i >= 0; i-- {
		if err := txs[i].Commit(ctx); err != nil {
			return err
		}
	}
	timer.step("commit")
	return nil
}

// zOrder interleaves the bits of x and y (a Z-order curve).
func zOrder(x, y uint32) uint64 {
	spread := func(v uint32) uint64 {
		u := uint64(v)
		u = (u | u<<16) & 0x0000ffff0000ffff
		u = (u | u<<8) & 0x00ff00ff00ff00ff
		u = (u | u<<4) & 0x0f0f0f0f0f0f0f0f
		u = (u | u<<2) & 0x3333333333333333
		u = (u | u<<1) & 0x5555555555555555
		return u
	}
	return spread(x) | spread(y)<<1
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

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
