package ingest

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/geo"
	"github.com/lastmile/lastmile/layer"
)

// CRS is a parsed --crs value: a Go-side conversion to WGS84 (GCJ-02,
// BD-09) or an EPSG code transformed by PostGIS during the load.
type CRS struct {
	Name  string                    // as given, normalised: "EPSG:4326", "GCJ-02", …
	SRID  int                       // 4326 for WGS84-like systems converted in Go
	toWGS func(orb.Point) orb.Point // nil for none
}

// ParseCRS parses EPSG:4326, EPSG:4490 (CGCS2000, treated as WGS84),
// GCJ-02, BD-09 or EPSG:<n>. The empty string means EPSG:4326.
func ParseCRS(s string) (CRS, error) {
	norm := strings.ToUpper(strings.TrimSpace(s))
	norm = strings.NewReplacer("_", "", "-", "", " ", "").Replace(norm)
	switch norm {
	case "", "EPSG:4326", "4326", "WGS84", "EPSG:4490", "4490", "CGCS2000":
		name := "EPSG:4326"
		if strings.Contains(norm, "4490") || norm == "CGCS2000" {
			name = "EPSG:4490"
		}
		return CRS{Name: name, SRID: 4326}, nil
	case "GCJ02", "GCJ", "AMAP", "GAODE":
		return CRS{Name: "GCJ-02", SRID: 4326, toWGS: geo.GCJ02ToWGS84}, nil
	case "BD09", "BD09LL", "BAIDU":
		return CRS{Name: "BD-09", SRID: 4326, toWGS: geo.BD09ToWGS84}, nil
	}
	code := strings.TrimPrefix(norm, "EPSG:")
	n, err := strconv.Atoi(code)
	if err != nil || n <= 0 {
		return CRS{}, lastmile.Invalid("unknown coordinate system",
			lastmile.Problem{Field: "crs", Value: s, Message: "must be EPSG:4326, EPSG:4490, GCJ-02, BD-09 or EPSG:<code>"})
	}
	return CRS{Name: "EPSG:" + code, SRID: n}, nil
}

// keySynonyms maps common column headers to field names (besides the
// field's own name and its English and Chinese labels).
var keySynonyms = map[string]string{
	"id": "ext_id", "编号": "ext_id", "外部id": "ext_id",
	"名字": "name", "道路名称": "name", "路线名称": "name", "路名": "name", "项目名称": "name", "村名": "name",
	"建设状态": "status", "项目状态": "status", "进度": "status",
	"开工时间": "started_on", "开工": "started_on",
	"完工时间": "completed_on", "竣工日期": "completed_on", "竣工时间": "completed_on", "完工": "completed_on",
	"总投资": "funding_yuan", "投资额": "funding_yuan", "资金": "funding_yuan", "投资(元)": "funding_yuan",
	"路面": "surface", "路面材料": "surface", "路面类型": "surface",
	"道路等级": "road_class", "公路等级": "tech_grade", "宽度": "width_m", "路宽": "width_m", "路面宽度(米)": "width_m",
	"区划代码": "admin_code", "行政代码": "admin_code",
}

// normaliser turns records into validated column values for one layer.
type normaliser struct {
	layer   *layer.Layer
	crs     CRS
	swapXY  bool
	rename  map[string]string // source key → field name
	fields  map[string]bool   // fields seen in this file
	source  string            // file base name, for default ext_ids
	swapped []int             // rows whose coordinates look swapped
	columns map[string]string // source key → the field it filled, or "props"
	guessed int               // the row whose coordinates were explained as not degrees
}

