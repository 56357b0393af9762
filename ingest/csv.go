package ingest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/paulmach/orb"
	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/ewkbhex"
	"github.com/twpayne/go-geom/encoding/wkt"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"
)

// CSVOptions name the geometry columns of a CSV file. Empty names are
// detected from the header: a WKT/EWKT/EWKB-hex column (wkt, geom,
// geometry, the_geom, shape, 几何, …) or a longitude and a latitude column
// (lon/lat, lng/lat, x/y, longitude/latitude, 经度/纬度).
type CSVOptions struct {
	Geom string // WKT, EWKT or EWKB-hex column
	Lon  string
	Lat  string
	// Encoding overrides the detected text encoding (see ParseEncoding).
	Encoding string
	// MaxColumns bounds the columns of a header row (CSV and spreadsheets);
	// 0: DefaultMaxColumns.
	MaxColumns int
}

// DefaultMaxColumns is the most columns a CSV file or sheet may have
// (import --max-columns). The widest bureau sheets have a few dozen; a file
// of a million columns cost seconds of CPU a row before it was refused.
const DefaultMaxColumns = 1000

var (
	geomHeaders = []string{"wkt", "ewkt", "geom", "geometry", "the_geom", "shape", "wkb", "ewkb", "几何", "坐标串", "空间信息"}
	lonHeaders  = []string{"lon", "lng", "long", "longitude", "x", "经度", "东经", "point_x"}
	latHeaders  = []string{"lat", "latitude", "y", "纬度", "北纬", "point_y"}
)

// decodeText returns r as UTF-8: a UTF-8 BOM is dropped; text that is not
// valid UTF-8 in its first 64 KiB is decoded as GB18030 (a superset of
// GBK, what Excel in China writes). It returns the encoding detected.
func decodeText(r io.Reader, given string) (io.Reader, string, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if e, ok := lookupEncoding(given); ok {
		if head, _ := br.Peek(3); bytes.HasPrefix(head, []byte("\xef\xbb\xbf")) {
			br.Discard(3)
		}
		if e.Name == "UTF-8" {
			return br, "UTF-8 (given)", nil
		}
		return transform.NewReader(br, e.dec.NewDecoder()), e.Name + " (given)", nil
	}
	head, err := br.Peek(64 << 10)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, "", err
	}
	if bytes.HasPrefix(head, []byte("\xff\xfe")) || bytes.HasPrefix(head, []byte("\xfe\xff")) {
		return nil, "", fileError(0, "the file is UTF-16 (Excel's \"Unicode text\"): save it as CSV UTF-8 or GBK")
	}
	if bytes.HasPrefix(head, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
		return br, "UTF-8 (detected: BOM)", nil
	}
	check := head
	if len(head) == 64<<10 {
		// the peek may end inside a multi-byte character: cut it off
		for i := len(check) - 1; i >= 0 && i >= len(check)-4; i-- {
			if utf8.RuneStart(check[i]) {
				if !utf8.FullRune(check[i:]) {
					check = check[:i]
				}
				break
			}
		}
	}
	if utf8.Valid(check) {
		return br, "UTF-8 (detected)", nil
	}
	return transform.NewReader(br, simplifiedchinese.GB18030.NewDecoder()), "GB18030 (detected: not UTF-8; GB18030 includes GBK)", nil
}

// csvReader reads CSV rows with a header.
type csvReader struct {
	r        *csv.Reader
	header   []string
	geomCol  int
	lonCol   int
	latCol   int
	row      int
	encoding string
}

// NewCSVReader returns a reader of a CSV file with a header row.
func NewCSVReader(in io.Reader, opt CSVOptions) (Reader, error) {
	text, enc, err := decodeText(in, opt.Encoding)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(text)
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.ReuseRecord = false
	header, err := r.Read()
	if err == io.EOF {
		return nil, fileError(0, "the CSV file is empty: expected a header row")
	}
	if err != nil {
		return nil, fileError(0, "reading the CSV header: %v", err)
	}
	c := &csvReader{r: r, header: header, geomCol: -1, lonCol: -1, latCol: -1, encoding: enc}
	for i := range header {
		header[i] = strings.TrimSpace(strings.TrimPrefix(header[i], "\ufeff"))
	}
	if c.geomCol, c.lonCol, c.latCol, err = geometryColumns(header, opt, "the CSV header"); err != nil {
		return nil, err
	}
	return c, nil
}

