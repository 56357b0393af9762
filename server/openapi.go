package server

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/server/respond"
)

// obj is a JSON object of the OpenAPI document.
type obj = map[string]any

// OpenAPI returns the OpenAPI 3.0 document of the feature API, generated
// from the catalog: one items path per layer, with its property filters and
// its feature schema. serverURL is the /ogc base the client used.
func OpenAPI(c *layer.Catalog, serverURL string, private bool) obj {
	paths := obj{
		"/": obj{"get": op("landing page", "Landing", nil, jsonResponse("links to the API definition, conformance and collections"))},
		"/conformance": obj{"get": op("conformance classes", "Conformance", nil,
			jsonResponse("the conformance classes implemented"))},
		"/api": obj{"get": op("this API definition", "API", nil, jsonResponse("the OpenAPI 3.0 document"))},
		"/collections": obj{"get": op("the collections (one per layer), with their extents", "Collections", nil,
			jsonResponse("the collections"))},
	}
	schemas := obj{
		"Error": obj{"type": "object", "properties": obj{"error": obj{"type": "object", "properties": obj{
			"code": obj{"type": "string"}, "message": obj{"type": "string"}, "request_id": obj{"type": "string"},
			"details": obj{"type": "array", "items": obj{"type": "object", "properties": obj{
				"row": obj{"type": "integer"}, "field": obj{"type": "string"}, "value": obj{"type": "string"}, "message": obj{"type": "string"}}}},
		}}}},
		"Link": obj{"type": "object", "required": []string{"href", "rel"}, "properties": obj{
			"href": obj{"type": "string"}, "rel": obj{"type": "string"}, "type": obj{"type": "string"}, "title": obj{"type": "string"}}},
	}
	idParam := obj{"name": "id", "in": "path", "required": true, "description": "the feature id", "schema": obj{"type": "integer", "minimum": 1}}
	ifMatchParam := obj{"name": "If-Match", "in": "header", "required": false,
		"description": `the feature's ETag (its version, e.g. "3"), a list of them, or *; stale → 412, a weak W/"3" → 400. Without it the write is applied to the current version and recorded in the history as unconditional (precondition "none"); a server run with --require-if-match answers 428 instead`, "schema": obj{"type": "string"}}
	for _, l := range c.Layers() {
		name := l.Name
		schemas[schemaName(l)] = featureSchema(l)
		ref := obj{"$ref": "#/components/schemas/" + schemaName(l)}
		params := []any{
			obj{"$ref": "#/components/parameters/limit"},
			obj{"name": "offset", "in": "query", "description": "features to skip (the next and prev links set it)",
				"schema": obj{"type": "integer", "minimum": 0, "default": 0}},
			obj{"name": "bbox", "in": "query", "description": "minlon,minlat,maxlon,maxlat (CRS84)", "style": "form", "explode": false,
				"schema": obj{"type": "array", "minItems": 4, "maxItems": 6, "items": obj{"type": "number"}}},
			obj{"name": "bbox-crs", "in": "query", "description": "the CRS of bbox (one of the collection's crs list; axis order of the CRS: EPSG:4326 and EPSG:4490 are lat,lon)",
				"schema": obj{"type": "string", "format": "uri", "default": CRS84}},
			obj{"name": "crs", "in": "query", "description": "the CRS of the response geometries, one of the collection's crs list (Content-Crs names it)",
				"schema": obj{"type": "string", "format": "uri", "default": CRS84}},
			obj{"name": "datetime", "in": "query", "description": "a date or interval (a/b, ../b, a/..) on completed_on; other dates: use filter",
				"schema": obj{"type": "string"}},
			obj{"name": "filter", "in": "query", "description": "a CQL2 filter over the collection's queryables, e.g. surface = 'cement' AND started_on >= DATE('2015-01-01')",
				"schema": obj{"type": "string"}},
			obj{"name": "filter-lang", "in": "query", "description": "the filter's encoding; cql-text (the draft's name, which GDAL 3.6 looks for here) is read as cql2-text",
				"schema": obj{"type": "string", "enum": []string{"cql2-text", "cql2-json", "cql-text"}, "default": "cql2-text"}},
			obj{"name": "filter-crs", "in": "query", "description": "the CRS of the filter's geometries",
				"schema": obj{"type": "string", "format": "uri", "enum": []string{CRS84}, "default": CRS84}},
		}
		params = append(params, obj{"name": "sortby", "in": "query", "style": "form", "explode": false,
			"description": "order of the features: fields separated by commas, - before a field for descending (e.g. -width_m,name); id breaks ties, NULLs last",
			"schema":      obj{"type": "string"}})
		for _, f := range l.Fields {
			if !f.Filterable() {
				continue
			}
			// A simple type (not an array), which QGIS ≥ 3.32 needs to send
			// an equality filter as this parameter.
			schema := obj{"type": f.Type.JSONType()}
			if f.Type == layer.Date {
				schema["format"] = "date"
			}
			params = append(params, obj{"name": f.Name, "in": "query", "style": "form", "explode": false,
				"description": f.LabelZH + " " + f.Label + ": features whose " + f.Name + " equals the value; several values separated by commas match any of them" + enumNote(f),
				"schema":      schema})
		}
		items := "/collections/" + name + "/items"
		paths["/collections/"+name+"/queryables"] = obj{"get": op("the properties a filter on "+name+" can use (JSON Schema)", "Queryables_"+name, nil,
			obj{"200": obj{"description": "a JSON Schema", "content": obj{SchemaType: obj{"schema": obj{"type": "object"}}}}})}
		paths["/collections/"+name] = obj{"get": op("the "+name+" collection", "Collection_"+name, nil, jsonResponse("the collection with its extent"))}
		paths[items] = obj{
			"get": op("the "+name+" features, paged", "Items_"+name, params, obj{"200": obj{
				"description": "a GeoJSON FeatureCollection with numberMatched, numberReturned and next/prev links",
				"content":     obj{GeoJSONType: obj{"schema": obj{"type": "object", "properties": obj{"features": obj{"type": "array", "items": ref}}}}}}}),
			"post": write(op("create a "+name+" feature (scope write:"+name+")", "Create_"+name, nil, obj{
				"201": obj{"description": "created; Location and ETag headers", "content": obj{GeoJSONType: obj{"schema": ref}}}}), ref),
		}
		one := []any{idParam}
		withIfMatch := []any{idParam, ifMatchParam}
		paths[items+"/{id}"] = obj{
			"get": op("one "+name+" feature, with its ETag", "Item_"+name, one, obj{
				"200": obj{"description": "the feature", "content": obj{GeoJSONType: obj{"schema": ref}}}}),
			"put": write(op("replace a "+name+" feature (If-Match optional)", "Replace_"+name, withIfMatch, obj{
				"200": obj{"description": "replaced; the new ETag", "content": obj{GeoJSONType: obj{"schema": ref}}}}), ref),
			"patch": mergePatch(write(op("merge-patch a "+name+" feature's properties and/or geometry (RFC 7396: a null clears a field, props merges member by member; If-Match optional)", "Patch_"+name, withIfMatch, obj{
				"200": obj{"description": "patched; the new ETag", "content": obj{GeoJSONType: obj{"schema": ref}}}}), ref)),
			"delete": op("delete a "+name+" feature (If-Match optional; its history stays)", "Delete_"+name, withIfMatch, obj{
				"204": obj{"description": "deleted"}}),
		}
		schemaOp := func(n string) obj {
			return obj{"get": op("the JSON Schema of the "+n+" features (OGC API Features Part 5; profile=geojson: of the GeoJSON Feature)", "Schema_"+n,
				[]any{obj{"name": "profile", "in": "query", "description": "geojson: the schema of the GeoJSON Feature, properties nested (GDAL reads it)",
					"schema": obj{"type": "string", "enum": []string{"geojson"}}}},
				obj{"200": obj{"description": "a JSON Schema; titles follow Accept-Language (zh, en; both by default)", "content": obj{SchemaType: obj{"schema": obj{"type": "object"}}}}})}
		}
		paths["/collections/"+name+"/schema"] = schemaOp(name)
		// The per-kind collections of a mixed layer: read-only.
		for _, v := range kindViews(l) {
			vn, vi := v.Name, "/collections/"+v.Name
			paths[vi] = obj{"get": op("the "+vn+" collection: the "+v.group.en+" of "+name+" (read-only)", "Collection_"+vn, nil, jsonResponse("the collection with its extent"))}
			paths[vi+"/queryables"] = obj{"get": op("the properties a filter on "+vn+" can use (JSON Schema)", "Queryables_"+vn, nil,
				obj{"200": obj{"description": "a JSON Schema", "content": obj{SchemaType: obj{"schema": obj{"type": "object"}}}}})}
			paths[vi+"/schema"] = schemaOp(vn)
			paths[vi+"/items"] = obj{"get": op("the "+name+" features that are "+v.group.en+" ("+strings.Join(v.Kinds, ", ")+"), paged", "Items_"+vn, params, obj{"200": obj{
				"description": "a GeoJSON FeatureCollection with numberMatched, numberReturned and next/prev links",
				"content":     obj{GeoJSONType: obj{"schema": obj{"type": "object", "properties": obj{"features": obj{"type": "array", "items": ref}}}}}}})}
			paths[vi+"/items/{id}"] = obj{"get": op("one "+name+" feature of "+vn+", with its ETag", "Item_"+vn, one, obj{
				"200": obj{"description": "the feature", "content": obj{GeoJSONType: obj{"schema": ref}}}})}
		}
		paths[items+"/{id}/history"] = obj{"get": op("every recorded version of a "+name+" feature", "History_"+name, one,
			jsonResponse("op, version, actor, time, changed fields, geometry before and after"))}
	}
	security := []any{}
	if private {
		security = []any{obj{"bearer": []string{}}, obj{"basic": []string{}}}
	}
	return obj{
		"openapi": "3.0.3",
		"info": obj{
			"title":       "lastmile feature API",
			"version":     "1.0",
			"description": "OGC API Features (Part 1 core + GeoJSON, Part 2 CRS, Part 3 CQL2 filters, Part 4 writes, Part 5 schemas, sortby) over lastmile's layer catalog. Writes need a token with scope write:<layer> (Bearer, or Basic with the token as the password).",
		},
		"servers":  []any{obj{"url": serverURL}},
		"security": security,
		"paths":    paths,
		"components": obj{
			// QGIS reads the page size from here (maximum and default): with
			// them it pages by 1000 instead of 100.
			"parameters": obj{"limit": obj{"name": "limit", "in": "query", "description": "features per page", "required": false,
				"style": "form", "explode": false,
				"schema": obj{"type": "integer", "minimum": 1, "maximum": MaxLimit, "default": DefaultLimit}}},
			"schemas": schemas,
			"securitySchemes": obj{
				"bearer": obj{"type": "http", "scheme": "bearer", "description": "a token from lastmile token create"},
				"basic":  obj{"type": "http", "scheme": "basic", "description": "the same token as the password, any user name (for clients without bearer tokens, such as QGIS 3.22)"},
			},
			"responses": obj{"Error": obj{"description": "an error naming the problem",
				"content": obj{JSONType: obj{"schema": obj{"$ref": "#/components/schemas/Error"}}}}},
		},
	}
}