func newNormaliser(l *layer.Layer, crs CRS, mapping map[string]string, source string, swapXY bool) *normaliser {
	n := &normaliser{layer: l, crs: crs, swapXY: swapXY, rename: map[string]string{}, fields: map[string]bool{}, source: source, columns: map[string]string{}}
	for k, v := range keySynonyms {
		if _, ok := l.Field(v); ok {
			n.rename[k] = v
		}
	}
	for _, f := range l.Fields {
		if f.ReadOnly {
			continue
		}
		n.rename[strings.ToLower(f.Label)] = f.Name
		n.rename[f.LabelZH] = f.Name
		n.rename[f.Name] = f.Name
	}
	for target, src := range mapping {
		n.rename[strings.ToLower(strings.TrimSpace(src))] = target
	}
	return n
}

// ParseMapping parses --map 'surface=路面类型,completed_on=完工日期' and
// checks each target against the layer.
func ParseMapping(l *layer.Layer, s string) (map[string]string, error) {
	out := map[string]string{}
	var problems lastmile.Problems
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		target, src, ok := strings.Cut(part, "=")
		target, src = strings.TrimSpace(target), strings.TrimSpace(src)
		if !ok || target == "" || src == "" {
			problems.Add("map", part, "must be field=column")
			continue
		}
		if f, ok := l.Field(target); !ok || f.ReadOnly {
			problems.Add("map", part, "%q is not a writable field of layer %s", target, l.Name)
			continue
		}
		out[target] = src
	}
	if err := problems.Err("the attribute mapping is invalid"); err != nil {
		return nil, err
	}
	return out, nil
}

// row is a record ready for the staging table.
type row struct {
	num    int
	extID  string
	values map[string]any // validated column values
	geom   orb.Geometry   // WGS84 unless srid says otherwise
	srid   int
}

// normalise maps, converts and validates rec. It returns the problems
// (with rec's row number) when the record cannot be loaded.
func (n *normaliser) normalise(rec *Record) (*row, []lastmile.Problem) {
	var problems lastmile.Problems
	problems.Append(rec.Problems...)
	props := map[string]any{}
	extra := map[string]any{}
	for k, v := range rec.Props {
		name, ok := n.rename[strings.ToLower(strings.TrimSpace(k))]
		if !ok {
			name, ok = n.rename[strings.TrimSpace(k)]
		}
		if !ok {
			if s, isStr := v.(string); !isStr || strings.TrimSpace(s) != "" {
				extra[k] = plain(v)
				n.columns[k] = "props"
			}
			continue
		}
		n.columns[k] = name
		if name == "props" {
			if m, ok := v.(map[string]any); ok {
				for pk, pv := range m {
					extra[pk] = plain(pv)
				}
				continue
			}
		}
		f, _ := n.layer.Field(name)
		cv, skip := coerce(f, v)
		if skip {
			continue
		}
		props[name] = cv
	}
	extID := rec.ExtID
	if v, ok := props["ext_id"]; ok {
		if s, ok := v.(string); ok && s != "" {
			extID = s
		}
		delete(props, "ext_id")
	}
	if extID == "" {
		extID = fmt.Sprintf("%s:%d", n.source, rec.Row)
	}
	if len(extra) > 0 {
		props["props"] = extra
	}
	values, vp := n.layer.Validate(props, false)
	for _, p := range vp {
		p.Row = rec.Row
		problems.Append(p)
	}
	for k := range values {
		n.fields[k] = true
	}
	r := &row{num: rec.Row, extID: extID, values: values, srid: n.crs.SRID}
	if rec.SRID != 0 {
		r.srid = rec.SRID
		if r.srid == 4490 {
			r.srid = 4326
		}
	}
	g := rec.Geometry
	if g != nil && len(rec.Problems) == 0 {
		if n.swapXY {
			g = geo.Swap(g)
		}
		if n.crs.toWGS != nil && rec.SRID == 0 {
			g = geo.Apply(g, n.crs.toWGS)
		}
		g = n.promote(g)
		if msg := n.layer.CheckVertices(g); msg != "" {
			problems.AddRow(rec.Row, "geometry", "", "%s", msg)
		} else if kind := geo.Kind(g); !n.layer.AllowsGeometry(kind) {
			problems.AddRow(rec.Row, "geometry", kind, "is not allowed in layer %s (allowed: %s)", n.layer.Name, strings.Join(n.layer.GeomKinds, ", "))
		} else if p, ok := firstPoint(g); r.srid == 4326 && ok && (math.Abs(p[0]) > 360 || math.Abs(p[1]) > 360) && !math.IsInf(p[0]+p[1], 0) {
			// metres, not degrees (swapped degrees are geo.Validate's)
			msg := fmt.Sprintf("coordinates %s are not degrees: see row %d", fmtPoint(p), n.guessed)
			if n.guessed == 0 {
				n.guessed = rec.Row
				msg = guessCRS(p).Text
			}
			problems.AddRow(rec.Row, "geometry", "", "%s", msg)
		} else if r.srid == 4326 {
			if geo.LooksSwapped(g) {
				n.swapped = append(n.swapped, rec.Row)
			}
			for _, msg := range geo.Validate(g) {
				problems.AddRow(rec.Row, "geometry", "", "%s", msg)
			}
		} else if msg := checkFinite(g); msg != "" {
			problems.AddRow(rec.Row, "geometry", "", "%s", msg)
		}
	} else if g == nil && len(rec.Problems) == 0 {
		problems.AddRow(rec.Row, "geometry", "", "geometry is missing")
	}
	r.geom = g
	if problems.Len() > 0 {
		return nil, problems.List
	}
	return r, nil
}

