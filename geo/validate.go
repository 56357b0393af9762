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
		if len(ring) > 0 && !ring.Closed() {
			first, last := ring[0], ring[len(ring)-1]
			p = append(p, fmt.Sprintf("%s: not closed: first point [%g %g] differs from last [%g %g]", w, first[0], first[1], last[0], last[1]))
		}
	}
	return p
}

// Kind returns the GeoJSON type name of g ("Point", "LineString", …).
func Kind(g orb.Geometry) string {
	if g == nil {
		return ""
	}
	return g.GeoJSONType()
}
