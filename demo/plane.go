package demo

import (
	"math"
	"slices"

	"github.com/paulmach/orb"
)

// The generator works in a local plane in kilometres (x east, y north)
// centred on the county, so distances and Voronoi bisectors are metric;
// points are converted to lon/lat once, rounded to 1e-7 degrees (about a
// centimetre) so that the output, and hence the checksum, does not depend
// on the last bits of floating-point arithmetic.

// Centre of the demo county (Shanghe County, Jinan, Shandong).
const (
	centerLon = 117.2
	centerLat = 37.3
)

var (
	kmPerDegLon = 111.320 * math.Cos(centerLat*math.Pi/180)
	kmPerDegLat = 110.574
)

// vec is a point of the local plane, in km.
type vec struct{ X, Y float64 }

func (a vec) add(b vec) vec             { return vec{a.X + b.X, a.Y + b.Y} }
func (a vec) sub(b vec) vec             { return vec{a.X - b.X, a.Y - b.Y} }
func (a vec) scale(k float64) vec       { return vec{a.X * k, a.Y * k} }
func (a vec) dot(b vec) float64         { return a.X*b.X + a.Y*b.Y }
func (a vec) cross(b vec) float64       { return a.X*b.Y - a.Y*b.X }
func (a vec) len() float64              { return math.Hypot(a.X, a.Y) }
func (a vec) dist(b vec) float64        { return a.sub(b).len() }
func (a vec) lerp(b vec, t float64) vec { return a.add(b.sub(a).scale(t)) }

// perp is a rotated by 90° counter-clockwise.
func (a vec) perp() vec { return vec{-a.Y, a.X} }

// unit is a scaled to length 1 (zero stays zero).
func (a vec) unit() vec {
	l := a.len()
	if l == 0 {
		return a
	}
	return a.scale(1 / l)
}

// round7 rounds a coordinate to 1e-7 degrees.
func round7(v float64) float64 { return math.Round(v*1e7) / 1e7 }

// lonlat converts a plane point to a rounded WGS84 point.
func (a vec) lonlat() orb.Point {
	return orb.Point{round7(centerLon + a.X/kmPerDegLon), round7(centerLat + a.Y/kmPerDegLat)}
}

// ring converts a closed plane polygon (first point not repeated) to a
// closed, counter-clockwise orb ring without repeated consecutive points.
func ring(pts []vec) orb.Ring {
	r := make(orb.Ring, 0, len(pts)+1)
	for _, p := range pts {
		q := p.lonlat()
		if len(r) > 0 && r[len(r)-1] == q {
			continue
		}
		r = append(r, q)
	}
	for len(r) > 1 && r[len(r)-1] == r[0] {
		r = r[:len(r)-1]
	}
	r = append(r, r[0])
	if signedArea(pts) < 0 {
		slices.Reverse(r)
	}
	return r
}

// line converts plane points to an orb line string.
func line(pts ...vec) orb.LineString {
	l := make(orb.LineString, len(pts))
	for i, p := range pts {
		l[i] = p.lonlat()
	}
	return l
}

// signedArea is the shoelace area, positive when counter-clockwise.
func signedArea(pts []vec) float64 {
	var s float64
	for i := range pts {
		s += pts[i].cross(pts[(i+1)%len(pts)])
	}
	return s / 2
}