// columnReport tells what became of each column: order first (the
// file's header, when the reader knows it), then the other keys seen.
func (n *normaliser) columnReport(order []string, geom []ColumnReport) []ColumnReport {
	out := append([]ColumnReport(nil), geom...)
	done := map[string]bool{}
	for _, c := range geom {
		done[c.Column] = true
	}
	add := func(k string) {
		if done[k] {
			return
		}
		done[k] = true
		f, ok := n.columns[k]
		if !ok {
			f = "(empty)"
		}
		out = append(out, ColumnReport{Column: k, Field: f})
	}
	for _, k := range order {
		add(k)
	}
	rest := make([]string, 0, len(n.columns))
	for k := range n.columns {
		rest = append(rest, k)
	}
	slices.Sort(rest)
	for _, k := range rest {
		add(k)
	}
	return out
}

// promote turns single geometries into their multi kind (and one-member
// multis into singles) when the layer allows only the other.
func (n *normaliser) promote(g orb.Geometry) orb.Geometry {
	l := n.layer
	switch v := g.(type) {
	case orb.Polygon:
		if !l.AllowsGeometry(layer.Polygon) && l.AllowsGeometry(layer.MultiPolygon) {
			return orb.MultiPolygon{v}
		}
	case orb.LineString:
		if !l.AllowsGeometry(layer.LineString) && l.AllowsGeometry(layer.MultiLineString) {
			return orb.MultiLineString{v}
		}
	case orb.MultiPolygon:
		if len(v) == 1 && !l.AllowsGeometry(layer.MultiPolygon) && l.AllowsGeometry(layer.Polygon) {
			return v[0]
		}
	case orb.MultiLineString:
		if len(v) == 1 && !l.AllowsGeometry(layer.MultiLineString) && l.AllowsGeometry(layer.LineString) {
			return v[0]
		}
	case orb.MultiPoint:
		if len(v) == 1 && l.AllowsGeometry(layer.Point) {
			return v[0]
		}
	case orb.Collection:
		if len(v) == 1 {
			return n.promote(v[0])
		}
	}
	return g
}

func checkFinite(g orb.Geometry) string {
	msg := ""
	geo.Apply(g, func(p orb.Point) orb.Point {
		if msg == "" && (math.IsNaN(p[0]) || math.IsNaN(p[1]) || math.IsInf(p[0], 0) || math.IsInf(p[1], 0)) {
			msg = fmt.Sprintf("coordinate [%g %g] is not a finite number", p[0], p[1])
		}
		return p
	})
	return msg
}

