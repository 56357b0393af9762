package server

import (
	"fmt"
	"strconv"
	"strings"
)

// CRS is a coordinate reference system the feature API serves (OGC API
// Features Part 2), transformed by PostGIS from the stored EPSG:4326.
type CRS struct {
	URI  string // its OGC URI
	SRID int    // its PostGIS SRID
	// LatLon is EPSG's axis order latitude, longitude (EPSG:4326 and
	// EPSG:4490 by their URIs; CRS84 is longitude, latitude).
	LatLon bool
	// Projected is a CRS in metres (EPSG:3857, the Gauss–Krüger zones).
	Projected bool
}

// The CRSs served: CRS84 (the default and storage CRS), EPSG:4326, CGCS2000
// (EPSG:4490), Web Mercator and the CGCS2000 Gauss–Krüger zones EPSG:4491–4554
// (3° and 6° zones, with and without the zone number in the false easting).
var (
	CRS84CRS  = CRS{URI: CRS84, SRID: 4326}
	servedCRS = func() []CRS {
		out := []CRS{CRS84CRS,
			{URI: epsgURI(4326), SRID: 4326, LatLon: true},
			{URI: epsgURI(4490), SRID: 4490, LatLon: true},
			{URI: epsgURI(3857), SRID: 3857, Projected: true},
		}
		for srid := 4491; srid <= 4554; srid++ {
			out = append(out, CRS{URI: epsgURI(srid), SRID: srid, Projected: true})
		}
		return out
	}()
)

func epsgURI(srid int) string { return "http://www.opengis.net/def/crs/EPSG/0/" + strconv.Itoa(srid) }

// CRSURIs lists the URIs of the served CRSs, CRS84 first.
func CRSURIs() []string {
	out := make([]string, len(servedCRS))
	for i, c := range servedCRS {
		out[i] = c.URI
	}
	return out
}

// ParseCRS reads a CRS URI (http://www.opengis.net/def/crs/EPSG/0/4490), a
// safe CURIE ([EPSG:4490]) or EPSG:4490, and returns the served CRS; the
// message says what is wrong otherwise.
func ParseCRS(s string) (CRS, string) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(strings.TrimPrefix(t, "<"), ">")
	t = strings.TrimSuffix(strings.TrimPrefix(t, "["), "]")
	t = strings.Replace(t, "https://", "http://", 1)
	switch {
	case t == CRS84 || strings.EqualFold(t, "OGC:CRS84") || t == "http://www.opengis.net/def/crs/OGC/0/CRS84":
		return CRS84CRS, ""
	case strings.HasPrefix(strings.ToUpper(t), "EPSG:"):
		t = epsgURI(atoiOr(t[5:]))
	}
	for _, c := range servedCRS {
		if c.URI == t {
			return c, ""
		}
	}
	return CRS{}, fmt.Sprintf("is not a served CRS; use %s, EPSG:4326 (lat/lon), EPSG:4490 (CGCS2000, lat/lon), EPSG:3857 or a CGCS2000 Gauss–Krüger zone EPSG:4491–4554, written as http://www.opengis.net/def/crs/EPSG/0/4490", CRS84)
}

func atoiOr(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}
