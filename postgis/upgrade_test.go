package postgis_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
	"github.com/lastmile/lastmile/stats"
)

// previousRelease holds the migrations of the previous release, exactly as
// it shipped them (git show d9b8dc5:postgis/migrations/..., the last commit
// of 2026-11-23). When a release is cut, copy postgis/migrations here.
const previousRelease = "testdata/previous-release"

// TestReleasedMigrationsUnchanged: a migration a release shipped is never
// edited afterwards (a database that applied it would never see the edit);
// changes go into a new migration.
func TestReleasedMigrationsUnchanged(t *testing.T) {
	old, err := postgis.MigrationsIn(os.DirFS("."), previousRelease)
	if err != nil || len(old) == 0 {
		t.Fatalf("reading %s: %v (%d files)", previousRelease, err, len(old))
	}
	current, err := postgis.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]string{}
	for _, m := range current {
		byName[m.Name] = m.SQL
	}
	for _, m := range old {
		sql, ok := byName[m.Name]
		if !ok {
			t.Errorf("released migration %s is gone from postgis/migrations", m.Name)
		} else if sql != m.SQL {
			t.Errorf("released migration %s was edited: put the change in a new migration", m.Name)
		}
	}
}

// fillPreviousRelease writes rows into every table of the previous
// release's schema, through its own triggers (history, change logs) and
// functions (the routing graph), as that release's server would have.
const fillPreviousRelease = `
SET lastmile.actor = 'upgrade test';
INSERT INTO lastmile.roads (ext_id, name, admin_code, status, started_on, completed_on, funding_yuan, props,
    road_class, tech_grade, surface, width_m, geom)
SELECT 'road-' || i, 'road ' || i, '5301020010' || lpad((10 + i % 80)::text, 2, '0'),
    (ARRAY['planned', 'under_construction', 'completed', 'cancelled', 'completed'])[1 + i % 5],
    date '2015-01-01' + i, date '2016-01-01' + i, 1000.5 * i, jsonb_build_object('k', i, 'note', 'x' || i),
    (ARRAY['county', 'township', 'village', 'group'])[1 + i % 4],
    (ARRAY['expressway', 'class1', 'class2', 'class3', 'class4', 'substandard'])[1 + i % 6],
    (ARRAY['earth', 'gravel', 'stone', 'cement', 'asphalt'])[1 + i % 5], 3.5 + i % 4,
    ST_SetSRID(ST_MakeLine(ST_MakePoint(103 + i * 0.01, 26 + (i % 2) * 0.005),
                           ST_MakePoint(103 + (i + 1) * 0.01, 26 + ((i + 1) % 2) * 0.005)), 4326)
FROM generate_series(1, 40) i;
INSERT INTO lastmile.roads (ext_id, name, status, surface, tech_grade, geom) VALUES ('road-multi', 'two parts', 'completed', 'cement', 'class3',
    ST_GeomFromText('MULTILINESTRING((103.1 26.1, 103.2 26.1), (103.2 26.1, 103.2 26.2))', 4326));
INSERT INTO lastmile.water_pipelines (ext_id, name, diameter_mm, material, households_served, source_name, geom)
SELECT 'pipe-' || i, 'pipe ' || i, 50 + i, 'PE', 10 * i, 'spring ' || i,
    ST_SetSRID(ST_MakeLine(ST_MakePoint(103 + i * 0.01, 26.1), ST_MakePoint(103 + i * 0.01, 26.12)), 4326)
FROM generate_series(1, 12) i;
INSERT INTO lastmile.power_upgrades (ext_id, kind, voltage_kv, capacity_kva, geom)
SELECT 'power-' || i, CASE WHEN i % 2 = 0 THEN 'line' ELSE 'transformer' END, 10, 200 * i,
    CASE WHEN i % 2 = 0 THEN ST_SetSRID(ST_MakeLine(ST_MakePoint(103, 26 + i * 0.01), ST_MakePoint(103.05, 26 + i * 0.01)), 4326)
         ELSE ST_SetSRID(ST_MakePoint(103.01 * i / i, 26 + i * 0.01), 4326) END
FROM generate_series(1, 8) i;
INSERT INTO lastmile.house_renovations (ext_id, danger_grade, work, households, persons, subsidy_yuan, geom)
SELECT 'house-' || i, (ARRAY['C', 'D'])[1 + i % 2], (ARRAY['repair', 'rebuild'])[1 + i % 2], 1, 3 + i % 4, 15000.25 * i,
    ST_SetSRID(ST_MakePoint(103 + i * 0.003, 26.05), 4326)
FROM generate_series(1, 15) i;
INSERT INTO lastmile.relocation_sites (ext_id, name, capacity_households, relocated_households, facilities, geom)
SELECT 'site-' || i, 'site ' || i, 100 * i, 50 * i, 'school,clinic',
    ST_SetSRID(ST_MakeEnvelope(103 + i * 0.02, 26.2, 103.01 + i * 0.02, 26.21), 4326)
FROM generate_series(1, 5) i;
INSERT INTO lastmile.villages (ext_id, name, code, admin_code, population, poor_households, poor_population, is_poor_village, geom)
SELECT 'village-' || i, 'village ' || i, '530102001' || lpad(i::text, 3, '0'), '530102001' || lpad(i::text, 3, '0'),
    300 + i, i, 3 * i, i % 3 = 0, ST_SetSRID(ST_MakePoint(103 + i * 0.02, 26.01 + (i % 3) * 0.01), 4326)
FROM generate_series(1, 20) i;
INSERT INTO lastmile.admin_areas (ext_id, name, level, code, parent_code, geom)
SELECT 'admin-' || i, 'township ' || i, 'township', '530102' || lpad(i::text, 3, '0') || '000', '530102000000',
    ST_Multi(ST_SetSRID(ST_MakeEnvelope(103 + (i - 1) * 0.2, 25.9, 103 + i * 0.2, 26.3), 4326))
FROM generate_series(1, 3) i;
INSERT INTO lastmile.hazard_zones (ext_id, kind, severity, geom)
SELECT 'hazard-' || i, (ARRAY['landslide', 'debris_flow', 'flood', 'subsidence'])[i], (ARRAY['low', 'medium', 'high'])[1 + i % 3],
    ST_Multi(ST_SetSRID(ST_MakeEnvelope(103.3 + i * 0.01, 26.0, 103.305 + i * 0.01, 26.005), 4326))
FROM generate_series(1, 4) i;
INSERT INTO lastmile.facilities (ext_id, name, kind, geom)
SELECT 'facility-' || i, 'facility ' || i, (ARRAY['school', 'clinic', 'hospital', 'market', 'bus_stop', 'water_source'])[1 + i % 6],
    ST_SetSRID(ST_MakePoint(103 + i * 0.015, 26.03), 4326)
FROM generate_series(1, 12) i;
INSERT INTO lastmile.api_tokens (name, prefix, hash, scopes) VALUES
    ('field team', 'a1b2c3d4', sha256('secret one'), '{write:roads,write:villages}'),
    ('old laptop', 'deadbeef', sha256('secret two'), '{admin}');
UPDATE lastmile.api_tokens SET revoked_at = now() WHERE prefix = 'deadbeef';
-- edits and deletes, so history has updates and deletes too
UPDATE lastmile.roads SET surface = 'asphalt', status = 'completed' WHERE id % 7 = 0;
UPDATE lastmile.villages SET population = population + 10 WHERE id % 4 = 0;
DELETE FROM lastmile.facilities WHERE ext_id = 'facility-12';
DELETE FROM lastmile.house_renovations WHERE ext_id = 'house-15';
-- the precomputed tables, as the previous release's server built them
SELECT lastmile.route_graph_rebuild();
INSERT INTO lastmile.village_access (definition, village_id, distance_m, road_id)
SELECT 'any', v.id, n.d, n.id FROM lastmile.villages v CROSS JOIN LATERAL (
    SELECT r.id, ST_Distance(r.geom::geography, v.geom::geography) AS d FROM lastmile.roads r
    WHERE r.status = 'completed' ORDER BY r.geom::geography <-> v.geom::geography LIMIT 1) n;
UPDATE lastmile.access_state SET built = true, built_at = now();
-- written after the build: logged in access_changes, graph stale
UPDATE lastmile.roads SET width_m = 6 WHERE ext_id = 'road-3';
UPDATE lastmile.villages SET poor_households = 0 WHERE ext_id = 'village-2';
`

