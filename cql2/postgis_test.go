package cql2

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lastmile/lastmile/postgis/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// road is the fixture row, evaluated in Go by each case's predicate.
type road struct {
	id        int64
	name      string
	surface   string
	width     *float64
	completed *time.Time
	lon, lat  float64 // start of a short east-west line
}

// TestOnPostGIS runs compiled filters on real PostGIS and compares the ids
// they select with the same condition evaluated in Go over the fixture.
func TestOnPostGIS(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	surfaces := []string{"earth", "gravel", "stone", "cement", "asphalt"}
	var rows []road
	for i := 0; i < 60; i++ {
		r := road{name: fmt.Sprintf("路%02d", i), surface: surfaces[i%5], lon: 117 + float64(i%10)*0.01, lat: 37 + float64(i/10)*0.01}
		if i%3 != 0 {
			w := 3 + float64(i%7)*0.5 // whole and half metres
			r.width = &w
		}
		if i%4 != 0 {
			d := time.Date(2010+i%8, time.Month(1+i%12), 1+i%28, 0, 0, 0, 0, time.UTC)
			r.completed = &d
		}
		if i == 7 {
			r.name = "O'Brien lane"
		}
		err := pool.QueryRow(ctx, `INSERT INTO lastmile.roads (name, surface, width_m, completed_on, status, geom)
			VALUES ($1, $2, $3, $4, 'completed', ST_SetSRID(ST_MakeLine(ST_MakePoint($5, $6), ST_MakePoint($5 + 0.005, $6)), 4326)) RETURNING id`,
			r.name, r.surface, r.width, r.completed, r.lon, r.lat).Scan(&r.id)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	date := func(s string) time.Time { d, _ := time.Parse("2006-01-02", s); return d }
	w := func(r road) float64 {
		if r.width == nil {
			return math.NaN()
		}
		return *r.width
	}
	tests := []struct {
		filter string
		want   func(road) bool
	}{
		{"surface = 'cement'", func(r road) bool { return r.surface == "cement" }},
		{"surface IN ('cement','asphalt') AND width_m >= 4.5", func(r road) bool {
			return (r.surface == "cement" || r.surface == "asphalt") && r.width != nil && *r.width >= 4.5
		}},
		{"NOT surface = 'earth' OR width_m < 4", func(r road) bool { return r.surface != "earth" || w(r) < 4 }},
		{"width_m BETWEEN 4 AND 5", func(r road) bool { return w(r) >= 4 && w(r) <= 5 }},
		{"width_m IS NULL", func(r road) bool { return r.width == nil }},
		{"completed_on >= DATE('2015-01-01') AND completed_on < DATE('2016-01-01')", func(r road) bool {
			return r.completed != nil && !r.completed.Before(date("2015-01-01")) && r.completed.Before(date("2016-01-01"))
		}},
		{"completed_on IS NULL OR completed_on < '2012-06-01'", func(r road) bool { return r.completed == nil || r.completed.Before(date("2012-06-01")) }},
		{"name LIKE '路1%'", func(r road) bool { return strings.HasPrefix(r.name, "路1") }},
		{"name = 'O''Brien lane'", func(r road) bool { return r.name == "O'Brien lane" }},
		{"S_INTERSECTS(geometry, BBOX(117.015, 37.005, 117.045, 37.025))", func(r road) bool {
			return r.lon <= 117.045 && r.lon+0.005 >= 117.015 && r.lat >= 37.005 && r.lat <= 37.025
		}},
		{"S_INTERSECTS(geometry, POLYGON((117.0 37.0, 117.1 37.0, 117.1 37.001, 117.0 37.001, 117.0 37.0))) AND surface <> 'stone'", func(r road) bool {
			return r.lat == 37 && r.surface != "stone"
		}},
	}
	q := LayerQueryables(mustLayer(t, "roads"), "")
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			e, err := ParseText(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			var args []any
			cond, err := Compile(e, q, func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) })
			if err != nil {
				t.Fatal(err)
			}
			dbRows, err := pool.Query(ctx, "SELECT id FROM lastmile.roads WHERE "+cond+" ORDER BY id", args...)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for dbRows.Next() {
				var id int64
				if err := dbRows.Scan(&id); err != nil {
					t.Fatal(err)
				}
				got = append(got, id)
			}
			if err := dbRows.Err(); err != nil {
				t.Fatal(err)
			}
			var want []int64
			for _, r := range rows {
				if tt.want(r) {
					want = append(want, r.id)
				}
			}
			if len(want) == 0 || len(want) == len(rows) {
				t.Fatalf("fixture does not discriminate: %d of %d rows match", len(want), len(rows))
			}
			if !slices.Equal(got, want) {
				t.Errorf("PostGIS selected %v\nGo selected      %v", got, want)
			}
		})
	}
}
