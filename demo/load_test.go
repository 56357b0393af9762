package demo

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/postgis/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// loaded is the county of seed loaded into a fresh database.
func loaded(t *testing.T, seed int64) (*pgxpool.Pool, *County, Counts) {
	t.Helper()
	pool := pgtest.New(t)
	county := seed1()
	if seed != 1 {
		county = Generate(seed)
	}
	counts, err := Load(context.Background(), pool, county)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return pool, county, counts
}

// TestLoad loads two seeds and checks the data in PostGIS; seed 1 is
// also loaded twice.
func TestLoad(t *testing.T) {
	for _, seed := range []int64{1, 2} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) { testLoad(t, seed) })
	}
}

func testLoad(t *testing.T, seed int64) {
	ctx := context.Background()
	pool, county, counts := loaded(t, seed)
	var summary strings.Builder
	counts.WriteSummary(&summary)
	t.Log(summary.String())

	t.Run("counts match the county", func(t *testing.T) {
		for _, l := range county.Layers {
			if got := counts.Features[l.Name]; got != len(l.Features) {
				t.Errorf("%s: %d rows in the database, generated %d", l.Name, got, len(l.Features))
			}
		}
		r := counts.Renovations
		want := RenovationCounts{Total: 565, CompletedBy2015: 511, Completed: 511 + 24, UnderConstruction: 12, Planned: 18}
		if r != want {
			t.Errorf("renovations = %+v, want %+v", r, want)
		}
		if counts.RoadKm["cement"] < 200 || counts.RoadKm["asphalt"] < 30 || counts.RoadKm["gravel"] < 5 || counts.RoadKm["earth"] < 1 {
			t.Errorf("km of completed roads by surface = %v: want cement ≥ 200, asphalt ≥ 30, gravel ≥ 5, earth ≥ 1", counts.RoadKm)
		}
		if counts.PendingRoadKm < 5 {
			t.Errorf("pending road km = %.1f, want ≥ 5", counts.PendingRoadKm)
		}
	})

	checks := []struct {
		name string
		sql  string // returns one integer that must be 0
	}{
		{"every village within the county polygon", `
			SELECT count(*) FROM villages v
			WHERE NOT EXISTS (SELECT 1 FROM admin_areas a WHERE a.level = 'county' AND ST_Within(v.geom, a.geom))`},
		{"every village within its township", `
			SELECT count(*) FROM villages v
			WHERE NOT EXISTS (SELECT 1 FROM admin_areas a WHERE a.level = 'township'
				AND a.code = substr(v.code, 1, 9) || '000' AND ST_Within(v.geom, a.geom))`},
		{"every feature within the county polygon", `
			WITH c AS (SELECT geom FROM admin_areas WHERE level = 'county'),
			f AS (
				SELECT geom FROM roads UNION ALL SELECT geom FROM water_pipelines
				UNION ALL SELECT geom FROM power_upgrades UNION ALL SELECT geom FROM house_renovations
				UNION ALL SELECT geom FROM relocation_sites UNION ALL SELECT geom FROM hazard_zones
				UNION ALL SELECT geom FROM facilities
				UNION ALL SELECT geom FROM admin_areas WHERE level = 'township')
			SELECT count(*) FROM f, c WHERE NOT ST_CoveredBy(f.geom, ST_Buffer(c.geom, 1e-6))`},
		{"all geometries valid", `
			SELECT count(*) FROM (
				SELECT geom FROM roads UNION ALL SELECT geom FROM water_pipelines
				UNION ALL SELECT geom FROM power_upgrades UNION ALL SELECT geom FROM house_renovations
				UNION ALL SELECT geom FROM relocation_sites UNION ALL SELECT geom FROM villages
				UNION ALL SELECT geom FROM admin_areas UNION ALL SELECT geom FROM hazard_zones
				UNION ALL SELECT geom FROM facilities) g
			WHERE NOT ST_IsValid(geom) OR ST_NDims(geom) <> 2`},
		{"townships partition the county (area within 0.01 %)", `
			SELECT count(*) FROM (SELECT
				(SELECT ST_Area(geom::geography) FROM admin_areas WHERE level = 'county') AS county,
				(SELECT sum(ST_Area(geom::geography)) FROM admin_areas WHERE level = 'township') AS townships,
				(SELECT ST_Area(ST_Union(geom)::geography) FROM admin_areas WHERE level = 'township') AS town_union) a
			WHERE abs(townships - county) > county * 1e-4 OR abs(town_union - county) > county * 1e-4`},
		{"roads meet only at shared endpoints", `
			SELECT count(*) FROM roads a JOIN roads b ON a.id < b.id AND ST_Intersects(a.geom, b.geom)
			WHERE NOT ST_Equals(ST_Intersection(a.geom, b.geom),
				ST_Intersection(ST_Collect(ST_StartPoint(a.geom), ST_EndPoint(a.geom)),
				                ST_Collect(ST_StartPoint(b.geom), ST_EndPoint(b.geom))))`},
		{"dead ends only at villages, hamlets and township seats", `
			WITH ends AS (
				SELECT ST_StartPoint(geom) AS p, road_class FROM roads
				UNION ALL SELECT ST_EndPoint(geom), road_class FROM roads),
			deg AS (SELECT p, count(*) AS n, bool_or(road_class = 'group') AS grp FROM ends GROUP BY p)
			SELECT count(*) FROM deg
			WHERE n = 1 AND NOT grp
				AND NOT EXISTS (SELECT 1 FROM villages v WHERE v.geom = deg.p)
				AND NOT EXISTS (SELECT 1 FROM admin_areas a WHERE a.level = 'township'
					AND ST_DWithin(deg.p, ST_SetSRID(ST_MakePoint((a.props->'seat'->>0)::float8, (a.props->'seat'->>1)::float8), 4326), 1e-9))`},
		{"every village on the road network", `
			SELECT count(*) FROM villages v
			WHERE NOT EXISTS (SELECT 1 FROM roads r WHERE v.geom = ST_StartPoint(r.geom) OR v.geom = ST_EndPoint(r.geom))`},
		{"some villages in hazard zones, by kind", `
			SELECT count(*) FROM (VALUES ('flood'), ('landslide')) k(kind)
			WHERE NOT EXISTS (SELECT 1 FROM hazard_zones h JOIN villages v ON ST_Intersects(h.geom, v.geom) WHERE h.kind = k.kind)`},
		{"a planned candidate site overlaps a flood zone", `
			SELECT 1 - count(*) FROM (SELECT 1 FROM relocation_sites s JOIN hazard_zones h ON ST_Intersects(s.geom, h.geom)
				WHERE s.status = 'planned' AND h.kind = 'flood' LIMIT 1) x`},
		{"history records the demo actor", `
			SELECT count(*) FROM feature_history WHERE actor <> 'demo' OR source IS DISTINCT FROM 'demo'`},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			var n int64
			if err := pool.QueryRow(ctx, c.sql).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("%d offending rows", n)
			}
		})
	}

	t.Run("one connected road network (pgr_connectedComponents)", func(t *testing.T) {
		// Nodes are the distinct road endpoints; an edge joins a road's two.
		if _, err := pool.Exec(ctx, roadGraphSQL); err != nil {
			t.Fatal(err)
		}
		var components, nodes, edges int
		err := pool.QueryRow(ctx, `SELECT
			(SELECT count(DISTINCT component) FROM pgr_connectedComponents(
				'SELECT id, source, target, cost, reverse_cost FROM test_edges')),
			(SELECT count(*) FROM test_nodes), (SELECT count(*) FROM test_edges)`).Scan(&components, &nodes, &edges)
		if err != nil {
			t.Fatal(err)
		}
		if components != 1 || edges != counts.Features["roads"] {
			t.Errorf("%d components over %d nodes and %d edges (of %d roads), want 1", components, nodes, edges, counts.Features["roads"])
		}
	})

	if seed != 1 {
		return
	}
	t.Run("reloading", func(t *testing.T) { testReload(t, pool, county, counts) })
}

