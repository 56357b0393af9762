package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
)

// FeatureInput is a decoded GeoJSON Feature sent to a write endpoint.
type FeatureInput struct {
	Properties map[string]any // json.Number for numbers; nil when absent
	Geometry   orb.Geometry   // nil when absent or null
	// ID is the top-level "id" member as sent (json.Number or string), nil
	// when absent: ignored on a create, checked against the path on a
	// replace (QGIS sends the feature as it read it).
	ID any
}

// DecodeFeature decodes one GeoJSON Feature. Anything else (a
// FeatureCollection, a bare geometry, malformed JSON, trailing data) is an
// invalid error saying what was found. Numbers stay json.Number so large
// integers keep their digits; the catalog converts them.
func DecodeFeature(data []byte) (*FeatureInput, error) { return decodeFeature(data, true) }

// DecodePatch decodes a JSON merge-patch (RFC 7396) of a Feature: like
// DecodeFeature, but "type" may be left out ({"properties": {"surface":
// "asphalt"}} is a whole patch).
func DecodePatch(data []byte) (*FeatureInput, error) { return decodeFeature(data, false) }

func decodeFeature(data []byte, requireType bool) (*FeatureInput, error) {
	var raw struct {
		Type       *string         `json:"type"`
		ID         any             `json:"id"`
		Geometry   json.RawMessage `json:"geometry"`
		Properties json.RawMessage `json:"properties"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, jsonProblem(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, lastmile.Invalid("the body is not one GeoJSON Feature",
			lastmile.Problem{Message: "unexpected data after the JSON object"})
	}
	switch {
	case raw.Type == nil && !requireType:
	case raw.Type == nil:
		return nil, lastmile.Invalid("the body is not a GeoJSON Feature",
			lastmile.Problem{Field: "type", Message: `is missing; send {"type": "Feature", "geometry": …, "properties": {…}}`})
	case *raw.Type != "Feature":
		return nil, lastmile.Invalid("the body is not a GeoJSON Feature",
			lastmile.Problem{Field: "type", Value: lastmile.Clip(*raw.Type), Message: `must be "Feature" (send one feature per request; use /api/import for collections)`})
	}
	in := &FeatureInput{ID: raw.ID}
	if !requireType && isNull(raw.Geometry) {
		// A merge patch's null removes the member (RFC 7396); a feature
		// cannot lose its geometry.
		return nil, lastmile.Invalid("the patch is invalid",
			lastmile.Problem{Field: "geometry", Message: "cannot be null: every feature has a geometry (leave geometry out of the patch to keep it)"})
	}
	if len(raw.Properties) > 0 && !bytes.Equal(bytes.TrimSpace(raw.Properties), []byte("null")) {
		d := json.NewDecoder(bytes.NewReader(raw.Properties))
		d.UseNumber()
		var props map[string]any
		if err := d.Decode(&props); err != nil {
			return nil, lastmile.Invalid("the feature's properties are invalid",
				lastmile.Problem{Field: "properties", Message: "must be a JSON object"})
		}
		in.Properties = props // props as JSON text: writableProperties
	}
	if len(raw.Geometry) > 0 && !bytes.Equal(bytes.TrimSpace(raw.Geometry), []byte("null")) {
		g, err := geojson.UnmarshalGeometry(raw.Geometry)
		if err != nil {
			return nil, lastmile.Invalid("the feature's geometry is not GeoJSON",
				lastmile.Problem{Field: "geometry", Message: geometryMessage(err)})
		}
		if g.Coordinates == nil && g.Geometries == nil {
			return nil, lastmile.Invalid("the feature's geometry is not GeoJSON",
				lastmile.Problem{Field: "geometry", Message: "has no coordinates"})
		}
		in.Geometry = g.Geometry()
	}
	return in, nil
}

// isNull reports whether a member was sent as JSON null (absent is not null).
func isNull(m json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(m), []byte("null")) }

// readOnlyMember reports whether name is a member of a feature's properties
// that the server maintains: the catalog's read-only fields (version,
// updated_at, updated_by), the feature id and, on line layers, length_m.
// Clients that send back every field they read (QGIS does, on POST and PUT)
// have them ignored.
func readOnlyMember(l *layer.Layer, name string) bool {
	if f, ok := l.Field(name); ok {
		return f.ReadOnly
	}
	return name == "id" || (name == "length_m" && l.IsLinear())
}

// writableProperties returns the properties of a write as the store takes
// them: read-only members left out, and each object field (props) made an
// object — null is the empty object, and a string holding a JSON object (as
// QGIS sends back a JSON field it read as text) is that object. A null on
// any other field stays: a patch clears the field with it, and the catalog
// refuses it on a required one.
func writableProperties(l *layer.Layer, in *FeatureInput) (map[string]any, error) {
	out := make(map[string]any, len(in.Properties))
	var problems []lastmile.Problem
	for k, v := range in.Properties {
		if readOnlyMember(l, k) {
			continue
		}
		if f, ok := l.Field(k); ok && f.Type == layer.Object {
			obj, msg := objectValue(v)
			if msg != "" {
				problems = append(problems, lastmile.Problem{Field: k, Value: lastmile.Clip(fmt.Sprint(v)), Message: msg})
				continue
			}
			v = obj
		}
		out[k] = v
	}
	if len(problems) > 0 {
		return nil, lastmile.Invalid(fmt.Sprintf("the %s feature is invalid", l.Name), problems...)
	}
	return out, nil
}

// objectValue is the value of an object field: null → {}, an object as it
// is, a string holding a JSON object → that object ("" → {}). Null and a
// string are whole values (layer.WholeObject): a merge patch replaces the
// stored object with them (RFC 7396: a null removes the member, a string
// replaces it), where an object is merged member by member.
func objectValue(v any) (any, string) {
	switch v := v.(type) {
	case nil:
		return layer.WholeObject{}, ""
	case map[string]any:
		return v, ""
	case string:
		if strings.TrimSpace(v) == "" {
			return layer.WholeObject{}, ""
		}
		d := json.NewDecoder(strings.NewReader(v))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil || m == nil {
			return nil, `must be a JSON object, or a string holding one (such as "{}")`
		}
		if _, err := d.Token(); err != io.EOF {
			return nil, "must be a JSON object, or a string holding one: the string has data after the object"
		}
		return layer.WholeObject(m), ""
	}
	return nil, "must be a JSON object, or a string holding one"
}

// checkBodyID refuses a replace or patch whose body names another feature
// than the path: {"id": 7} sent to /items/9.
func checkBodyID(in *FeatureInput, id int64) error {
	if in.ID == nil {
		return nil
	}
	if fmt.Sprint(in.ID) == strconv.FormatInt(id, 10) {
		return nil
	}
	return lastmile.Invalid("the body names another feature",
		lastmile.Problem{Field: "id", Value: lastmile.Clip(fmt.Sprint(in.ID)), Message: fmt.Sprintf("is not the id in the URL (%d); leave id out, or send the feature's own", id)})
}

func geometryMessage(err error) string {
	return lastmile.ClipTo(err.Error(), 200)
}

// jsonProblem turns a decoding error into an invalid error naming where.
func jsonProblem(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return lastmile.Invalid("the body is not valid JSON",
			lastmile.Problem{Message: fmt.Sprintf("%s at byte %d (NaN and Infinity are not JSON numbers)", syn.Error(), syn.Offset)})
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return lastmile.Invalid("the body is not a GeoJSON Feature",
			lastmile.Problem{Field: field, Message: fmt.Sprintf("must be a JSON %s, got %s", jsonKind(typ.Type.Kind().String()), typ.Value)})
	case errors.Is(err, io.EOF):
		return lastmile.Invalid("the body is empty; send a GeoJSON Feature")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return lastmile.Invalid("the body is not valid JSON", lastmile.Problem{Message: "it ends early"})
	}
	return lastmile.Invalid("the body is not valid JSON", lastmile.Problem{Message: err.Error()})
}

func jsonKind(k string) string {
	switch k {
	case "struct", "map":
		return "object"
	case "ptr":
		return "string"
	case "slice":
		return "array"
	}
	return k
}

// readBody reads the request body within the server's body limit (the
// middleware's MaxBytesReader), turning an oversized body into 413.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var maxBytes *http.MaxBytesError
		if errors.As(err, &maxBytes) {
			return nil, lastmile.Errorf(lastmile.ETOOLARGE, "request body is larger than the limit of %d bytes", maxBytes.Limit)
		}
		return nil, lastmile.Errorf(lastmile.EINVALID, "reading the request body: %v", err)
	}
	return b, nil
}