// geometryColumns finds the geometry columns in a header row (of a CSV
// file or a spreadsheet, what): the columns opt names, or else a
// WKT/EWKT/EWKB-hex column, or a longitude and a latitude column, by the
// usual names. Column indexes not found are -1.
func geometryColumns(header []string, opt CSVOptions, what string) (geomCol, lonCol, latCol int, err error) {
	limit := opt.MaxColumns
	if limit <= 0 {
		limit = DefaultMaxColumns
	}
	if len(header) > limit {
		return -1, -1, -1, fileError(1, "%s has %d columns, more than the limit of %d (import --max-columns)", what, len(header), limit)
	}
	find := func(given string, names []string) (int, error) {
		if given != "" {
			for i, h := range header {
				if strings.EqualFold(h, given) {
					return i, nil
				}
			}
			return -1, fileError(0, "%s has no column %q (columns: %s)", what, given, strings.Join(header, ", "))
		}
		for _, n := range names {
			for i, h := range header {
				if strings.EqualFold(h, n) {
					return i, nil
				}
			}
		}
		return -1, nil
	}
	lonCol, latCol = -1, -1
	if geomCol, err = find(opt.Geom, geomHeaders); err != nil {
		return -1, -1, -1, err
	}
	if geomCol < 0 || opt.Lon != "" || opt.Lat != "" {
		geomCol = -1
		if opt.Geom != "" {
			geomCol, _ = find(opt.Geom, nil)
		}
		if lonCol, err = find(opt.Lon, lonHeaders); err != nil {
			return -1, -1, -1, err
		}
		if latCol, err = find(opt.Lat, latHeaders); err != nil {
			return -1, -1, -1, err
		}
	}
	if geomCol < 0 && (lonCol < 0 || latCol < 0) {
		return -1, -1, -1, fileError(0, "%s (%s) has no geometry column (wkt, geom, geometry, …) and no longitude/latitude columns (lon/lat, lng/lat, x/y, 经度/纬度): name them with the geometry, lon and lat options",
			what, strings.Join(header, ", "))
	}
	return geomCol, lonCol, latCol, nil
}

// Encoding returns the file's encoding and how it was chosen.
func (c *csvReader) Encoding() string { return c.encoding }

// Columns returns the header, in order.
func (c *csvReader) Columns() []string { return c.header }

// GeometryColumns names the columns the geometry is read from.
func (c *csvReader) GeometryColumns() []ColumnReport {
	return geometryReport(c.header, c.geomCol, c.lonCol, c.latCol)
}

// geometryReport is the report of the geometry columns.
func geometryReport(header []string, geomCol, lonCol, latCol int) []ColumnReport {
	var out []ColumnReport
	if geomCol >= 0 {
		out = append(out, ColumnReport{Column: header[geomCol], Field: "geometry"})
	}
	if lonCol >= 0 && latCol >= 0 {
		out = append(out, ColumnReport{Column: header[lonCol], Field: "geometry (longitude, x)"},
			ColumnReport{Column: header[latCol], Field: "geometry (latitude, y)"})
	}
	return out
}

func (c *csvReader) Next() (*Record, error) {
	fields, err := c.r.Read()
	if err == io.EOF {
		return nil, io.EOF
	}
	c.row++
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) && fields == nil {
			return nil, fileError(c.row, "line %d: %v", pe.Line, pe.Err)
		}
		if fields == nil {
			return nil, fileError(c.row, "%v", err)
		}
	}
	return parseCSVRow(c.row, c.header, fields, c.geomCol, c.lonCol, c.latCol), nil
}

