package postgis_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// asActor runs statements in one transaction with the actor, request id and
// source set as postgis.SetActor sets them, and returns the first error.
func asActor(t *testing.T, pool *pgxpool.Pool, actor string, stmts ...string) error {
	t.Helper()
	ctx := context.Background()
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('lastmile.actor', $1, true),
			set_config('lastmile.request_id', 'req-7', true), set_config('lastmile.source', 'plain.sql', true)`, actor); err != nil {
			return err
		}
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
}

// images returns each road's row image as the history records it (the row
// as jsonb without its geometries) and its geometry as EWKT, by ext_id.
func images(t *testing.T, pool *pgxpool.Pool) map[string][2]string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT ext_id, (to_jsonb(t) - 'geom' - 'geom_3857')::text, ST_AsEWKT(geom) FROM lastmile.roads t`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][2]string{}
	for rows.Next() {
		var id, img, g string
		if err := rows.Scan(&id, &img, &g); err != nil {
			t.Fatal(err)
		}
		out[id] = [2]string{img, g}
	}
	return out
}

type historyRow struct {
	extID, op                        string
	version                          int
	oldRow, newRow, oldGeom, newGeom *string
	actor, requestID, source         string
}

// history returns the history rows written after row id after, in order.
func history(t *testing.T, pool *pgxpool.Pool, after int64) ([]historyRow, int64) {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT id, coalesce(new_row, old_row)->>'ext_id', op, version,
			old_row::text, new_row::text, ST_AsEWKT(old_geom), ST_AsEWKT(new_geom), actor, request_id, source
		FROM lastmile.feature_history_full WHERE id > $1 ORDER BY id`, after)
	if err != nil {
		t.Fatal(err)
	}
	var out []historyRow
	last := after
	for rows.Next() {
		var h historyRow
		if err := rows.Scan(&last, &h.extID, &h.op, &h.version, &h.oldRow, &h.newRow, &h.oldGeom, &h.newGeom,
			&h.actor, &h.requestID, &h.source); err != nil {
			t.Fatal(err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out, last
}

func str(p *string) string {
	if p == nil {
		return "NULL"
	}
	return *p
}

// checkHistory checks that hs has one row per ext_id of want with op, the
// version of the new (or, for a delete, the old) image, the images before
// and after, and the actor.
func checkHistory(t *testing.T, hs []historyRow, op string, before, after map[string][2]string, want ...string) {
	t.Helper()
	if len(hs) != len(want) {
		t.Fatalf("%s: %d history rows, want %d: %+v", op, len(hs), len(want), hs)
	}
	seen := map[string]bool{}
	for _, h := range hs {
		seen[h.extID] = true
		if h.op != op || h.actor != "alice" || h.requestID != "req-7" || h.source != "plain.sql" {
			t.Errorf("%s %s: op %s, actor %s, request %s, source %s", op, h.extID, h.op, h.actor, h.requestID, h.source)
		}
		wantOld, wantNew := "NULL", "NULL"
		wantOldGeom, wantNewGeom := "NULL", "NULL"
		if op != "insert" {
			wantOld, wantOldGeom = before[h.extID][0], before[h.extID][1]
		}
		if op != "delete" {
			wantNew, wantNewGeom = after[h.extID][0], after[h.extID][1]
		}
		if got := str(h.oldRow); got != wantOld {
			t.Errorf("%s %s: old_row\n%s, want\n%s", op, h.extID, got, wantOld)
		}
		if got := str(h.newRow); got != wantNew {
			t.Errorf("%s %s: new_row\n%s, want\n%s", op, h.extID, got, wantNew)
		}
		if str(h.oldGeom) != wantOldGeom || str(h.newGeom) != wantNewGeom {
			t.Errorf("%s %s: geometries %s → %s, want %s → %s", op, h.extID, str(h.oldGeom), str(h.newGeom), wantOldGeom, wantNewGeom)
		}
	}
	for _, id := range want {
		if !seen[id] {
			t.Errorf("%s: no history row for %s", op, id)
		}
	}
}

// TestHistoryPerRow: multi-row INSERT, UPDATE and DELETE statements in plain
// SQL leave one history row per row written, with the op, the version and
// the exact row images and geometries before and after; the actor, request
// id and source come from the transaction.
func TestHistoryPerRow(t *testing.T) {
	pool := pgtest.New(t)
	var last int64

	if err := asActor(t, pool, "alice", `INSERT INTO lastmile.roads (ext_id, name, surface, funding_yuan, props, geom) VALUES
		('a', 'A', 'cement', 12.50, '{"k": [1, 2.50]}', 'SRID=4326;LINESTRING(117.1 37.2, 117.11 37.21)'),
		('b', 'B', NULL, NULL, '{}', 'SRID=4326;LINESTRING(117.2 37.2, 117.21 37.21)'),
		('c', 'C', 'earth', 0, '{}', 'SRID=4326;MULTILINESTRING((117.3 37.2, 117.31 37.21))')`); err != nil {
		t.Fatal(err)
	}
	inserted := images(t, pool)
	hs, last := history(t, pool, last)
	checkHistory(t, hs, "insert", nil, inserted, "a", "b", "c")
	for _, h := range hs {
		if h.version != 1 {
			t.Errorf("insert %s: version %d", h.extID, h.version)
		}
	}

	// b and c change (an attribute, the geometry); a is set to what it is
	if err := asActor(t, pool, "alice", `UPDATE lastmile.roads SET
		surface = CASE ext_id WHEN 'b' THEN 'gravel' ELSE surface END,
		geom = CASE ext_id WHEN 'c' THEN 'SRID=4326;MULTILINESTRING((117.3 37.2, 117.32 37.22))'::geometry ELSE geom END`); err != nil {
		t.Fatal(err)
	}
	updated := images(t, pool)
	hs, last = history(t, pool, last)
	checkHistory(t, hs, "update", inserted, updated, "b", "c")
	for _, h := range hs {
		if h.version != 2 {
			t.Errorf("update %s: version %d", h.extID, h.version)
		}
	}
	if updated["a"] != inserted["a"] {
		t.Errorf("a was not changed but its row is: %v → %v", inserted["a"], updated["a"])
	}

	if err := asActor(t, pool, "alice", `DELETE FROM lastmile.roads WHERE ext_id IN ('a', 'c')`); err != nil {
		t.Fatal(err)
	}
	hs, _ = history(t, pool, last)
	checkHistory(t, hs, "delete", updated, nil, "a", "c")
	for _, h := range hs {
		if want := map[string]int{"a": 1, "c": 2}[h.extID]; h.version != want {
			t.Errorf("delete %s: version %d, want %d", h.extID, h.version, want)
		}
	}
}

// TestStampCannotBeFaked: a plain INSERT or UPDATE that sets version,
// updated_at or updated_by gets the real ones.
func TestStampCannotBeFaked(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	if err := asActor(t, pool, "alice", `INSERT INTO lastmile.roads (ext_id, version, updated_at, updated_by, geom) VALUES
		('m', 99, '2001-01-01', 'mallory', 'SRID=4326;LINESTRING(117.1 37.2, 117.11 37.21)'),
		('n', 1, '2001-01-01', NULL, 'SRID=4326;LINESTRING(117.2 37.2, 117.21 37.21)'),
		('o', DEFAULT, DEFAULT, DEFAULT, 'SRID=4326;LINESTRING(117.3 37.2, 117.31 37.21)')`); err != nil {
		t.Fatal(err)
	}
	check := func(when string, version int) {
		t.Helper()
		rows, err := pool.Query(ctx, `SELECT t.ext_id, t.version, t.updated_by, h.actor, t.updated_at > now() - interval '1 hour'
			FROM lastmile.roads t JOIN LATERAL (SELECT * FROM lastmile.feature_history h
				WHERE h.layer = 'roads' AND h.feature_id = t.id ORDER BY h.id DESC LIMIT 1) h ON true ORDER BY t.ext_id`)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var id, by, actor string
			var v int
			var recent bool
			if err := rows.Scan(&id, &v, &by, &actor, &recent); err != nil {
				t.Fatal(err)
			}
			n++
			if v != version || by != "alice" || actor != "alice" || !recent {
				t.Errorf("%s %s: version %d (want %d), updated_by %q, history actor %q, updated now %v", when, id, v, version, by, actor, recent)
			}
		}
		if n != 3 {
			t.Fatalf("%s: %d rows", when, n)
		}
	}
	check("insert", 1)
	if err := asActor(t, pool, "bob", `UPDATE lastmile.roads SET name = 'x', version = 99, updated_by = 'mallory', updated_at = '2001-01-01'`); err != nil {
		t.Fatal(err)
	}
	var v int
	var by string
	if err := pool.QueryRow(ctx, `SELECT max(version), max(updated_by) FROM lastmile.roads WHERE updated_at > now() - interval '1 hour'`).Scan(&v, &by); err != nil {
		t.Fatal(err)
	}
	if v != 2 || by != "bob" {
		t.Errorf("update: version %d, updated_by %q; want 2, bob", v, by)
	}
	// A feature's id cannot change (history pairs row images by id).
	err := asActor(t, pool, "bob", `UPDATE lastmile.roads SET id = DEFAULT WHERE ext_id = 'm'`)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23514" || pgErr.ColumnName != "id" {
		t.Errorf("changing the id: %v, want a check violation on id", err)
	}
}

// TestNoOpUpdateLeavesNoHistory: an UPDATE that changes nothing (the same
// values, the same geometry, a faked version) is skipped: no history, no
// version bump, the row unchanged.
func TestNoOpUpdateLeavesNoHistory(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	if err := asActor(t, pool, "alice", `INSERT INTO lastmile.roads (ext_id, name, surface, props, geom) VALUES
		('a', 'A', 'cement', '{"k": 1}', 'SRID=4326;LINESTRING(117.1 37.2, 117.11 37.21)'),
		('b', 'B', NULL, '{}', 'SRID=4326;LINESTRING(117.2 37.2, 117.21 37.21)')`,
		`INSERT INTO lastmile.villages (ext_id, name, population, geom) VALUES ('v', 'V', 10, 'SRID=4326;POINT(117.1 37.2)')`); err != nil {
		t.Fatal(err)
	}
	before := images(t, pool)
	_, last := history(t, pool, 0)
	for _, stmt := range []string{
		`UPDATE lastmile.roads SET name = name`,
		`UPDATE lastmile.roads SET geom = ST_GeomFromEWKB(ST_AsEWKB(geom)), props = props || '{}'`,
		`UPDATE lastmile.roads SET version = version + 5, updated_by = 'mallory', updated_at = '2001-01-01'`,
		`UPDATE lastmile.roads SET surface = CASE WHEN ext_id = 'a' THEN 'cement' END`,
		`UPDATE lastmile.villages SET population = 10, geom = 'SRID=4326;POINT(117.1 37.2)'`,
	} {
		var n int64
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, stmt)
			n = tag.RowsAffected()
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
		if n != 0 {
			t.Errorf("%s: %d rows updated, want 0", stmt, n)
		}
	}
	if after := images(t, pool); len(after) != len(before) || after["a"] != before["a"] || after["b"] != before["b"] {
		t.Errorf("rows changed:\n%v\n%v", before, after)
	}
	if hs, _ := history(t, pool, last); len(hs) != 0 {
		t.Errorf("history rows for no-op updates: %+v", hs)
	}
	// a geometry moved by 1e-10° is a change (geometries compare exactly)
	if err := asActor(t, pool, "alice", `UPDATE lastmile.roads SET geom = ST_Translate(geom, 1e-10, 0) WHERE ext_id = 'a'`); err != nil {
		t.Fatal(err)
	}
	if hs, _ := history(t, pool, last); len(hs) != 1 || hs[0].version != 2 {
		t.Errorf("history after a tiny move: %+v", hs)
	}
}

// TestHistoryTriggersEverywhere: every asset table has the stamp triggers
// and the statement-level history triggers, and no row-level AFTER trigger
// (which would cost a call per row of a bulk import).
func TestHistoryTriggersEverywhere(t *testing.T) {
	pool := pgtest.New(t)
	for _, l := range layer.Default().Layers() {
		rows, err := pool.Query(context.Background(), `SELECT tgname, (tgtype & 1) = 1 AS per_row, (tgtype & 2) = 2 AS before
			FROM pg_trigger WHERE tgrelid = ('lastmile.' || $1)::regclass AND NOT tgisinternal`, l.Table)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for rows.Next() {
			var name string
			var perRow, before bool
			if err := rows.Scan(&name, &perRow, &before); err != nil {
				t.Fatal(err)
			}
			got[name] = true
			if perRow && !before {
				t.Errorf("%s: row-level AFTER trigger %s", l.Table, name)
			}
		}
		for _, s := range []string{"_stamp", "_stamp_upd", "_history", "_history_upd", "_history_del"} {
			if !got[l.Table+s] {
				t.Errorf("%s: no trigger %s%s (has %v)", l.Table, l.Table, s, got)
			}
		}
	}
}
