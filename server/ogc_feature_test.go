package server

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile"
)

func TestDecodeFeature(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantGeom  orb.Geometry
		wantProps map[string]any
	}{
		{"point", `{"type":"Feature","geometry":{"type":"Point","coordinates":[9.5,47.1]},"properties":{"kind":"school","n":12345678901234567890}}`,
			orb.Point{9.5, 47.1}, map[string]any{"kind": "school", "n": json.Number("12345678901234567890")}},
		{"line, id ignored", `{"type":"Feature","id":7,"geometry":{"type":"LineString","coordinates":[[9.5,47.1],[9.6,47.2]]},"properties":{}}`,
			orb.LineString{{9.5, 47.1}, {9.6, 47.2}}, map[string]any{}},
		{"patch without geometry", `{"type":"Feature","properties":{"status":"completed"}}`,
			nil, map[string]any{"status": "completed"}},
		{"null geometry and properties", `{"type":"Feature","geometry":null,"properties":null}`, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeFeature([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if !orb.Equal(got.Geometry, tt.wantGeom) && !(got.Geometry == nil && tt.wantGeom == nil) {
				t.Errorf("geometry %v, want %v", got.Geometry, tt.wantGeom)
			}
			a, _ := json.Marshal(got.Properties)
			b, _ := json.Marshal(tt.wantProps)
			if string(a) != string(b) {
				t.Errorf("properties %s, want %s", a, b)
			}
		})
	}
}

func TestDecodeFeatureErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"empty", ``, "body is empty"},
		{"not JSON", `hello`, "not valid JSON"},
		{"NaN coordinate", `{"type":"Feature","geometry":{"type":"Point","coordinates":[NaN,1]},"properties":{}}`, "NaN and Infinity are not JSON numbers"},
		{"truncated", `{"type":"Feature","geometry":`, "not valid JSON"},
		{"feature collection", `{"type":"FeatureCollection","features":[]}`, `must be "Feature"`},
		{"bare geometry", `{"type":"Point","coordinates":[1,2]}`, `must be "Feature"`},
		{"no type", `{"geometry":null}`, "is missing"},
		{"type not a string", `{"type":5}`, "must be a JSON string"},
		{"array", `[1,2]`, "must be a JSON object"},
		{"trailing data", `{"type":"Feature"} {}`, "unexpected data"},
		{"properties not object", `{"type":"Feature","properties":[1]}`, "must be a JSON object"},
		{"unknown geometry", `{"type":"Feature","geometry":{"type":"Circle","coordinates":[1,2]}}`, "geometry"},
		{"coordinates wrong shape", `{"type":"Feature","geometry":{"type":"Point","coordinates":[[1,2]]}}`, "geometry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeFeature([]byte(tt.body))
			var e *lastmile.Error
			if !errors.As(err, &e) || e.Code != lastmile.EINVALID {
				t.Fatalf("DecodeFeature(%q) = %v, want an invalid error", tt.body, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("DecodeFeature(%q) = %q, want it to contain %q", tt.body, err, tt.want)
			}
		})
	}
}

// FuzzDecodeFeature checks that no body makes the decoder panic and that
// every failure is an invalid error.
func TestDecodePatchWithoutType(t *testing.T) {
	in, err := DecodePatch([]byte(`{"properties":{"surface":"asphalt"}}`))
	if err != nil || in.Properties["surface"] != "asphalt" || in.Geometry != nil {
		t.Fatalf("DecodePatch = %+v, %v", in, err)
	}
	if _, err := DecodePatch([]byte(`{"type":"FeatureCollection","features":[]}`)); err == nil {
		t.Fatal("a FeatureCollection was accepted as a patch")
	}
	if _, err := DecodeFeature([]byte(`{"properties":{}}`)); err == nil {
		t.Fatal("DecodeFeature accepted a body without type")
	}
}

func FuzzDecodeFeature(f *testing.F) {
	for _, s := range []string{
		`{"type":"Feature","geometry":{"type":"Point","coordinates":[9.5,47.1]},"properties":{"kind":"school"}}`,
		`{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1]]]},"properties":{}}`,
		`{"type":"Feature","geometry":{"type":"GeometryCollection","geometries":[]},"properties":{}}`,
		`{"type":"FeatureCollection","features":[]}`, `{"type":"Feature","geometry":{"type":"Point","coordinates":[NaN,1]}}`,
		``, `null`, `[]`, `{"type":"Feature","properties":{"a":{"b":[1,2,{"c":null}]}}}`,
		`{"type":"Feature","properties":{"props":"{\"route\": \"X010\"}"}}`, `{"type":"Feature","properties":{"props":"[1]"}}`,
		`{"type":"Feature","properties":{"props":"{} {}"}}`, `{"type":"Feature","properties":{"props":" "}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := DecodeFeature(body)
		if err != nil {
			var e *lastmile.Error
			if !errors.As(err, &e) || e.Code != lastmile.EINVALID {
				t.Fatalf("error %v is not an invalid *lastmile.Error", err)
			}
			return
		}
		if in == nil {
			t.Fatal("nil feature without error")
		}
	})
}
