package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
)

func TestParseGeometryText(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    orb.Geometry
		srid    int
		dropped bool
		err     string
	}{
		{"WKT point", "POINT(103.9 30.6)", orb.Point{103.9, 30.6}, 0, false, ""},
		{"WKT line", "LINESTRING (1 2, 3 4)", orb.LineString{{1, 2}, {3, 4}}, 0, false, ""},
		{"EWKT", "SRID=4490;MULTILINESTRING((1 2,3 4),(5 6,7 8))", orb.MultiLineString{{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}}, 4490, false, ""},
		{"3D WKT", "LINESTRING Z (1 2 3, 4 5 6)", orb.LineString{{1, 2}, {4, 5}}, 0, true, ""},
		{"polygon", "POLYGON((0 0,1 0,1 1,0 0))", orb.Polygon{{{0, 0}, {1, 0}, {1, 1}, {0, 0}}}, 0, false, ""},
		{"EWKB hex", "0101000020E6100000000000000000F03F0000000000000040", orb.Point{1, 2}, 4326, false, ""},
		{"WKB hex", "0101000000000000000000F03F0000000000000040", orb.Point{1, 2}, 0, false, ""},
		{"empty", "  ", nil, 0, false, "geometry is empty"},
		{"POINT EMPTY", "POINT EMPTY", nil, 0, false, "empty"},
		{"garbage", "LINESTRING(1 2,", nil, 0, false, "not valid WKT"},
		{"bad hex", "0101000020E61000000000", nil, 0, false, "not valid EWKB hex"},
		{"bad srid", "SRID=x;POINT(1 2)", nil, 0, false, "bad SRID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, srid, dropped, err := ParseGeometryText(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !orb.Equal(g, tt.want) || srid != tt.srid || dropped != tt.dropped {
				t.Fatalf("got %v srid %d dropped %v, want %v %d %v", g, srid, dropped, tt.want, tt.srid, tt.dropped)
			}
		})
	}
}

func TestGeoJSONReader(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		rows     int
		problems []string // per record, "" = none
		fatal    string
	}{
		{"collection", `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[1,2]}}]}`, 1, []string{""}, ""},
		{"keys after features", `{"features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":null}],"type":"FeatureCollection","crs":{}}`, 1, []string{""}, ""},
		{"single feature", `{"type":"Feature","id":7,"geometry":{"type":"Point","coordinates":[1,2]},"properties":{"a":1}}`, 1, []string{""}, ""},
		{"bare geometry", `{"type":"LineString","coordinates":[[1,2],[3,4]]}`, 1, []string{""}, ""},
		{"bad coordinates", `{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":["a",2]}}]}`, 1, []string{"Point coordinates"}, ""},
		{"huge number", `{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[1e400,2]}}]}`, 1, []string{"not a finite number"}, ""},
		{"unknown type", `{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Circle","coordinates":[1,2]}}]}`, 1, []string{"unknown geometry type"}, ""},
		{"truncated", `{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]}},{"type":"Fea`, 1, []string{""}, "truncated"},
		{"not an object", `[1,2]`, 0, nil, "expected a GeoJSON object"},
		{"no type", `{"features2":[]}`, 0, nil, `no "type"`},
		{"trailing garbage", `{"type":"FeatureCollection","features":[]} x`, 0, nil, "after the GeoJSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewGeoJSONReader(strings.NewReader(tt.in))
			var got []*Record
			var err error
			for {
				var rec *Record
				rec, err = r.Next()
				if err != nil {
					break
				}
				got = append(got, rec)
			}
			if tt.fatal == "" && err != io.EOF {
				t.Fatalf("err = %v, want EOF", err)
			}
			if tt.fatal != "" && (err == io.EOF || !strings.Contains(err.Error(), tt.fatal)) {
				t.Fatalf("err = %v, want %q", err, tt.fatal)
			}
			if len(got) != tt.rows {
				t.Fatalf("%d records, want %d", len(got), tt.rows)
			}
			for i, rec := range got {
				msg := ""
				if len(rec.Problems) > 0 {
					msg = rec.Problems[0].String()
				}
				if (tt.problems[i] == "") != (msg == "") || !strings.Contains(msg, tt.problems[i]) {
					t.Errorf("record %d problems %q, want %q", i+1, msg, tt.problems[i])
				}
				if rec.Row != i+1 {
					t.Errorf("row %d, want %d", rec.Row, i+1)
				}
			}
		})
	}
}

