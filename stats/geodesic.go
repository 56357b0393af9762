package stats

import "math"

// Geodesics on the WGS84 ellipsoid (T. Vincenty, 1975: accurate to 0.5 mm;
// the iteration fails to converge only for nearly antipodal points, which a
// road and a village never are). Used to snap targets onto the routing
// graph exactly: PostGIS 3.3 has no geodesic ST_ClosestPoint.

const (
	wgsA = 6378137.0
	wgsF = 1 / 298.257223563
	wgsB = wgsA * (1 - wgsF)
)

const degree = math.Pi / 180

// geodesicInverse returns the geodesic distance in metres between
// (lon1, lat1) and (lon2, lat2) in degrees, and the initial azimuth at the
// first point (degrees clockwise from north).
func geodesicInverse(lon1, lat1, lon2, lat2 float64) (s, az1 float64) {
	if lon1 == lon2 && lat1 == lat2 {
		return 0, 0
	}
	L := (lon2 - lon1) * degree
	U1 := math.Atan((1 - wgsF) * math.Tan(lat1*degree))
	U2 := math.Atan((1 - wgsF) * math.Tan(lat2*degree))
	sinU1, cosU1 := math.Sincos(U1)
	sinU2, cosU2 := math.Sincos(U2)
	lambda := L
	var sinSigma, cosSigma, sigma, cosSqAlpha, cos2SigmaM, sinLambda, cosLambda float64
	// the terms below are those of the converged lambda: once it moves by
	// less than 1e-13, one more pass computes them from it (the terms of
	// the previous lambda are off by up to 1e-13 rad, 0.4 µm: 1e-9 of a
	// 50 m segment, against GeographicLib's ST_Length)
	converged := false
	for i := 0; i < 200; i++ {
		sinLambda, cosLambda = math.Sincos(lambda)
		sinSigma = math.Hypot(cosU2*sinLambda, cosU1*sinU2-sinU1*cosU2*cosLambda)
		if sinSigma == 0 {
			return 0, 0
		}
		cosSigma = sinU1*sinU2 + cosU1*cosU2*cosLambda
		sigma = math.Atan2(sinSigma, cosSigma)
		sinAlpha := cosU1 * cosU2 * sinLambda / sinSigma
		cosSqAlpha = 1 - sinAlpha*sinAlpha
		cos2SigmaM = 0
		if cosSqAlpha != 0 {
			cos2SigmaM = cosSigma - 2*sinU1*sinU2/cosSqAlpha
		}
		if converged {
			break
		}
		C := wgsF / 16 * cosSqAlpha * (4 + wgsF*(4-3*cosSqAlpha))
		prev := lambda
		lambda = L + (1-C)*wgsF*sinAlpha*(sigma+C*sinSigma*(cos2SigmaM+C*cosSigma*(-1+2*cos2SigmaM*cos2SigmaM)))
		converged = math.Abs(lambda-prev) < 1e-13
	}
	uSq := cosSqAlpha * (wgsA*wgsA - wgsB*wgsB) / (wgsB * wgsB)
	A := 1 + uSq/16384*(4096+uSq*(-768+uSq*(320-175*uSq)))
	B := uSq / 1024 * (256 + uSq*(-128+uSq*(74-47*uSq)))
	deltaSigma := B * sinSigma * (cos2SigmaM + B/4*(cosSigma*(-1+2*cos2SigmaM*cos2SigmaM)-
		B/6*cos2SigmaM*(-3+4*sinSigma*sinSigma)*(-3+4*cos2SigmaM*cos2SigmaM)))
	s = wgsB * A * (sigma - deltaSigma)
	az1 = math.Atan2(cosU2*sinLambda, cosU1*sinU2-sinU1*cosU2*cosLambda) / degree
	return s, az1
}

// geodesicDirect returns the point at s metres from (lon, lat) along the
// geodesic of initial azimuth az (degrees clockwise from north).
func geodesicDirect(lon, lat, az, s float64) (float64, float64) {
	sinA1, cosA1 := math.Sincos(az * degree)
	tanU1 := (1 - wgsF) * math.Tan(lat*degree)
	cosU1 := 1 / math.Sqrt(1+tanU1*tanU1)
	sinU1 := tanU1 * cosU1
	sigma1 := math.Atan2(tanU1, cosA1)
	sinAlpha := cosU1 * sinA1
	cosSqAlpha := 1 - sinAlpha*sinAlpha
	uSq := cosSqAlpha * (wgsA*wgsA - wgsB*wgsB) / (wgsB * wgsB)
	A := 1 + uSq/16384*(4096+uSq*(-768+uSq*(320-175*uSq)))
	B := uSq / 1024 * (256 + uSq*(-128+uSq*(74-47*uSq)))
	sigma := s / (wgsB * A)
	var sinSigma, cosSigma, cos2SigmaM float64
	for i := 0; i < 200; i++ {
		cos2SigmaM = math.Cos(2*sigma1 + sigma)
		sinSigma, cosSigma = math.Sincos(sigma)
		deltaSigma := B * sinSigma * (cos2SigmaM + B/4*(cosSigma*(-1+2*cos2SigmaM*cos2SigmaM)-
			B/6*cos2SigmaM*(-3+4*sinSigma*sinSigma)*(-3+4*cos2SigmaM*cos2SigmaM)))
		prev := sigma
		sigma = s/(wgsB*A) + deltaSigma
		if math.Abs(sigma-prev) < 1e-13 {
			break
		}
	}
	cos2SigmaM = math.Cos(2*sigma1 + sigma)
	sinSigma, cosSigma = math.Sincos(sigma)
	tmp := sinU1*sinSigma - cosU1*cosSigma*cosA1
	lat2 := math.Atan2(sinU1*cosSigma+cosU1*sinSigma*cosA1, (1-wgsF)*math.Sqrt(sinAlpha*sinAlpha+tmp*tmp))
	lambda := math.Atan2(sinSigma*sinA1, cosU1*cosSigma-sinU1*sinSigma*cosA1)
	C := wgsF / 16 * cosSqAlpha * (4 + wgsF*(4-3*cosSqAlpha))
	L := lambda - (1-C)*wgsF*sinAlpha*(sigma+C*sinSigma*(cos2SigmaM+C*cosSigma*(-1+2*cos2SigmaM*cos2SigmaM)))
	return lon + L/degree, lat2 / degree
}

