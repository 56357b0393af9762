package geo

import (
	"math"

	"github.com/paulmach/orb"
)

// The Chinese "encrypted" coordinate systems. GCJ-02 is what Amap (Gaode),
// Tencent and Google China show; BD-09 is Baidu's, a further offset of
// GCJ-02. Both are defined only inside China; outside, they equal WGS84.
// CGCS2000 (EPSG:4490) differs from WGS84 by centimetres and is treated as
// WGS84.

const (
	gcjA  = 6378245.0              // Krasovsky 1940 semi-major axis used by GCJ-02
	gcjEE = 0.00669342162296594323 // its first eccentricity squared
	bdXPi = math.Pi * 3000.0 / 180.0
)

// OutOfChina reports whether p (lon, lat) lies outside the rectangle where
// GCJ-02 applies an offset.
func OutOfChina(p orb.Point) bool {
	return p[0] < 72.004 || p[0] > 137.8347 || p[1] < 0.8293 || p[1] > 55.8271
}

func gcjLat(x, y float64) float64 {
	r := -100.0 + 2.0*x + 3.0*y + 0.2*y*y + 0.1*x*y + 0.2*math.Sqrt(math.Abs(x))
	r += (20.0*math.Sin(6.0*x*math.Pi) + 20.0*math.Sin(2.0*x*math.Pi)) * 2.0 / 3.0
	r += (20.0*math.Sin(y*math.Pi) + 40.0*math.Sin(y/3.0*math.Pi)) * 2.0 / 3.0
	r += (160.0*math.Sin(y/12.0*math.Pi) + 320*math.Sin(y*math.Pi/30.0)) * 2.0 / 3.0
	return r
}

func gcjLon(x, y float64) float64 {
	r := 300.0 + x + 2.0*y + 0.1*x*x + 0.1*x*y + 0.1*math.Sqrt(math.Abs(x))
	r += (20.0*math.Sin(6.0*x*math.Pi) + 20.0*math.Sin(2.0*x*math.Pi)) * 2.0 / 3.0
	r += (20.0*math.Sin(x*math.Pi) + 40.0*math.Sin(x/3.0*math.Pi)) * 2.0 / 3.0
	r += (150.0*math.Sin(x/12.0*math.Pi) + 300.0*math.Sin(x/30.0*math.Pi)) * 2.0 / 3.0
	return r
}

// WGS84ToGCJ02 applies the GCJ-02 offset to a WGS84 point (identity outside
// China).
func WGS84ToGCJ02(p orb.Point) orb.Point {
	if OutOfChina(p) {
		return p
	}
	lon, lat := p[0], p[1]
	dLat := gcjLat(lon-105.0, lat-35.0)
	dLon := gcjLon(lon-105.0, lat-35.0)
	radLat := lat / 180.0 * math.Pi
	magic := math.Sin(radLat)
	magic = 1 - gcjEE*magic*magic
	sqrtMagic := math.Sqrt(magic)
	dLat = (dLat * 180.0) / ((gcjA * (1 - gcjEE)) / (magic * sqrtMagic) * math.Pi)
	dLon = (dLon * 180.0) / (gcjA / sqrtMagic * math.Cos(radLat) * math.Pi)
	return orb.Point{lon + dLon, lat + dLat}
}

// GCJ02ToBD09 applies Baidu's offset to a GCJ-02 point.
func GCJ02ToBD09(p orb.Point) orb.Point {
	if OutOfChina(p) {
		return p
	}
	x, y := p[0], p[1]
	z := math.Sqrt(x*x+y*y) + 0.00002*math.Sin(y*bdXPi)
	theta := math.Atan2(y, x) + 0.000003*math.Cos(x*bdXPi)
	return orb.Point{z*math.Cos(theta) + 0.0065, z*math.Sin(theta) + 0.006}
}

// WGS84ToBD09 converts a WGS84 point to BD-09.
func WGS84ToBD09(p orb.Point) orb.Point { return GCJ02ToBD09(WGS84ToGCJ02(p)) }

