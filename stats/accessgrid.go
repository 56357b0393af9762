package stats

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
)

// The national build of village_access finds, in Go, each village's
// candidate nearest roads per definition from a grid of the roads' pieces
// on the sphere; PostGIS then computes the exact geodesic distance
// (ST_Distance on geography) of those candidates only, and the nearest
// (ties by road id) is kept — the same minimum the SQL build finds with two
// index probes per village and definition, at a fraction of the cost.
//
// Why the candidates hold the nearest road. PostGIS measures a village Q to
// a road as the spheroid (WGS84) distance from Q to the road's point P
// nearest to Q on the sphere (the road's vertices joined by great-circle
// arcs, latitudes taken as spherical). On the ellipsoid the length element
// in latitude and longitude is between M(0) and N(90°) times the unit
// sphere's (the meridian radius at the equator, 6 335 439 m, and the prime
// vertical radius at a pole, 6 399 594 m), so for any points a·θ ≤ d ≤ b·θ
// with θ the angle between them on the unit sphere, a = M(0), b = N(90°).
// With s(r) the angle from Q to road r on the sphere (computed here) and m
// the least s over the roads of a definition, the nearest road r* has
// a·s(r*) ≤ d(r*) ≤ d(r_m) ≤ b·m, so s(r*) ≤ (b/a)·m: every road with
// s ≤ accessCandidateRatio·m + accessCandidateSlack is a candidate, which
// holds r* and every road tied with it.
const (
	accessCandidateRatio = 6399593.6258 / 6335439.3272 * 1.0005 // b/a, and a margin
	accessCandidateSlack = 1.0 / 6335439.0                      // 1 m, for rounding
)

// roadGrid holds the roads of the build: their polylines as unit vectors,
// cut into pieces no longer than pieceMax, each piece filed in the
// longitude/latitude cell of its midpoint.
type roadGrid struct {
	pts       []float64 // x, y, z of each point
	piecePt   []int32   // a piece runs from point piecePt[i] to piecePt[i]+1
	pieceRoad []int32   // index into roads
	roads     []int64   // road ids
	masks     []uint32  // the definitions (bits) each road satisfies
	defCount  []int     // roads per definition bit

	minLon, minLat, h float64 // grid origin and cell size, degrees
	nx, ny            int
	cellStart         []int32 // pieces of cell c: cellItems[cellStart[c]:cellStart[c+1]]
	cellItems         []int32
	half              float64 // the longest piece's half length (radians)
	maxAbsLat         float64 // of the pieces' midpoints, radians
}

func unitVec(lon, lat float64) (x, y, z float64) {
	lo, la := lon*math.Pi/180, lat*math.Pi/180
	c := math.Cos(la)
	return c * math.Cos(lo), c * math.Sin(lo), math.Sin(la)
}

// accessGridUsable tells whether the grid's bounds hold for data within
// these extents (degrees): longitudes spanning at most 180° (no
// antimeridian) and latitudes off the poles. Otherwise the SQL build runs.
func accessGridUsable(minLon, maxLon, minLat, maxLat float64) bool {
	return maxLon-minLon <= 180 && minLon >= -180 && maxLon <= 180 && minLat >= -85 && maxLat <= 85
}

// wkbLines appends the lines of a WKB LineString or MultiLineString (2D)
// to fn, one call per line with its flat lon/lat pairs.
func wkbLines(b []byte, fn func(xy []float64)) error {
	var xy []float64
	var line func(b []byte, multi bool) ([]byte, error)
	line = func(b []byte, multi bool) ([]byte, error) {
		if len(b) < 5 {
			return nil, fmt.Errorf("short WKB")
		}
		var bo binary.ByteOrder = binary.LittleEndian
		if b[0] == 0 {
			bo = binary.BigEndian
		}
		typ := bo.Uint32(b[1:5])
		b = b[5:]
		switch {
		case typ == 5 && !multi:
			if len(b) < 4 {
				return nil, fmt.Errorf("short WKB")
			}
			n := int(bo.Uint32(b))
			b = b[4:]
			for i := 0; i < n; i++ {
				var err error
				if b, err = line(b, true); err != nil {
					return nil, err
				}
			}
			return b, nil
		case typ == 2:
			if len(b) < 4 {
				return nil, fmt.Errorf("short WKB")
			}
			n := int(bo.Uint32(b))
			b = b[4:]
			if len(b) < 16*n {
				return nil, fmt.Errorf("short WKB")
			}
			xy = xy[:0]
			for i := 0; i < 2*n; i++ {
				xy = append(xy, math.Float64frombits(bo.Uint64(b[8*i:])))
			}
			fn(xy)
			return b[16*n:], nil
		}
		return nil, fmt.Errorf("WKB type %d is not a 2D line", typ)
	}
	_, err := line(b, false)
	return err
}