// derived are the precomputed tables, which a migration may invalidate for
// a rebuild; every other table is data and must come through unchanged.
var derived = map[string]bool{"route_vertices": true, "route_edges": true, "route_graph_state": true,
	"access_state": true, "village_access": true, "access_changes": true}

// tableSum is a table's row count and a checksum of its rows (over the
// given columns, in a stable order).
type tableSum struct {
	rows int64
	sum  string
}

func tables(t *testing.T, pool *pgxpool.Pool) map[string][]string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT c.table_name, c.column_name FROM information_schema.columns c
		JOIN information_schema.tables t USING (table_schema, table_name)
		WHERE c.table_schema = 'lastmile' AND t.table_type = 'BASE TABLE' ORDER BY c.table_name, c.ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var tbl, col string
		if err := rows.Scan(&tbl, &col); err != nil {
			t.Fatal(err)
		}
		out[tbl] = append(out[tbl], col)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func checksum(t *testing.T, pool *pgxpool.Pool, table string, cols []string) tableSum {
	t.Helper()
	var quoted []string
	for _, c := range cols {
		quoted = append(quoted, `"`+c+`"`)
	}
	var s tableSum
	q := fmt.Sprintf(`SELECT count(*), md5(coalesce(string_agg(r::text, E'\n' ORDER BY r::text), '')) FROM (SELECT %s FROM lastmile.%q) r`,
		strings.Join(quoted, ", "), table)
	if err := pool.QueryRow(context.Background(), q).Scan(&s.rows, &s.sum); err != nil {
		t.Fatalf("checksum of %s: %v", table, err)
	}
	return s
}