// enumNote lists an enum field's codes for a parameter's description.
func enumNote(f layer.Field) string {
	if f.Type != layer.Enum {
		return ""
	}
	return " (" + strings.Join(f.Enum, ", ") + ")"
}

func schemaName(l *layer.Layer) string { return "Feature_" + l.Name }

func op(summary, id string, params []any, responses obj) obj {
	responses["default"] = obj{"$ref": "#/components/responses/Error"}
	o := obj{"summary": summary, "operationId": id, "responses": responses}
	if len(params) > 0 {
		o["parameters"] = params
	}
	return o
}

func write(o obj, ref obj) obj {
	o["security"] = []any{obj{"bearer": []string{}}, obj{"basic": []string{}}}
	o["requestBody"] = obj{"required": true, "content": obj{
		GeoJSONType: obj{"schema": ref}, JSONType: obj{"schema": ref}}}
	return o
}

// MergePatchType is the media type of a JSON merge patch (RFC 7396).
const MergePatchType = "application/merge-patch+json"

// mergePatch lists the merge-patch media type beside GeoJSON and JSON as a
// PATCH body (the server reads all three alike).
func mergePatch(o obj) obj {
	o["requestBody"].(obj)["content"].(obj)[MergePatchType] = o["requestBody"].(obj)["content"].(obj)[JSONType]
	return o
}

