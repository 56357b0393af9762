package stats

import (
	"context"
	"fmt"
	"math/rand"
	"reflect"
	"testing"

	"github.com/lastmile/lastmile/postgis/pgtest"
)

// TestNetworkGraphIncremental: after each kind of road edit, the graph
// brought up to date incrementally (only the edited roads' edges replaced)
// answers every network question exactly as a graph rebuilt from scratch.
func TestNetworkGraphIncremental(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	rng := rand.New(rand.NewSource(9))
	surfaces := []string{"earth", "gravel", "cement", "asphalt"}
	// A 6×6 grid of nodes 0.005° apart, every edge a road of its own.
	const n, step = 6, 0.005
	node := func(i, j int) [2]float64 { return [2]float64{110 + float64(i)*step, 30 + float64(j)*step} }
	var ids []int64
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if i+1 < n {
				ids = append(ids, addRoad(t, pool, road{ext: fmt.Sprintf("h%d_%d", i, j), surface: surfaces[rng.Intn(4)], pts: [][2]float64{node(i, j), node(i+1, j)}}))
			}
			if j+1 < n {
				ids = append(ids, addRoad(t, pool, road{ext: fmt.Sprintf("v%d_%d", i, j), surface: surfaces[rng.Intn(4)], pts: [][2]float64{node(i, j), node(i, j+1)}}))
			}
		}
	}
	for k := 0; k < 30; k++ {
		addVillage(t, pool, village{name: fmt.Sprint("v", k), code: fmt.Sprintf("1301010%02d%03d", 1+k%2, k), pop: 10 + k,
			lon: 110 + rng.Float64()*step*(n-1), lat: 30 + rng.Float64()*step*(n-1)})
	}
	questions := []string{
		"source_filter=hardened&within_m=300&method=network&list=uncovered",
		"source_filter=hardened&within_m=800&method=network&list=uncovered&group_by=township",
		"source_filter=surface:asphalt&within_m=500&method=network&list=uncovered&group_by=none",
	}
	ask := func() []*Result {
		var out []*Result
		for _, q := range questions {
			out = append(out, run(t, pool, Coverage, q))
		}
		return out
	}
	ask() // builds the graph
	// Edges added by a refresh get ids above any a whole rebuild gives
	// (1..count), so the two can be told apart.
	bump := func() {
		mustExec(t, pool, `SELECT setval(pg_get_serial_sequence('lastmile.route_edges', 'id'), 1000000)`)
	}
	bump()
	state := func() (edges, maxID, pending int64) {
		t.Helper()
		var counted, vertices, countedVertices int64
		if err := pool.QueryRow(ctx, `SELECT count(*), coalesce(max(id), 0), (SELECT count(*) FROM lastmile.route_changes),
			(SELECT edges FROM lastmile.route_graph_state), (SELECT vertices FROM lastmile.route_graph_state),
			(SELECT count(*) FROM lastmile.route_vertices) FROM lastmile.route_edges`).
			Scan(&edges, &maxID, &pending, &counted, &vertices, &countedVertices); err != nil {
			t.Fatal(err)
		}
		if counted != edges || vertices != countedVertices {
			t.Errorf("route_graph_state says %d edges, %d vertices; the tables hold %d, %d", counted, vertices, edges, countedVertices)
		}
		return
	}
	for _, edit := range []struct{ name, sql string }{
		{"harden a road", fmt.Sprintf(`UPDATE lastmile.roads SET surface = 'asphalt' WHERE id = %d`, ids[3])},
		{"cancel a road", fmt.Sprintf(`UPDATE lastmile.roads SET status = 'cancelled' WHERE id = %d`, ids[7])},
		{"un-cancel it", fmt.Sprintf(`UPDATE lastmile.roads SET status = 'completed' WHERE id = %d`, ids[7])},
		{"plan roads", fmt.Sprintf(`UPDATE lastmile.roads SET status = 'planned' WHERE id IN (%d, %d, %d)`, ids[10], ids[11], ids[12])},
		{"delete roads", fmt.Sprintf(`DELETE FROM lastmile.roads WHERE id IN (%d, %d)`, ids[20], ids[21])},
		{"move a road off the grid", fmt.Sprintf(`UPDATE lastmile.roads SET geom = ST_Translate(geom, 0.0021, 0.0013) WHERE id = %d`, ids[30])},
		{"add a diagonal to new and old nodes", `INSERT INTO lastmile.roads (surface, geom) VALUES
			('cement', ST_GeomFromText('LINESTRING(110 30, 110.0025 30.0025, 110.005 30.005)', 4326)),
			('earth', ST_GeomFromText('LINESTRING(110.025 30.025, 110.03 30.03)', 4326))`},
		{"make a road a multilinestring", fmt.Sprintf(`UPDATE lastmile.roads SET geom = ST_Multi(ST_Union(geom, ST_GeomFromText('LINESTRING(110.02 30, 110.02 29.995)', 4326))) WHERE id = %d`, ids[40])},
		{"two statements in one transaction", fmt.Sprintf(`BEGIN; UPDATE lastmile.roads SET surface = 'earth' WHERE id = %d; DELETE FROM lastmile.roads WHERE id = %d; COMMIT`, ids[1], ids[2])},
	} {
		mustExec(t, pool, edit.sql)
		incremental := ask()
		edges, maxID, pending := state()
		if pending != 0 {
			t.Fatalf("%s: %d logged changes left", edit.name, pending)
		}
		if maxID == edges {
			t.Errorf("%s: edge ids 1..%d: the graph was rebuilt whole, not refreshed", edit.name, edges)
		}
		mustExec(t, pool, `SELECT lastmile.route_graph_rebuild(true)`)
		full := ask()
		bump()
		if fullEdges, _, _ := state(); fullEdges != edges {
			t.Errorf("%s: %d edges refreshed, %d rebuilt", edit.name, edges, fullEdges)
		}
		for i := range full {
			if !reflect.DeepEqual(incremental[i].Groups, full[i].Groups) || !reflect.DeepEqual(incremental[i].Uncovered, full[i].Uncovered) {
				t.Fatalf("%s, %s:\nrefreshed %v\n%v\nrebuilt   %v\n%v", edit.name, questions[i],
					incremental[i].Groups, incremental[i].Uncovered, full[i].Groups, full[i].Uncovered)
			}
		}
	}
	// A bulk statement (over 50 000 roads) or a TRUNCATE is not logged id by
	// id: the next refresh rebuilds whole.
	mustExec(t, pool, `TRUNCATE lastmile.roads`)
	mustExec(t, pool, `INSERT INTO lastmile.roads (surface, geom) VALUES ('cement', ST_GeomFromText('LINESTRING(110 30, 110.01 30)', 4326))`)
	ask()
	if edges, maxID, pending := state(); edges != 1 || maxID != 1 || pending != 0 {
		t.Errorf("after TRUNCATE: %d edges (max id %d), %d pending; want one edge, rebuilt whole", edges, maxID, pending)
	}
}

