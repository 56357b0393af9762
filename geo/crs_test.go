package geo

import (
	"testing"

	"github.com/paulmach/orb"
	orbgeo "github.com/paulmach/orb/geo"
)

// TestGCJ02RoundTrip checks the iterative inverses on a grid over China:
// forward then inverse must land within 0.5 m (in fact within a millimetre).
func TestGCJ02RoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		forward  func(orb.Point) orb.Point
		inverse  func(orb.Point) orb.Point
		minShift float64 // metres the forward transform moves points at least
	}{
		{"GCJ-02", WGS84ToGCJ02, GCJ02ToWGS84, 1},
		{"BD-09", WGS84ToBD09, BD09ToWGS84, 100},
		{"BD-09 from GCJ-02", GCJ02ToBD09, BD09ToGCJ02, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			worst, n := 0.0, 0
			for lon := 73.5; lon <= 135; lon += 0.7 {
				for lat := 18.0; lat <= 53.5; lat += 0.55 {
					p := orb.Point{lon, lat}
					q := tt.forward(p)
					if shift := orbgeo.Distance(p, q); shift < tt.minShift || shift > 1500 {
						t.Fatalf("%v: forward shift %.1f m, want %g…1500 m", p, shift, tt.minShift)
					}
					back := tt.inverse(q)
					d := orbgeo.Distance(p, back)
					if d > worst {
						worst = d
					}
					n++
				}
			}
			if worst > 0.5 {
				t.Fatalf("worst round-trip error %.3g m over %d points, want < 0.5 m", worst, n)
			}
			t.Logf("worst round-trip error %.3g m over %d points", worst, n)
		})
	}
}

func TestCRSKnownPoints(t *testing.T) {
	// Reference values of the widely used coordtransform library
	// (wandergis/coordtransform, README examples).
	tests := []struct {
		name string
		f    func(orb.Point) orb.Point
		in   orb.Point
		want orb.Point
	}{
		{"WGS84ToGCJ02", WGS84ToGCJ02, orb.Point{116.404, 39.915}, orb.Point{116.41024449916938, 39.91640428150164}},
		{"GCJ02ToBD09", GCJ02ToBD09, orb.Point{116.404, 39.915}, orb.Point{116.41036949371029, 39.92133699351022}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.f(tt.in)
			if d := orbgeo.Distance(got, tt.want); d > 0.01 {
				t.Fatalf("%s(%v) = %v, want %v (%.3f m off)", tt.name, tt.in, got, tt.want, d)
			}
		})
	}
}

func TestCRSIdentityOutsideChina(t *testing.T) {
	for _, p := range []orb.Point{{9.52, 47.14}, {-0.1276, 51.5072}, {139.69, 35.69}, {151.2, -33.86}, {0, 0}} {
		for name, f := range map[string]func(orb.Point) orb.Point{
			"WGS84ToGCJ02": WGS84ToGCJ02, "GCJ02ToWGS84": GCJ02ToWGS84,
			"WGS84ToBD09": WGS84ToBD09, "BD09ToWGS84": BD09ToWGS84,
		} {
			if got := f(p); got != p {
				t.Errorf("%s(%v) = %v, want identity outside China", name, p, got)
			}
		}
	}
}

func TestLooksSwapped(t *testing.T) {
	tests := []struct {
		name string
		g    orb.Geometry
		want bool
	}{
		{"china lon/lat", orb.Point{116.4, 39.9}, false},
		{"china lat/lon", orb.Point{39.9, 116.4}, true},
		{"lat beyond 90", orb.LineString{{47.1, 9.5}, {47.2, 120}}, true},
		{"liechtenstein", orb.Point{9.52, 47.14}, false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LooksSwapped(tt.g); got != tt.want {
				t.Fatalf("LooksSwapped(%v) = %v, want %v", tt.g, got, tt.want)
			}
		})
	}
	if got := Swap(orb.LineString{{1, 2}, {3, 4}}); !orb.Equal(got, orb.LineString{{2, 1}, {4, 3}}) {
		t.Fatalf("Swap = %v", got)
	}
}
