package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"github.com/lastmile/lastmile"
)

// FeatureInput is a decoded GeoJSON Feature sent to a write endpoint.
type FeatureInput struct {
	Properties map[string]any // json.Number for numbers; nil when absent
	Geometry   orb.Geometry   // nil when absent or null
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
		Geometry   json.RawMessage `json:"geometry"`
		Properties json.RawMessage `json:"properties"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
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
	in := &FeatureInput{}
	if len(raw.Properties) > 0 && !bytes.Equal(bytes.TrimSpace(raw.Properties), []byte("null")) {
		d := json.NewDecoder(bytes.NewReader(raw.Properties))
		d.UseNumber()
		var props map[string]any
		if err := d.Decode(&props); err != nil {
			return nil, lastmile.Invalid("the feature's properties are invalid",
				lastmile.Problem{Field: "properties", Message: "must be a JSON object"})
		}
		if err := objectsFromText(props); err != nil {
			return nil, err
		}
		in.Properties = props
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

// objectsFromText decodes props given as JSON text: features are read with
// props as a string (postgis.featureJSON; no desktop format has an object
// type), so a client writing back what it read sends the text. An empty
// string is an empty object.
func objectsFromText(props map[string]any) error {
	text, ok := props["props"].(string)
	if !ok {
		return nil
	}
	if strings.TrimSpace(text) == "" {
		props["props"] = map[string]any{}
		return nil
	}
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil || m == nil || d.More() {
		return lastmile.Invalid("the feature's properties are invalid",
			lastmile.Problem{Field: "props", Value: lastmile.Clip(text), Message: "must be a JSON object, or its JSON text as a string"})
	}
	props["props"] = m
	return nil
}