func TestCoerce(t *testing.T) {
	roads, _ := layer.Default().Layer("roads")
	villages, _ := layer.Default().Layer("villages")
	tests := []struct {
		l     *layer.Layer
		field string
		in    any
		want  any
	}{
		{roads, "surface", "水泥", "cement"}, {roads, "surface", "沥青", "asphalt"}, {roads, "surface", "砂石", "gravel"},
		{roads, "surface", "土路", "earth"}, {roads, "surface", " Asphalt ", "asphalt"}, {roads, "surface", "泥巴", "泥巴"},
		{roads, "status", "已完工", "completed"}, {roads, "status", "在建", "under_construction"}, {roads, "status", "Under Construction", "under_construction"},
		{roads, "tech_grade", "四级", "class4"}, {roads, "tech_grade", "等外", "substandard"}, {roads, "road_class", "县道", "county"},
		{roads, "width_m", "4.5", 4.5}, {roads, "funding_yuan", "1,200,000", 1200000.0},
		{roads, "completed_on", "2015/10/1", "2015-10-01"}, {roads, "completed_on", "2015年10月1日", "2015-10-01"}, {roads, "completed_on", "20151001", "2015-10-01"},
		{villages, "is_poor_village", "是", true}, {villages, "is_poor_village", "否", false}, {villages, "code", "510124101201", "510124101201"},
	}
	for _, tt := range tests {
		f, _ := tt.l.Field(tt.field)
		if got, _ := coerce(f, tt.in); got != tt.want {
			t.Errorf("coerce(%s, %v) = %v, want %v", tt.field, tt.in, got, tt.want)
		}
	}
}

func TestDetectFormat(t *testing.T) {
	tests := []struct{ name, head, want string }{
		{"a.geojson", `{"type":"FeatureCollection","features":[`, FormatGeoJSON},
		{"a.json", "{\"type\":\"Feature\"}\n{\"type\":\"Feature\"}\n", FormatGeoJSONSeq},
		{"a.geojsonl", "", FormatGeoJSONSeq},
		{"a.csv", "", FormatCSV},
		{"道路.KML", "", FormatKML},
		{"x.osm.pbf", "", FormatOSM},
		{"roads.zip", "", FormatGDAL},
		{"roads.gpkg", "", FormatGDAL},
		{"upload", "\x1e{\"type\":\"Feature\"}", FormatGeoJSONSeq},
		{"upload", `<?xml version="1.0"?><kml>`, FormatKML},
		{"upload", "name,lon,lat\na,1,2\n", FormatCSV},
	}
	for _, tt := range tests {
		if got, err := DetectFormat(tt.name, []byte(tt.head)); got != tt.want || err != nil {
			t.Errorf("DetectFormat(%q, %q) = %q, %v; want %q", tt.name, tt.head, got, err, tt.want)
		}
	}
	if _, err := DetectFormat("upload", []byte("\x00\x01binary")); err == nil {
		t.Error("binary junk: no error")
	}
}

func TestDecodeText(t *testing.T) {
	gbk := []byte{0xbe, 0xad, 0xb6, 0xc8, ',', 0xce, 0xb3, 0xb6, 0xc8, '\n'} // 经度,纬度 in GBK
	tests := []struct {
		name, enc, want string
		in              []byte
		given           string
	}{
		{"utf8", "UTF-8 (detected)", "经度,纬度\n", []byte("经度,纬度\n"), ""},
		{"bom", "UTF-8 (detected: BOM)", "经度,纬度\n", append([]byte("\xef\xbb\xbf"), []byte("经度,纬度\n")...), ""},
		{"gbk", "GB18030 (detected: not UTF-8; GB18030 includes GBK)", "经度,纬度\n", gbk, ""},
		{"gbk given", "GBK (given)", "经度,纬度\n", gbk, "cp936"},
		{"utf8 given with BOM", "UTF-8 (given)", "经度,纬度\n", append([]byte("\xef\xbb\xbf"), []byte("经度,纬度\n")...), "utf8"},
		{"big5 given", "BIG5 (given)", "經度\n", []byte{0xb8, 0x67, 0xab, 0xd7, '\n'}, "BIG5"},
	}
	for _, tt := range tests {
		r, enc, err := decodeText(bytes.NewReader(tt.in), tt.given)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		if enc != tt.enc || string(b) != tt.want {
			t.Errorf("%s: %q %q, want %q %q", tt.name, enc, b, tt.enc, tt.want)
		}
	}
}