// TestBulkWriteNotLogged: a statement writing more than 50 000 roads is not
// logged id by id; it asks for whole rebuilds of village_access and the
// routing graph instead, and they give the right answers.
func TestBulkWriteNotLogged(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	addRoad(t, pool, road{ext: "A", surface: "cement", pts: [][2]float64{{110, 30}, {110, 30.01}}})
	addVillage(t, pool, village{name: "V1", code: "130101001001", pop: 10, lon: 110.02, lat: 30.005})
	if err := Refresh(ctx, pool); err != nil {
		t.Fatal(err)
	}
	// 50 001 short cement roads in one statement, one of them beside V1
	mustExec(t, pool, `INSERT INTO lastmile.roads (ext_id, surface, geom)
		SELECT 'b' || i, 'cement', ST_SetSRID(ST_MakeLine(ST_MakePoint(100 + (i % 200) * 0.01, 20 + (i / 200) * 0.01),
			ST_MakePoint(100.001 + (i % 200) * 0.01, 20 + (i / 200) * 0.01)), 4326)
		FROM generate_series(1, 50000) i
		UNION ALL SELECT 'near', 'cement', ST_GeomFromText('LINESTRING(110.02 30.006, 110.021 30.006)', 4326)`)
	var built bool
	var accessLog, routeLog int
	var whole bool
	if err := pool.QueryRow(ctx, `SELECT a.built, (SELECT count(*) FROM lastmile.access_changes), (SELECT count(*) FROM lastmile.route_changes),
		g.full_generation > g.built_generation FROM lastmile.access_state a, lastmile.route_graph_state g`).Scan(&built, &accessLog, &routeLog, &whole); err != nil {
		t.Fatal(err)
	}
	if built || accessLog != 0 || routeLog != 0 || !whole {
		t.Fatalf("after a bulk insert: village_access built %v, %d + %d ids logged, whole graph rebuild asked %v", built, accessLog, routeLog, whole)
	}
	// the network question starts from 100 002 vertices: one search
	for _, q := range []string{"source_filter=hardened&within_m=200", "source_filter=hardened&within_m=200&method=network"} {
		if res := run(t, pool, Coverage, q); res.Total["covered"] != int64(1) {
			t.Errorf("%s after the bulk insert: %v, want V1 covered", q, res.Total)
		}
	}
	if err := Refresh(ctx, pool); err != nil {
		t.Fatal(err)
	}
	var edges, maxID int64
	if err := pool.QueryRow(ctx, `SELECT count(*), max(id) FROM lastmile.route_edges`).Scan(&edges, &maxID); err != nil || edges != 50002 || maxID != edges {
		t.Errorf("routing graph after the bulk insert: %d edges, ids up to %d (%v); want 50 002 rebuilt whole", edges, maxID, err)
	}
}
