package stats

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/postgis/pgtest"
)

// TestNetworkPackAndSnaps: the packed graph (route_pack) and the
// precomputed village snaps (village_snap), kept current incrementally
// after road and village edits, answer every network question exactly as
// the edges read as rows and the villages snapped per question do; and
// after each edit village_snap equals a snap of every village made from
// scratch (so the maintenance missed no village), without a whole re-snap.
func TestNetworkPackAndSnaps(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	ids, node := gridNetwork(t, pool)
	questions := []string{
		"source_filter=hardened&within_m=400&method=network&list=uncovered",
		"source_filter=surface:asphalt&within_m=700&method=network&list=uncovered&group_by=township",
		"source_filter=hardened&within_min=2&metric=time&method=network&list=uncovered&group_by=none",
		"source_filter=hardened&within_m=400&method=network&list=uncovered&as_of=" + time.Now().Format(time.DateOnly),
		// answered from the village measures kept beside the searches above
		// (netfast.go) when asked again: other distances, groups, a target filter
		"source_filter=hardened&within_m=300&method=network&group_by=township",
		"source_filter=hardened&within_min=1.5&metric=time&method=network&group_by=county",
		"source_filter=surface:asphalt&within_m=700&method=network&target_filter=population>30",
	}
	const definitions = 4 // distinct searches among the questions
	ask := func(packed bool) []*Result { return askCoverage(t, pool, packed, questions) }
	epoch := func() (e int64) {
		if err := pool.QueryRow(ctx, `SELECT epoch FROM lastmile.route_cache_state`).Scan(&e); err != nil {
			t.Fatal(err)
		}
		return
	}
	check := func(name string) {
		t.Helper()
		packed := ask(true)
		var current bool
		var kept int
		if err := pool.QueryRow(ctx, `SELECT `+snapsCurrentSQL+`, (SELECT count(*) FROM lastmile.route_search_cache
			WHERE version = (SELECT version FROM lastmile.route_cache_state))`).Scan(&current, &kept); err != nil || !current || kept != definitions {
			t.Fatalf("%s: pack and snaps current %v, %d searches kept of this version (%v); want current, %d", name, current, kept, err, definitions)
		}
		fast, fastGo := fastNetworkAnswers.Load(), fastNetworkGoAnswers.Load()
		again := ask(true) // from the kept searches
		if n, nGo := fastNetworkAnswers.Load()-fast, fastNetworkGoAnswers.Load()-fastGo; n != 1 || nGo != 2 {
			t.Errorf("%s: %d answers from the kept village measures summed in SQL, %d in Go; want 1 and 2", name, n, nGo)
		}
		rows := ask(false)
		for i := range rows {
			if !reflect.DeepEqual(packed[i].Groups, rows[i].Groups) || !reflect.DeepEqual(packed[i].Uncovered, rows[i].Uncovered) ||
				!reflect.DeepEqual(again[i].Groups, rows[i].Groups) || !reflect.DeepEqual(again[i].Uncovered, rows[i].Uncovered) {
				t.Fatalf("%s, %s:\npacked %v\n%v\nkept   %v\n%v\nrows   %v\n%v", name, questions[i],
					packed[i].Groups, packed[i].Uncovered, again[i].Groups, again[i].Uncovered, rows[i].Groups, rows[i].Uncovered)
			}
		}
		// the kept snaps against every village snapped now
		fresh, err := snapVillages(ctx, pool, nil)
		if err != nil {
			t.Fatal(err)
		}
		keptSnaps := map[int64]villageSnap{}
		r, err := pool.Query(ctx, `SELECT village_id, coalesce(edge_id, 0), coalesce(along, 0), coalesce(dist, 0),
			coalesce(source, 0), coalesce(target, 0), coalesce(road_id, 0), coalesce(cost, 0) FROM lastmile.village_snap`)
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			var s villageSnap
			if err := r.Scan(&s.village, &s.edge, &s.along, &s.dist, &s.source, &s.target, &s.road, &s.cost); err != nil {
				t.Fatal(err)
			}
			keptSnaps[s.village] = s
		}
		if len(keptSnaps) != len(fresh) {
			t.Fatalf("%s: %d snaps kept, %d villages", name, len(keptSnaps), len(fresh))
		}
		for _, f := range fresh {
			k := keptSnaps[f.village]
			if k.edge != f.edge || k.source != f.source || k.target != f.target || k.road != f.road || k.cost != f.cost || math.Abs(k.along-f.along) > 1e-9 || math.Abs(k.dist-f.dist) > 1e-9 {
				t.Fatalf("%s: village %d kept %+v, snapped now %+v", name, f.village, k, f)
			}
		}
	}
	check("first question")
	// the answers are not vacuous: some covered, some not, some far
	res := ask(true)[0]
	if c, tot := res.Total["covered"].(int64), res.Total["total"].(int64); c == 0 || c == tot {
		t.Fatalf("%d of %d covered: the fixture does not discriminate", c, tot)
	}
	e0 := epoch()
	for _, edit := range gridEdits(ids, node) {
		mustExec(t, pool, edit.sql)
		check(edit.name)
		if e := epoch(); e != e0 {
			t.Fatalf("%s: the graph was rebuilt whole (epoch %d → %d), not refreshed", edit.name, e0, e)
		}
	}
	// a whole rebuild restarts the edge ids: the snaps are redone whole
	mustExec(t, pool, `SELECT lastmile.route_graph_rebuild(true)`)
	check("whole rebuild")
	if e := epoch(); e == e0 {
		t.Errorf("whole rebuild: epoch still %d", e)
	}
	// villages truncated and loaded again
	mustExec(t, pool, `CREATE TEMP TABLE vs AS SELECT * FROM lastmile.villages;
		TRUNCATE lastmile.villages CASCADE;
		INSERT INTO lastmile.villages (id, name, code, admin_code, population, poor_households, geom)
		OVERRIDING SYSTEM VALUE SELECT id, name, code, admin_code, population, poor_households, geom FROM vs`)
	check("villages reloaded")
}

