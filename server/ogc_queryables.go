package server

import (
	"net/http"

	"github.com/lastmile/lastmile/cql2"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/server/respond"
)

// Queryables returns the JSON Schema of the properties a CQL2 filter on l
// can use (OGC API Features Part 3): every field of the catalog but objects,
// with its type, format, enum (with labels) and titles in both languages,
// the id, and the geometry as a GeoJSON schema reference (QGIS and GDAL
// read "type"/"format" and the geojson.org $ref). self is the schema's own
// URL.
func Queryables(l *layer.Layer, self string) obj { return queryablesIn(coll{Layer: l}, self, "") }

// queryablesIn is Queryables of collection c with titles in lang
// (requestLang).
func queryablesIn(c coll, self, lang string) obj {
	l := c.Layer
	q := cql2.LayerQueryables(l, "")
	props := obj{}
	for _, name := range q.Names() {
		switch name {
		case "id":
			props[name] = obj{"title": inLang(lang, "Feature id", "要素编号"), "type": "integer", "minimum": 1, "x-ogc-role": "id"}
			continue
		case "geometry":
			kind := "Geometry"
			if len(l.GeomKinds) == 1 {
				kind = l.GeomKinds[0]
			}
			props[name] = obj{"title": inLang(lang, "Geometry", "几何"), "description": "CRS84", "$ref": "https://geojson.org/schema/" + kind + ".json",
				"format": c.geometryFormat(), "x-ogc-role": "primary-geometry"}
			continue
		}
		f, _ := l.Field(name)
		s := fieldSchemaIn(f, lang)
		if col, _ := q.Column(name); col.Kind == cql2.KindTimestamp {
			s["type"], s["format"] = "string", "date-time"
		}
		if name == "completed_on" {
			s["description"] = "the datetime parameter filters this field"
		}
		props[name] = s
	}
	en, zh := c.titles()
	return obj{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"$id":                  self,
		"type":                 "object",
		"title":                inLang(lang, en, zh),
		"description":          "The properties a filter (CQL2 text or JSON) on " + l.Name + " can use; datetime= applies to completed_on.",
		"properties":           props,
		"additionalProperties": false,
	}
}

func (s *Server) ogcQueryables(w http.ResponseWriter, r *http.Request) error {
	if err := s.canRead(r.Context()); err != nil {
		return err
	}
	c, err := s.ogcColl(r)
	if err != nil {
		return err
	}
	self := respond.BaseURL(r) + "/ogc/collections/" + c.Name + "/queryables"
	return writeSchema(w, queryablesIn(c, self, requestLang(r)))
}
