package postgis_test

import (
	"testing"
	"time"

	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgsql"
)

func TestItemsQueryWhere(t *testing.T) {
	jan := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		q        postgis.ItemsQuery
		start    pgsql.Args // arguments before the condition's
		want     string
		wantArgs int
	}{
		{"none", postgis.ItemsQuery{}, nil, "TRUE", 0},
		{"bbox", postgis.ItemsQuery{BBox: []float64{1, 2, 3, 4}}, nil,
			"(geom && ST_MakeEnvelope($1, $2, $3, $4, 4326) AND ST_Intersects(geom, ST_MakeEnvelope($1, $2, $3, $4, 4326)))", 4},
		{"bbox across the antimeridian", postgis.ItemsQuery{BBox: []float64{170, -10, -170, 10}}, nil,
			"((geom && ST_MakeEnvelope($1, $2, 180, $3, 4326) AND ST_Intersects(geom, ST_MakeEnvelope($1, $2, 180, $3, 4326))) OR " +
				"(geom && ST_MakeEnvelope(-180, $4, $5, $6, 4326) AND ST_Intersects(geom, ST_MakeEnvelope(-180, $4, $5, $6, 4326))))", 6},
		{"interval and filters", postgis.ItemsQuery{Time: &postgis.Interval{Start: &jan}, Filters: []postgis.Filter{{"surface", []string{"a"}}, {"status", []string{"b"}}}}, nil,
			`("completed_on" >= $1 AND "surface" = ANY($2) AND "status" = ANY($3))`, 3},
		{"after arguments numbered by hand", postgis.ItemsQuery{Time: &postgis.Interval{End: &jan}}, pgsql.Args{1, 2}, `"completed_on" <= $3`, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.start
			got := tt.q.Where(&args)
			if got != tt.want || len(args) != tt.wantArgs {
				t.Errorf("Where() = %q, %d args; want %q, %d args", got, len(args), tt.want, tt.wantArgs)
			}
		})
	}
}