// gridNetwork loads an 8×8 grid of long roads meeting at interior vertices,
// 0.004° apart, and 40 villages in and around it; it returns the roads' ids
// and the grid's nodes.
func gridNetwork(t *testing.T, pool *pgxpool.Pool) ([]int64, func(i, j int) [2]float64) {
	t.Helper()
	rng := rand.New(rand.NewSource(14))
	surfaces := []string{"earth", "gravel", "cement", "asphalt"}
	const n, step = 8, 0.004
	node := func(i, j int) [2]float64 { return [2]float64{110 + float64(i)*step, 30 + float64(j)*step} }
	var ids []int64
	for k := 0; k < n; k++ {
		var row, col [][2]float64
		for m := 0; m < n; m++ {
			row, col = append(row, node(m, k)), append(col, node(k, m))
		}
		ids = append(ids, addRoad(t, pool, road{ext: fmt.Sprint("r", k), surface: surfaces[rng.Intn(4)], pts: row}),
			addRoad(t, pool, road{ext: fmt.Sprint("c", k), surface: surfaces[rng.Intn(4)], pts: col}))
	}
	for k := 0; k < 40; k++ {
		addVillage(t, pool, village{name: fmt.Sprint("v", k), code: fmt.Sprintf("1301010%02d%03d", 1+k%2, k), pop: 10 + k,
			lon: 109.995 + rng.Float64()*step*(n+2), lat: 29.995 + rng.Float64()*step*(n+2)})
	}
	return ids, node
}

// dataEdit is a change to the data, in SQL.
type dataEdit struct{ name, sql string }

// gridEdits are the edits of gridNetwork's roads and villages a kept
// network answer must follow: every kind of road and village change.
func gridEdits(ids []int64, node func(i, j int) [2]float64) []dataEdit {
	return []dataEdit{
		{"harden a road", fmt.Sprintf(`UPDATE lastmile.roads SET surface = 'asphalt' WHERE id = %d`, ids[3])},
		{"plan a road (its edges stop being traversable)", fmt.Sprintf(`UPDATE lastmile.roads SET status = 'planned' WHERE id = %d`, ids[4])},
		{"complete it again", fmt.Sprintf(`UPDATE lastmile.roads SET status = 'completed' WHERE id = %d`, ids[4])},
		{"delete a road", fmt.Sprintf(`DELETE FROM lastmile.roads WHERE id = %d`, ids[6])},
		{"move a road", fmt.Sprintf(`UPDATE lastmile.roads SET geom = ST_Translate(geom, 0.0011, 0.0017) WHERE id = %d`, ids[9])},
		{"a road splitting two others at their interior vertices", fmt.Sprintf(`INSERT INTO lastmile.roads (surface, geom) VALUES
			('cement', ST_GeomFromText('LINESTRING(%f %f, %f %f, %f %f)', 4326))`,
			node(2, 2)[0], node(2, 2)[1], node(3, 3)[0], node(3, 3)[1], node(5, 3)[0], node(5, 3)[1])},
		{"a road out where villages had none near", `INSERT INTO lastmile.roads (surface, geom) VALUES
			('asphalt', ST_GeomFromText('LINESTRING(109.995 29.995, 109.999 30.0, 110.0 30.0)', 4326))`},
		{"add a village", `INSERT INTO lastmile.villages (name, code, admin_code, population, geom)
			VALUES ('new', '130101001999', '130101001999', 5, ST_SetSRID(ST_MakePoint(110.0131, 30.0077), 4326))`},
		{"move a village", `UPDATE lastmile.villages SET geom = ST_SetSRID(ST_MakePoint(110.0213, 30.0029), 4326) WHERE name = 'v3'`},
		{"rename a village (no re-snap needed)", `UPDATE lastmile.villages SET name = 'v4b' WHERE name = 'v4'`},
		{"delete a village", `DELETE FROM lastmile.villages WHERE name = 'v5'`},
	}
}

// askCoverage asks each coverage question, from the pack and the kept
// snaps and searches (packed) or from the edges read as rows and the
// villages snapped per question.
func askCoverage(t *testing.T, pool *pgxpool.Pool, packed bool, questions []string) []*Result {
	t.Helper()
	usePack = packed
	defer func() { usePack = true }()
	var out []*Result
	for _, q := range questions {
		out = append(out, run(t, pool, Coverage, q))
	}
	return out
}
