package geo_test

import (
	"math"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile/geo"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		g    orb.Geometry
		want string // fragment of the one expected problem; "" for valid
	}{
		{"point", orb.Point{117.2, 37.3}, ""},
		{"line", orb.LineString{{117, 37}, {117.1, 37.1}}, ""},
		{"polygon", orb.Polygon{{{117, 37}, {117.1, 37}, {117.1, 37.1}, {117, 37}}}, ""},
		{"nil", nil, "missing"},
		{"NaN", orb.Point{math.NaN(), 37}, "not a finite number"},
		{"Inf", orb.LineString{{117, 37}, {math.Inf(1), 37}}, "linestring, point 1: coordinate [+Inf 37]"},
		{"lon", orb.Point{180.5, 37}, "longitude 180.5"},
		{"lat", orb.Point{117, 86}, "latitude 86"},
		{"short line", orb.LineString{{117, 37}}, "at least 2 points"},
		{"unclosed", orb.Polygon{{{117, 37}, {117.1, 37}, {117.1, 37.1}, {117, 37.1}}}, "ring 0: not closed: first point [117 37] differs from last [117 37.1]"},
		{"short ring", orb.Polygon{{{117, 37}, {117.1, 37}, {117, 37}}}, "at least 4 points"},
		{"empty multi", orb.MultiLineString{}, "empty"},
		{"collection", orb.Collection{orb.Point{1, 2}}, "collections are not stored"},
		{"multipolygon member", orb.MultiPolygon{{{{117, 37}, {117.1, 37}, {117.1, 37.1}, {117, 37}}}, {{{0, 0}, {1, 0}, {1, 1}}}}, "polygon 1, ring 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := geo.Validate(tt.g)
			if tt.want == "" {
				if len(p) > 0 {
					t.Fatalf("problems %v", p)
				}
				return
			}
			if len(p) == 0 || !strings.Contains(strings.Join(p, "; "), tt.want) {
				t.Fatalf("problems %v lack %q", p, tt.want)
			}
		})
	}
}