// roadGridBuilder collects the roads' lines before the grid is cut.
type roadGridBuilder struct {
	g                              roadGrid
	lines                          [][]float64 // lon/lat pairs
	lineRd                         []int32
	minLon, maxLon, minLat, maxLat float64
	segs                           int
	segLen                         []float64 // a sample of segment lengths (degrees)
}

func newRoadGridBuilder(defs int) *roadGridBuilder {
	return &roadGridBuilder{g: roadGrid{defCount: make([]int, defs)},
		minLon: math.Inf(1), maxLon: math.Inf(-1), minLat: math.Inf(1), maxLat: math.Inf(-1)}
}

func (b *roadGridBuilder) extend(lon, lat float64) {
	b.minLon, b.maxLon = min(b.minLon, lon), max(b.maxLon, lon)
	b.minLat, b.maxLat = min(b.minLat, lat), max(b.maxLat, lat)
}

// add files road id (satisfying the definitions in mask) with its WKB.
func (b *roadGridBuilder) add(id int64, mask uint32, wkb []byte) error {
	r := int32(len(b.g.roads))
	b.g.roads = append(b.g.roads, id)
	b.g.masks = append(b.g.masks, mask)
	for i := range b.g.defCount {
		if mask&(1<<i) != 0 {
			b.g.defCount[i]++
		}
	}
	return wkbLines(wkb, func(xy []float64) {
		c := append([]float64(nil), xy...)
		for i := 0; i+1 < len(c); i += 2 {
			b.extend(c[i], c[i+1])
			if i >= 2 && (b.segs%64 == 0) {
				b.segLen = append(b.segLen, math.Hypot(c[i]-c[i-2], c[i+1]-c[i-1]))
			}
			if i >= 2 {
				b.segs++
			}
		}
		b.lines = append(b.lines, c)
		b.lineRd = append(b.lineRd, r)
	})
}

// build cuts the lines into pieces and files them. The cell size makes
// about two pieces a cell, and at least the median segment's length.
func (b *roadGridBuilder) build() *roadGrid {
	g := &b.g
	if b.segs == 0 {
		g.nx, g.ny, g.h = 1, 1, 1
		g.minLon, g.minLat = 0, 0
		g.cellStart = []int32{0, 0}
		return g
	}
	area := max(b.maxLon-b.minLon, 1e-3) * max(b.maxLat-b.minLat, 1e-3)
	h := math.Sqrt(area / max(float64(b.segs)/2, 1))
	if len(b.segLen) > 0 {
		sort.Float64s(b.segLen)
		h = max(h, b.segLen[len(b.segLen)/2])
	}
	h = min(max(h, 1e-4), 1)
	for (math.Floor((b.maxLon-b.minLon)/h)+1)*(math.Floor((b.maxLat-b.minLat)/h)+1) > 1<<24 {
		h *= 1.25
	}
	g.h, g.minLon, g.minLat = h, b.minLon, b.minLat
	g.nx = int(math.Floor((b.maxLon-b.minLon)/h)) + 1
	g.ny = int(math.Floor((b.maxLat-b.minLat)/h)) + 1
	pieceMax := h * math.Pi / 180
	var cells []int32 // the cell of each piece
	for li, c := range b.lines {
		r := b.lineRd[li]
		for i := 0; i < len(c); i += 2 {
			x, y, z := unitVec(c[i], c[i+1])
			if i > 0 {
				// cut the arc from the previous point into pieces of at most pieceMax
				n := len(g.pts) - 3
				ax, ay, az := g.pts[n], g.pts[n+1], g.pts[n+2]
				theta := angle(ax, ay, az, x, y, z)
				k := int(math.Ceil(theta / pieceMax))
				for j := 1; j < k; j++ {
					t := float64(j) / float64(k)
					s0, s1 := math.Sin((1-t)*theta)/math.Sin(theta), math.Sin(t*theta)/math.Sin(theta)
					px, py, pz := s0*ax+s1*x, s0*ay+s1*y, s0*az+s1*z
					l := math.Sqrt(px*px + py*py + pz*pz)
					cells = append(cells, g.addPiece(r))
					g.pts = append(g.pts, px/l, py/l, pz/l)
				}
				cells = append(cells, g.addPiece(r))
			}
			g.pts = append(g.pts, x, y, z)
		}
	}
	b.lines = nil
	// file each piece in the cell of its midpoint
	count := make([]int32, g.nx*g.ny+1)
	for i := range g.piecePt {
		p := int(g.piecePt[i]) * 3
		ax, ay, az, bx, by, bz := g.pts[p], g.pts[p+1], g.pts[p+2], g.pts[p+3], g.pts[p+4], g.pts[p+5]
		mx, my, mz := ax+bx, ay+by, az+bz
		lon := math.Atan2(my, mx) * 180 / math.Pi
		lat := math.Atan2(mz, math.Hypot(mx, my)) * 180 / math.Pi
		g.half = max(g.half, angle(ax, ay, az, bx, by, bz)/2)
		g.maxAbsLat = max(g.maxAbsLat, math.Abs(lat)*math.Pi/180)
		cx, cy := g.cell(lon, lat)
		cells[i] = int32(cy*g.nx + cx)
		count[cells[i]+1]++
	}
	for i := 1; i < len(count); i++ {
		count[i] += count[i-1]
	}
	g.cellStart = append([]int32(nil), count...)
	g.cellItems = make([]int32, len(g.piecePt))
	for i, c := range cells {
		g.cellItems[count[c]] = int32(i)
		count[c]++
	}
	g.half *= 1 + 1e-9
	return g
}

