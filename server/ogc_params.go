package server

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/cql2"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
)

// Paging limits of /items.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
	// MaxOffset bounds offset so that offset+limit never overflows and a
	// client cannot ask PostgreSQL to skip an absurd number of rows.
	MaxOffset = 1_000_000_000
)

// CRS84 is the only CRS lastmile serves (longitude, latitude on WGS84).
const CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"

// ItemsQuery is the parsed query of GET /items: paging, a bounding box, a
// datetime interval on completed_on and property filters. Every value has
// been checked against the catalog; nothing in it is request text meant
// for SQL. Its SQL is postgis's (ItemsQuery.Where).
type ItemsQuery = postgis.ItemsQuery

// Interval is a closed date interval; a nil end is open.
type Interval = postgis.Interval

// Filter is one property filter: field = any of values.
type Filter = postgis.Filter

// reservedParams are the query parameters that are not property filters.
var reservedParams = map[string]bool{
	"limit": true, "offset": true, "bbox": true, "bbox-crs": true,
	"datetime": true, "f": true, "crs": true,
	"filter": true, "filter-lang": true, "filter-crs": true, "sortby": true,
}

// ParseItemsQuery parses and checks the query of GET /items against the
// layer. It reports every problem at once, each naming the parameter.
func ParseItemsQuery(l *layer.Layer, q url.Values) (ItemsQuery, error) {
	out := ItemsQuery{Limit: DefaultLimit}
	var problems lastmile.Problems
	bad := problems.Add
	var (
		bboxRaw, filterRaw, filterLang string
		hasBBox, hasFilter             bool
		bboxCRS                        = CRS84CRS
	)
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		vals := q[name]
		if len(vals) != 1 {
			bad(name, strings.Join(vals, "&"), "is given %d times; give it once (separate several values with commas)", len(vals))
			continue
		}
		v := vals[0]
		switch name {
		case "limit":
			n, err := strconv.Atoi(v)
			switch {
			case err != nil:
				bad(name, v, "must be a whole number from 1 to %d", MaxLimit)
			case n < 1:
				bad(name, v, "must be at least 1")
			case n > MaxLimit:
				bad(name, v, "must be at most %d; page through larger results with offset or the next links", MaxLimit)
			default:
				out.Limit = n
			}
		case "offset":
			n, err := strconv.Atoi(v)
			switch {
			case err != nil:
				bad(name, v, "must be a whole number ≥ 0")
			case n < 0:
				bad(name, v, "must be ≥ 0")
			case n > MaxOffset:
				bad(name, v, "must be at most %d; narrow the query with bbox or filters", MaxOffset)
			default:
				out.Offset = n
			}
		case "bbox":
			bboxRaw, hasBBox = v, true
		case "bbox-crs", "crs", "filter-crs":
			c, msg := ParseCRS(v)
			switch {
			case msg != "":
				bad(name, v, "%s", msg)
			case name == "bbox-crs":
				bboxCRS = c
			case name == "crs":
				out.Output = postgis.Output{SRID: c.SRID, LatLon: c.LatLon, Projected: c.Projected}
			case c != CRS84CRS:
				bad(name, v, "filter geometries are read in %s only; write them as longitude, latitude", CRS84)
			}
		case "sortby":
			keys, p := ParseSortBy(l, v)
			problems.Append(p...)
			out.SortBy = keys
		case "filter":
			filterRaw, hasFilter = v, true
		case "filter-lang":
			switch v {
			case "cql2-text", "cql2-json", "cql-text":
				filterLang = v
			default:
				bad(name, v, "must be cql2-text (the default) or cql2-json")
			}
		case "f":
			if v != "json" && v != "geojson" && v != "application/geo+json" && v != "application/json" {
				bad(name, v, "only json (GeoJSON) is served")
			}
		case "datetime":
			iv, msg := parseDatetime(v)
			if msg != "" {
				bad(name, v, "%s", msg)
			} else {
				out.Time = iv
			}
		default:
			f, ok := l.Field(name)
			if !ok || !f.Filterable() {
				bad(name, v, "is not a parameter or a filterable field of %s (parameters: limit, offset, bbox, bbox-crs, crs, datetime, filter, filter-lang, filter-crs, sortby; fields: %s)",
					l.Name, strings.Join(l.FilterableFields(), ", "))
				continue
			}
			values, err := f.ParseList(v)
			if err != nil {
				problems.AddError(name, err)
				continue
			}
			out.Filters = append(out.Filters, Filter{Field: f.Name, Values: values})
		}
	}
	if hasBBox {
		b, msg := parseBBoxIn(bboxRaw, bboxCRS)
		if msg != "" {
			bad("bbox", bboxRaw, "%s", msg)
		} else {
			out.BBox = b
			if bboxCRS != CRS84CRS {
				out.BBoxSRID = bboxCRS.SRID
			}
		}
	}
	if hasFilter {
		f, p := parseFilter(l, filterRaw, filterLang)
		if p != nil {
			problems.Append(*p)
		} else {
			out.Filter = f
		}
	} else if filterLang != "" {
		bad("filter-lang", filterLang, "is given without a filter")
	}
	if err := problems.Err("the query parameters are invalid"); err != nil {
		return ItemsQuery{}, err
	}
	return out, nil
}

// parseFilter parses and checks a CQL2 filter (text unless lang is
// cql2-json) against l's queryables; the problem names the position of a
// syntax error or the property or value at fault.
func parseFilter(l *layer.Layer, src, lang string) (*cql2.Filter, *lastmile.Problem) {
	e, err := ParseCQL2(src, lang)
	if err == nil {
		var f *cql2.Filter
		if f, err = cql2.NewFilter(e, cql2.LayerQueryables(l, "")); err == nil {
			return f, nil
		}
	}
	p := FilterProblem(err)
	p.Value = lastmile.Clip(src)
	return nil, &p
}

