package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
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

func TestParseIfMatch(t *testing.T) {
	tests := []struct {
		header string
		want   string // the precondition's kind and versions, or "400: <part of the message>"
	}{
		{"", "none []"},
		{"   ", "none []"},
		{"*", "any []"},
		{` * `, "any []"},
		{`"3"`, "if-match [3]"},
		{`"3", "4"`, "if-match [3 4]"},
		{`"3","12" ,`, "if-match [3 12]"},
		{`W/"3"`, "400: weak ETag: If-Match uses the strong comparison"},
		{`"3", W/"4"`, "400: W/\"4\" is a weak ETag"},
		{`3`, "400: must be *, or one or more ETags"},
		{`*, "3"`, "400: must be *, or one or more ETags"},
		{`"abc"`, `400: "abc" is not an ETag of this API`},
		{`"0"`, `400: "0" is not an ETag of this API`},
		{`"03"`, `400: "03" is not an ETag of this API`},
		{`"-1"`, `400: "-1" is not an ETag of this API`},
		{`"3-gz"`, `400: is not an ETag of this API`},
		{`"99999999999999999999"`, `400: is not an ETag of this API`},
		{`"3`, "400: must be *, or one or more ETags"},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			pre, err := ParseIfMatch(tt.header)
			got := fmt.Sprintf("%s %v", pre.Kind(), pre.Versions)
			if err != nil {
				var e *lastmile.Error
				if !errors.As(err, &e) || e.Code != lastmile.EINVALID || len(e.Details) != 1 || e.Details[0].Field != "If-Match" {
					t.Fatalf("error %v is not an invalid error naming If-Match", err)
				}
				got = "400: " + e.Details[0].Message
			}
			if want, isErr := strings.CutPrefix(tt.want, "400: "); isErr && !strings.Contains(got, want) || !isErr && got != tt.want {
				t.Errorf("ParseIfMatch(%q) = %s, want %s", tt.header, got, tt.want)
			}
		})
	}
}

// FuzzParseIfMatch: no value makes the parser panic; an accepted list
// names only versions ≥ 1, each written in the value as our ETag; a refusal
// is a 400 naming If-Match.
func FuzzParseIfMatch(f *testing.F) {
	for _, s := range []string{"", "*", `"3"`, `"3", "4"`, `W/"3"`, `"a,b"`, `,,`, `"`, `W/`, `"1" "2"`, "\"\x00\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		pre, err := ParseIfMatch(raw)
		if err != nil {
			var e *lastmile.Error
			if !errors.As(err, &e) || e.Code != lastmile.EINVALID || e.Details[0].Field != "If-Match" {
				t.Fatalf("error %v is not an invalid error naming If-Match", err)
			}
			return
		}
		for _, v := range pre.Versions {
			if v < 1 || !strings.Contains(raw, etag(v)) {
				t.Fatalf("%q accepted as version %d", raw, v)
			}
		}
		if pre.Any && strings.TrimSpace(raw) != "*" {
			t.Fatalf("%q read as *", raw)
		}
	})
}

func TestWritableProperties(t *testing.T) {
	roads := roadsLayer(t)
	points, _ := layer.Default().Layer("facilities")
	tests := []struct {
		name  string
		l     *layer.Layer
		props string
		want  string // the properties as JSON, or "400: field: message part"
	}{
		{"read-only members left out", roads, `{"id":3,"version":2,"updated_at":"x","updated_by":"y","length_m":5,"status":"planned"}`, `{"status":"planned"}`},
		{"length_m is no member of a point layer", points, `{"length_m":5}`, `{"length_m":5}`},
		{"props null", roads, `{"props":null}`, `{"props":{}}`},
		{"props null in a patch", roads, `{"props":null}`, `{"props":{}}`},
		{"props an object", roads, `{"props":{"a":[1,{"b":null}]}}`, `{"props":{"a":[1,{"b":null}]}}`},
		{"props a string holding an object", roads, `{"props":"{\"a\": 12345678901234567890}"}`, `{"props":{"a":12345678901234567890}}`},
		{"props an empty string", roads, `{"props":" "}`, `{"props":{}}`},
		{"props a string holding an array", roads, `{"props":"[1]"}`, "400: props: must be a JSON object, or a string holding one"},
		{"props a string holding null", roads, `{"props":"null"}`, "400: props: must be a JSON object"},
		{"props a string with data after the object", roads, `{"props":"{} {}"}`, "400: props: must be a JSON object, or a string holding one: the string has data after the object"},
		{"props a number", roads, `{"props":3}`, "400: props: must be a JSON object"},
		{"other nulls stay (a patch clears them)", roads, `{"surface":null}`, `{"surface":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := DecodeFeature([]byte(`{"type":"Feature","properties":` + tt.props + `}`))
			var got map[string]any
			if err == nil { // props as text becomes an object in writableProperties
				got, err = writableProperties(tt.l, in)
			}
			var s string
			if err != nil {
				var e *lastmile.Error
				errors.As(err, &e)
				s = "400: " + e.Details[0].Field + ": " + e.Details[0].Message
			} else {
				b, _ := json.Marshal(got)
				s = string(b)
			}
			if want, isErr := strings.CutPrefix(tt.want, "400: "); isErr && !strings.Contains(s, want) || !isErr && s != tt.want {
				t.Errorf("got %s, want %s", s, tt.want)
			}
		})
	}
}

func TestDecodePatchNullGeometry(t *testing.T) {
	for body, want := range map[string]string{
		`{"geometry":null}`:                                                  "geometry: cannot be null",
		`{"geometry":null,"properties":{"a":1}}`:                             "geometry: cannot be null",
		`{"properties":{"a":null}}`:                                          "",
		`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]}}`: "",
	} {
		_, err := DecodePatch([]byte(body))
		got := ""
		if err != nil {
			var e *lastmile.Error
			errors.As(err, &e)
			got = e.Details[0].Field + ": " + e.Details[0].Message
		}
		if !strings.HasPrefix(got, want) || (want == "" && got != "") {
			t.Errorf("DecodePatch(%s): %q, want %q", body, got, want)
		}
	}
	// A replace with a null geometry decodes (the catalog then says it is missing).
	if in, err := DecodeFeature([]byte(`{"type":"Feature","geometry":null}`)); err != nil || in.Geometry != nil {
		t.Errorf("DecodeFeature null geometry: %v %v", in, err)
	}
}