// addPiece starts a piece at the next point to be appended (its end is the
// point after).
func (g *roadGrid) addPiece(road int32) int32 {
	g.piecePt = append(g.piecePt, int32(len(g.pts)/3-1))
	g.pieceRoad = append(g.pieceRoad, road)
	return 0
}

// cell returns the grid cell of lon/lat, clamped to the grid.
func (g *roadGrid) cell(lon, lat float64) (int, int) {
	cx := int(math.Floor((lon - g.minLon) / g.h))
	cy := int(math.Floor((lat - g.minLat) / g.h))
	return min(max(cx, 0), g.nx-1), min(max(cy, 0), g.ny-1)
}

// angle between unit vectors a and b (radians), accurate at small angles.
func angle(ax, ay, az, bx, by, bz float64) float64 {
	cx, cy, cz := ay*bz-az*by, az*bx-ax*bz, ax*by-ay*bx
	return math.Atan2(math.Sqrt(cx*cx+cy*cy+cz*cz), ax*bx+ay*by+az*bz)
}

// arcAngle is the angle from unit vector q to the great-circle arc from a
// to b (shorter than a half circle).
func arcAngle(qx, qy, qz, ax, ay, az, bx, by, bz float64) float64 {
	nx, ny, nz := ay*bz-az*by, az*bx-ax*bz, ax*by-ay*bx
	nn := math.Sqrt(nx*nx + ny*ny + nz*nz)
	if nn > 1e-15 {
		nx, ny, nz = nx/nn, ny/nn, nz/nn
		// q's projection on the circle lies between a and b
		if (ay*qz-az*qy)*nx+(az*qx-ax*qz)*ny+(ax*qy-ay*qx)*nz >= 0 &&
			(qy*bz-qz*by)*nx+(qz*bx-qx*bz)*ny+(qx*by-qy*bx)*nz >= 0 {
			return math.Asin(min(math.Abs(qx*nx+qy*ny+qz*nz), 1))
		}
	}
	return min(angle(qx, qy, qz, ax, ay, az), angle(qx, qy, qz, bx, by, bz))
}

// accessCandidate is a road that may be a village's nearest for the
// definitions in mask.
type accessCandidate struct {
	road int32
	mask uint32
}

// gridSearcher searches the grid for one goroutine at a time.
type gridSearcher struct {
	g     *roadGrid
	seen  []int32 // per road: 1 + its index in near while stamp matches
	stamp []int32
	cur   int32
	near  []nearRoad
}

type nearRoad struct {
	road int32
	s    float64
}