// parseCSVRow turns one CSV row into a record.
func parseCSVRow(row int, header, fields []string, geomCol, lonCol, latCol int) *Record {
	rec := &Record{Row: row, Props: map[string]any{}}
	if len(fields) != len(header) {
		rec.problem("", "", "has %d columns, the header has %d", len(fields), len(header))
		return rec
	}
	for i, v := range fields {
		if i == geomCol || i == lonCol || i == latCol {
			continue
		}
		if !utf8.ValidString(v) || strings.ContainsRune(v, utf8.RuneError) {
			rec.problem(header[i], strings.ToValidUTF8(v, "?"), "is not valid text in the detected encoding (the file is neither UTF-8 nor GBK/GB18030?)")
			continue
		}
		rec.Props[header[i]] = v
	}
	if geomCol >= 0 {
		g, srid, dropped, err := ParseGeometryText(fields[geomCol])
		if err != nil {
			rec.problem(header[geomCol], fields[geomCol], "%v", err)
			return rec
		}
		rec.Geometry, rec.SRID = g, srid
		if dropped {
			rec.Warnings = append(rec.Warnings, "coordinates have more than 2 dimensions: z (and m) dropped, x and y kept")
		}
		return rec
	}
	var p orb.Point
	for i, col := range []int{lonCol, latCol} {
		s := strings.TrimSpace(fields[col])
		f, err := ParseCoordinate(s, i == 1)
		if err != nil {
			rec.problem(header[col], s, "%v", err)
			return rec
		}
		p[i] = f
	}
	rec.Geometry = p
	return rec
}

// ParseGeometryText parses WKT, EWKT (SRID=n;WKT) or EWKB/WKB in hex. It
// returns the SRID when the text gives one (0 otherwise) and whether
// dimensions beyond x and y were dropped.
func ParseGeometryText(s string) (g orb.Geometry, srid int, dropped bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, 0, false, errors.New("geometry is empty")
	}
	var t geom.T
	if isHex(s) {
		t, err = ewkbhex.Decode(s)
		if err != nil {
			return nil, 0, false, fmt.Errorf("not valid EWKB hex: %v", err)
		}
		srid = t.SRID()
	} else {
		text := s
		if strings.HasPrefix(strings.ToUpper(text), "SRID=") {
			head, rest, ok := strings.Cut(text, ";")
			if !ok {
				return nil, 0, false, errors.New("EWKT without ';' after SRID=")
			}
			srid, err = strconv.Atoi(strings.TrimSpace(head[5:]))
			if err != nil || srid < 0 {
				return nil, 0, false, fmt.Errorf("bad SRID %q", head[5:])
			}
			text = rest
		}
		t, err = wkt.Unmarshal(text)
		if err != nil {
			return nil, 0, false, fmt.Errorf("not valid WKT: %v", err)
		}
	}
	if t == nil {
		return nil, 0, false, errors.New("geometry is empty")
	}
	g, err = fromGeom(t)
	if err != nil {
		return nil, 0, false, err
	}
	return g, srid, t.Layout().Stride() > 2, nil
}

func isHex(s string) bool {
	if len(s)%2 != 0 || len(s) < 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// fromGeom converts a go-geom geometry to orb, keeping x and y.
func fromGeom(t geom.T) (orb.Geometry, error) {
	stride := t.Layout().Stride()
	pts := func(flat []float64) []orb.Point {
		out := make([]orb.Point, 0, len(flat)/max(stride, 1))
		for i := 0; i+stride <= len(flat) && stride >= 2; i += stride {
			out = append(out, orb.Point{flat[i], flat[i+1]})
		}
		return out
	}
	switch g := t.(type) {
	case *geom.Point:
		if g.Empty() {
			return nil, errors.New("geometry is empty (POINT EMPTY)")
		}
		return orb.Point{g.X(), g.Y()}, nil
	case *geom.MultiPoint:
		return orb.MultiPoint(pts(g.FlatCoords())), nil
	case *geom.LineString:
		return orb.LineString(pts(g.FlatCoords())), nil
	case *geom.MultiLineString:
		out := make(orb.MultiLineString, g.NumLineStrings())
		for i := range out {
			out[i] = orb.LineString(pts(g.LineString(i).FlatCoords()))
		}
		return out, nil
	case *geom.Polygon:
		return polygonFrom(g, pts), nil
	case *geom.MultiPolygon:
		out := make(orb.MultiPolygon, g.NumPolygons())
		for i := range out {
			out[i] = polygonFrom(g.Polygon(i), pts)
		}
		return out, nil
	case *geom.GeometryCollection:
		out := orb.Collection{}
		for _, sub := range g.Geoms() {
			o, err := fromGeom(sub)
			if err != nil {
				return nil, err
			}
			out = append(out, o)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported geometry type %T", t)
}

func polygonFrom(p *geom.Polygon, pts func([]float64) []orb.Point) orb.Polygon {
	out := make(orb.Polygon, p.NumLinearRings())
	for i := range out {
		out[i] = orb.Ring(pts(p.LinearRing(i).FlatCoords()))
	}
	return out
}
