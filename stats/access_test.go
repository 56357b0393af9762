package stats

import (
	"context"
	"fmt"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/lastmile/lastmile/postgis/pgtest"
)

// TestCoveragePrecomputed: the answers from the precomputed nearest
// distances equal the direct query's, for every definition, before and
// after each kind of edit to roads and villages (maintained incrementally).
func TestCoveragePrecomputed(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	rng := rand.New(rand.NewSource(6))
	surfaces := []string{"earth", "gravel", "stone", "cement", "asphalt"}
	grades := []string{"class2", "class4", "substandard"}
	statuses := []string{"completed", "completed", "planned"}
	var roadIDs []int64
	for i := 0; i < 60; i++ {
		x, y := 110+rng.Float64()*0.2, 30+rng.Float64()*0.2
		roadIDs = append(roadIDs, addRoad(t, pool, road{ext: fmt.Sprint("r", i), surface: surfaces[rng.Intn(5)], grade: grades[rng.Intn(3)],
			status: statuses[rng.Intn(3)], pts: [][2]float64{{x, y}, {x + (rng.Float64()-0.5)*0.02, y + (rng.Float64()-0.5)*0.02}}}))
	}
	for i := 0; i < 80; i++ {
		addVillage(t, pool, village{name: fmt.Sprint("v", i), code: fmt.Sprintf("1301010%02d%03d", 1+i%3, i), pop: 100 + i, poorHH: i % 5,
			lon: 110 + rng.Float64()*0.2, lat: 30 + rng.Float64()*0.2})
	}
	compare := func(stage string) {
		t.Helper()
		for _, f := range []string{"", "&source_filter=hardened", "&source_filter=graded", "&source_filter=all_season",
			"&source_filter=hardened&target_filter=population>140", "&target_filter=poor_households<2%3Bpopulation>110"} {
			for _, g := range []string{"county", "township", "none"} {
				q := "within_m=1500&list=uncovered&group_by=" + g + f
				fast, slow := run(t, pool, Coverage, q), run(t, pool, Coverage, q+"&precomputed=false")
				if !reflect.DeepEqual(fast.Groups, slow.Groups) || !reflect.DeepEqual(fast.Total, slow.Total) ||
					!reflect.DeepEqual(fast.Uncovered, slow.Uncovered) {
					t.Fatalf("%s, %s:\nprecomputed %v %v\n%v\ndirect      %v %v\n%v", stage, q, fast.Total, fast.Groups, fast.Uncovered, slow.Total, slow.Groups, slow.Uncovered)
				}
			}
		}
	}
	compare("built")
	var state struct{ built bool }
	if err := pool.QueryRow(ctx, `SELECT built FROM lastmile.access_state`).Scan(&state.built); err != nil || !state.built {
		t.Fatalf("village_access not built: %v", err)
	}
	for _, edit := range []struct{ name, sql string }{
		{"harden a road", fmt.Sprintf(`UPDATE lastmile.roads SET surface = 'asphalt', status = 'completed' WHERE id = %d`, roadIDs[0])},
		{"unharden roads", `UPDATE lastmile.roads SET surface = 'earth' WHERE id IN (SELECT id FROM lastmile.roads WHERE surface = 'cement' LIMIT 5)`},
		{"move a road", fmt.Sprintf(`UPDATE lastmile.roads SET geom = ST_Translate(geom, 0.05, 0.03) WHERE id = %d`, roadIDs[1])},
		{"delete roads", fmt.Sprintf(`DELETE FROM lastmile.roads WHERE id IN (%d, %d, %d)`, roadIDs[2], roadIDs[3], roadIDs[4])},
		{"add a road", `INSERT INTO lastmile.roads (surface, tech_grade, geom) VALUES ('cement', 'class3', ST_GeomFromText('LINESTRING(110.05 30.05, 110.15 30.15)', 4326))`},
		{"add a village", `INSERT INTO lastmile.villages (name, code, population, geom) VALUES ('new', '130101001999', 5, ST_SetSRID(ST_MakePoint(110.3, 30.3), 4326))`},
		{"move a village", `UPDATE lastmile.villages SET geom = ST_SetSRID(ST_MakePoint(110.1, 30.1), 4326) WHERE name = 'v1'`},
		{"recount and recode a village", `UPDATE lastmile.villages SET population = 9999, poor_households = 4, code = '130102003777' WHERE name = 'v5'`},
		{"delete a village", `DELETE FROM lastmile.villages WHERE name = 'v2'`},
		{"complete planned roads", `UPDATE lastmile.roads SET status = 'completed' WHERE status = 'planned'`},
	} {
		mustExec(t, pool, edit.sql)
		compare(edit.name)
	}
	var pending int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.access_changes`).Scan(&pending); err != nil || pending != 0 {
		t.Errorf("changes left unapplied: %d (%v)", pending, err)
	}
}

// TestAccessBuildOnline: writers are not blocked while village_access is
// built (on two connections sharing a snapshot), a question asked meanwhile is answered directly instead of
// waiting, and what was written during the build is reflected afterwards
// (the precomputed answers equal the direct query's).
func TestAccessBuildOnline(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	smallAccessBatches(t, 100) // two connections, 30 batches
	parallel := accessParallelBuilds.Load()
	mustExec(t, pool, `INSERT INTO lastmile.roads (ext_id, surface, tech_grade, geom)
		SELECT 'r' || i, (ARRAY['earth', 'cement', 'asphalt'])[1 + i % 3], (ARRAY['class3', 'substandard'])[1 + i % 2],
		       ST_SetSRID(ST_MakeLine(ST_MakePoint(110 + (i % 40) * 0.01, 30 + (i / 40) * 0.01),
		                              ST_MakePoint(110.004 + (i % 40) * 0.01, 30.003 + (i / 40) * 0.01)), 4326)
		FROM generate_series(0, 799) i`)
	mustExec(t, pool, `INSERT INTO lastmile.villages (name, code, population, geom)
		SELECT 'v' || i, '1301010' || lpad((1 + i % 3)::text, 2, '0') || lpad((i % 1000)::text, 3, '0'), 100 + i,
		       ST_SetSRID(ST_MakePoint(110 + random() * 0.4, 30 + random() * 0.2), 4326)
		FROM generate_series(0, 2999) i`)

	built := make(chan error, 1)
	go func() {
		ok, err := ensureAccess(ctx, pool)
		if err == nil && !ok {
			err = fmt.Errorf("the build did not complete")
		}
		built <- err
	}()
	for { // until the build has turned logging on
		var logging bool
		if err := pool.QueryRow(ctx, `SELECT logging FROM lastmile.access_state`).Scan(&logging); err != nil {
			t.Fatal(err)
		}
		if logging {
			break
		}
		time.Sleep(time.Millisecond)
	}
	asked := make(chan bool, 1)
	go func() { ok, _ := ensureAccess(ctx, pool); asked <- ok }()
	writes, during, answeredDuring := 0, 0, false
	var buildErr error
building:
	for i := 0; ; i++ {
		select {
		case buildErr = <-built:
			break building
		case ok := <-asked:
			if ok {
				t.Error("a question during the build was told the table is ready")
			}
			answeredDuring = true
		default:
		}
		if writes == 200 {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		switch i % 4 {
		case 0:
			mustExec(t, pool, `UPDATE lastmile.roads SET surface = 'asphalt', tech_grade = 'class2' WHERE ext_id = $1`, fmt.Sprint("r", (i*37)%800))
		case 1:
			mustExec(t, pool, `UPDATE lastmile.roads SET geom = ST_Translate(geom, 0.05, 0.02) WHERE ext_id = $1`, fmt.Sprint("r", (i*53)%800))
		case 2:
			mustExec(t, pool, `DELETE FROM lastmile.roads WHERE ext_id = $1`, fmt.Sprint("r", (i*71)%800))
		case 3:
			mustExec(t, pool, `UPDATE lastmile.villages SET population = population + 1, geom = ST_Translate(geom, 0.01, 0) WHERE name = $1`, fmt.Sprint("v", (i*97)%3000))
		}
		var logging bool // still building when the write has committed
		if err := pool.QueryRow(ctx, `SELECT logging FROM lastmile.access_state`).Scan(&logging); err != nil {
			t.Fatal(err)
		}
		if logging {
			during++
		}
		writes++
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	if accessParallelBuilds.Load() == parallel {
		t.Error("the build did not take two connections")
	}
	if during < 10 {
		t.Fatalf("%d of %d writes committed while village_access was being built: writers were blocked", during, writes)
	}
	if !answeredDuring {
		t.Error("a question during the build waited for it instead of answering directly")
	}
	t.Logf("%d of %d writes committed during the build", during, writes)
	for _, f := range []string{"", "&source_filter=hardened", "&source_filter=graded", "&source_filter=all_season"} {
		q := "within_m=700&list=uncovered&group_by=township" + f
		fast, slow := run(t, pool, Coverage, q), run(t, pool, Coverage, q+"&precomputed=false")
		if !reflect.DeepEqual(fast.Groups, slow.Groups) || !reflect.DeepEqual(fast.Uncovered, slow.Uncovered) {
			t.Fatalf("%s after an online build:\nprecomputed %v\ndirect      %v", q, fast.Groups, slow.Groups)
		}
	}
	var logging bool
	var pending int
	if err := pool.QueryRow(ctx, `SELECT logging, (SELECT count(*) FROM lastmile.access_changes) FROM lastmile.access_state`).Scan(&logging, &pending); err != nil || logging || pending != 0 {
		t.Errorf("after the build: logging %v, %d changes pending (%v)", logging, pending, err)
	}
}
