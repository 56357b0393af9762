package rank

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile/postgis/pgtest"
)

// countyCode is the admin code of the synthetic county.
const countyCode = "420000000003"

// buildCounty fills a synthetic county of 0.4° × 0.4° near 110°E 30°N
// (38.6 km × 44.3 km, about 1 700 km²) with a few hundred random roads,
// villages, pipelines, power upgrades, facilities and hazard zones (seeded,
// so every run builds the same county). The tables are not analyzed, as
// right after a bulk load: the plan must not depend on statistics.
func buildCounty(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	mustExec(t, pool, `
SELECT setseed(0.42);
INSERT INTO admin_areas (ext_id, name, level, code, geom) VALUES
  ('county', 'synthetic county', 'county', '`+countyCode+`', ST_Multi(ST_MakeEnvelope(110, 30, 110.4, 30.4, 4326)));
INSERT INTO roads (ext_id, name, surface, tech_grade, status, geom)
SELECT 'r' || g, 'road ' || g,
       (ARRAY['cement', 'asphalt', 'stone', 'gravel', 'earth'])[1 + floor(random() * 5)::int],
       'class4', CASE WHEN random() < 0.85 THEN 'completed' ELSE 'planned' END,
       ST_MakeLine(ARRAY[ST_MakePoint(x, y), ST_MakePoint(x + dx, y + dy), ST_MakePoint(x + 2 * dx, y + dy * random())])
FROM (SELECT g, 110 + random() * 0.4 AS x, 30 + random() * 0.4 AS y,
             (random() - 0.5) * 0.04 AS dx, (random() - 0.5) * 0.04 AS dy
      FROM generate_series(1, 400) g) s;
INSERT INTO villages (ext_id, name, population, geom)
SELECT 'v' || g, 'village ' || g, 200 + floor(random() * 2000)::int,
       ST_SetSRID(ST_MakePoint(110 + random() * 0.4, 30 + random() * 0.4), 4326)
FROM generate_series(1, 300) g;
INSERT INTO water_pipelines (ext_id, name, status, geom)
SELECT 'w' || g, 'pipeline ' || g, CASE WHEN random() < 0.8 THEN 'completed' ELSE 'planned' END,
       ST_MakeLine(ST_MakePoint(x, y), ST_MakePoint(x + (random() - 0.5) * 0.03, y + (random() - 0.5) * 0.03))
FROM (SELECT g, 110 + random() * 0.4 AS x, 30 + random() * 0.4 AS y FROM generate_series(1, 120) g) s;
INSERT INTO power_upgrades (ext_id, name, kind, status, geom)
SELECT 'p' || g, 'upgrade ' || g, CASE WHEN g % 2 = 0 THEN 'line' ELSE 'transformer' END, 'completed',
       CASE WHEN g % 2 = 0
            THEN ST_MakeLine(ST_MakePoint(x, y), ST_MakePoint(x + (random() - 0.5) * 0.05, y + (random() - 0.5) * 0.05))
            ELSE ST_MakePoint(x, y) END
FROM (SELECT g, 110 + random() * 0.4 AS x, 30 + random() * 0.4 AS y FROM generate_series(1, 150) g) s;
UPDATE power_upgrades SET geom = ST_SetSRID(geom, 4326) WHERE ST_SRID(geom) = 0;
INSERT INTO facilities (ext_id, name, kind, geom)
SELECT 'f' || g, 'facility ' || g,
       (ARRAY['school', 'school', 'clinic', 'water_source', 'water_source', 'market'])[1 + g % 6],
       ST_SetSRID(ST_MakePoint(110 + random() * 0.4, 30 + random() * 0.4), 4326)
FROM generate_series(1, 240) g;
INSERT INTO hazard_zones (ext_id, name, kind, severity, geom)
SELECT 'h' || g, 'hazard ' || g, (ARRAY['landslide', 'debris_flow', 'flood', 'subsidence'])[1 + g % 4], 'high',
       ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(110 + random() * 0.4, 30 + random() * 0.4), 4326), 0.003 + random() * 0.01))
FROM generate_series(1, 60) g;
`)
}

