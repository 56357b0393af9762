package fieldpkg

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"github.com/lastmile/lastmile/layer"
)

// TestEncodeBlob pins the bytes of a point blob (no envelope) and the header
// of a line blob (XY envelope minx, maxx, miny, maxy), laid out by hand.
func TestEncodeBlob(t *testing.T) {
	b, err := encodeBlob(orb.Point{1, 2}, 4326)
	if err != nil {
		t.Fatal(err)
	}
	want := "47500001" + "e6100000" + "01" + "01000000" + "000000000000f03f" + "0000000000000040"
	if got := hex.EncodeToString(b); got != want {
		t.Errorf("point blob = %s, want %s", got, want)
	}
	b, _ = encodeBlob(orb.LineString{{3, 4}, {1, 6}}, 4326)
	head := "47500003" + "e6100000" + "000000000000f03f" + "0000000000000840" + "0000000000001040" + "0000000000001840"
	if got := hex.EncodeToString(b[:40]); got != head {
		t.Errorf("line blob header = %s, want %s", got, head)
	}
	for _, g := range []orb.Geometry{orb.Point{117.1, 37.2}, orb.MultiLineString{{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}},
		orb.MultiPolygon{{{{0, 0}, {1, 0}, {1, 1}, {0, 0}}}}} {
		b, err := encodeBlob(g, 4326)
		if err != nil {
			t.Fatal(err)
		}
		back, srs, err := decodeBlob(b)
		if err != nil || srs != 4326 || !orb.Equal(back, g) {
			t.Errorf("round trip of %v: %v, %d, %v", g, back, srs, err)
		}
	}
}

