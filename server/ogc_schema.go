package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/server/respond"
)

// Titles in two languages: collections, queryables and schemas carry the
// catalog's English and Chinese titles. Accept-Language choosing zh or en
// gives that one; anything else (none, *, fr) gives both, Chinese first:
// "农村公路 Village roads".

// requestLang returns "zh" or "en" when Accept-Language prefers one of them
// (the highest q among the tags whose primary subtag is zh or en; the first
// listed on a tie), "" otherwise.
func requestLang(r *http.Request) string { return preferredLang(r.Header.Values("Accept-Language")) }

func preferredLang(headers []string) string {
	best, bestQ := "", 0.0
	for _, h := range headers {
		for _, part := range strings.Split(h, ",") {
			tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
			if primary != "zh" && primary != "en" {
				continue
			}
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f >= 0 && f <= 1 {
						q = f
					} else {
						q = 0
					}
				}
			}
			if q > bestQ {
				best, bestQ = primary, q
			}
		}
	}
	return best
}

// inLang is a title in lang: zh, en, or both ("中文 English") for "".
func inLang(lang, en, zh string) string {
	switch {
	case lang == "zh" && zh != "":
		return zh
	case lang == "en" || zh == "":
		return en
	case en == "":
		return zh
	}
	return zh + " " + en
}

// fieldTitle is a field's title in lang.
func fieldTitle(f layer.Field, lang string) string { return inLang(lang, f.Label, f.LabelZH) }

// propsDescription says how the object field props is delivered.
const propsDescription = "other attributes: a JSON object, delivered as its JSON text (a string) so that every desktop format can hold it; writes accept the object or its text"

// fieldSchemaIn is the JSON Schema of one catalog field as features carry
// it, titled in lang: type, format (date, date-time for updated_at),
// bounds, unit, readOnly, and for an enum its codes with their labels
// (oneOf const/title).
func fieldSchemaIn(f layer.Field, lang string) obj {
	s := fieldSchema(f)
	s["title"] = fieldTitle(f, lang)
	delete(s, "description")
	switch {
	case f.Type == layer.Object:
		s["type"], s["contentMediaType"], s["description"] = "string", JSONType, propsDescription
	case f.Name == "updated_at":
		s["format"] = "date-time"
	case f.Type == layer.Money:
		s["multipleOf"] = 0.01
	}
	if f.Type == layer.Enum {
		var labels []any
		for _, v := range f.Values {
			labels = append(labels, obj{"const": v.Code, "title": inLang(lang, v.Label, v.LabelZH)})
		}
		s["oneOf"] = labels
	}
	if f.Name == "completed_on" {
		s["x-ogc-role"] = "primary-instant"
	}
	return s
}

// CollectionSchema returns the JSON Schema of the features of collection c
// (OGC API Features Part 5): every property with its type, format, enum
// labels, readOnly and titles in lang, the id and the geometry with their
// roles. With geojson it is the schema of the GeoJSON Feature instead (the
// properties nested under "properties"), which GDAL's OAPIF driver (3.6)
// reads to type its fields.
func CollectionSchema(c coll, self, lang string, geojson bool) obj {
	l := c.Layer
	props := obj{}
	var required []string
	for _, f := range l.Fields {
		props[f.Name] = fieldSchemaIn(f, lang)
		if f.Required {
			required = append(required, f.Name)
		}
	}
	if l.IsLinear() {
		props["length_m"] = obj{"type": "number", "readOnly": true, "x-unit": "m",
			"title": inLang(lang, "Length", "长度"), "description": "geodesic length (WGS84 ellipsoid), metres"}
	}
	id := obj{"type": "integer", "minimum": 1, "readOnly": true, "x-ogc-role": "id", "title": inLang(lang, "Feature id", "要素编号")}
	kinds := make([]any, len(l.GeomKinds))
	for i, k := range l.GeomKinds {
		kinds[i] = obj{"$ref": "https://geojson.org/schema/" + k + ".json"}
	}
	geom := obj{"x-ogc-role": "primary-geometry", "format": c.geometryFormat(), "title": inLang(lang, "Geometry", "几何"),
		"description": "GeoJSON geometry (CRS84 unless crs= says otherwise): " + strings.Join(l.GeomKinds, ", ")}
	if len(kinds) == 1 {
		geom["$ref"] = kinds[0].(obj)["$ref"]
	} else {
		geom["oneOf"] = kinds
	}
	en, zh := c.titles()
	doc := obj{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"$id":     self,
		"type":    "object",
		"title":   inLang(lang, en, zh),
	}
	if geojson {
		p := obj{"type": "object", "properties": props}
		if len(required) > 0 {
			p["required"] = required
		}
		doc["description"] = "The GeoJSON Feature of " + l.Name + "; /schema without profile=geojson is the Part 5 schema of its properties."
		doc["required"] = []string{"type", "geometry", "properties"}
		doc["properties"] = obj{
			"type":       obj{"type": "string", "enum": []string{"Feature"}},
			"id":         id,
			"geometry":   geom,
			"properties": p,
		}
		return doc
	}
	props["id"], props["geometry"] = id, geom
	doc["description"] = "The properties of " + l.Name + " features (OGC API Features Part 5); in GeoJSON, id and geometry are the Feature's members and the others are under properties."
	doc["properties"] = props
	if len(required) > 0 {
		doc["required"] = required
	}
	return doc
}

func (s *Server) ogcSchema(w http.ResponseWriter, r *http.Request) error {
	if err := s.canRead(r.Context()); err != nil {
		return err
	}
	c, err := s.ogcColl(r)
	if err != nil {
		return err
	}
	geojson := false
	switch p := r.URL.Query().Get("profile"); p {
	case "":
	case "geojson":
		geojson = true
	default:
		return lastmile.Invalid("the query parameters are invalid", lastmile.Problem{Field: "profile", Value: lastmile.Clip(p),
			Message: "must be geojson (the schema of the GeoJSON Feature) or left out (the Part 5 schema of the properties)"})
	}
	self := respond.BaseURL(r) + "/ogc/collections/" + c.Name + "/schema"
	if geojson {
		self += "?profile=geojson"
	}
	return writeSchema(w, CollectionSchema(c, self, requestLang(r), geojson))
}

// writeSchema writes a JSON Schema document (schema, queryables), whose
// titles follow Accept-Language.
func writeSchema(w http.ResponseWriter, doc obj) error {
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", SchemaType)
	w.Header().Add("Vary", "Accept-Language")
	w.WriteHeader(http.StatusOK)
	w.Write(append(b, '\n'))
	return nil
}