// ParseCQL2 parses a filter in lang: cql2-text (also "" and the draft name
// cql-text) or cql2-json.
func ParseCQL2(src, lang string) (cql2.Expr, error) {
	if lang == "cql2-json" {
		return cql2.ParseJSON([]byte(src))
	}
	return cql2.ParseText(src)
}

// FilterProblem turns a filter's parse or compile error into the problem
// a 400 reports: "position 17: …" for a text syntax error, "at args/1: …"
// for a JSON one, the compiler's message otherwise.
func FilterProblem(err error) lastmile.Problem {
	var syn *cql2.SyntaxError
	var jerr *cql2.JSONError
	var lerr *lastmile.Error
	switch {
	case errors.As(err, &syn):
		return lastmile.Problem{Field: "filter", Message: fmt.Sprintf("syntax error at character %d: %s", syn.Pos, syn.Msg)}
	case errors.As(err, &jerr):
		return lastmile.Problem{Field: "filter", Message: jerr.Error()}
	case errors.As(err, &lerr) && len(lerr.Details) > 0:
		return lastmile.Problem{Field: "filter", Message: lerr.Details[0].Message}
	}
	return lastmile.Problem{Field: "filter", Message: err.Error()}
}

// parseBBoxIn parses a bbox in the axis order of c (latitude first for
// EPSG:4326 and EPSG:4490) and returns it as minx, miny, maxx, maxy with x
// the longitude or easting.
func parseBBoxIn(s string, c CRS) ([]float64, string) {
	if c == CRS84CRS {
		return parseBBox(s)
	}
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return nil, fmt.Sprintf("must be 4 numbers in the axis order of %s; got %d", c.URI, len(parts))
	}
	n := make([]float64, 4)
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Sprintf("number %d (%q) is not a finite number", i+1, lastmile.Clip(p))
		}
		n[i] = f
	}
	if c.LatLon {
		n = []float64{n[1], n[0], n[3], n[2]}
		if b, msg := parseBBox(fmt.Sprintf("%g,%g,%g,%g", n[0], n[1], n[2], n[3])); msg != "" {
			return nil, msg + " (" + c.URI + " is latitude first: minlat,minlon,maxlat,maxlon)"
		} else {
			return b, ""
		}
	}
	if n[0] > n[2] || n[1] > n[3] {
		return nil, "the minimum corner is above or right of the maximum corner"
	}
	return n, ""
}

// parseBBox parses "minx,miny,maxx,maxy" or the 6-number 3D form (heights
// ignored). A box crossing the antimeridian has minx > maxx.
func parseBBox(s string) ([]float64, string) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 && len(parts) != 6 {
		return nil, fmt.Sprintf("must be 4 numbers minlon,minlat,maxlon,maxlat (or 6 with heights); got %d", len(parts))
	}
	n := make([]float64, len(parts))
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Sprintf("number %d (%q) is not a finite number", i+1, lastmile.Clip(p))
		}
		n[i] = f
	}
	if len(n) == 6 {
		n = []float64{n[0], n[1], n[3], n[4]}
	}
	for _, i := range []int{0, 2} {
		if n[i] < -180 || n[i] > 180 {
			return nil, fmt.Sprintf("longitude %g is outside -180…180", n[i])
		}
	}
	for _, i := range []int{1, 3} {
		if n[i] < -90 || n[i] > 90 {
			return nil, fmt.Sprintf("latitude %g is outside -90…90", n[i])
		}
	}
	if n[1] > n[3] {
		return nil, fmt.Sprintf("minimum latitude %g is above maximum latitude %g", n[1], n[3])
	}
	return n, ""
}

// parseDatetime parses an RFC 3339 date or date-time, or an interval
// "start/end" where either end may be ".." or empty (open). Times are
// reduced to their UTC date, since completed_on is a date.
func parseDatetime(s string) (*Interval, string) {
	parseOne := func(p string) (*time.Time, string) {
		if p == "" || p == ".." {
			return nil, ""
		}
		// GDAL's OAPIF driver writes a date without a time as "2015-01-01T".
		if t, err := time.Parse(time.DateOnly, strings.TrimSuffix(p, "T")); err == nil {
			return &t, ""
		}
		t, err := time.Parse(time.RFC3339, p)
		if err != nil {
			return nil, fmt.Sprintf("%q is not a date (YYYY-MM-DD) or RFC 3339 date-time", lastmile.Clip(p))
		}
		d := time.Date(t.UTC().Year(), t.UTC().Month(), t.UTC().Day(), 0, 0, 0, 0, time.UTC)
		return &d, ""
	}
	start, end, isInterval := strings.Cut(s, "/")
	if !isInterval {
		if s == "" || s == ".." {
			return nil, "must be a date, a date-time or an interval start/end"
		}
		t, msg := parseOne(s)
		if msg != "" {
			return nil, msg
		}
		return &Interval{Start: t, End: t}, ""
	}
	if strings.Contains(end, "/") {
		return nil, "an interval has one '/'"
	}
	a, msg := parseOne(start)
	if msg != "" {
		return nil, msg
	}
	b, msg := parseOne(end)
	if msg != "" {
		return nil, msg
	}
	if a == nil && b == nil {
		return nil, "an interval needs at least one end"
	}
	if a != nil && b != nil && b.Before(*a) {
		return nil, "the interval ends before it starts"
	}
	return &Interval{Start: a, End: b}, ""
}