func jsonResponse(desc string) obj {
	return obj{"200": obj{"description": desc, "content": obj{JSONType: obj{"schema": obj{"type": "object"}}}}}
}

// fieldSchema is the JSON schema of one catalog field.
func fieldSchema(f layer.Field) obj {
	s := obj{"type": f.Type.JSONType(), "title": f.Label, "description": f.LabelZH}
	if f.Type == layer.Date {
		s["format"] = "date"
	}
	if f.Type == layer.Enum {
		s["enum"] = f.Enum
	}
	if f.Pattern != nil {
		s["pattern"] = f.Pattern.String()
	}
	if f.Min != nil {
		s["minimum"] = *f.Min
	}
	if f.Max != nil {
		s["maximum"] = *f.Max
	}
	if f.Unit != "" {
		s["x-unit"] = f.Unit
	}
	if f.ReadOnly {
		s["readOnly"] = true
	}
	return s
}

// featureSchema is the JSON schema of a layer's GeoJSON Feature.
func featureSchema(l *layer.Layer) obj {
	props := obj{}
	var required []string
	for _, f := range l.Fields {
		props[f.Name] = fieldSchema(f)
		if f.Type == layer.Object {
			props[f.Name] = obj{"type": "string", "title": f.Label, "description": f.LabelZH + "; " + propsDescription}
		}
		if f.Required {
			required = append(required, f.Name)
		}
	}
	if l.IsLinear() {
		props["length_m"] = obj{"type": "number", "readOnly": true, "x-unit": "m", "description": "geodesic length (WGS84 ellipsoid)"}
	}
	p := obj{"type": "object", "properties": props}
	if len(required) > 0 {
		p["required"] = required
	}
	return obj{"type": "object", "required": []string{"type", "geometry", "properties"}, "properties": obj{
		"type":       obj{"type": "string", "enum": []string{"Feature"}},
		"id":         obj{"type": "integer", "readOnly": true},
		"geometry":   obj{"type": "object", "description": "GeoJSON geometry: " + joinKinds(l.GeomKinds), "properties": obj{"type": obj{"type": "string", "enum": l.GeomKinds}}},
		"properties": p,
	}}
}

func joinKinds(k []string) string {
	s := ""
	for i, v := range k {
		if i > 0 {
			s += ", "
		}
		s += v
	}
	return s
}

func (s *Server) ogcAPI(w http.ResponseWriter, r *http.Request) error {
	doc := OpenAPI(s.deps.Catalog, respond.BaseURL(r)+"/ogc", s.opts.Private)
	if s.opts.RequireIfMatch {
		requireIfMatch(doc)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", OpenAPIType)
	w.Write(b)
	return nil
}

// requireIfMatch marks If-Match required in doc, for a server run with
// --require-if-match.
func requireIfMatch(doc obj) {
	for _, p := range doc["paths"].(obj) {
		for _, o := range p.(obj) {
			params, _ := o.(obj)["parameters"].([]any)
			for _, prm := range params {
				if m := prm.(obj); m["name"] == "If-Match" {
					m["required"] = true
				}
			}
		}
	}
}