// inverse solves forward(x) = q for x by fixed-point iteration, starting
// from the first-order guess q - (forward(q) - q). The offsets vary slowly
// (a few hundred metres over a degree), so each step gains about three
// orders of magnitude; it stops below 1e-10° (≈ 0.01 mm).
func inverse(q orb.Point, forward func(orb.Point) orb.Point) orb.Point {
	f := forward(q)
	x := orb.Point{2*q[0] - f[0], 2*q[1] - f[1]}
	for range 20 {
		f = forward(x)
		dx, dy := f[0]-q[0], f[1]-q[1]
		x[0] -= dx
		x[1] -= dy
		if math.Abs(dx) < 1e-10 && math.Abs(dy) < 1e-10 {
			break
		}
	}
	return x
}

// GCJ02ToWGS84 converts a GCJ-02 point to WGS84 by inverting the forward
// transform iteratively (error well below 0.5 m; identity outside China).
func GCJ02ToWGS84(p orb.Point) orb.Point {
	if OutOfChina(p) {
		return p
	}
	return inverse(p, WGS84ToGCJ02)
}

// BD09ToGCJ02 converts a BD-09 point to GCJ-02 (iterative inverse).
func BD09ToGCJ02(p orb.Point) orb.Point {
	if OutOfChina(p) {
		return p
	}
	return inverse(p, GCJ02ToBD09)
}

// BD09ToWGS84 converts a BD-09 point to WGS84.
func BD09ToWGS84(p orb.Point) orb.Point {
	if OutOfChina(p) {
		return p
	}
	return inverse(p, WGS84ToBD09)
}

// Apply returns a copy of g with f applied to every coordinate.
func Apply(g orb.Geometry, f func(orb.Point) orb.Point) orb.Geometry {
	switch g := g.(type) {
	case orb.Point:
		return f(g)
	case orb.MultiPoint:
		out := make(orb.MultiPoint, len(g))
		for i, p := range g {
			out[i] = f(p)
		}
		return out
	case orb.LineString:
		return orb.LineString(Apply(orb.MultiPoint(g), f).(orb.MultiPoint))
	case orb.Ring:
		return orb.Ring(Apply(orb.MultiPoint(g), f).(orb.MultiPoint))
	case orb.MultiLineString:
		out := make(orb.MultiLineString, len(g))
		for i, l := range g {
			out[i] = Apply(l, f).(orb.LineString)
		}
		return out
	case orb.Polygon:
		out := make(orb.Polygon, len(g))
		for i, r := range g {
			out[i] = Apply(r, f).(orb.Ring)
		}
		return out
	case orb.MultiPolygon:
		out := make(orb.MultiPolygon, len(g))
		for i, p := range g {
			out[i] = Apply(p, f).(orb.Polygon)
		}
		return out
	case orb.Collection:
		out := make(orb.Collection, len(g))
		for i, c := range g {
			out[i] = Apply(c, f)
		}
		return out
	}
	return g
}

// LooksSwapped reports whether g's coordinates look like (lat, lon) rather
// than (lon, lat): some |y| beyond 90 while every |x| is within 90, or —
// for China — every point has x in China's latitude band and y in its
// longitude band.
func LooksSwapped(g orb.Geometry) bool {
	if g == nil {
		return false
	}
	b := g.Bound()
	if math.Abs(b.Min[1]) > 90 || math.Abs(b.Max[1]) > 90 {
		return math.Abs(b.Min[0]) <= 90 && math.Abs(b.Max[0]) <= 90
	}
	return b.Min[0] >= 3 && b.Max[0] <= 54 && b.Min[1] >= 73 && b.Max[1] <= 136
}

// Swap returns a copy of g with x and y exchanged.
func Swap(g orb.Geometry) orb.Geometry {
	return Apply(g, func(p orb.Point) orb.Point { return orb.Point{p[1], p[0]} })
}
