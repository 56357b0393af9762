package stats

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// meridianRoad returns a road of exactly metres (geodesic) due north of
// (lon, lat), placed with Vincenty's direct formula.
func meridianRoad(lon, lat, metres float64) [][2]float64 {
	lat2, lon2 := vincentyDirect(lat, lon, 0, metres)
	return [][2]float64{{lon, lat}, {lon2, lat2}}
}

func TestLengths(t *testing.T) {
	pool := pgtest.New(t)
	addArea(t, pool, "county", "130101000000", "A county")
	addArea(t, pool, "county", "130102000000", "B county")
	for _, r := range []road{
		{ext: "a1", surface: "cement", completedOn: "2014-05-01", funding: 100, admin: "130101001001", pts: meridianRoad(110, 30, 1000)},
		{ext: "a2", surface: "asphalt", completedOn: "2015-05-01", funding: 250, admin: "130101002001", pts: meridianRoad(110.1, 30, 2500)},
		{ext: "a3", surface: "gravel", completedOn: "2015-07-01", funding: 50, admin: "130101002001", pts: meridianRoad(110.2, 30, 333.333)},
		{ext: "b1", surface: "cement", completedOn: "2015-01-01", funding: 400, admin: "130102001001", pts: meridianRoad(111, 47, 4004.4)},
		{ext: "b2", surface: "cement", status: "planned", funding: 999, admin: "130102001001", pts: meridianRoad(111.1, 47, 7000)},
	} {
		addRoad(t, pool, r)
	}
	for _, tc := range []struct {
		name, query string
		groups      []string // "key=value …: km count funding"
		total       string
	}{
		{"all", "layer=roads", nil, "14.84 5 1799"},
		{"completed by county", "layer=roads&group_by=county&status=completed",
			[]string{"county=130101000000 county_name=A county: 3.83 3 400", "county=130102000000 county_name=B county: 4 1 400"}, "7.84 4 800"},
		{"hardened per year", "layer=roads&group_by=year&filter=hardened&status=completed",
			[]string{"year=2014: 1 1 100", "year=2015: 6.5 2 650"}, "7.5 3 750"},
		{"surface and county", "layer=roads&group_by=county,surface&surface=cement,gravel",
			[]string{"county=130101000000 county_name=A county surface=cement: 1 1 100", "county=130101000000 county_name=A county surface=gravel: 0.33 1 50", "county=130102000000 county_name=B county surface=cement: 11 2 1399"}, "12.34 4 1549"},
		{"as of", "layer=roads&as_of=2014-12-31", nil, "1 1 100"},
		{"width filter", "layer=roads&filter=funding_yuan>=250", nil, "13.5 3 1649"},
		{"cql2 filter", "layer=roads&filter=" + url.QueryEscape("surface IN ('cement','asphalt','stone') AND status = 'completed' AND completed_on >= DATE('2015-01-01')"), nil, "6.5 2 650"},
		{"cql2 filter with the term form", "layer=roads&filter=hardened&filter=" + url.QueryEscape("completed_on < DATE('2015-01-01') OR funding_yuan > 500"), nil, "8 2 1099"},
		{"no match", "layer=water_pipelines&group_by=county", nil, "0 0 <nil>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, pool, Lengths, tc.query)
			var got []string
			for _, g := range res.Groups {
				key := ""
				for _, c := range res.Columns {
					if c == "km" {
						break
					}
					if key != "" {
						key += " "
					}
					key += fmt.Sprintf("%s=%v", c, g[c])
				}
				got = append(got, fmt.Sprintf("%s: %v %v %v", key, g["km"], g["count"], g["funding_yuan"]))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.groups) {
				t.Errorf("groups:\n got  %q\n want %q", got, tc.groups)
			}
			if total := fmt.Sprintf("%v %v %v", res.Total["km"], res.Total["count"], res.Total["funding_yuan"]); total != tc.total {
				t.Errorf("total %s, want %s", total, tc.total)
			}
			if len(res.Groups) > 0 {
				checkGroupsAddUp(t, res, "count", "funding_yuan")
			}
		})
	}
}

