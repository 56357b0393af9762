package stats

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/postgis/pgtest"
)

// graphEdges returns the routing graph as comparable text, one line per
// edge: road, end points (rounded) and geometry; plus the edges per road.
func graphEdges(t *testing.T, pool *pgxpool.Pool) ([]string, map[int64]int) {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT e.road_id, format('%s %s-%s %s %s %s', e.road_id, vs.x, vs.y, vt.x, vt.y, ST_AsText(e.geom))
		FROM lastmile.route_edges e JOIN lastmile.route_vertices vs ON vs.id = e.source JOIN lastmile.route_vertices vt ON vt.id = e.target
		ORDER BY 2`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	per := map[int64]int{}
	for rows.Next() {
		var id int64
		var s string
		if err := rows.Scan(&id, &s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
		per[id]++
	}
	return out, per
}

// components returns, per road, a component label (the smallest road id
// of its connected component) computed in Go from the edges' end points.
func components(t *testing.T, pool *pgxpool.Pool) map[int64]int64 {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT road_id, source, target FROM lastmile.route_edges`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if p, ok := parent[x]; ok && p != x {
			r := find(p)
			parent[x] = r
			return r
		}
		parent[x] = x
		return x
	}
	union := func(a, b string) { parent[find(a)] = find(b) }
	var roads []int64
	for rows.Next() {
		var r, s, tg int64
		if err := rows.Scan(&r, &s, &tg); err != nil {
			t.Fatal(err)
		}
		rk := fmt.Sprint("r", r)
		union(rk, fmt.Sprint("v", s))
		union(rk, fmt.Sprint("v", tg))
		roads = append(roads, r)
	}
	minOf := map[string]int64{}
	for _, r := range roads {
		c := find(fmt.Sprint("r", r))
		if m, ok := minOf[c]; !ok || r < m {
			minOf[c] = r
		}
	}
	out := map[int64]int64{}
	for _, r := range roads {
		out[r] = minOf[find(fmt.Sprint("r", r))]
	}
	return out
}

