package stats

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/demo"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// checkAccessExact compares village_access with every village's nearest
// qualifying road per definition found the slow way: ST_Distance on
// geography from every village to every road, the least (ties by road id)
// — equal distances to the last bit, and the same roads.
func checkAccessExact(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	names := accessNames()
	defs := accessDefinitions()
	var mask, preds []string
	for i, n := range names {
		mask = append(mask, fmt.Sprintf("CASE WHEN %s THEN %d ELSE 0 END", defs[n], 1<<i))
		preds = append(preds, defs[n])
	}
	type row struct {
		d    *float64
		road *int64
	}
	want := map[string]row{}
	rows, err := pool.Query(ctx, `WITH p AS MATERIALIZED (
			SELECT v.id AS vid, s.id AS rid, ST_Distance(s.geom::geography, v.geom::geography) AS d, (`+strings.Join(mask, " + ")+`) AS m
			FROM lastmile.villages v, lastmile.roads s WHERE `+strings.Join(preds, " OR ")+`
		), best AS (
			SELECT DISTINCT ON (p.vid, k.i) p.vid, k.i, p.d, p.rid FROM p JOIN generate_subscripts($1::text[], 1) k(i) ON p.m & (1 << (k.i - 1)) <> 0
			ORDER BY p.vid, k.i, p.d, p.rid
		)
		SELECT ($1::text[])[k.i], v.id, b.d, b.rid
		FROM lastmile.villages v CROSS JOIN generate_subscripts($1::text[], 1) k(i) LEFT JOIN best b ON b.vid = v.id AND b.i = k.i`, names)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var def string
		var id int64
		var r row
		if err := rows.Scan(&def, &id, &r.d, &r.road); err != nil {
			t.Fatal(err)
		}
		want[fmt.Sprint(def, " ", id)] = r
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	rows, err = pool.Query(ctx, `SELECT definition, village_id, distance_m, road_id FROM lastmile.village_access`)
	if err != nil {
		t.Fatal(err)
	}
	got, bad := 0, 0
	for rows.Next() {
		var def string
		var id int64
		var r row
		if err := rows.Scan(&def, &id, &r.d, &r.road); err != nil {
			t.Fatal(err)
		}
		got++
		k := fmt.Sprint(def, " ", id)
		w, ok := want[k]
		if !ok || (w.d == nil) != (r.d == nil) || (w.d != nil && (*w.d != *r.d || *w.road != *r.road)) {
			if bad++; bad <= 10 {
				t.Errorf("village %s: village_access %s, ST_Distance over every road %s", k, fmtRow(r.d, r.road), fmtRow(w.d, w.road))
			}
		}
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if got != len(want) {
		t.Errorf("village_access has %d rows, want %d (every village × %d definitions)", got, len(want), len(names))
	}
	if bad > 0 {
		t.Errorf("%d of %d rows differ", bad, got)
	}
}

func fmtRow(d *float64, road *int64) string {
	if d == nil {
		return "no road"
	}
	return fmt.Sprintf("%.10f m to road %d", *d, *road)
}

// smallAccessBatches makes the builds of a test write batches of n villages
// (so that small data takes two connections and many batches).
func smallAccessBatches(t *testing.T, n int) {
	old := accessBatch
	accessBatch = n
	t.Cleanup(func() { accessBatch = old })
}

// TestAccessExactDemo: on the demo county, the grid build of village_access
// gives every village, for every definition, exactly the nearest road and
// distance that ST_Distance(geography) over all roads gives — in one batch
// on one connection, and in batches of 50 villages on two connections
// sharing a snapshot.
func TestAccessExactDemo(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	if _, err := demo.Load(ctx, pool, demo.Generate(1)); err != nil {
		t.Fatal(err)
	}
	before := accessGridBuilds.Load()
	if ok, err := ensureAccess(ctx, pool); err != nil || !ok {
		t.Fatalf("build: %v %v", ok, err)
	}
	if accessGridBuilds.Load() == before {
		t.Fatal("the demo county was not built on the grid")
	}
	checkAccessExact(t, pool)

	smallAccessBatches(t, 50)
	mustExec(t, pool, `UPDATE lastmile.access_state SET built = false`)
	parallel := accessParallelBuilds.Load()
	if ok, err := ensureAccess(ctx, pool); err != nil || !ok {
		t.Fatalf("build: %v %v", ok, err)
	}
	if accessParallelBuilds.Load() == parallel {
		t.Fatal("the build in batches of 50 did not take two connections")
	}
	checkAccessExact(t, pool)
}

// TestAccessGridCases: the grid build's edge cases, each against
// ST_Distance over every road: a 40 km straight segment (cut into pieces),
// a multi-line road, two roads on the same line (the lower id), a village
// on a vertex, villages far outside the roads' extent and at 60° N, a
// definition no road satisfies, a nearer planned road (ignored); then data
// spanning more than 180° of longitude, built by the SQL path instead.
func TestAccessGridCases(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	for _, r := range []string{
		`('long', 'completed', 'cement', 'substandard', 'LINESTRING(110 30, 110.4 30.05)')`,
		`('multi', 'completed', 'earth', 'substandard', 'MULTILINESTRING((110.1 30.1, 110.12 30.11, 110.15 30.1), (110.2 29.95, 110.22 29.97))')`,
		`('twin1', 'completed', 'asphalt', 'substandard', 'LINESTRING(110.3 29.9, 110.32 29.92)')`,
		`('twin2', 'completed', 'asphalt', 'substandard', 'LINESTRING(110.3 29.9, 110.32 29.92)')`,
		`('planned', 'planned', 'asphalt', 'substandard', 'LINESTRING(110.05 30.02, 110.06 30.03)')`,
		`('north', 'completed', 'stone', 'substandard', 'LINESTRING(110 60, 110.5 60.01, 111 60)')`,
	} {
		mustExec(t, pool, `INSERT INTO lastmile.roads (ext_id, status, surface, tech_grade, geom)
			SELECT e, s, f, g, ST_GeomFromText(w, 4326) FROM (VALUES `+r+`) x(e, s, f, g, w)`)
	}
	mustExec(t, pool, `INSERT INTO lastmile.villages (name, code, population, geom)
		SELECT 'v' || i, '1301010010' || lpad(i::text, 2, '0'), 100, ST_SetSRID(ST_MakePoint(x, y), 4326)
		FROM (VALUES (1, 110.2, 30.03), (2, 110.05, 30.021), (3, 110.12, 30.11), (4, 110.31, 29.91),
		             (5, 112.5, 33.0), (6, 110.7, 60.2), (7, 110.21, 29.96), (8, 110.4, 30.05),
		             (9, 100.0, 25.0), (10, 110.39, 30.049)) v(i, x, y)`)
	before := accessGridBuilds.Load()
	if ok, err := ensureAccess(ctx, pool); err != nil || !ok {
		t.Fatalf("build: %v %v", ok, err)
	}
	if accessGridBuilds.Load() == before {
		t.Fatal("not built on the grid")
	}
	checkAccessExact(t, pool)
	var graded int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.village_access WHERE definition = 'graded' AND distance_m IS NULL`).Scan(&graded); err != nil || graded != 10 {
		t.Errorf("graded (no such road): %d villages without a road, want 10 (%v)", graded, err)
	}

	mustExec(t, pool, `INSERT INTO lastmile.roads (ext_id, surface, tech_grade, geom)
		VALUES ('far', 'asphalt', 'class3', ST_GeomFromText('LINESTRING(-75 40, -74.9 40.1)', 4326))`)
	mustExec(t, pool, `UPDATE lastmile.access_state SET built = false`)
	before = accessGridBuilds.Load()
	if ok, err := ensureAccess(ctx, pool); err != nil || !ok {
		t.Fatalf("build: %v %v", ok, err)
	}
	if accessGridBuilds.Load() != before {
		t.Fatal("data spanning 185° of longitude was built on the grid")
	}
	checkAccessExact(t, pool)
}
