package stats

import (
	"math"
	"testing"
)

// vincentyDirect returns the point at distance s metres from (lat, lon) along
// the geodesic with initial azimuth az (degrees clockwise from north) on the
// WGS84 ellipsoid (T. Vincenty, 1975). Tests use it to place fixtures at
// known geodesic distances independently of PostGIS.
func vincentyDirect(lat, lon, az, s float64) (float64, float64) {
	const (
		a = 6378137.0
		f = 1 / 298.257223563
		b = a * (1 - f)
	)
	rad := math.Pi / 180
	alpha1 := az * rad
	sinA1, cosA1 := math.Sincos(alpha1)
	tanU1 := (1 - f) * math.Tan(lat*rad)
	cosU1 := 1 / math.Sqrt(1+tanU1*tanU1)
	sinU1 := tanU1 * cosU1
	sigma1 := math.Atan2(tanU1, cosA1)
	sinAlpha := cosU1 * sinA1
	cosSqAlpha := 1 - sinAlpha*sinAlpha
	uSq := cosSqAlpha * (a*a - b*b) / (b * b)
	A := 1 + uSq/16384*(4096+uSq*(-768+uSq*(320-175*uSq)))
	B := uSq / 1024 * (256 + uSq*(-128+uSq*(74-47*uSq)))
	sigma := s / (b * A)
	var sinSigma, cosSigma, cos2SigmaM float64
	for i := 0; i < 200; i++ {
		cos2SigmaM = math.Cos(2*sigma1 + sigma)
		sinSigma, cosSigma = math.Sincos(sigma)
		deltaSigma := B * sinSigma * (cos2SigmaM + B/4*(cosSigma*(-1+2*cos2SigmaM*cos2SigmaM)-
			B/6*cos2SigmaM*(-3+4*sinSigma*sinSigma)*(-3+4*cos2SigmaM*cos2SigmaM)))
		prev := sigma
		sigma = s/(b*A) + deltaSigma
		if math.Abs(sigma-prev) < 1e-13 {
			break
		}
	}
	cos2SigmaM = math.Cos(2*sigma1 + sigma)
	sinSigma, cosSigma = math.Sincos(sigma)
	tmp := sinU1*sinSigma - cosU1*cosSigma*cosA1
	lat2 := math.Atan2(sinU1*cosSigma+cosU1*sinSigma*cosA1, (1-f)*math.Sqrt(sinAlpha*sinAlpha+tmp*tmp))
	lambda := math.Atan2(sinSigma*sinA1, cosU1*cosSigma-sinU1*sinSigma*cosA1)
	C := f / 16 * cosSqAlpha * (4 + f*(4-3*cosSqAlpha))
	L := lambda - (1-C)*f*sinAlpha*(sigma+C*sinSigma*(cos2SigmaM+C*cosSigma*(-1+2*cos2SigmaM*cos2SigmaM)))
	return lat2 / rad, lon + L/rad
}

func TestVincentyDirect(t *testing.T) {
	// Along the equator a geodesic is the equator: s = a·Δλ.
	lat, lon := vincentyDirect(0, 0, 90, 100000)
	if math.Abs(lat) > 1e-9 || math.Abs(lon-100000/6378137.0*180/math.Pi) > 1e-9 {
		t.Errorf("equator: got %v, %v", lat, lon)
	}
	// The WGS84 meridian arc from the equator to 45° is 4 984 944.378 m.
	lat, lon = vincentyDirect(0, 10, 0, 4984944.378)
	if math.Abs(lat-45) > 1e-7 || math.Abs(lon-10) > 1e-12 {
		t.Errorf("meridian: got %v, %v", lat, lon)
	}
}
