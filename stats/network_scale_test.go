package stats

import (
	"context"
	"math"
	"net/url"
	"testing"
	"time"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// TestNetworkSearchEqualsPgRouting: on a 100 000-edge graph (a jittered
// 225 × 225 grid of long roads meeting at interior vertices, some roads
// planned, some earth), the in-memory search gives every vertex the
// distance pgRouting's pgr_drivingDistance gives it (one search from a
// virtual vertex joined to every start, no cut-off), and a network
// question answers (timed in the log; speed targets live in make bench).
func TestNetworkSearchEqualsPgRouting(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	mustExec(t, pool, `
		CREATE TEMP TABLE n AS
		SELECT i, j, 110 + i * 0.002 + ((i * 7919 + j * 104729) % 1000 - 500) * 0.0000008 AS x,
		       30 + j * 0.002 + ((i * 104723 + j * 7907) % 1000 - 500) * 0.0000008 AS y
		FROM generate_series(0, 224) i, generate_series(0, 224) j;
		INSERT INTO lastmile.roads (ext_id, status, surface, tech_grade, geom)
		SELECT 'r' || k || '_' || line,
		       CASE WHEN (k * 31 + line) % 17 = 0 THEN 'planned' ELSE 'completed' END,
		       CASE WHEN (k * 13 + line) % 11 = 0 THEN 'asphalt' ELSE 'earth' END, 'class4',
		       ST_SetSRID(ST_MakeLine(array_agg(ST_MakePoint(x, y) ORDER BY pos)), 4326)
		FROM (SELECT 0 AS k, j AS line, i AS pos, x, y FROM n UNION ALL SELECT 1, i, j, x, y FROM n) s
		GROUP BY k, line;
		INSERT INTO lastmile.villages (name, code, admin_code, population, geom)
		SELECT 'v' || g, '130101001001', '130101001001', 10,
		       ST_SetSRID(ST_MakePoint(110 + (g * 7919 % 10007) / 10007.0 * 0.448, 30 + (g * 104729 % 10009) / 10009.0 * 0.448), 4326)
		FROM generate_series(1, 500) g`)
	start := time.Now()
	mustExec(t, pool, `SELECT lastmile.route_graph_rebuild()`)
	build := time.Since(start)
	var edges int64
	if err := pool.QueryRow(ctx, `SELECT edges FROM lastmile.route_graph_state`).Scan(&edges); err != nil || edges != 2*225*224 {
		t.Fatalf("%d edges (%v), want %d", edges, err, 2*225*224)
	}
	v, _ := url.ParseQuery("source_filter=hardened&within_m=1000&method=network&list=uncovered")
	req, err := parseCoverage(layer.Default(), v, nil)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	g, err := loadGraph(ctx, pool, nil, false, "")
	if err != nil {
		t.Fatal(err)
	}
	load := time.Since(start)
	starts, err := req.starts(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	dist, err := g.distances(ctx, starts)
	if err != nil {
		t.Fatal(err)
	}
	search := time.Since(start)
	rows, err := pool.Query(ctx, `SELECT node, agg_cost FROM pgr_drivingDistance(
		format('SELECT e.id, e.source, e.target, e.cost, e.cost AS reverse_cost FROM lastmile.route_edges e WHERE e.status = ''completed''
		        UNION ALL SELECT -s.i, 0, s.v, 0, 0 FROM unnest(%L::bigint[]) WITH ORDINALITY s(v, i)', $1::bigint[]),
		0, 1e12, directed => false) WHERE node <> 0`, starts)
	if err != nil {
		t.Fatal(err)
	}
	reached := 0
	for rows.Next() {
		var node int64
		var agg float64
		if err := rows.Scan(&node, &agg); err != nil {
			t.Fatal(err)
		}
		reached++
		if math.Abs(dist[node]-agg) > 1e-6 {
			t.Fatalf("vertex %d: %v, pgRouting %v", node, dist[node], agg)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	finite := 0
	for _, d := range dist {
		if !math.IsInf(d, 1) {
			finite++
		}
	}
	if finite != reached || reached < 40000 {
		t.Errorf("%d vertices reached, pgRouting %d", finite, reached)
	}
	start = time.Now()
	res := run(t, pool, Coverage, "source_filter=hardened&within_m=1000&method=network&list=uncovered")
	t.Logf("%d edges: graph build %s, load %s, search %s (%d vertices reached, equal to pgRouting); whole question %s: %v of %v covered",
		edges, build.Round(time.Millisecond), load.Round(time.Millisecond), search.Round(time.Millisecond), reached,
		time.Since(start).Round(time.Millisecond), res.Total["covered"], res.Total["total"])
}