func FuzzParseGeometryText(f *testing.F) {
	for _, s := range []string{"POINT(1 2)", "SRID=4326;LINESTRING(1 2,3 4)", "0101000020E6100000000000000000F03F0000000000000040",
		"POLYGON((0 0,1 0,1 1,0 0))", "GEOMETRYCOLLECTION(POINT(1 2))", "MULTIPOLYGON(((0 0,1 0,1 1,0 0)))", "LINESTRING ZM (1 2 3 4, 5 6 7 8)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, _, _, err := ParseGeometryText(s)
		if err == nil && g == nil {
			t.Fatalf("%q: no error and no geometry", s)
		}
	})
}

// TestCSVColumnLimit: a header wider than the limit is refused before any
// row is read, naming the row (1, the header) and the limit.
func TestCSVColumnLimit(t *testing.T) {
	wide := func(n int) string {
		var b strings.Builder
		b.WriteString("lon,lat")
		for i := 2; i < n; i++ {
			fmt.Fprintf(&b, ",c%d", i)
		}
		b.WriteString("\n117,37")
		b.WriteString(strings.Repeat(",x", n-2))
		return b.String() + "\n"
	}
	tests := []struct {
		name    string
		columns int
		limit   int
		want    string // "" for accepted
	}{
		{"at the default limit", DefaultMaxColumns, 0, ""},
		{"one above the default", DefaultMaxColumns + 1, 0, "the CSV header has 1001 columns, more than the limit of 1000"},
		{"a million columns", 1_000_000, 0, "the CSV header has 1000000 columns, more than the limit of 1000"},
		{"a smaller limit", 11, 10, "the CSV header has 11 columns, more than the limit of 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewCSVReader(strings.NewReader(wide(tt.columns)), CSVOptions{MaxColumns: tt.limit})
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				rec, err := r.Next()
				if err != nil || len(rec.Problems) > 0 {
					t.Fatalf("row: %v %v", err, rec.Problems)
				}
				return
			}
			var e *lastmile.Error
			if !errors.As(err, &e) || len(e.Details) != 1 || e.Details[0].Row != 1 || !strings.Contains(e.Details[0].Message, tt.want) {
				t.Fatalf("err = %v, want row 1: %s", err, tt.want)
			}
		})
	}
}

func FuzzParseCSVRow(f *testing.F) {
	f.Add("name,lon,lat\na,103.9,30.6\n")
	f.Add("wkt,status\n\"LINESTRING(1 2,3 4)\",已完工\n")
	f.Add("经度,纬度\n1e308,NaN\n")
	f.Add("\xef\xbb\xbfx,y\n1,2,3\n")
	f.Add("\xbe\xad\xb6\xc8,\xce\xb3\xb6\xc8\n1,2\n")
	f.Add("lon,lat,a,b,c,d,e,f,g\n1,2,3,4,5,6,7,8,9\n")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := NewCSVReader(strings.NewReader(s), CSVOptions{MaxColumns: 8})
		if err != nil {
			return
		}
		if n := len(r.(*csvReader).header); n > 8 {
			t.Fatalf("a header of %d columns accepted with MaxColumns 8", n)
		}
		for i := 0; i < 1000; i++ {
			rec, err := r.Next()
			if err != nil {
				return
			}
			if rec.Geometry == nil && len(rec.Problems) == 0 {
				t.Fatalf("row %d: no geometry and no problem", rec.Row)
			}
		}
	})
}

func FuzzGeoJSONReader(f *testing.F) {
	f.Add(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"a":1},"geometry":{"type":"Point","coordinates":[1,2]}}]}`)
	f.Add(`{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]},"properties":null}`)
	f.Add(`{"type":"FeatureCollection","features":[{"type":"Fea`)
	f.Add(`{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[1,2,3]}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range []Reader{NewGeoJSONReader(strings.NewReader(s)), NewGeoJSONSeqReader(strings.NewReader(s))} {
			for i := 0; i < 1000; i++ {
				rec, err := r.Next()
				if err != nil {
					break
				}
				if rec.Geometry == nil && len(rec.Problems) == 0 {
					t.Fatalf("record %d: no geometry and no problem", rec.Row)
				}
			}
		}
	})
}