// testReload loads the same county again (nothing changes), after an edit
// (the edit is reverted) and another seed (it replaces the demo rows),
// while a row that is not the demo's survives.
func testReload(t *testing.T, pool *pgxpool.Pool, county *County, first Counts) {
	ctx := context.Background()
	total := 0
	for _, n := range first.Features {
		total += n
	}
	if first.Changes != (Changes{Inserted: total}) {
		t.Errorf("first load changes = %+v, want %d inserted", first.Changes, total)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO villages (ext_id, name, geom) VALUES ('mine:1', 'kept', ST_SetSRID(ST_MakePoint(117.2, 37.3), 4326))`); err != nil {
		t.Fatal(err)
	}
	state := func() (ids, history int64) {
		t.Helper()
		err := pool.QueryRow(ctx, `SELECT (SELECT sum(id) FROM villages WHERE ext_id LIKE 'demo:%') + (SELECT sum(id) FROM roads),
			(SELECT count(*) FROM feature_history)`).Scan(&ids, &history)
		if err != nil {
			t.Fatal(err)
		}
		return ids, history
	}
	ids, history := state()
	if _, err := pool.Exec(ctx, `UPDATE villages SET population = 1 WHERE ext_id = 'demo:villages:7'`); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		county      *County
		changes     Changes
		sameIDs     bool
		historyRows int64 // new history rows, -1: some
	}{
		{"after an edit the edit is reverted", county, Changes{Updated: 1, Unchanged: total - 1}, true, 2},
		{"the same county changes nothing", county, Changes{Unchanged: total}, true, 0},
		{"another seed replaces the demo rows", Generate(2), Changes{}, false, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(ctx, pool, tt.county)
			if err != nil {
				t.Fatal(err)
			}
			if tt.changes != (Changes{}) && got.Changes != tt.changes {
				t.Errorf("changes = %+v, want %+v", got.Changes, tt.changes)
			}
			for _, l := range tt.county.Layers {
				if got.Features[l.Name] != len(l.Features) {
					t.Errorf("%s: %d demo rows, want %d", l.Name, got.Features[l.Name], len(l.Features))
				}
			}
			if got.Renovations != first.Renovations {
				t.Errorf("renovations = %+v, want %+v", got.Renovations, first.Renovations)
			}
			newIDs, newHistory := state()
			if (newIDs == ids) != tt.sameIDs {
				t.Errorf("ids kept = %v, want %v", newIDs == ids, tt.sameIDs)
			}
			if d := newHistory - history; (tt.historyRows >= 0 && d != tt.historyRows) || (tt.historyRows < 0 && d == 0) {
				t.Errorf("%d new history rows, want %d", d, tt.historyRows)
			}
			history = newHistory
			var kept int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM villages WHERE ext_id = 'mine:1'`).Scan(&kept); err != nil || kept != 1 {
				t.Errorf("the non-demo village: %d rows (%v), want 1", kept, err)
			}
		})
	}
}

const roadGraphSQL = `
CREATE TABLE test_nodes AS
	SELECT row_number() OVER (ORDER BY ST_X(p), ST_Y(p)) AS id, p
	FROM (SELECT DISTINCT p FROM (
		SELECT ST_StartPoint(geom) AS p FROM roads UNION ALL SELECT ST_EndPoint(geom) FROM roads) e) d;
CREATE TABLE test_edges AS
	SELECT r.id, s.id AS source, t.id AS target, r.length_m AS cost, r.length_m AS reverse_cost
	FROM roads r JOIN test_nodes s ON s.p = ST_StartPoint(r.geom) JOIN test_nodes t ON t.p = ST_EndPoint(r.geom);`
