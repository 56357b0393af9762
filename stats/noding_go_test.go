package stats

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/demo"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// builtGraph is a routing graph as comparable values: each edge as text
// (road, part, end points, exact geometry, status, completed_on) with its
// cost, the vertices' positions, and route_graph_state's counts.
type builtGraph struct {
	edges    map[string][]float64 // text → costs (a road may repeat an edge)
	vertices []string
	state    string
}

func readBuiltGraph(t *testing.T, pool *pgxpool.Pool) builtGraph {
	t.Helper()
	ctx := context.Background()
	g := builtGraph{edges: map[string][]float64{}}
	rows, err := pool.Query(ctx, `SELECT format('%s/%s %s %s-%s %s %s %s %s', e.road_id, e.part, e.status, e.completed_on,
			vs.x, vs.y, vt.x, vt.y, encode(ST_AsEWKB(e.geom), 'hex')), e.cost
		FROM lastmile.route_edges e JOIN lastmile.route_vertices vs ON vs.id = e.source JOIN lastmile.route_vertices vt ON vt.id = e.target`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		var c float64
		if err := rows.Scan(&s, &c); err != nil {
			t.Fatal(err)
		}
		g.edges[s] = append(g.edges[s], c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, cs := range g.edges {
		sort.Float64s(cs)
	}
	if err := pool.QueryRow(ctx, `SELECT array_agg(format('%s %s', x, y) ORDER BY x, y) FROM lastmile.route_vertices`).Scan(&g.vertices); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT format('%s edges, %s vertices, %s joins, built %s of %s', edges, vertices, tolerance_joins,
		built_generation, generation) FROM lastmile.route_graph_state`).Scan(&g.state); err != nil {
		t.Fatal(err)
	}
	return g
}

// costTolerance is how far the Go build's edge cost (Vincenty per segment)
// may be from ST_Length(geography) (GeographicLib per segment): 1e-9
// relative plus 1e-6 m, i.e. 10 µm on a 10 km edge. Both methods are
// accurate to far below that on road segments (Vincenty to 0.1 mm on
// antipodal-free lines of thousands of km, far better on short ones);
// measured: at most 1.6e-8 m on the demo county and OSM edges, 1.6e-6 m
// on the national generator's 55 km edges (3e-11 relative).
func costTolerance(c float64) float64 { return 1e-9*c + 1e-6 }

// compareBuilt reports the differences between two builds.
func compareBuilt(t *testing.T, what string, got, want builtGraph) {
	t.Helper()
	if got.state != want.state {
		t.Errorf("%s: state %q, want %q", what, got.state, want.state)
	}
	if strings.Join(got.vertices, ";") != strings.Join(want.vertices, ";") {
		t.Errorf("%s: %d vertices, want %d (or at other positions)", what, len(got.vertices), len(want.vertices))
	}
	bad, worst := 0, 0.0
	for k, wc := range want.edges {
		gc, ok := got.edges[k]
		if !ok || len(gc) != len(wc) {
			if bad++; bad <= 5 {
				t.Errorf("%s: edge %s: %d times, want %d", what, k, len(gc), len(wc))
			}
			continue
		}
		for i := range wc {
			d := math.Abs(gc[i] - wc[i])
			worst = math.Max(worst, d)
			if d > costTolerance(wc[i]) {
				if bad++; bad <= 5 {
					t.Errorf("%s: edge %s costs %.9f m, ST_Length %.9f m", what, k, gc[i], wc[i])
				}
			}
		}
	}
	for k := range got.edges {
		if _, ok := want.edges[k]; !ok {
			if bad++; bad <= 5 {
				t.Errorf("%s: extra edge %s", what, k)
			}
		}
	}
	t.Logf("%s: %d edges, %d vertices; largest cost difference %.3g m", what, len(want.edges), len(want.vertices), worst)
}

// buildGo runs the whole build in Go (forced) and checks that it ran.
func buildGo(t *testing.T, pool *pgxpool.Pool) *nodedGraph {
	t.Helper()
	var g *nodedGraph
	if err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		var err error
		g, err = rebuildGraphGo(context.Background(), tx, true)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if g == nil {
		t.Fatal("the whole build was left to SQL")
	}
	return g
}

// checkGoBuild: the Go build equals route_graph_rebuild(true) on the roads
// in pool, and its pack equals what route_pack_sync makes of its edges.
func checkGoBuild(t *testing.T, pool *pgxpool.Pool, what string) {
	t.Helper()
	ctx := context.Background()
	mustExec(t, pool, `SELECT lastmile.route_graph_rebuild(true)`)
	want := readBuiltGraph(t, pool)
	indexes := func() string {
		var s string
		if err := pool.QueryRow(ctx, `SELECT string_agg(pg_get_indexdef(indexrelid), '; ' ORDER BY pg_get_indexdef(indexrelid))
			FROM pg_index WHERE indrelid = 'lastmile.route_edges'::regclass`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := indexes()
	g := buildGo(t, pool)
	if after := indexes(); after != before || !strings.Contains(after, "gist") {
		t.Errorf("%s: the edges' indexes after the Go build\n%s\nbefore\n%s", what, after, before)
	}
	got := readBuiltGraph(t, pool)
	compareBuilt(t, what, got, want)
	checkSnapsGo(t, pool, what, g)
	var dirty bool
	var pack []byte
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM lastmile.route_pack_dirty),
		coalesce((SELECT string_agg(data, ''::bytea ORDER BY chunk) FROM lastmile.route_pack), '')`).Scan(&dirty, &pack); err != nil {
		t.Fatal(err)
	}
	mustExec(t, pool, `INSERT INTO lastmile.route_pack_dirty VALUES (-1); SELECT lastmile.route_pack_sync()`)
	var synced []byte
	if err := pool.QueryRow(ctx, `SELECT coalesce((SELECT string_agg(data, ''::bytea ORDER BY chunk) FROM lastmile.route_pack), '')`).Scan(&synced); err != nil {
		t.Fatal(err)
	}
	if dirty || string(pack) != string(synced) {
		t.Errorf("%s: Go pack (%d bytes, dirty marks left %v) differs from route_pack_sync's (%d bytes)", what, len(pack), dirty, len(synced))
	}
	var seqE, seqV, maxE, maxV int64
	if err := pool.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence('lastmile.route_edges', 'id')), nextval(pg_get_serial_sequence('lastmile.route_vertices', 'id')),
		coalesce((SELECT max(id) FROM lastmile.route_edges), 0), coalesce((SELECT max(id) FROM lastmile.route_vertices), 0)`).Scan(&seqE, &seqV, &maxE, &maxV); err != nil {
		t.Fatal(err)
	}
	if seqE != maxE+1 || seqV != maxV+1 {
		t.Errorf("%s: next ids %d, %d after the largest %d, %d", what, seqE, seqV, maxE, maxV)
	}
	mustExec(t, pool, `SELECT setval(pg_get_serial_sequence('lastmile.route_edges', 'id'), $1::bigint), setval(pg_get_serial_sequence('lastmile.route_vertices', 'id'), $2::bigint)`, max(maxE, 1), max(maxV, 1))
}

// TestNodingGoHand: hand-made roads covering each rule — a T-junction at
// an interior vertex, a crossing without a shared vertex, a road touching
// itself, a closed ring, a multi-line road whose lines meet, consecutive
// points equal after rounding (the first kept), a point exactly half-way
// between two 1e-7° steps (rounded to even), a road collapsing to one
// point, cancelled and planned roads, dates and none — then edits on the
// Go-built graph refreshed by the SQL function equal a whole SQL rebuild.
func TestNodingGoHand(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	addRoad(t, pool, road{ext: "A", surface: "asphalt", pts: [][2]float64{{110, 30}, {110.005, 30}, {110.01, 30}, {110.015, 30}, {110.02, 30}}})
	b := addRoad(t, pool, road{ext: "B", surface: "earth", pts: [][2]float64{{110.01, 30}, {110.01, 30.01}}})
	addRoad(t, pool, road{ext: "C", surface: "earth", pts: [][2]float64{{110.0125, 29.995}, {110.0125, 30.005}}})
	addRoad(t, pool, road{ext: "D", surface: "earth", pts: [][2]float64{{110.03, 30.02}, {110.04, 30.02}, {110.04, 30.03}, {110.035, 30.03}, {110.04, 30.02}, {110.05, 30.02}}})
	for _, sql := range []string{
		// a closed ring, touching A's vertex 110.015
		`INSERT INTO lastmile.roads (ext_id, surface, geom) VALUES ('ring', 'earth', ST_GeomFromText('LINESTRING(110.015 30, 110.016 30.001, 110.014 30.001, 110.015 30)', 4326))`,
		// two lines meeting at a shared interior point, one ending on B
		`INSERT INTO lastmile.roads (ext_id, surface, geom) VALUES ('multi', 'gravel', ST_GeomFromText('MULTILINESTRING((110.0 30.02, 110.005 30.02, 110.01 30.02), (110.005 30.03, 110.005 30.02, 110.005 30.01), (110.01 30.01, 110.011 30.011))', 4326))`,
		// consecutive points within 1e-7° (dropped), and one 1e-8 away from A's vertex 110.02 (rounds onto it)
		`INSERT INTO lastmile.roads (ext_id, surface, geom) VALUES ('dups', 'earth', ST_GeomFromText('LINESTRING(110.02000001 30.00000001, 110.02 30.005, 110.02000002 30.00500003, 110.025 30.005)', 4326))`,
		// half-way points: 1e-7 steps x.5 (ties to even), shared with a second road written differently
		`INSERT INTO lastmile.roads (ext_id, surface, geom) VALUES ('half1', 'earth', ST_GeomFromText('LINESTRING(110.03 30.00000025, 110.03000015 30.00000035, 110.031 30.0001)', 4326))`,
		`INSERT INTO lastmile.roads (ext_id, surface, geom) VALUES ('half2', 'earth', ST_GeomFromText('LINESTRING(110.029 30, 110.0300001 30.0000003, 110.0300002 30.0000004)', 4326))`,
		// a road collapsing to one point after rounding: a vertex, no edge
		`INSERT INTO lastmile.roads (ext_id, surface, geom) VALUES ('dot', 'earth', ST_GeomFromText('LINESTRING(110.06 30.06, 110.06000001 30.06000001)', 4326))`,
		// cancelled (no edges) and planned (edges, not traversable), with and without a date
		`INSERT INTO lastmile.roads (ext_id, surface, status, geom) VALUES ('gone', 'earth', 'cancelled', ST_GeomFromText('LINESTRING(110.005 30, 110.005 29.99)', 4326))`,
		`INSERT INTO lastmile.roads (ext_id, surface, status, geom) VALUES ('plan', 'earth', 'planned', ST_GeomFromText('LINESTRING(110.005 30, 110.006 29.99)', 4326))`,
		`UPDATE lastmile.roads SET completed_on = NULL WHERE ext_id = 'C'`,
		`UPDATE lastmile.roads SET completed_on = '2012-03-04' WHERE ext_id = 'D'`,
		// a long edge (costs compared over a 200 km geodesic polyline)
		`INSERT INTO lastmile.roads (ext_id, surface, geom) VALUES ('long', 'asphalt', ST_GeomFromText('LINESTRING(100 20, 101 21, 102 21.5, 101.5 22)', 4326))`,
	} {
		mustExec(t, pool, sql)
	}
	// villages: beside the roads, on a vertex, far from every road, beyond the roads' extent
	addVillage(t, pool, village{name: "near", code: "130101001001", lon: 110.0101, lat: 30.0051})
	addVillage(t, pool, village{name: "vertex", code: "130101001002", lon: 110.015, lat: 30})
	addVillage(t, pool, village{name: "far", code: "130101001003", lon: 105, lat: 25})
	addVillage(t, pool, village{name: "outside", code: "130101001004", lon: 120, lat: 45})
	addVillage(t, pool, village{name: "ring", code: "130101001005", lon: 110.0151, lat: 30.0006})
	checkGoBuild(t, pool, "hand fixture")

	// the SQL incremental refresh on the Go-built graph equals a whole SQL rebuild
	mustExec(t, pool, `SELECT setval(pg_get_serial_sequence('lastmile.route_edges', 'id'), 1000000)`)
	for _, edit := range []struct{ name, sql string }{
		{"a road ending at A's vertex 110.005 splits A", `INSERT INTO lastmile.roads (ext_id, surface, geom) VALUES ('G', 'earth', ST_GeomFromText('LINESTRING(110.005 29.98, 110.005 30)', 4326))`},
		{"a road through A's vertex 110.015 and the ring", `INSERT INTO lastmile.roads (ext_id, surface, geom) VALUES ('H', 'earth', ST_GeomFromText('LINESTRING(110.015 29.99, 110.015 30, 110.016 30.001)', 4326))`},
		{"moving B off A", fmt.Sprintf(`UPDATE lastmile.roads SET geom = ST_Translate(geom, 0, 0.001) WHERE id = %d`, b)},
		{"cancelling G", `UPDATE lastmile.roads SET status = 'cancelled' WHERE ext_id = 'G'`},
		{"deleting the ring", `DELETE FROM lastmile.roads WHERE ext_id = 'ring'`},
		{"completing the plan", `UPDATE lastmile.roads SET status = 'completed', completed_on = '2020-01-01' WHERE ext_id = 'plan'`},
	} {
		buildGo(t, pool)
		mustExec(t, pool, `SELECT setval(pg_get_serial_sequence('lastmile.route_edges', 'id'), 1000000)`)
		mustExec(t, pool, edit.sql)
		if err := Refresh(ctx, pool); err != nil {
			t.Fatal(err)
		}
		refreshed, _ := graphEdges(t, pool)
		var maxID, count int64
		if err := pool.QueryRow(ctx, `SELECT max(id), count(*) FROM lastmile.route_edges`).Scan(&maxID, &count); err != nil {
			t.Fatal(err)
		}
		if maxID == count {
			t.Errorf("%s: rebuilt whole, not refreshed", edit.name)
		}
		mustExec(t, pool, `SELECT lastmile.route_graph_rebuild(true)`)
		rebuilt, _ := graphEdges(t, pool)
		if strings.Join(refreshed, "\n") != strings.Join(rebuilt, "\n") {
			t.Errorf("%s: refreshed Go-built graph\n%s\nrebuilt in SQL\n%s", edit.name, strings.Join(refreshed, "\n"), strings.Join(rebuilt, "\n"))
		}
	}
	// a node tolerance leaves the whole build to SQL
	mustExec(t, pool, `SELECT lastmile.route_graph_set_tolerance(5)`)
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		g, err := rebuildGraphGo(ctx, tx, true)
		if g != nil {
			t.Error("built in Go with a node tolerance of 5 m")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestNodingGoDemo: the Go build equals the SQL one on the demo county.
func TestNodingGoDemo(t *testing.T) {
	pool := pgtest.New(t)
	if _, err := demo.Load(context.Background(), pool, demo.Generate(1)); err != nil {
		t.Fatal(err)
	}
	checkGoBuild(t, pool, "demo county")
}

// TestNodingGoOSM: the Go build equals the SQL one on the OSM extract,
// and the network answers of a Go-built graph equal the reference.
func TestNodingGoOSM(t *testing.T) {
	pool := importOSM(t)
	checkGoBuild(t, pool, "OSM extract")
	mustExec(t, pool, `UPDATE lastmile.route_graph_state SET full_generation = generation + 1, generation = generation + 1`)
	ref := refDistances(t, pool, asOfPredicate(""), asOfPredicate("")+" AND r.tech_grade = 'class2'")
	compareReference(t, pool, "source_filter=tech_grade:class2&within_m=0&method=network&list=uncovered&group_by=none", ref)
	var built int64
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM lastmile.route_edges WHERE id <= (SELECT edges FROM lastmile.route_graph_state)`).Scan(&built); err != nil || built == 0 {
		t.Errorf("no graph (%v)", err)
	}
}

