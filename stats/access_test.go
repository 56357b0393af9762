package stats

import (
	"context"
	"fmt"
	"math/rand"
	"reflect"
	"testing"

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