// TestUpgradeFromPreviousRelease makes a database with the previous
// release's migrations, puts rows in every one of its tables, upgrades it
// with this binary's migrations and checks that no row of data changed (row
// counts and checksums per table, history included), that the upgrade
// itself wrote no history, that the precomputed tables are rebuilt to the
// same answers a fresh computation gives, that writes still leave history,
// and that the upgraded schema is the one a fresh install gets.
func TestUpgradeFromPreviousRelease(t *testing.T) {
	ctx := context.Background()
	old, err := postgis.MigrationsIn(os.DirFS("."), previousRelease)
	if err != nil {
		t.Fatal(err)
	}
	current, _ := postgis.Migrations()
	pool, err := postgis.Open(ctx, pgtest.Empty(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	applied, err := postgis.MigrateWith(ctx, pool, old)
	if err != nil || len(applied) != len(old) {
		t.Fatalf("previous release's migrations: %v %v", applied, err)
	}
	if _, err := pool.Exec(ctx, fillPreviousRelease); err != nil {
		t.Fatalf("filling the previous release's tables: %v", err)
	}
	before := tables(t, pool)
	sums := map[string]tableSum{}
	for tbl, cols := range before {
		sums[tbl] = checksum(t, pool, tbl, cols)
		if sums[tbl].rows == 0 {
			t.Errorf("table %s of the previous release has no rows: fill it in fillPreviousRelease", tbl)
		}
	}
	if len(before) < 17 {
		t.Errorf("previous release has %d tables, want ≥ 17: %v", len(before), before)
	}
	var historyBefore int64
	pool.QueryRow(ctx, `SELECT max(id) FROM lastmile.feature_history`).Scan(&historyBefore)

	st, err := postgis.Status(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Pending) != len(current)-len(old) || len(st.Unknown) != 0 {
		t.Fatalf("before the upgrade: %d pending, %d unknown; want %d pending", len(st.Pending), len(st.Unknown), len(current)-len(old))
	}
	upgraded, err := postgis.Migrate(ctx, pool)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	t.Logf("upgraded with %v", upgraded)
	after := tables(t, pool)
	for tbl, cols := range before {
		if _, ok := after[tbl]; !ok {
			t.Errorf("table %s is gone after the upgrade", tbl)
			continue
		}
		got := checksum(t, pool, tbl, cols) // the columns the previous release had
		switch {
		case tbl == "schema_migrations":
			if got.rows != int64(len(current)) {
				t.Errorf("schema_migrations has %d rows, want %d", got.rows, len(current))
			}
		case derived[tbl]:
			// checked after the rebuild below
		case got != sums[tbl]:
			t.Errorf("table %s changed in the upgrade: %d rows %s, before %d rows %s", tbl, got.rows, got.sum, sums[tbl].rows, sums[tbl].sum)
		default:
			t.Logf("%-18s %4d rows, checksum %s: unchanged", tbl, got.rows, got.sum)
		}
	}
	var historyAfter int64
	pool.QueryRow(ctx, `SELECT max(id) FROM lastmile.feature_history`).Scan(&historyAfter)
	if historyAfter != historyBefore {
		t.Errorf("the upgrade wrote history (max id %d → %d): a migration rewrote data", historyBefore, historyAfter)
	}

	// The precomputed tables are brought up to date and agree with an
	// independent computation on the upgraded data.
	if err := stats.Refresh(ctx, pool); err != nil {
		t.Fatalf("refresh after the upgrade: %v", err)
	}
	var edges, parts int64
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM lastmile.route_edges),
		(SELECT coalesce(sum(ST_NumGeometries(ST_Multi(geom))), 0) FROM lastmile.roads WHERE status <> 'cancelled')`).Scan(&edges, &parts); err != nil {
		t.Fatal(err)
	}
	if edges != parts || edges == 0 {
		t.Errorf("routing graph after the upgrade: %d edges, want %d (one per part of a road not cancelled)", edges, parts)
	}
	rows, err := pool.Query(ctx, `SELECT v.id, a.distance_m, (SELECT min(ST_Distance(r.geom::geography, v.geom::geography))
		FROM lastmile.roads r WHERE r.status = 'completed')
		FROM lastmile.villages v LEFT JOIN lastmile.village_access a ON a.village_id = v.id AND a.definition = 'any'`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var id int64
		var got, want *float64
		if err := rows.Scan(&id, &got, &want); err != nil {
			t.Fatal(err)
		}
		n++
		if got == nil || want == nil || math.Abs(*got-*want) > 1e-6 {
			t.Errorf("village %d: precomputed nearest completed road %v m, direct %v m", id, got, want)
		}
	}
	rows.Close()
	if n != 20 {
		t.Errorf("%d villages, want 20", n)
	}

	// Writes still leave history on the upgraded schema.
	if _, err := pool.Exec(ctx, `UPDATE lastmile.roads SET name = 'renamed' WHERE ext_id = 'road-1'`); err != nil {
		t.Fatal(err)
	}
	var ops string
	pool.QueryRow(ctx, `SELECT string_agg(op, ',' ORDER BY id) FROM lastmile.feature_history WHERE id > $1`, historyAfter).Scan(&ops)
	if ops != "update" {
		t.Errorf("history after an edit on the upgraded schema: %q, want one update", ops)
	}

	// The upgraded schema is the one a fresh install gets.
	fresh := pgtest.New(t)
	if a, b := schemaShape(t, pool), schemaShape(t, fresh); a != b {
		t.Errorf("upgraded schema differs from a fresh one:\n%s", lineDiff(a, b))
	}
}

// schemaShape describes the lastmile schema: columns, constraints,
// indexes, triggers and functions, one per line, sorted.
func schemaShape(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || udt_name || ' null=' || is_nullable ||
		       ' default=' || coalesce(column_default, '') || ' gen=' || coalesce(generation_expression, '')
		FROM information_schema.columns WHERE table_schema = 'lastmile' AND table_name <> 'schema_migrations'
		UNION ALL
		SELECT 'constraint ' || conrelid::regclass || ' ' || pg_get_constraintdef(oid)
		FROM pg_constraint WHERE connamespace = 'lastmile'::regnamespace
		UNION ALL
		SELECT 'index ' || regexp_replace(indexdef, 'INDEX \S+ ON', 'INDEX ON') FROM pg_indexes WHERE schemaname = 'lastmile'
		UNION ALL
		SELECT 'trigger ' || tgrelid::regclass || ' ' || pg_get_triggerdef(oid)
		FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'lastmile'::regnamespace)
		UNION ALL
		SELECT 'function ' || pg_get_functiondef(oid) FROM pg_proc WHERE pronamespace = 'lastmile'::regnamespace
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, s)
	}
	return strings.Join(lines, "\n")
}

func lineDiff(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for l := range ma {
		if !mb[l] {
			out = append(out, "upgraded only: "+l)
		}
	}
	for l := range mb {
		if !ma[l] {
			out = append(out, "fresh only:    "+l)
		}
	}
	return strings.Join(out, "\n")
}

// TestMigrateRefusesNewerSchema: a database migrated by a newer lastmile
// (a migration this binary does not know) is left alone, with an error
// saying what to do; the status reports it.
func TestMigrateRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t)
	if _, err := pool.Exec(ctx, `INSERT INTO lastmile.schema_migrations (version, name) VALUES (9990, '9990_from_the_future.sql')`); err != nil {
		t.Fatal(err)
	}
	var before int64
	pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.schema_migrations`).Scan(&before)
	_, err := postgis.Migrate(ctx, pool)
	if err == nil || !strings.Contains(err.Error(), "9990_from_the_future.sql") || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Migrate on a newer schema: %v, want an error naming 9990_from_the_future.sql", err)
	}
	if !errorsIs(err, postgis.ErrSchemaNewer) {
		t.Errorf("error %v does not wrap ErrSchemaNewer", err)
	}
	st, err := postgis.Status(ctx, pool)
	if err != nil || len(st.Unknown) != 1 || st.Unknown[0].Version != 9990 || len(st.Pending) != 0 {
		t.Errorf("status %+v %v", st, err)
	}
	var after int64
	pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.schema_migrations`).Scan(&after)
	if after != before {
		t.Errorf("schema_migrations %d → %d rows", before, after)
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