// TestNetworkNoding builds the graph of hand-made fixtures: a T-junction at
// an interior vertex, a crossing without a shared vertex, a road touching
// itself, near misses within and beyond the node tolerance, and edits that
// split and re-join another road (refreshed incrementally, equal to a
// whole rebuild).
func TestNetworkNoding(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	// A runs east along 30°N with interior vertices every 0.005°.
	a := addRoad(t, pool, road{ext: "A", surface: "asphalt", pts: [][2]float64{{110, 30}, {110.005, 30}, {110.01, 30}, {110.015, 30}, {110.02, 30}}})
	// B starts at A's interior vertex 110.01: a T-junction.
	b := addRoad(t, pool, road{ext: "B", surface: "earth", pts: [][2]float64{{110.01, 30}, {110.01, 30.01}}})
	// C crosses A between vertices (a bridge): no shared vertex.
	c := addRoad(t, pool, road{ext: "C", surface: "earth", pts: [][2]float64{{110.0125, 29.995}, {110.0125, 30.005}}})
	// D touches itself at (110.04, 30.02): out, a loop back to that vertex, on.
	d := addRoad(t, pool, road{ext: "D", surface: "earth", pts: [][2]float64{{110.03, 30.02}, {110.04, 30.02}, {110.04, 30.03}, {110.035, 30.03}, {110.04, 30.02}, {110.05, 30.02}}})
	// E stops 2 m short of A (south end, between A's vertices), F 8 m short.
	eLat, _ := vincentyDirect(30, 110.0025, 0, 2)
	fLat, _ := vincentyDirect(30, 110.0175, 0, 8)
	e := addRoad(t, pool, road{ext: "E", surface: "earth", pts: [][2]float64{{110.0025, eLat}, {110.0025, 30.01}}})
	f := addRoad(t, pool, road{ext: "F", surface: "earth", pts: [][2]float64{{110.0175, fLat}, {110.0175, 30.01}}})
	// a village at B's far end, 1.1 km north of A along B
	addVillage(t, pool, village{name: "VB", code: "130101001001", pop: 10, lon: 110.0101, lat: 30.0101})

	if err := Refresh(ctx, pool); err != nil {
		t.Fatal(err)
	}
	_, per := graphEdges(t, pool)
	want := map[int64]int{a: 2, b: 1, c: 1, d: 3, e: 1, f: 1}
	if !reflect.DeepEqual(per, want) {
		t.Errorf("edges per road %v, want %v (A split at B's junction only, D at the vertex it touches)", per, want)
	}
	comp := components(t, pool)
	if comp[b] != comp[a] || comp[c] == comp[a] || comp[e] == comp[a] || comp[f] == comp[a] {
		t.Errorf("components %v: want B joined to A; C (crossing), E, F (near misses, tolerance 0) apart", comp)
	}
	res := run(t, pool, Coverage, "source_filter=surface:asphalt&within_m=1200&method=network&list=uncovered")
	if res.Total["covered"] != int64(1) {
		t.Errorf("village at the end of B (T-junction at A's interior vertex): %v, want covered", res.Uncovered)
	}

	// Node tolerance 5 m: E is joined to A (A gains a vertex there), F not.
	mustExec(t, pool, `SELECT lastmile.route_graph_set_tolerance(5)`)
	if err := Refresh(ctx, pool); err != nil {
		t.Fatal(err)
	}
	_, per = graphEdges(t, pool)
	want = map[int64]int{a: 3, b: 1, c: 1, d: 3, e: 1, f: 1}
	if !reflect.DeepEqual(per, want) {
		t.Errorf("tolerance 5 m: edges per road %v, want %v", per, want)
	}
	comp = components(t, pool)
	if comp[e] != comp[a] || comp[f] == comp[a] {
		t.Errorf("tolerance 5 m: components %v, want E joined (2 m), F apart (8 m)", comp)
	}
	var joins int64
	var tol float64
	if err := pool.QueryRow(ctx, `SELECT tolerance_joins, node_tolerance_m FROM lastmile.route_graph_state`).Scan(&joins, &tol); err != nil || joins != 1 || tol != 5 {
		t.Errorf("tolerance_joins %d at %v m (%v), want 1 at 5 m", joins, tol, err)
	}
	// E's edge now includes the 2 m connector.
	var eCost float64
	if err := pool.QueryRow(ctx, `SELECT cost - ST_Length(r.geom::geography) FROM lastmile.route_edges e JOIN lastmile.roads r ON r.id = e.road_id WHERE r.id = $1`, e).Scan(&eCost); err != nil || eCost < 1.99 || eCost > 2.01 {
		t.Errorf("E's edge is %v m longer than E (%v), want the 2 m connector", eCost, err)
	}
	mustExec(t, pool, `SELECT lastmile.route_graph_set_tolerance(0)`)
	if err := Refresh(ctx, pool); err != nil {
		t.Fatal(err)
	}

	// Edits refreshed incrementally equal a whole rebuild.
	mustExec(t, pool, `SELECT setval(pg_get_serial_sequence('lastmile.route_edges', 'id'), 1000000)`)
	for _, edit := range []struct {
		name string
		sql  string
		want map[int64]int // edges per road after, for the named roads
	}{
		{"a new road ending at A's vertex 110.005 splits A", `INSERT INTO lastmile.roads (ext_id, surface, geom) VALUES ('G', 'earth', ST_GeomFromText('LINESTRING(110.005 29.99, 110.005 30)', 4326))`, map[int64]int{a: 3}},
		{"a new road through A's vertex 110.015 (interior on both) splits A and itself", `INSERT INTO lastmile.roads (ext_id, surface, geom) VALUES ('H', 'earth', ST_GeomFromText('LINESTRING(110.015 29.99, 110.015 30, 110.015 30.01)', 4326))`, map[int64]int{a: 4}},
		{"moving B off A joins A's two edges at 110.01", fmt.Sprintf(`UPDATE lastmile.roads SET geom = ST_Translate(geom, 0, 0.001) WHERE id = %d`, b), map[int64]int{a: 3, b: 1}},
		{"cancelling G joins A at 110.005", `UPDATE lastmile.roads SET status = 'cancelled' WHERE ext_id = 'G'`, map[int64]int{a: 2}},
		{"deleting H leaves A whole", `DELETE FROM lastmile.roads WHERE ext_id = 'H'`, map[int64]int{a: 1}},
		{"a road with a vertex on D's loop splits the loop", `INSERT INTO lastmile.roads (ext_id, surface, geom) VALUES ('K', 'earth', ST_GeomFromText('LINESTRING(110.04 30.04, 110.04 30.03)', 4326))`, map[int64]int{d: 4}},
	} {
		mustExec(t, pool, edit.sql)
		if err := Refresh(ctx, pool); err != nil {
			t.Fatal(err)
		}
		refreshed, per := graphEdges(t, pool)
		var maxID, count int64
		if err := pool.QueryRow(ctx, `SELECT max(id), count(*) FROM lastmile.route_edges`).Scan(&maxID, &count); err != nil {
			t.Fatal(err)
		}
		if maxID == count {
			t.Errorf("%s: rebuilt whole, not refreshed", edit.name)
		}
		for r, n := range edit.want {
			if per[r] != n {
				t.Errorf("%s: road %d has %d edges, want %d", edit.name, r, per[r], n)
			}
		}
		mustExec(t, pool, `SELECT lastmile.route_graph_rebuild(true)`)
		rebuilt, _ := graphEdges(t, pool)
		if strings.Join(refreshed, "\n") != strings.Join(rebuilt, "\n") {
			t.Errorf("%s: refreshed graph\n%s\nrebuilt\n%s", edit.name, strings.Join(refreshed, "\n"), strings.Join(rebuilt, "\n"))
		}
		mustExec(t, pool, `SELECT setval(pg_get_serial_sequence('lastmile.route_edges', 'id'), 1000000)`)
	}
}