// lineSnap is the geodesic-nearest point of a line to a point: its
// distance from the point and its distance along the line from the line's
// first vertex (both geodesic metres).
type lineSnap struct {
	dist, along float64
}

// snapToLine returns the geodesic-nearest point of the line (lon/lat
// vertices; each segment the geodesic between its vertices, as PostGIS
// geography measures it) to (lon, lat). Segments are first ranked by a
// local planar approximation (error far below 1 %); those that can hold the
// nearest point are then searched exactly by golden-section search along
// the geodesic (the distance from a point to a point moving along a short
// geodesic has a single minimum), to 0.1 mm.
func snapToLine(line [][2]float64, lon, lat float64) lineSnap {
	if len(line) == 0 {
		return lineSnap{dist: math.Inf(1)}
	}
	if len(line) == 1 {
		d, _ := geodesicInverse(lon, lat, line[0][0], line[0][1])
		return lineSnap{dist: d}
	}
	// local metres per degree at the point (ellipsoidal radii of curvature)
	sl := math.Sin(lat * degree)
	e2 := wgsF * (2 - wgsF)
	w := math.Sqrt(1 - e2*sl*sl)
	mLat := wgsA * (1 - e2) / (w * w * w) * degree
	mLon := wgsA / w * math.Cos(lat*degree) * degree
	approx := make([]float64, len(line)-1)
	best := math.Inf(1)
	for i := range approx {
		ax, ay := (line[i][0]-lon)*mLon, (line[i][1]-lat)*mLat
		bx, by := (line[i+1][0]-lon)*mLon, (line[i+1][1]-lat)*mLat
		approx[i] = segmentDistance(ax, ay, bx, by)
		best = math.Min(best, approx[i])
	}
	out := lineSnap{dist: math.Inf(1)}
	prefix := 0.0
	for i := range approx {
		segLen, az := geodesicInverse(line[i][0], line[i][1], line[i+1][0], line[i+1][1])
		if approx[i] <= best*1.01+1 {
			d, s := snapToGeodesic(line[i][0], line[i][1], az, segLen, lon, lat)
			if d < out.dist {
				out = lineSnap{dist: d, along: prefix + s}
			}
		}
		prefix += segLen
	}
	return out
}

// segmentDistance is the planar distance from the origin to segment a–b.
func segmentDistance(ax, ay, bx, by float64) float64 {
	dx, dy := bx-ax, by-ay
	l2 := dx*dx + dy*dy
	t := 0.0
	if l2 > 0 {
		t = math.Max(0, math.Min(1, -(ax*dx+ay*dy)/l2))
	}
	return math.Hypot(ax+t*dx, ay+t*dy)
}

// snapToGeodesic returns the distance from (lon, lat) to the nearest point
// of the geodesic from (lon0, lat0) at azimuth az over length metres, and
// that point's distance from (lon0, lat0).
func snapToGeodesic(lon0, lat0, az, length, lon, lat float64) (dist, s float64) {
	f := func(s float64) float64 {
		x, y := geodesicDirect(lon0, lat0, az, s)
		d, _ := geodesicInverse(lon, lat, x, y)
		return d
	}
	const phi = 0.6180339887498949
	lo, hi := 0.0, length
	x1, x2 := hi-phi*(hi-lo), lo+phi*(hi-lo)
	f1, f2 := f(x1), f(x2)
	for hi-lo > 1e-4 {
		if f1 <= f2 {
			hi, x2, f2 = x2, x1, f1
			x1 = hi - phi*(hi-lo)
			f1 = f(x1)
		} else {
			lo, x1, f1 = x1, x2, f2
			x2 = lo + phi*(hi-lo)
			f2 = f(x2)
		}
	}
	s = (lo + hi) / 2
	dist = f(s)
	// the minimum may sit at an end, where golden-section stops 0.1 mm short
	if d0 := f(0); d0 <= dist {
		dist, s = d0, 0
	}
	if d1 := f(length); d1 < dist {
		dist, s = d1, length
	}
	return dist, s
}
