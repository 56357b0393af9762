// Package geo is pure geometry on orb: coordinate and ring validation, CRS
// conversion between WGS84, GCJ-02 and BD-09 (CGCS2000 treated as WGS84),
// geodesic length and distance for checks, and tile math helpers. It has no
// database or HTTP code. (orb also has a package named geo: import that one
// as orbgeo.)
package geo

import (
	"fmt"
	"math"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// MaxLat is the largest latitude lastmile stores: Web Mercator (the tiles'
// projection) is undefined at the poles.
const MaxLat = 85.0511

// Validate returns every problem of g's coordinates and structure, each
// naming where it is (e.g. "ring 0 of polygon: not closed: first [117 37],
// last [117.1 37]"). Topology (self-intersection) is checked by PostGIS.
func Validate(g orb.Geometry) []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	switch g := g.(type) {
	case nil:
		add("geometry is missing")
	case orb.Point:
		if msg := checkPoint(g); msg != "" {
			add("point: %s", msg)
		}
	case orb.MultiPoint:
		if len(g) == 0 {
			add("multipoint is empty")
		}
		for i, pt := range g {
			if msg := checkPoint(pt); msg != "" {
				add("point %d: %s", i, msg)
			}
		}
	case orb.LineString:
		p = append(p, checkLine(g, "linestring")...)
	case orb.MultiLineString:
		if len(g) == 0 {
			add("multilinestring is empty")
		}
		for i, l := range g {
			p = append(p, checkLine(l, fmt.Sprintf("line %d", i))...)
		}
	case orb.Polygon:
		p = append(p, checkPolygon(g, "polygon")...)
	case orb.MultiPolygon:
		if len(g) == 0 {
			add("multipolygon is empty")
		}
		for i, poly := range g {
			p = append(p, checkPolygon(poly, fmt.Sprintf("polygon %d", i))...)
		}
	case orb.Collection:
		add("geometry collections are not stored; send one geometry")
	default:
		add("unsupported geometry type %T", g)
	}
	return p
}

func checkPoint(pt orb.Point) string {
	lon, lat := pt[0], pt[1]
	switch {
	case math.IsNaN(lon) || math.IsNaN(lat) || math.IsInf(lon, 0) || math.IsInf(lat, 0):
		return fmt.Sprintf("coordinate [%g %g] is not a finite number", lon, lat)
	case lon < -180 || lon > 180:
		return fmt.Sprintf("longitude %g of [%g %g] is outside -180…180", lon, lon, lat)
	case lat < -MaxLat || lat > MaxLat:
		return fmt.Sprintf("latitude %g of [%g %g] is outside ±%g", lat, lon, lat, MaxLat)
	}
	return ""
}

func checkLine(l orb.LineString, where string) []string {
	var p []string
	if len(l) < 2 {
		p = append(p, fmt.Sprintf("%s: needs at least 2 points, has %d", where, len(l)))
	}
	for i, pt := range l {
		if msg := checkPoint(pt); msg != "" {
			p = append(p, fmt.Sprintf("%s, point %d: %s", where, i, msg))
		}
	}
	if msg := crossesAntimeridian(l, where); msg != "" {
		p = append(p, msg)
	}
	return p
}

func checkPolygon(poly orb.Polygon, where string) []string {
	var p []string
	if len(poly) == 0 {
		return []string{where + ": has no rings"}
	}
	for i, ring := range poly {
		w := fmt.Sprintf("%s, ring %d", where, i)
		if len(ring) < 4 {
			p = append(p, fmt.Sprintf("%s: needs at least 4 points (closed), has %d", w, len(ring)))
		}
		for j, pt := range ring {
			if msg := checkPoint(pt); msg != "" {
				p = append(p, fmt.Sprintf("%s, point %d: %s", w, j, msg))
			}
		}
		if msg := crossesAntimeridian(ring, w); msg != "" {
			p = append(p, msg)
		}
		if len(ring) > 0 && !ring.Closed() {
			first, last := ring[0], ring[len(ring)-1]
			p = append(p, fmt.Sprintf("%s: not closed: first point [%g %g] differs from last [%g %g]", w, first[0], first[1], last[0], last[1]))
		}
	}
	if len(p) > 0 || len(poly[0]) < 4 {
		return p
	}
	// A hole must lie inside its shell: a hole outside would be subtracted
	// from an area it is not part of. Its first vertex tells (a crossing
	// hole is PostGIS's ST_IsValid to find); one vertex costs O(shell).
	for i, hole := range poly[1:] {
		if pt := hole[0]; !planar.RingContains(poly[0], pt) {
			p = append(p, fmt.Sprintf("%s, ring %d: the hole lies outside its shell (ring 0): its point [%g %g] is not inside ring 0", where, i+1, pt[0], pt[1]))
		}
	}
	return p
}

// Vertices is the number of positions in g.
func Vertices(g orb.Geometry) int {
	switch g := g.(type) {
	case orb.Point:
		return 1
	case orb.MultiPoint:
		return len(g)
	case orb.LineString:
		return len(g)
	case orb.Ring:
		return len(g)
	case orb.MultiLineString:
		n := 0
		for _, l := range g {
			n += len(l)
		}
		return n
	case orb.Polygon:
		n := 0
		for _, r := range g {
			n += len(r)
		}
		return n
	case orb.MultiPolygon:
		n := 0
		for _, p := range g {
			n += Vertices(p)
		}
		return n
	case orb.Collection:
		n := 0
		for _, c := range g {
			n += Vertices(c)
		}
		return n
	}
	return 0
}

// crossesAntimeridian reports the first segment of pts that spans more
// than 180° of longitude, i.e. one meant to cross ±180°: lastmile stores
// lon/lat as they are, so such a segment would run the long way round the
// world (and the layer's extent with it). No Chinese data crosses it.
func crossesAntimeridian(pts []orb.Point, where string) string {
	for i := 1; i < len(pts); i++ {
		if a, b := pts[i-1], pts[i]; math.Abs(b[0]-a[0]) > 180 {
			return fmt.Sprintf("%s, points %d–%d: the segment from [%g %g] to [%g %g] crosses the antimeridian (±180° longitude), which lastmile does not store (it would span the whole world); split the feature at ±180°", where, i-1, i, a[0], a[1], b[0], b[1])
		}
	}
	return ""
}

// Kind returns the GeoJSON type name of g ("Point", "LineString", …).
func Kind(g orb.Geometry) string {
	if g == nil {
		return ""
	}
	return g.GeoJSONType()
}
