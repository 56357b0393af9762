package stats

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/ingest"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

const osmExtract = "../../shared/data/osm/liechtenstein-2013-08-03.osm.pbf"

// importOSM loads the Liechtenstein extract (every layer the OSM reader
// maps).
func importOSM(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := pgtest.New(t)
	r, err := ingest.NewOSMReader(osmExtract, nil)
	if err != nil {
		t.Fatalf("%v (the extract is fetched by scripts/setup)", err)
	}
	if rep, err := ingest.NewImporter(pool, layer.Default(), nil).Import(context.Background(), []ingest.Job{{Source: osmExtract, Reader: r}}, ingest.Options{Actor: "test"}); err != nil {
		t.Fatalf("%v %+v", err, rep)
	}
	return pool
}

// TestNetworkOSMExtract: real OpenStreetMap data, where streets join
// primary roads at interior vertices. Villages within 0.5 / 1 / 2 / 3 km
// along the network of a primary road (tech_grade class2): every
// village's distance equals the reference computation.
func TestNetworkOSMExtract(t *testing.T) {
	pool := importOSM(t)
	ref := refDistances(t, pool, asOfPredicate(""), asOfPredicate("")+" AND r.tech_grade = 'class2'")
	compareReference(t, pool, "source_filter=tech_grade:class2&within_m=0&method=network&list=uncovered&group_by=none", ref)
	var edges, vertices int64
	if err := pool.QueryRow(context.Background(), `SELECT edges, vertices FROM lastmile.route_graph_state`).Scan(&edges, &vertices); err != nil {
		t.Fatal(err)
	}
	for _, within := range []int{500, 1000, 2000, 3000} {
		n := 0
		for _, d := range ref {
			if !math.IsNaN(d) && d <= float64(within) {
				n++
			}
		}
		q := fmt.Sprintf("source_filter=tech_grade:class2&within_m=%d&method=network&group_by=none", within)
		res := run(t, pool, Coverage, q)
		straight := run(t, pool, Coverage, fmt.Sprintf("source_filter=tech_grade:class2&within_m=%d&group_by=none", within))
		if res.Total["covered"] != int64(n) {
			t.Errorf("%s: %v covered, reference %d", q, res.Total["covered"], n)
		}
		if n == 0 {
			t.Errorf("within %d m: no village reached along the network", within)
		}
		t.Logf("villages within %d m of a primary road: network %v of %v, straight line %v (graph %d edges, %d vertices)",
			within, res.Total["covered"], res.Total["total"], straight.Total["covered"], edges, vertices)
	}
}

// TestNetworkReportOSM: the component report of the extract's graph
// equals the reference noding's components (count, km of the largest and
// in all); the dangling ends listed lie within gap_m of another road.
func TestNetworkReportOSM(t *testing.T) {
	pool := importOSM(t)
	res := run(t, pool, NetworkReport, "source_filter=tech_grade:class2")
	comps := refBuild(t, pool, asOfPredicate(""), "false").refComponents()
	total := 0.0
	for _, k := range comps {
		total += k
	}
	if res.Total["components"] != int64(len(comps)) || math.Abs(num(res.Total["km"])-total) > 0.01 || math.Abs(num(res.Total["largest_km"])-comps[0]) > 0.01 {
		t.Errorf("report %v; reference %d components, %.2f km, largest %.2f km", res.Total, len(comps), total, comps[0])
	}
	var villages int64
	for _, g := range res.Groups {
		villages += g["villages"].(int64)
	}
	if villages != res.Total["villages"] {
		t.Errorf("villages in components %d, total %v", villages, res.Total["villages"])
	}
	t.Logf("components: %v; largest: %v", res.Total, res.Groups[:3])
	dangling := run(t, pool, NetworkReport, "gap_m=5&list=dangling")
	for _, d := range dangling.Uncovered {
		var gap float64
		if err := pool.QueryRow(context.Background(), `SELECT min(ST_Distance(r.geom::geography, ST_MakePoint($1, $2)::geography))
			FROM lastmile.roads r WHERE r.id <> $3 AND r.status = 'completed'`, d["lon"], d["lat"], d["road_id"]).Scan(&gap); err != nil {
			t.Fatal(err)
		}
		if gap > 5 || math.Abs(gap-num(d["gap_m"])) > 0.01 {
			t.Errorf("dangling end %v: nearest other road %.3f m", d, gap)
		}
	}
	unconnected := run(t, pool, NetworkReport, "source_filter=tech_grade:class2&list=unconnected")
	t.Logf("dangling ends within 5 m of another road: %d (first %v); villages unconnected to a primary road: %d %v",
		len(dangling.Uncovered), dangling.Uncovered[:min(3, len(dangling.Uncovered))], len(unconnected.Uncovered), unconnected.Uncovered)
}