// plain turns json.Number into float64 or int64 for the props object.
func plain(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x.String()
	case map[string]any:
		for k, e := range x {
			x[k] = plain(e)
		}
	case []any:
		for i, e := range x {
			x[i] = plain(e)
		}
	}
	return v
}

// coerce converts a raw value (a string from CSV, KML or OSM; a JSON value
// from GeoJSON) to what layer.Validate expects for f: numbers from numeric
// strings, dates in the usual Chinese spellings, booleans from 是/否, enum
// values through the synonym table. Empty strings are dropped (skip).
// Values it cannot convert are passed on unchanged for Validate to report.
func coerce(f layer.Field, v any) (out any, skip bool) {
	if s, ok := v.(string); ok {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, true
		}
		v = s
	}
	switch f.Type {
	case layer.Integer, layer.Number, layer.Money:
		switch x := v.(type) {
		case string:
			t := strings.ReplaceAll(strings.ReplaceAll(x, ",", ""), "，", "")
			if n, err := strconv.ParseFloat(t, 64); err == nil {
				return n, false
			}
		case json.Number:
			if n, err := x.Float64(); err == nil {
				return n, false
			}
		}
	case layer.Date:
		switch x := v.(type) {
		case string:
			if d, ok := parseDate(x); ok {
				return d, false
			}
			if d, ok := excelDate(x); ok {
				return d, false
			}
		case json.Number:
			if d, ok := excelDate(x.String()); ok {
				return d, false
			}
		}
	case layer.Boolean:
		switch x := v.(type) {
		case string:
			switch strings.ToLower(x) {
			case "是", "true", "t", "yes", "y", "1", "贫困村":
				return true, false
			case "否", "false", "f", "no", "n", "0", "非贫困村":
				return false, false
			}
		case json.Number:
			switch x.String() {
			case "1":
				return true, false
			case "0":
				return false, false
			}
		}
	case layer.Text:
		switch x := v.(type) {
		case json.Number:
			return x.String(), false
		}
	case layer.Enum:
		if s, ok := v.(string); ok {
			return enumValue(f, s), false
		}
		if x, ok := v.(json.Number); ok {
			return enumValue(f, x.String()), false
		}
	}
	return v, false
}

// enumValue returns the code s spells for f (its code, a label or a
// synonym the catalog declares: layer.Field.Lookup), or s unchanged for
// Validate to report.
func enumValue(f layer.Field, s string) string {
	if c, ok := f.Lookup(s); ok {
		return c
	}
	return s
}

var dateLayouts = []string{
	"2006-01-02", "2006-1-2", "2006/1/2", "2006.1.2", "2006年1月2日", "20060102",
	"2006-01-02 15:04:05", "2006/1/2 15:04:05", "2006/1/2 15:04", "2006-01-02T15:04:05Z07:00",
	"2006-1", "2006/1", "2006年1月",
}

// parseDate accepts the date spellings of Chinese spreadsheets and returns
// YYYY-MM-DD.
func parseDate(s string) (string, bool) {
	for _, layout := range dateLayouts {
		if d, err := time.Parse(layout, s); err == nil {
			return d.Format(time.DateOnly), true
		}
	}
	return "", false
}

// excelDate reads a date a spreadsheet stored as its serial day number
// (days since 1899-12-30, what a date cell shows when its format is lost:
// 42185 is 2015-06-30), with the time of day as a fraction. Only
// 20000–79999 (1954-10-03 … 2119-01-10) are taken as serials: no other
// date spelling is a five-digit number.
func excelDate(s string) (string, bool) {
	if !isDecimal(s) {
		return "", false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 20000 || f >= 80000 {
		return "", false
	}
	return time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(f)).Format(time.DateOnly), true
}
