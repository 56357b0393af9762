package geo_test

import (
	"math"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile/geo"
)

func TestVertices(t *testing.T) {
	sq := orb.Ring{{0, 0}, {1, 0}, {1, 1}, {0, 0}}
	for _, tt := range []struct {
		g    orb.Geometry
		want int
	}{
		{orb.Point{1, 2}, 1}, {orb.LineString{{0, 0}, {1, 1}}, 2}, {orb.MultiLineString{{{0, 0}, {1, 1}}, {{2, 2}, {3, 3}, {4, 4}}}, 5},
		{orb.Polygon{sq, sq}, 8}, {orb.MultiPolygon{{sq}, {sq, sq}}, 12}, {orb.MultiPoint{{0, 0}, {1, 1}}, 2}, {nil, 0},
	} {
		if got := geo.Vertices(tt.g); got != tt.want {
			t.Errorf("Vertices(%v) = %d, want %d", tt.g, got, tt.want)
		}
	}
}

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
		{"antimeridian line", orb.LineString{{179.99, 60}, {-179.99, 60}}, "linestring, points 0–1: the segment from [179.99 60] to [-179.99 60] crosses the antimeridian"},
		{"antimeridian ring", orb.Polygon{{{179.9, 60}, {-179.9, 60}, {-179.9, 61}, {179.9, 61}, {179.9, 60}}}, "polygon, ring 0, points 0–1: the segment from [179.9 60] to [-179.9 60] crosses the antimeridian"},
		{"long but not across", orb.LineString{{-90, 0}, {89.9, 0}}, ""},
		{"hole outside shell", orb.Polygon{{{117.2, 37.3}, {117.21, 37.3}, {117.21, 37.31}, {117.2, 37.31}, {117.2, 37.3}}, {{117.3, 37.3}, {117.301, 37.3}, {117.301, 37.301}, {117.3, 37.301}, {117.3, 37.3}}},
			"polygon, ring 1: the hole lies outside its shell (ring 0): its point [117.3 37.3] is not inside ring 0"},
		{"hole inside shell", orb.Polygon{{{117.2, 37.3}, {117.21, 37.3}, {117.21, 37.31}, {117.2, 37.31}, {117.2, 37.3}}, {{117.202, 37.302}, {117.203, 37.302}, {117.203, 37.303}, {117.202, 37.302}}}, ""},
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

// FuzzValidate: any coordinates, as a line and as a polygon with a hole,
// never panic; a segment over 180° of longitude is always reported.
func FuzzValidate(f *testing.F) {
	f.Add(179.99, 60.0, -179.99, 60.0, 117.3, 37.3)
	f.Add(117.2, 37.3, 117.21, 37.31, 117.205, 37.305)
	f.Add(math.NaN(), 0.0, math.Inf(1), 1.0, 0.0, 0.0)
	f.Fuzz(func(t *testing.T, x1, y1, x2, y2, hx, hy float64) {
		line := orb.LineString{{x1, y1}, {x2, y2}}
		p := geo.Validate(line)
		if math.Abs(x2-x1) > 180 && !strings.Contains(strings.Join(p, ";"), "antimeridian") {
			t.Fatalf("%v: %v lacks the antimeridian", line, p)
		}
		shell := orb.Ring{{x1, y1}, {x2, y1}, {x2, y2}, {x1, y2}, {x1, y1}}
		hole := orb.Ring{{hx, hy}, {hx + 1e-3, hy}, {hx, hy + 1e-3}, {hx, hy}}
		geo.Validate(orb.Polygon{shell, hole})
		if n := geo.Vertices(orb.Polygon{shell, hole}); n != 9 {
			t.Fatalf("vertices %d, want 9", n)
		}
	})
}