func (g *roadGrid) searcher() *gridSearcher {
	return &gridSearcher{g: g, seen: make([]int32, len(g.roads)), stamp: make([]int32, len(g.roads))}
}

// candidates appends to out the candidate roads of the village at lon/lat
// for every definition bit in want: all roads of the definition within
// accessCandidateRatio × the least angle plus the slack.
func (s *gridSearcher) candidates(lon, lat float64, want uint32, out []accessCandidate) []accessCandidate {
	g := s.g
	for i := range g.defCount {
		if g.defCount[i] == 0 {
			want &^= 1 << i // no road of it: no candidate anywhere
		}
	}
	if want == 0 {
		return out
	}
	s.cur++
	if s.cur == math.MaxInt32 {
		clear(s.stamp)
		s.cur = 1
	}
	s.near = s.near[:0]
	qx, qy, qz := unitVec(lon, lat)
	qlat := lat * math.Pi / 180
	cosMax := math.Cos(max(math.Abs(qlat), g.maxAbsLat))
	nd := len(g.defCount)
	var best [32]float64
	for i := 0; i < nd; i++ {
		best[i] = math.Inf(1)
	}
	cx, cy := g.cell(lon, lat)
	for k := 0; ; k++ {
		x0, x1, y0, y1 := cx-k, cx+k, cy-k, cy+k
		for y := max(y0, 0); y <= min(y1, g.ny-1); y++ {
			step := 1
			if y != y0 && y != y1 {
				step = 2 * k // the ring only: its two side cells
			}
			for x := x0; x <= x1; x += max(step, 1) {
				if x < 0 || x >= g.nx {
					continue
				}
				c := y*g.nx + x
				for _, p := range g.cellItems[g.cellStart[c]:g.cellStart[c+1]] {
					i := int(g.piecePt[p]) * 3
					pts := g.pts[i : i+6 : i+6]
					a := arcAngle(qx, qy, qz, pts[0], pts[1], pts[2], pts[3], pts[4], pts[5])
					r := g.pieceRoad[p]
					if s.stamp[r] == s.cur {
						n := &s.near[s.seen[r]]
						n.s = min(n.s, a)
					} else {
						s.stamp[r], s.seen[r] = s.cur, int32(len(s.near))
						s.near = append(s.near, nearRoad{r, a})
					}
					m := g.masks[r] & want
					for m != 0 {
						b := bitIndex(m)
						best[b] = min(best[b], a)
						m &= m - 1
					}
				}
			}
		}
		// the least angle to a midpoint outside the block scanned
		lb := math.Inf(1)
		if y0 > 0 {
			lb = min(lb, qlat-(g.minLat+float64(y0)*g.h)*math.Pi/180)
		}
		if y1 < g.ny-1 {
			lb = min(lb, (g.minLat+float64(y1+1)*g.h)*math.Pi/180-qlat)
		}
		qlon := lon * math.Pi / 180
		if x0 > 0 {
			d := qlon - (g.minLon+float64(x0)*g.h)*math.Pi/180
			lb = min(lb, 2*math.Asin(cosMax*math.Sin(max(d, 0)/2)))
		}
		if x1 < g.nx-1 {
			d := (g.minLon+float64(x1+1)*g.h)*math.Pi/180 - qlon
			lb = min(lb, 2*math.Asin(cosMax*math.Sin(max(d, 0)/2)))
		}
		if math.IsInf(lb, 1) {
			break // the whole grid is scanned
		}
		lb -= g.half // the least angle to a piece outside it
		done := true
		for m := want; m != 0; m &= m - 1 {
			b := bitIndex(m)
			if !(best[b]*accessCandidateRatio+accessCandidateSlack < lb) {
				done = false
				break
			}
		}
		if done {
			break
		}
	}
	for _, n := range s.near {
		var m uint32
		for bits := g.masks[n.road] & want; bits != 0; bits &= bits - 1 {
			b := bitIndex(bits)
			if n.s <= best[b]*accessCandidateRatio+accessCandidateSlack {
				m |= 1 << b
			}
		}
		if m != 0 {
			out = append(out, accessCandidate{n.road, m})
		}
	}
	return out
}

func bitIndex(m uint32) int {
	i := 0
	for m&1 == 0 {
		m >>= 1
		i++
	}
	return i
}
