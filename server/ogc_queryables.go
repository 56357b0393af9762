package server

import (
	"encoding/json"
	"net/http"

	"github.com/lastmile/lastmile/cql2"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/server/respond"
)

// Queryables returns the JSON Schema of the properties a CQL2 filter on l
// can use (OGC API Features Part 3): every field of the catalog but objects,
// with its type, format, enum and titles, the id, and the geometry as a
// GeoJSON schema reference (QGIS and GDAL read "type"/"format" and the
// geojson.org $ref). self is the schema's own URL.
func Queryables(l *layer.Layer, self string) obj {
	q := cql2.LayerQueryables(l, "")
	props := obj{}
	for _, name := range q.Names() {
		switch name {
		case "id":
			props[name] = obj{"title": "feature id", "description": "要素编号", "type": "integer", "minimum": 1}
			continue
		case "geometry":
			kind := "Geometry"
			if len(l.GeomKinds) == 1 {
				kind = l.GeomKinds[0]
			}
			props[name] = obj{"title": "geometry", "description": "几何 (CRS84)", "$ref": "https://geojson.org/schema/" + kind + ".json",
				"x-ogc-role": "primary-geometry"}
			continue
		}
		f, _ := l.Field(name)
		s := fieldSchema(f)
		if col, _ := q.Column(name); col.Kind == cql2.KindTimestamp {
			s["type"], s["format"] = "string", "date-time"
		}
		if name == "completed_on" {
			s["x-ogc-role"] = "primary-instant"
			s["description"] = f.LabelZH + "; the datetime parameter filters this field"
		}
		props[name] = s
	}
	return obj{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"$id":                  self,
		"type":                 "object",
		"title":                l.Title + " (" + l.TitleZH + ")",
		"description":          "The properties a filter (CQL2 text or JSON) on " + l.Name + " can use; datetime= applies to completed_on.",
		"properties":           props,
		"additionalProperties": false,
	}
}

func (s *Server) ogcQueryables(w http.ResponseWriter, r *http.Request) error {
	if err := s.canRead(r.Context()); err != nil {
		return err
	}
	l, err := s.ogcLayer(r)
	if err != nil {
		return err
	}
	self := respond.BaseURL(r) + "/ogc/collections/" + l.Name + "/queryables"
	b, err := json.Marshal(Queryables(l, self))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", SchemaType)
	w.WriteHeader(http.StatusOK)
	w.Write(append(b, '\n'))
	return nil
}