// TestCountyGrid ranks a 1 km grid over the synthetic county (about
// 1 700 cells) and checks the nearest-neighbour probes are geography index
// scans. BenchmarkCountyGrid times the 250 m grid (about 27 000 cells).
func TestCountyGrid(t *testing.T) {
	pool := pgtest.New(t)
	buildCounty(t, pool)
	req, err := ParseValues(nil, url.Values{"admin_code": {countyCode}, "cell_m": {"1000"}, "limit": {"5"}})
	if err != nil {
		t.Fatal(err)
	}
	res := countyRun(t, pool, req)
	s := res.Summary
	if s.Candidates < 1650 || s.Candidates > 1780 {
		t.Errorf("%d cells, want about 1 715", s.Candidates)
	}
	if s.Ranked == 0 || s.Excluded == 0 || len(res.Features) != 5 {
		t.Errorf("ranked %d, excluded %d, returned %d: want some of each and 5 returned", s.Ranked, s.Excluded, len(res.Features))
	}
	checkArithmetic(t, res)

	// Chunks measured at once give what one query gives.
	cands, _, err := loadCandidates(context.Background(), pool, req)
	if err != nil {
		t.Fatal(err)
	}
	one, err := measureChunks(context.Background(), pool, req, cands, 1)
	if err != nil {
		t.Fatal(err)
	}
	three, err := measureChunks(context.Background(), pool, req, cands, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(one, three) {
		t.Error("measuring in 3 chunks differs from 1 chunk")
	}
	if one[0].road == nil || one[0].hazard == nil || one[len(one)-1].school == nil {
		t.Errorf("first measures %+v, last %+v: want nearest features found", one[0], one[len(one)-1])
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := measureChunks(ctx, pool, req, cands, 3); err == nil {
		t.Error("a cancelled context measured anyway")
	}

	// The plan: one index scan per kind and candidate, no sequential scan
	// of an asset table.
	var geoms [][]byte
	for _, c := range cands[:50] {
		geoms = append(geoms, c.wkb)
	}
	tx, err := pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(context.Background(), sessionSettings); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query(context.Background(), "EXPLAIN "+queries["measure"], geoms, true, 3000.0, true, []float64{200, 5000, 3000, 5000, 10000, 10000}, 300.0)
	if err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, idx := range []string{"hazard_zones_geog", "roads_geog", "water_pipelines_geog", "facilities_geog", "power_upgrades_geog", "villages_geog"} {
		if !strings.Contains(plan.String(), "Index Scan using "+idx) {
			t.Errorf("plan does not use %s:\n%s", idx, plan.String())
		}
	}
	if strings.Contains(plan.String(), "Seq Scan") {
		t.Errorf("plan has a sequential scan:\n%s", plan.String())
	}
}

// countyRun ranks and logs the figures and the top cells.
func countyRun(t testing.TB, pool *pgxpool.Pool, req Request) *Result {
	t.Helper()
	start := time.Now()
	res, err := Run(context.Background(), pool, req)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	s := res.Summary
	t.Logf("%g m grid over a 0.4° × 0.4° county: %d cells (estimated %d), %d ranked, %d excluded (%s); grid %.0f ms, total %v",
		req.Candidates.CellM, s.Candidates, s.CellsEstimated, s.Ranked, s.Excluded, jsonOrErr(s.ExcludedBy), s.CandidatesMS, elapsed.Round(time.Millisecond))
	for _, f := range res.Features {
		if f.Properties.Rank == nil {
			continue
		}
		var parts []string
		for _, fs := range f.Properties.Factors {
			parts = append(parts, fs.Factor+" "+fmtPtr(fs.Raw)+" → "+fmtPtr(&fs.Contribution))
		}
		t.Logf("  #%d cell %s %.5f,%.5f total %.4f: %s", *f.Properties.Rank, f.ID, f.Geometry.Coordinates.(orb.Point)[0], f.Geometry.Coordinates.(orb.Point)[1], f.Properties.Total, strings.Join(parts, "; "))
	}
	return res
}

func jsonOrErr(v any) string {
	s, err := jsonCompact(v)
	if err != nil {
		return err.Error()
	}
	return s
}

// BenchmarkCountyGrid ranks a 250 m grid over the synthetic county:
// go test ./rank -run '^$' -bench CountyGrid -benchtime 3x
// Besides wall time it reports the CPU seconds the PostgreSQL backends
// spent (pg-cpu-s/op), a figure that does not depend on other load on the
// machine.
func BenchmarkCountyGrid(b *testing.B) {
	pool := pgtest.New(b)
	buildCounty(b, pool)
	req, err := ParseValues(nil, url.Values{"admin_code": {countyCode}, "cell_m": {"250"}, "limit": {"5"}})
	if err != nil {
		b.Fatal(err)
	}
	var cells int
	var cpu time.Duration
	for b.Loop() {
		before := postgresCPU(b, pool)
		res := countyRun(b, pool, req)
		cpu += postgresCPU(b, pool) - before
		cells = res.Summary.Candidates
	}
	b.ReportMetric(float64(cells), "cells")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "pg-cpu-s/op")
}

// postgresCPU is the user+system CPU time of the server's backends, read
// from /proc (Linux): every child of the postmaster named in
// postmaster.pid. Backends that ended are not counted, pool connections
// live on.
func postgresCPU(b testing.TB, pool *pgxpool.Pool) time.Duration {
	b.Helper()
	var dir string
	if err := pool.QueryRow(context.Background(), `SELECT current_setting('data_directory')`).Scan(&dir); err != nil {
		b.Fatal(err)
	}
	pidFile, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		b.Skipf("cannot read the server's postmaster.pid (a remote server?): %v", err)
	}
	postmaster, _, _ := strings.Cut(string(pidFile), "\n")
	entries, _ := os.ReadDir("/proc")
	var ticks int64
	for _, e := range entries {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid … utime(14) stime(15)
		_, rest, ok := strings.Cut(string(stat), ") ")
		f := strings.Fields(rest)
		if !ok || len(f) < 13 || (f[1] != postmaster && e.Name() != postmaster) {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}