// checkSnapsGo: every village snapped in memory (on the graph built in Go,
// and on its edges read back) equals snapVillages' snaps (the SQL
// candidates, snapped by snapToLine).
func checkSnapsGo(t *testing.T, pool *pgxpool.Pool, what string, g *nodedGraph) {
	t.Helper()
	ctx := context.Background()
	want, err := snapVillages(ctx, pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := loadSnapEdges(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		edges *snapEdges
	}{{"built", snapEdgesOf(g)}, {"read back", loaded}} {
		got, err := snapAll(ctx, pool, c.edges, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s, %s: %d snaps, want %d", what, c.name, len(got), len(want))
		}
		snapped := 0
		for i, w := range want {
			k := got[i]
			if k.village != w.village || k.edge != w.edge || k.source != w.source || k.target != w.target || k.road != w.road ||
				k.cost != w.cost || math.Abs(k.along-w.along) > 1e-9 || math.Abs(k.dist-w.dist) > 1e-9 {
				t.Errorf("%s, %s: village %d snapped %+v, SQL candidates %+v", what, c.name, w.village, k, w)
			}
			if w.edge != 0 {
				snapped++
			}
		}
		t.Logf("%s, %s: %d villages, %d snapped, equal", what, c.name, len(want), snapped)
	}
}
