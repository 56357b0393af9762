package stats

import (
	"context"
	"os/exec"
	"testing"

	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// TestNationalGeneratorSmoke runs the national benchmark's generator
// (bench/national.sql) at a small scale and checks that it makes a road
// network, not isolated segments: roads split at interior vertices, most
// junctions of degree 3 or 4, one large component and some islands, and
// near-miss gaps the quality report finds; and that the network answers on
// it equal the reference Dijkstra (network_ref_test.go).
func TestNationalGeneratorSmoke(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Fatalf("psql not found (install it with scripts/setup): %v", err)
	}
	url := pgtest.URL(t)
	out, err := exec.Command(psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", "villages=60", "-v", "segments=10000",
		"-d", url, "-f", "../bench/national.sql").CombinedOutput()
	if err != nil {
		t.Fatalf("bench/national.sql: %v\n%s", err, out)
	}
	pool, err := postgis.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ctx := context.Background()
	mustExec(t, pool, `SELECT lastmile.route_graph_rebuild(true)`)
	var roads, edges, vertices, junctions int64
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM lastmile.roads), (SELECT count(*) FROM lastmile.route_edges),
		(SELECT count(*) FROM lastmile.route_vertices),
		(SELECT count(*) FROM (SELECT v FROM (SELECT source AS v FROM lastmile.route_edges UNION ALL SELECT target FROM lastmile.route_edges) x
		 GROUP BY v HAVING count(*) >= 3) j)`).Scan(&roads, &edges, &vertices, &junctions); err != nil {
		t.Fatal(err)
	}
	if edges < 6000 || edges > 14000 || edges < 5*roads || junctions*2 < vertices {
		t.Errorf("%d roads, %d edges, %d vertices (%d of degree ≥ 3): want about 10 000 edges, roads split at interior vertices (≥ 5 edges a road), most vertices junctions",
			roads, edges, vertices, junctions)
	}
	rep := run(t, pool, NetworkReport, "source_filter=graded&gap_m=5")
	largest := rep.Groups[0]["edges"].(int64)
	if comps := rep.Total["components"].(int64); comps < 2 || largest*2 < edges {
		t.Errorf("%d components, the largest with %d of %d edges: want one large component and some islands", comps, largest, edges)
	}
	if d := rep.Total["dangling_ends"].(int64); d == 0 {
		t.Errorf("no dangling end within 5 m: the generator's near-miss gaps are missing")
	}
	ref := refDistances(t, pool, asOfPredicate(""), asOfPredicate("")+" AND r.tech_grade IN ('expressway', 'class1', 'class2', 'class3', 'class4')")
	compareReference(t, pool, "source_filter=graded&within_m=0&method=network&list=uncovered&group_by=none", ref)
	t.Logf("generator at 10 000 segments: %d roads, %d edges, %d vertices (%d junctions of degree ≥ 3), %v components (largest %d edges), %v dangling ends within 5 m",
		roads, edges, vertices, junctions, rep.Total["components"], largest, rep.Total["dangling_ends"])
	// the whole build in Go and the villages snapped in memory equal the SQL's
	checkGoBuild(t, pool, "national generator")
}