// TestNetworkReportFixtures: components, dangling ends and unconnected
// villages on hand-made roads (gaps are measured from the vertex as the
// graph holds it, rounded to 1e-7°: within 2 cm).
func TestNetworkReportFixtures(t *testing.T) {
	pool := pgtest.New(t)
	addRoad(t, pool, road{ext: "A", surface: "asphalt", pts: [][2]float64{{110, 30}, {110.005, 30}, {110.01, 30}}})
	addRoad(t, pool, road{ext: "B", surface: "earth", pts: [][2]float64{{110.005, 30}, {110.005, 30.01}}})
	eLat, _ := vincentyDirect(30, 110.0025, 0, 2)
	fLat, _ := vincentyDirect(30, 110.0075, 0, 8)
	addRoad(t, pool, road{ext: "E", surface: "earth", pts: [][2]float64{{110.0025, eLat}, {110.0025, 30.01}}})
	addRoad(t, pool, road{ext: "F", surface: "earth", pts: [][2]float64{{110.0075, fLat}, {110.0075, 30.01}}})
	addVillage(t, pool, village{name: "onB", code: "130101001001", lon: 110.0051, lat: 30.008})
	addVillage(t, pool, village{name: "onE", code: "130101001002", lon: 110.0024, lat: 30.008})
	res := run(t, pool, NetworkReport, "source_filter=hardened")
	if res.Total["components"] != int64(3) || res.Total["unconnected_villages"] != int64(1) || res.Total["dangling_ends"] != int64(1) {
		t.Errorf("report %v, want 3 components, 1 unconnected village (onE), 1 dangling end within 5 m (E's)", res.Total)
	}
	if g := res.Groups[0]; g["edges"] != int64(3) || g["villages"] != int64(1) || g["qualifying"] != true {
		t.Errorf("largest component %v, want A (2 edges) + B, with village onB, qualifying", g)
	}
	d := run(t, pool, NetworkReport, "gap_m=10&list=dangling")
	if len(d.Uncovered) != 2 || math.Abs(num(d.Uncovered[0]["gap_m"])-2) > 0.02 || math.Abs(num(d.Uncovered[1]["gap_m"])-8) > 0.02 {
		t.Errorf("dangling within 10 m: %v, want E's (2 m) and F's (8 m)", d.Uncovered)
	}
	u := run(t, pool, NetworkReport, "source_filter=hardened&list=unconnected")
	if len(u.Uncovered) != 1 || u.Uncovered[0]["name"] != "onE" {
		t.Errorf("unconnected %v, want onE", u.Uncovered)
	}
}
