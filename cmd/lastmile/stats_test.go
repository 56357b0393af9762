package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

func TestStatsCommand(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	pool, err := postgis.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for _, sql := range []string{
		`INSERT INTO lastmile.admin_areas (level, code, name, geom) VALUES ('county', '130101000000', 'Test county', ST_Multi(ST_MakeEnvelope(0, 0, 1, 1, 4326)))`,
		`INSERT INTO lastmile.roads (surface, admin_code, completed_on, geom) VALUES ('cement', '130101001001', '2015-05-01', ST_GeomFromText('LINESTRING(110 30, 110 30.01)', 4326))`,
		`INSERT INTO lastmile.villages (name, code, population, geom) VALUES
			('near', '130101001001', 100, ST_SetSRID(ST_MakePoint(110.005, 30.005), 4326)),
			('far',  '130101001002', 300, ST_SetSRID(ST_MakePoint(110.05, 30.005), 4326))`,
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"coverage table", []string{"coverage", "--within-m", "1000", "--source-filter", "hardened", "--list", "uncovered"},
			[]string{"lies within 1000 m", "130101000000  Test county      2        1          1   50", "uncovered (1):", "far"}},
		{"coverage csv", []string{"coverage", "--csv", "--group-by", "none"},
			[]string{"code,name,total,covered,uncovered,pct,population,population_covered,population_pct,poor_households,poor_households_covered\r\ntotal,total,2,1,1,50,400,100,25,0,0\r\n"}},
		{"rai", []string{"rai", "--csv"}, []string{"code,name,population,population_covered,rai,total,covered\r\n130101000000,Test county,400,100,25,2,1\r\n"}},
		{"rai along the network", []string{"rai", "--method", "network", "--csv"}, []string{"code,name,population,population_covered,rai,total,covered\r\n130101000000,Test county,400,100,25,2,1\r\n"}},
		// near walks 481.7 m to the road at 5 km/h (5.8 min); far 4.8 km (58 min)
		{"coverage by time with speeds", []string{"coverage", "--method", "network", "--metric", "time", "--within-min", "10", "--speeds", "class2:60,gravel:0.6", "--json"},
			[]string{`"overrides": "grade.class2:60,surface.gravel:0.6"`, `"speeds": "grade.class2:60,surface.gravel:0.6"`, `"class2": 60`, `"gravel": 0.6`, `"within_min": 10`, `"covered": 1,`}},
		{"lengths with a field parameter", []string{"lengths", "--csv", "--group-by", "year", "status=completed"},
			[]string{"year,km,count,funding_yuan\r\n2015,1.11,1,\r\n"}},
		{"progress json", []string{"progress", "--json", "--layer", "roads"}, []string{`"completed": 1`, `"pct": 100`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			args := append([]string{"stats", tc.args[0], "--database-url", url}, tc.args[1:]...)
			if err := run(ctx, args, &out); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
	for _, args := range [][]string{
		{"stats", "reach", "--database-url", url},
		{"stats", "coverage", "--database-url", url, "--within-m", "-3"},
		{"stats", "coverage", "--database-url", url, "nonsense"},
	} {
		if err := run(ctx, args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	err = run(ctx, []string{"stats", "coverage", "--database-url", url, "--method", "network", "--metric", "time", "--speeds", "class2:60,mud:0.5"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "mud:0.5") {
		t.Errorf("bad --speeds: %v, want an error naming mud:0.5", err)
	}
}
