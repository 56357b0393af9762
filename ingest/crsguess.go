package ingest

import (
	"fmt"
	"math"

	"github.com/paulmach/orb"
)

// CGCS2000 Gauss–Krüger systems in the EPSG registry (checked against
// PostGIS's spatial_ref_sys in the tests):
//
//   - 3-degree zones 25–45, the zone number in front of the easting
//     (false easting zone×1 000 000 + 500 000, central meridian 3×zone):
//     EPSG:4513–4533;
//   - 6-degree zones 13–23, likewise (central meridian 6×zone − 3):
//     EPSG:4491–4501;
//   - 3-degree zones without the zone number (false easting 500 000), one
//     code per central meridian 75°E … 135°E: EPSG:4534–4554;
//   - 6-degree zones without the zone number, central meridian 75°E …
//     135°E: EPSG:4502–4512.
//
// The zone numbers do not overlap (6-degree zones in China are 13–23,
// 3-degree zones 25–45), so a prefixed easting names its system.
const (
	gk3ZoneFirst, gk3ZoneLast, gk3ZoneEPSG = 25, 45, 4513
	gk6ZoneFirst, gk6ZoneLast, gk6ZoneEPSG = 13, 23, 4491
	gk3CMEPSG, gk6CMEPSG                   = 4534, 4502 // central meridian 75°E
)

// crsGuess is what a file's coordinates suggest about its coordinate
// system.
type crsGuess struct {
	SRID int    // the proposed EPSG code, 0 when the values do not name one
	Text string // in our words, for the report
}

// isDegrees reports whether p can be a longitude and latitude.
func isDegrees(p orb.Point) bool {
	return p[0] >= -180 && p[0] <= 180 && p[1] >= -90 && p[1] <= 90
}

// guessCRS explains coordinates that are not degrees (p, or a bound's
// corner) and proposes the coordinate system their values suggest: the
// CGCS2000 Gauss–Krüger zone from the zone number in front of an
// easting, or the central-meridian form when the easting has none. It
// also recognises eastings and northings given in the surveyors' order
// (X north, Y east).
func guessCRS(p orb.Point) crsGuess {
	at := fmt.Sprintf("coordinates %s are not degrees (longitude −180…180, latitude −90…90)", fmtPoint(p))
	x, y := p[0], p[1]
	swap := ""
	if gkNorthing(x) && !gkNorthing(y) && (zoneOf(y) != 0 || gkEasting6(y)) {
		x, y, swap = y, x, " with swap-xy (the file gives northing, easting: surveyors' X and Y)"
	}
	if !gkNorthing(y) {
		return crsGuess{Text: at + " and do not look like Gauss–Krüger metres: give the file's coordinate system with crs (EPSG:<code>)"}
	}
	if z := zoneOf(x); z != 0 {
		if z >= gk3ZoneFirst {
			code := gk3ZoneEPSG + z - gk3ZoneFirst
			return crsGuess{SRID: code, Text: fmt.Sprintf("%s: they look like metres in CGCS2000 / 3-degree Gauss–Krüger zone %d (central meridian %d°E; the easting starts with the zone number %d): give crs EPSG:%d%s",
				at, z, 3*z, z, code, swap)}
		}
		code := gk6ZoneEPSG + z - gk6ZoneFirst
		return crsGuess{SRID: code, Text: fmt.Sprintf("%s: they look like metres in CGCS2000 / 6-degree Gauss–Krüger zone %d (central meridian %d°E; the easting starts with the zone number %d): give crs EPSG:%d%s",
			at, z, 6*z-3, z, code, swap)}
	}
	if gkEasting6(x) {
		return crsGuess{Text: fmt.Sprintf("%s: they look like Gauss–Krüger metres without the zone number in the easting, so the central meridian is not in the values: give it with crs, e.g. EPSG:%d for CGCS2000 / 3-degree Gauss–Krüger CM 117°E (3-degree zones: EPSG:%d–%d for CM 75°E–135°E; 6-degree zones: EPSG:%d–%d)%s",
			at, gk3CMEPSG+(117-75)/3, gk3CMEPSG, gk3CMEPSG+20, gk6CMEPSG, gk6CMEPSG+10, swap)}
	}
	return crsGuess{Text: at + " and do not look like Gauss–Krüger metres: give the file's coordinate system with crs (EPSG:<code>)"}
}

// gkNorthing reports whether v can be a Gauss–Krüger northing in China
// (about 3°N to 54°N).
func gkNorthing(v float64) bool { return v > 300_000 && v < 6_100_000 }

// gkEasting6 reports whether v can be an easting without a zone number
// (false easting 500 000, a zone is at most ±~330 km wide at the equator).
func gkEasting6(v float64) bool { return v > 100_000 && v < 900_000 }

// zoneOf returns the zone number in front of easting v when it names a
// CGCS2000 3-degree (25–45) or 6-degree (13–23) zone, else 0.
func zoneOf(v float64) int {
	z := int(math.Floor(v / 1_000_000))
	rest := v - float64(z)*1_000_000
	if rest <= 100_000 || rest >= 900_000 {
		return 0
	}
	if z >= gk3ZoneFirst && z <= gk3ZoneLast || z >= gk6ZoneFirst && z <= gk6ZoneLast {
		return z
	}
	return 0
}

func fmtPoint(p orb.Point) string {
	return fmt.Sprintf("(%s, %s)", fmtCoord(p[0]), fmtCoord(p[1]))
}

func fmtCoord(v float64) string {
	if math.Abs(v) >= 1000 {
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%g", v)
}

// firstPoint returns g's first vertex.
func firstPoint(g orb.Geometry) (orb.Point, bool) {
	switch v := g.(type) {
	case orb.Point:
		return v, true
	case orb.MultiPoint:
		if len(v) > 0 {
			return v[0], true
		}
	case orb.LineString:
		if len(v) > 0 {
			return v[0], true
		}
	case orb.MultiLineString:
		for _, l := range v {
			if len(l) > 0 {
				return l[0], true
			}
		}
	case orb.Polygon:
		for _, r := range v {
			if len(r) > 0 {
				return r[0], true
			}
		}
	case orb.MultiPolygon:
		for _, p := range v {
			if q, ok := firstPoint(p); ok {
				return q, true
			}
		}
	case orb.Collection:
		for _, c := range v {
			if q, ok := firstPoint(c); ok {
				return q, true
			}
		}
	}
	return orb.Point{}, false
}