// convexHull returns the hull of pts counter-clockwise (monotone chain).
func convexHull(pts []vec) []vec {
	p := slices.Clone(pts)
	slices.SortFunc(p, func(a, b vec) int {
		if a.X != b.X {
			return cmpFloat(a.X, b.X)
		}
		return cmpFloat(a.Y, b.Y)
	})
	var h []vec
	for pass := 0; pass < 2; pass++ {
		start := len(h)
		for _, q := range p {
			for len(h) >= start+2 && h[len(h)-1].sub(h[len(h)-2]).cross(q.sub(h[len(h)-2])) <= 0 {
				h = h[:len(h)-1]
			}
			h = append(h, q)
		}
		h = h[:len(h)-1]
		slices.Reverse(p)
	}
	return h
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// clipHalfPlane keeps the part of the convex polygon poly where
// (p - o)·n <= 0 (Sutherland–Hodgman against one half-plane).
func clipHalfPlane(poly []vec, o, n vec) []vec {
	var out []vec
	for i := range poly {
		a, b := poly[i], poly[(i+1)%len(poly)]
		da, db := a.sub(o).dot(n), b.sub(o).dot(n)
		if da <= 0 {
			out = append(out, a)
		}
		if (da < 0 && db > 0) || (da > 0 && db < 0) {
			out = append(out, a.lerp(b, da/(da-db)))
		}
	}
	return out
}

// voronoiCell is the part of the convex region closer to seeds[i] than to
// any other seed.
func voronoiCell(region []vec, seeds []vec, i int) []vec {
	cell := region
	for j, s := range seeds {
		if j == i {
			continue
		}
		mid := seeds[i].lerp(s, 0.5)
		cell = clipHalfPlane(cell, mid, s.sub(seeds[i]))
	}
	return cell
}

// distToBoundary is the distance from p to the nearest edge of poly.
func distToBoundary(poly []vec, p vec) float64 {
	d := math.Inf(1)
	for i := range poly {
		d = math.Min(d, distToSegment(p, poly[i], poly[(i+1)%len(poly)]))
	}
	return d
}

func distToSegment(p, a, b vec) float64 {
	ab := b.sub(a)
	t := 0.0
	if l2 := ab.dot(ab); l2 > 0 {
		t = math.Max(0, math.Min(1, p.sub(a).dot(ab)/l2))
	}
	return p.dist(a.add(ab.scale(t)))
}

// inside reports whether p is inside the simple polygon poly (ray casting).
func inside(poly []vec, p vec) bool {
	in := false
	for i, j := 0, len(poly)-1; i < len(poly); j, i = i, i+1 {
		a, b := poly[i], poly[j]
		if (a.Y > p.Y) != (b.Y > p.Y) && p.X < (b.X-a.X)*(p.Y-a.Y)/(b.Y-a.Y)+a.X {
			in = !in
		}
	}
	return in
}

// orient is the sign of the turn a→b→c.
func orient(a, b, c vec) int {
	v := b.sub(a).cross(c.sub(a))
	switch {
	case v > 1e-12:
		return 1
	case v < -1e-12:
		return -1
	}
	return 0
}

// segmentsConflict reports whether two segments touch anywhere other than
// at one exactly shared endpoint (a road network stays noded only if edges
// meet at shared endpoints).
func segmentsConflict(p1, p2, q1, q2 vec) bool {
	shared := 0
	for _, p := range []vec{p1, p2} {
		for _, q := range []vec{q1, q2} {
			if p == q {
				shared++
			}
		}
	}
	o1, o2 := orient(p1, p2, q1), orient(p1, p2, q2)
	o3, o4 := orient(q1, q2, p1), orient(q1, q2, p2)
	if shared > 0 {
		// Sharing an endpoint is fine unless the segments are collinear
		// and overlap.
		if shared > 1 {
			return true
		}
		return o1 == 0 && o2 == 0 && overlapCollinear(p1, p2, q1, q2)
	}
	if o1 != o2 && o3 != o4 && o1 != 0 && o2 != 0 && o3 != 0 && o4 != 0 {
		return true
	}
	onSeg := func(a, b, c vec) bool { // c on segment ab, given collinear
		return math.Min(a.X, b.X)-1e-9 <= c.X && c.X <= math.Max(a.X, b.X)+1e-9 &&
			math.Min(a.Y, b.Y)-1e-9 <= c.Y && c.Y <= math.Max(a.Y, b.Y)+1e-9
	}
	return (o1 == 0 && onSeg(p1, p2, q1)) || (o2 == 0 && onSeg(p1, p2, q2)) ||
		(o3 == 0 && onSeg(q1, q2, p1)) || (o4 == 0 && onSeg(q1, q2, p2))
}

func overlapCollinear(p1, p2, q1, q2 vec) bool {
	d := p2.sub(p1)
	t := func(v vec) float64 { return v.sub(p1).dot(d) }
	a0, a1 := 0.0, t(p2)
	b0, b1 := math.Min(t(q1), t(q2)), math.Max(t(q1), t(q2))
	return math.Min(a1, b1)-math.Max(a0, b0) > 1e-12
}

// polylinesConflict reports whether two polylines conflict in any pair of
// segments.
func polylinesConflict(a, b []vec) bool {
	for i := 0; i+1 < len(a); i++ {
		for j := 0; j+1 < len(b); j++ {
			if segmentsConflict(a[i], a[i+1], b[j], b[j+1]) {
				return true
			}
		}
	}
	return false
}
