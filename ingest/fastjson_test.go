package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// sameAsSlow fails when featureRecord (the fast path when it applies)
// reads raw differently from encoding/json (featureRecordSlow), and
// reports whether the fast path took it.
func sameAsSlow(t *testing.T, raw []byte) bool {
	t.Helper()
	got := featureRecord(7, raw)
	want := featureRecordSlow(&Record{Row: 7}, raw)
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("%s:\nfast %s\nslow %s", raw, g, w)
	}
	var a, b [][]float64
	ca := unmarshalCoordsFast(raw, &a)
	if ca && (json.Unmarshal(raw, &b) != nil || !reflect.DeepEqual(a, b)) {
		t.Errorf("coordinates %s: fast %v, encoding/json %v", raw, a, b)
	}
	var wg geoJSONGeometry
	if g, ok := decodeGeometryFast(raw); ok && (json.Unmarshal(raw, &wg) != nil || !reflect.DeepEqual(g, wg)) {
		t.Errorf("geometry %s: fast %+v, encoding/json %+v", raw, g, wg)
	}
	_, ok := decodeFeatureFast(raw)
	return ok
}

var fastCases = []string{
	`{"type":"Feature","id":"syn-1","properties":{"name":"Road 1","status":"completed","width_m":4,"completed_on":"2015-06-01","x":null,"b":true,"c":false},"geometry":{"type":"LineString","coordinates":[[107.1,26.1],[107.102,26.101]]}}`,
	`{ "type" : "Feature" , "id" : 12 , "geometry" : { "type" : "Point", "coordinates" : [ 1.5e2 , -0.25E-1 ] } , "properties" : { } }`,
	`{"type":"Feature","id":-0,"properties":null,"geometry":{"type":"Point","coordinates":[1,2,3]}}`,
	`{"type":"Feature","id":null,"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}`,
	`{"type":"Feature","geometry":{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[]]},"properties":{"名称":"道路","n":1.0}}`,
	`{"type":"Feature","geometry":{"type":"MultiLineString","coordinates":[[[0,0],[1,1]],[[2,2],[3,3]]]},"properties":{"a":"x"}}`,
	`{"type":"Feature","geometry":{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[1,2]}]},"properties":{}}`,
	`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2],"bbox":[1,2,1,2],"s":"a\"b\u00e9\\"},"properties":{}}`,
	`{"type":"Feature","geometry":null,"properties":{"a":1}}`,
	`{"type":"Feature","properties":{"a":1}}`,
	`{"type":"Feature","geometry":{"type":"Point","coordinates":[1e400,2]},"properties":{}}`,
	`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,"2"]},"properties":{}}`,
	`{"type":"Feature","geometry":{"type":"LineString","coordinates":[[1,2],[3]]},"properties":{}}`,
	`{"type":"Feature","geometry":{"type":"LineString","coordinates":[]},"properties":{}}`,
	`{"type":"Feature","geometry":{"type":"LineString","coordinates":[[1,2],null]},"properties":{}}`,
	`{"type":"Feature","geometry":{"type":"Point","coordinates":[01,2]},"properties":{}}`,
	`{"type":"Feature","geometry":{"type":"Point","coordinates":[1.,2]},"properties":{}}`,
	`{"type":"Feature","geometry":{"type":"Point","coordinates":[+1,2]},"properties":{}}`,
	`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"a":"\u00e9"}}`,
	`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"a":{"b":1}}}`,
	`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"a":[1,2]}}`,
	`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"a":1,"a":2}}`,
	`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"a":1},"properties":{"b":2}}`,
	`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":[]}`,
	`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":"x"}`,
	`{"Type":"Feature","geometry":{"type":"Point","coordinates":[1,2]}}`,
	`{"type":"feature","geometry":{"type":"Point","coordinates":[1,2]}}`,
	`{"type":"Point","coordinates":[1,2]}`,
	`{"type":"Feature","id":true,"geometry":{"type":"Point","coordinates":[1,2]}}`,
	`{"type":"Feature","id":"a\"b","geometry":{"type":"Point","coordinates":[1,2]}}`,
	`{"type":"Feature","id":{"a":1},"geometry":{"type":"Point","coordinates":[1,2]}}`,
	`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]}} x`,
	`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},}`,
	`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]}`,
	`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2],}}`,
	`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"a":"` + "\xff" + `"}}`,
	`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"a":"x` + "\t" + `y"}}`,
	`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"a":tru}}`,
	`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"bbox":[1,2,1,2]}`,
	`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2],"s":"\x"}}`,
	`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2],"s":"\u12g4"}}`,
	`{"type":"Point","coordinates":[1,2],"type":"LineString"}`, `{"coordinates":[[1,2],[3,4]], "type" : "LineString" }`,
	`{"type":"Point"}`, `{"type":"Point","coordinates":{"a":[1]}}`,
	`[1,2]`, `{}`, `null`, `"x"`, ``,
}

// TestFeatureFastPath: the one-pass reader of a GeoJSON feature and of
// coordinates reads every case, and every feature of the fixtures, as
// encoding/json does; it takes the common ones.
func TestFeatureFastPath(t *testing.T) {
	taken := 0
	for _, c := range fastCases {
		if sameAsSlow(t, []byte(c)) {
			taken++
		}
	}
	if taken < 8 {
		t.Errorf("the fast path took %d cases", taken)
	}
	files, _ := filepath.Glob("../testdata/ingest/*.geojson*")
	lines := 0
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<26)
		for sc.Scan() {
			if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
				sameAsSlow(t, line)
				lines++
			}
		}
		f.Close()
	}
	if lines == 0 {
		t.Fatal("no fixture lines")
	}
}

// FuzzFeatureFastPath: whatever the bytes, the fast path reads them as
// encoding/json does (or leaves them to it).
func FuzzFeatureFastPath(f *testing.F) {
	for _, c := range fastCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sameAsSlow(t, []byte(s))
	})
}