func TestDecodeBlobErrors(t *testing.T) {
	point, _ := encodeBlob(orb.Point{1, 2}, 4326)
	line, _ := encodeBlob(orb.LineString{{3, 4}, {1, 6}}, 4326)
	with := func(b []byte, i int, v byte) []byte {
		c := bytes.Clone(b)
		c[i] = v
		return c
	}
	// big-endian header (flags bit 0 clear), little-endian WKB: valid
	be := append([]byte{'G', 'P', 0, 0}, binary.BigEndian.AppendUint32(nil, 4326)...)
	be = append(be, point[8:]...)
	if g, srs, err := decodeBlob(be); err != nil || srs != 4326 || !orb.Equal(g, orb.Point{1, 2}) {
		t.Errorf("big-endian header: %v %d %v", g, srs, err)
	}
	tests := []struct {
		name string
		blob []byte
		want string
	}{
		{"empty", nil, "fewer than its 8-byte header"},
		{"short", []byte("GP\x00"), "fewer than its 8-byte header"},
		{"magic", with(point, 0, 'X'), `magic "GP"`},
		{"version", with(point, 2, 1), "version 1"},
		{"extended", with(point, 3, 0x21), "extended"},
		{"envelope indicator", with(point, 3, 0x0b), "envelope indicator 5"},
		{"cut envelope", line[:20], "cut inside its envelope"},
		{"empty flag", with(point, 3, 0x11), "empty"},
		{"bad WKB", append(bytes.Clone(point[:8]), 1, 99, 0, 0, 0), "WKB cannot be read"},
		{"cut WKB", line[:50], "WKB cannot be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := decodeBlob(tt.blob)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestDecodeGDALBlob reads blobs GDAL wrote (QGIS and QField write through
// GDAL): a GeoJSON converted with ogr2ogr -f GPKG.
func TestDecodeGDALBlob(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "in.geojson")
	os.WriteFile(src, []byte(`{"type":"FeatureCollection","features":[
		{"type":"Feature","properties":{"n":1},"geometry":{"type":"Point","coordinates":[117.1,37.2]}},
		{"type":"Feature","properties":{"n":2},"geometry":{"type":"LineString","coordinates":[[117,37],[117.5,37.25]]}},
		{"type":"Feature","properties":{"n":3},"geometry":{"type":"MultiPolygon","coordinates":[[[[117,37],[118,37],[118,38],[117,37]]]]}}]}`), 0o644)
	out := filepath.Join(dir, "gdal.gpkg")
	if b, err := exec.Command("ogr2ogr", "-f", "GPKG", out, src, "-nln", "t").CombinedOutput(); err != nil {
		t.Fatalf("ogr2ogr (install GDAL with scripts/setup): %v\n%s", err, b)
	}
	db, err := sql.Open("sqlite", out)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	want := []orb.Geometry{orb.Point{117.1, 37.2}, orb.LineString{{117, 37}, {117.5, 37.25}}, orb.MultiPolygon{{{{117, 37}, {118, 37}, {118, 38}, {117, 37}}}}}
	rows, err := db.Query(`SELECT geom FROM t ORDER BY n`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for ; rows.Next(); i++ {
		var b []byte
		rows.Scan(&b)
		g, srs, err := decodeBlob(b)
		if err != nil || srs != 4326 || !orb.Equal(g, want[i]) {
			t.Errorf("GDAL blob %d (%x): %v %d %v, want %v", i, b, g, srs, err, want[i])
		}
	}
	if i != 3 {
		t.Errorf("%d rows", i)
	}
}

// FuzzDecodeBlob: a blob from a package is outside input; any bytes give a
// geometry or an error, never a panic, and a geometry re-encodes to itself.
func FuzzDecodeBlob(f *testing.F) {
	for _, g := range []orb.Geometry{orb.Point{1, 2}, orb.LineString{{3, 4}, {1, 6}}, orb.MultiPolygon{{{{0, 0}, {1, 0}, {1, 1}, {0, 0}}}}} {
		b, _ := encodeBlob(g, 4326)
		f.Add(b)
	}
	f.Add([]byte("GP\x00\x05\xe6\x10\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, srs, err := decodeBlob(b)
		if err != nil {
			return
		}
		again, err := encodeBlob(g, srs)
		if err != nil {
			return // orb cannot encode every geometry it decodes (e.g. empty collections)
		}
		g2, _, err := decodeBlob(again)
		if err != nil || !bytes.Equal(wkb.MustMarshal(g), wkb.MustMarshal(g2)) { // bytes: NaN ≠ NaN
			t.Fatalf("%v re-encoded decodes to %v, %v", g, g2, err)
		}
	})
}

// TestFromColumn: what a GeoPackage column may hold (as SQLite and the
// driver give it) against each field type.
func TestFromColumn(t *testing.T) {
	f := func(typ layer.FieldType) layer.Field { return layer.Field{Name: "x", Type: typ} }
	day := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		field layer.Field
		in    any
		want  any
		msg   string
	}{
		{"integer", f(layer.Integer), int64(12), int64(12), ""},
		{"integer from integral real", f(layer.Integer), 12.0, int64(12), ""},
		{"integer from fraction", f(layer.Integer), 12.5, nil, "must be an integer"},
		{"integer from text", f(layer.Integer), "12", nil, "must be an integer"},
		{"number", f(layer.Number), 7.5, 7.5, ""},
		{"number from integer", f(layer.Money), int64(3), 3.0, ""},
		{"number from text", f(layer.Number), "wide", nil, "must be a number"},
		{"null", f(layer.Number), nil, nil, ""},
		{"boolean", f(layer.Boolean), int64(1), true, ""},
		{"boolean 2", f(layer.Boolean), int64(2), nil, "true or false"},
		{"date text", f(layer.Date), "2024-06-01", "2024-06-01", ""},
		{"date parsed by the driver", f(layer.Date), day, "2024-06-01", ""},
		{"date with a time", f(layer.Date), day.Add(time.Hour), nil, "without a time of day"},
		{"date as number", f(layer.Date), int64(20240601), nil, "must be a date"},
		{"props", f(layer.Object), `{"a": 1}`, map[string]any{"a": 1.0}, ""},
		{"props null", f(layer.Object), nil, map[string]any{}, ""},
		{"props not an object", f(layer.Object), `[1]`, nil, "must be a JSON object"},
		{"props broken", f(layer.Object), `{"a":`, nil, "must be a JSON object"},
		{"text", f(layer.Text), "abc", "abc", ""},
		{"text from blob", f(layer.Text), []byte("abc"), "abc", ""},
		{"text from number", f(layer.Enum), int64(3), nil, "must be text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, msg := fromColumn(tt.field, tt.in)
			if canonical(got) != canonical(tt.want) || !strings.Contains(msg, tt.msg) || (tt.msg == "") != (msg == "") {
				t.Errorf("fromColumn(%v) = %v, %q; want %v, %q", tt.in, got, msg, tt.want, tt.msg)
			}
		})
	}
}