func TestProgress(t *testing.T) {
	pool := pgtest.New(t)
	addArea(t, pool, "township", "130101001000", "One township")
	add := func(status, started, completed, code string, households, persons int, subsidy float64) {
		t.Helper()
		mustExec(t, pool, `INSERT INTO lastmile.house_renovations
			(status, started_on, completed_on, admin_code, households, persons, subsidy_yuan, geom)
			VALUES ($1, $2::date, $3::date, $4, $5, $6, $7, ST_SetSRID(ST_MakePoint(110, 30), 4326))`,
			status, nullable(started), nullable(completed), code, households, persons, subsidy)
	}
	add("completed", "2015-03-01", "2015-09-01", "130101001001", 1, 4, 10000)
	add("completed", "2015-04-01", "2015-10-01", "130101001002", 1, 3, 10000)
	add("completed", "2015-05-01", "2016-06-01", "130101002001", 2, 6, 20000)
	add("under_construction", "2016-03-01", "", "130101002001", 1, 2, 15000)
	add("planned", "", "", "130101002002", 1, 5, 15000)
	add("cancelled", "", "", "130101002002", 1, 1, 5000)

	res := run(t, pool, Progress, "layer=house_renovations&group_by=township")
	want := map[string]any{"total": int64(6), "planned": int64(1), "under_construction": int64(1), "completed": int64(3),
		"cancelled": int64(1), "pct": 60.0, "households": 6.0, "households_completed": 4.0, "persons": 20.0,
		"persons_completed": 13.0, "subsidy_yuan": 70000.0, "subsidy_yuan_completed": 40000.0}
	for k, v := range want {
		if res.Total[k] != v {
			t.Errorf("total %s = %v, want %v", k, res.Total[k], v)
		}
	}
	if len(res.Groups) != 2 || res.Groups[0]["township_name"] != "One township" || res.Groups[0]["pct"] != 100.0 || res.Groups[1]["pct"] != 33.3 {
		t.Errorf("groups: %v", res.Groups)
	}
	checkGroupsAddUp(t, res, "total", "planned", "under_construction", "completed", "cancelled", "persons")

	res = run(t, pool, Progress, "layer=house_renovations&as_of=2015-12-31")
	if res.Total["completed"] != int64(2) || res.Total["under_construction"] != int64(1) || res.Total["planned"] != int64(2) || res.Total["pct"] != 40.0 {
		t.Errorf("as of 2015-12-31: %v", res.Total)
	}
	res = run(t, pool, Progress, "layer=house_renovations&series=year")
	var series []string
	for _, g := range res.Groups {
		series = append(series, fmt.Sprintf("%v:%v/%v/%v", g["year"], g["planned"], g["under_construction"], g["completed"]))
	}
	if fmt.Sprint(series) != "[2015:2/1/2 2016:1/1/3]" {
		t.Errorf("series: %v", series)
	}
	// Roads have a status too.
	res = run(t, pool, Progress, "layer=roads")
	if res.Total["total"] != int64(0) {
		t.Errorf("roads: %v", res.Total)
	}
	for _, q := range []string{"layer=house_renovations&group_by=colour", "layer=nowhere", "layer=house_renovations&series=month",
		"layer=house_renovations&as_of=yesterday", "layer=house_renovations&work=demolish", "layer=house_renovations&filter=hardened"} {
		v, _ := url.ParseQuery(q)
		_, _, err := Progress(context.Background(), pool, layer.Default(), v)
		var e *lastmile.Error
		if !errors.As(err, &e) || e.Code != lastmile.EINVALID || len(e.Details) == 0 {
			t.Errorf("%s: got %v, want invalid with details", q, err)
		}
	}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// FuzzAggregateParams: the lengths/progress parameter parser never panics
// and rejects with an invalid error that has details.
func FuzzAggregateParams(f *testing.F) {
	for _, s := range []string{
		"layer=roads&group_by=county,year,surface,road_class&status=completed",
		"layer=house_renovations&group_by=township&as_of=2015-12-31&series=year",
		"layer=roads&filter=hardened&filter=width_m>=3&surface=cement,asphalt", "layer=villages&population=abc",
		"group_by=,,&layer=", "layer=power_upgrades&kind=line&voltage_kv<=10",
	} {
		f.Add(s)
	}
	c := layer.Default()
	f.Fuzz(func(t *testing.T, s string) {
		v, err := url.ParseQuery(s)
		if err != nil {
			return
		}
		q := newStatsQuery(v)
		req := parseAggregate(q, c, v, "roads", nil, "", true)
		if err := q.finish(); err != nil {
			var e *lastmile.Error
			if !errors.As(err, &e) || e.Code != lastmile.EINVALID || len(e.Details) == 0 {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if req.agg.layer == nil {
			t.Fatalf("%q: accepted without a layer", s)
		}
		for _, d := range req.agg.dims {
			if d.SQL == "" {
				t.Fatalf("%q: empty dimension %+v", s, d)
			}
		}
	})
}
