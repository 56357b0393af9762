package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/server"
)

// seedPower stores lines and transformer points in the mixed power layer.
func seedPower(t *testing.T, e *ogcEnv, lines, points int) {
	t.Helper()
	ctx := postgis.WithActor(context.Background(), postgis.Actor{Name: "seed"})
	for i := 0; i < lines; i++ {
		if _, err := e.store.Create(ctx, "power_upgrades", map[string]any{"status": "planned", "kind": "line", "voltage_kv": 10.0},
			orb.LineString{{9.5, 47.1 + float64(i)/100}, {9.51, 47.11 + float64(i)/100}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < points; i++ {
		if _, err := e.store.Create(ctx, "power_upgrades", map[string]any{"status": "planned", "kind": "transformer", "capacity_kva": 400.0},
			orb.Point{9.52, 47.12 + float64(i)/100}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOGCPerKindCollections: the mixed power layer is also served as one
// read-only collection per kind, each declaring one geometry type; the
// counts per kind are PostGIS's.
func TestOGCPerKindCollections(t *testing.T) {
	e := newOGC(t, server.Options{})
	seedPower(t, e, 3, 2)
	var lines, points int
	e.pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE GeometryType(geom) = 'LINESTRING'), count(*) FILTER (WHERE GeometryType(geom) = 'POINT') FROM lastmile.power_upgrades`).Scan(&lines, &points)
	for _, tt := range []struct {
		id, kind, format string
		want             int
	}{
		{"power_upgrades_lines", "LineString", "geometry-linestring-or-multilinestring", lines},
		{"power_upgrades_points", "Point", "geometry-point-or-multipoint", points},
	} {
		var fc featureCollection
		e.getJSON(t, "/ogc/collections/"+tt.id+"/items", &fc)
		if fc.NumberMatched != tt.want || len(fc.Features) != tt.want {
			t.Errorf("%s: matched %d, returned %d; PostGIS counts %d", tt.id, fc.NumberMatched, len(fc.Features), tt.want)
		}
		for _, f := range fc.Features {
			if !strings.Contains(string(f.Geometry), `"type":"`+tt.kind+`"`) {
				t.Errorf("%s holds %s", tt.id, f.Geometry)
			}
		}
		var schema struct {
			Properties map[string]map[string]any
		}
		e.getJSON(t, "/ogc/collections/"+tt.id+"/schema", &schema)
		if g := schema.Properties["geometry"]; g["format"] != tt.format || g["x-ogc-role"] != "primary-geometry" {
			t.Errorf("%s schema geometry = %v, want format %s", tt.id, g, tt.format)
		}
		// One feature of the other kind is not in this collection.
		other := fc.Features[0].ID
		var all featureCollection
		e.getJSON(t, "/ogc/collections/power_upgrades/items", &all)
		for _, f := range all.Features {
			if !strings.Contains(string(f.Geometry), `"type":"`+tt.kind+`"`) {
				other = f.ID
			}
		}
		if status, _, body := e.do(t, "GET", fmt.Sprintf("/ogc/collections/%s/items/%d", tt.id, other), ""); status != 404 {
			t.Errorf("%s: a feature of the other kind: %d %s", tt.id, status, body)
		}
	}
	// The mixed collection keeps them all.
	var fc featureCollection
	e.getJSON(t, "/ogc/collections/power_upgrades/items", &fc)
	if fc.NumberMatched != lines+points {
		t.Errorf("power_upgrades matched %d, want %d", fc.NumberMatched, lines+points)
	}
	// A view is read-only: a write says where to write.
	tok := e.token(t, "w", "write:power_upgrades")
	status, _, body := e.do(t, "POST", "/ogc/collections/power_upgrades_points/items",
		`{"type":"Feature","geometry":{"type":"Point","coordinates":[9.5,47.1]},"properties":{"status":"planned","kind":"transformer"}}`,
		"Authorization", "Bearer "+tok, "Content-Type", "application/geo+json")
	if status != 400 || !strings.Contains(string(body), "/ogc/collections/power_upgrades") {
		t.Errorf("write to a view: %d %s", status, body)
	}
}

// TestOGCSchemaAndLanguages: the Part 5 schema of a collection (types,
// formats, enum labels, readOnly, roles), linked from the collection as
// describedby; titles in both languages, or the one Accept-Language asks.
func TestOGCSchemaAndLanguages(t *testing.T) {
	e := newOGC(t, server.Options{})
	var c struct {
		Title string
		Links []struct{ Href, Rel, Type string }
	}
	h := e.getJSON(t, "/ogc/collections/roads", &c)
	if c.Title != "农村公路 Village roads" || !strings.Contains(h.Get("Vary"), "Accept-Language") {
		t.Errorf("roads title %q, Vary %q", c.Title, h.Get("Vary"))
	}
	rels := map[string]string{}
	for _, l := range c.Links {
		if l.Type == server.SchemaType {
			rels[l.Rel] = l.Href
		}
	}
	if !strings.HasSuffix(rels["describedby"], "/ogc/collections/roads/schema") || !strings.HasSuffix(rels["describedBy"], "/schema?profile=geojson") {
		t.Errorf("schema links %v", rels)
	}
	for _, tt := range []struct{ accept, title, surface, cement string }{
		{"", "农村公路 Village roads", "路面类型 Surface", "水泥 cement"},
		{"zh-CN,zh;q=0.9,en;q=0.8", "农村公路", "路面类型", "水泥"},
		{"en-US,*", "Village roads", "Surface", "cement"},
		{"fr", "农村公路 Village roads", "路面类型 Surface", "水泥 cement"},
	} {
		status, h, b := e.do(t, "GET", "/ogc/collections/roads/schema", "", "Accept-Language", tt.accept)
		var s struct {
			Title      string
			Properties map[string]struct {
				Type, Format, Title string
				ReadOnly            bool   `json:"readOnly"`
				Role                string `json:"x-ogc-role"`
				Enum                []string
				OneOf               []struct{ Const, Title string }
			}
		}
		if status != 200 || h.Get("Content-Type") != server.SchemaType || json.Unmarshal(b, &s) != nil {
			t.Fatalf("schema (%q): %d %s %s", tt.accept, status, h.Get("Content-Type"), b)
		}
		if s.Title != tt.title || s.Properties["surface"].Title != tt.surface {
			t.Errorf("Accept-Language %q: title %q, surface %q; want %q, %q", tt.accept, s.Title, s.Properties["surface"].Title, tt.title, tt.surface)
		}
		var cement string
		for _, o := range s.Properties["surface"].OneOf {
			if o.Const == "cement" {
				cement = o.Title
			}
		}
		if cement != tt.cement || !slices.Equal(s.Properties["surface"].Enum, layer.Surfaces) {
			t.Errorf("Accept-Language %q: cement labelled %q, enum %v", tt.accept, cement, s.Properties["surface"].Enum)
		}
		if tt.accept != "" {
			continue
		}
		p := s.Properties
		for name, want := range map[string]string{"width_m": "number", "funding_yuan": "number", "started_on": "string date", "completed_on": "string date",
			"updated_at": "string date-time", "props": "string", "version": "integer", "length_m": "number", "id": "integer"} {
			if got := strings.TrimSpace(p[name].Type + " " + p[name].Format); got != want {
				t.Errorf("schema %s: %q, want %q", name, got, want)
			}
		}
		for _, name := range []string{"id", "version", "updated_at", "updated_by", "length_m"} {
			if !p[name].ReadOnly {
				t.Errorf("schema %s is not readOnly", name)
			}
		}
		if p["width_m"].ReadOnly || p["id"].Role != "id" || p["completed_on"].Role != "primary-instant" || p["geometry"].Role != "primary-geometry" {
			t.Errorf("schema roles: width_m %+v id %+v completed_on %+v geometry %+v", p["width_m"], p["id"], p["completed_on"], p["geometry"])
		}
	}
	// The GeoJSON profile nests the properties, as GDAL reads them.
	var g struct {
		Properties struct {
			Properties struct {
				Properties map[string]struct{ Type, Format string }
			}
		}
	}
	e.getJSON(t, "/ogc/collections/roads/schema?profile=geojson", &g)
	if p := g.Properties.Properties.Properties; p["width_m"].Type != "number" || p["started_on"].Format != "date" {
		t.Errorf("geojson profile properties: %v", p)
	}
	if status, _, body := e.do(t, "GET", "/ogc/collections/roads/schema?profile=gml", ""); status != 400 || !strings.Contains(string(body), "profile") {
		t.Errorf("profile=gml: %d %s", status, body)
	}
	// Queryables carry the same titles; the collections list too.
	var q struct {
		Properties map[string]struct{ Title string }
	}
	status, _, b := e.do(t, "GET", "/ogc/collections/roads/queryables", "", "Accept-Language", "zh")
	if json.Unmarshal(b, &q); status != 200 || q.Properties["surface"].Title != "路面类型" || q.Properties["status"].Title != "状态" {
		t.Errorf("queryables in zh: %d %v", status, q.Properties)
	}
	var cs struct{ Collections []struct{ ID, Title string } }
	status, _, b = e.do(t, "GET", "/ogc/collections", "", "Accept-Language", "en")
	if json.Unmarshal(b, &cs); status != 200 || cs.Collections[0].Title != "Village roads" {
		t.Errorf("collections in en: %d %v", status, cs.Collections)
	}
	var conf struct{ ConformsTo []string }
	e.getJSON(t, "/ogc/conformance", &conf)
	if !slices.Contains(conf.ConformsTo, "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/schemas") {
		t.Errorf("conformance lacks Part 5 schemas: %v", conf.ConformsTo)
	}
}

// TestOGCSortBy: sortby orders the page (id breaks ties, so paging is
// stable) and an unknown field is a 400 naming it.
func TestOGCSortBy(t *testing.T) {
	e := newOGC(t, server.Options{})
	seedRoads(t, e) // surfaces cement, asphalt, gravel, earth, cement
	names := func(q string) string {
		var fc featureCollection
		e.getJSON(t, "/ogc/collections/roads/items?"+q, &fc)
		var out []string
		for _, f := range fc.Features {
			name, _ := f.Properties["name"].(string)
			out = append(out, strings.TrimPrefix(name, "road "))
		}
		return strings.Join(out, ",")
	}
	for q, want := range map[string]string{
		"sortby=surface":                     "2,1,5,4,3",
		"sortby=-surface":                    "3,4,1,5,2",
		"sortby=-surface,-name":              "3,4,5,1,2",
		"sortby=surface&limit=2&offset=2":    "5,4",
		"sortby=%2Bsurface,-id&limit=3":      "2,5,1",
		"sortby=completed_on&surface=cement": "1,5",
		"sortby=-completed_on":               "3,2,1,4,5",
		"sortby=id":                          "1,2,3,4,5",
	} {
		if got := names(q); got != want {
			t.Errorf("%s: %s, want %s", q, got, want)
		}
	}
	for q, want := range map[string]string{
		"sortby=colour":        `"value":"colour","message":"is not a field roads can be sorted by (id, ext_id`,
		"sortby=props":         `"value":"props","message":"is not a field roads can be sorted by`,
		"sortby=name,,surface": "empty key",
		"sortby=name,-name":    "given twice",
	} {
		status, _, body := e.do(t, "GET", "/ogc/collections/roads/items?"+q, "")
		if status != 400 || !strings.Contains(strings.ReplaceAll(string(body), `\"`, `"`), want) || !strings.Contains(string(body), `"field":"sortby"`) {
			t.Errorf("%s: %d %s, want 400 with %s", q, status, body, want)
		}
	}
}

// TestOGCPropsAsText: props is delivered as its JSON text, and a write
// accepts the text (as a client sends back what it read) or the object.
func TestOGCPropsAsText(t *testing.T) {
	e := newOGC(t, server.Options{})
	tok := e.token(t, "w", "write:roads")
	auth := []string{"Authorization", "Bearer " + tok, "Content-Type", "application/geo+json"}
	for _, tt := range []struct{ props, want string }{
		{`{"contractor":"Vaduz Bau","lanes":2}`, `{"lanes": 2, "contractor": "Vaduz Bau"}`},
		{`"{\"contractor\":\"Vaduz Bau\",\"lanes\":2}"`, `{"lanes": 2, "contractor": "Vaduz Bau"}`},
		{`""`, `{}`},
	} {
		status, _, body := e.do(t, "POST", "/ogc/collections/roads/items", `{"type":"Feature","geometry":{"type":"LineString","coordinates":[[9.5,47.1],[9.51,47.11]]},
			"properties":{"name":"p","status":"planned","width_m":6,"props":`+tt.props+`}}`, auth...)
		var f struct {
			Properties map[string]any
		}
		if status != 201 || json.Unmarshal(body, &f) != nil {
			t.Fatalf("create with props %s: %d %s", tt.props, status, body)
		}
		if f.Properties["props"] != tt.want {
			t.Errorf("props %s is served as %#v, want the text %s", tt.props, f.Properties["props"], tt.want)
		}
		if !strings.Contains(string(body), `"width_m" : 6.0`) {
			t.Errorf("width 6 is not written as a real: %s", body)
		}
	}
	status, _, body := e.do(t, "POST", "/ogc/collections/roads/items", `{"type":"Feature","geometry":{"type":"LineString","coordinates":[[9.5,47.1],[9.51,47.11]]},
		"properties":{"name":"p","status":"planned","props":"not json"}}`, auth...)
	if status != 400 || !strings.Contains(string(body), `"field":"props"`) {
		t.Errorf("props not JSON: %d %s", status, body)
	}
}

// TestOpenAPIForQGIS: /api declares what QGIS reads: the page size in
// components/parameters/limit (maximum and default, integers) and the field
// parameters as simple types (form, not exploded), with sortby.
func TestOpenAPIForQGIS(t *testing.T) {
	doc := server.OpenAPI(layer.Default(), "http://x/ogc", false)
	b, _ := json.Marshal(doc)
	var api struct {
		Components struct {
			Parameters map[string]struct {
				Name, In string
				Schema   struct{ Maximum, Default json.Number }
			}
		}
		Paths map[string]struct {
			Get struct {
				Parameters []struct {
					Ref     string `json:"$ref"`
					Name    string
					Style   string
					Explode *bool
					Schema  map[string]any
				}
			}
		}
	}
	if err := json.Unmarshal(b, &api); err != nil {
		t.Fatal(err)
	}
	lim := api.Components.Parameters["limit"]
	if lim.Name != "limit" || lim.In != "query" || lim.Schema.Maximum.String() != fmt.Sprint(server.MaxLimit) || lim.Schema.Default.String() != fmt.Sprint(server.DefaultLimit) {
		t.Errorf("components/parameters/limit = %+v", lim)
	}
	for _, id := range server.CollectionNames(layer.Default()) {
		params := api.Paths["/collections/"+id+"/items"].Get.Parameters
		byName := map[string]int{}
		for i, p := range params {
			if p.Ref == "#/components/parameters/limit" {
				byName["limit"] = i
			}
			byName[p.Name] = i
		}
		for _, want := range []string{"limit", "sortby", "status", "name", "completed_on"} {
			if _, ok := byName[want]; !ok {
				t.Errorf("%s items lack parameter %s", id, want)
			}
		}
		for _, p := range params {
			if p.Ref != "" || p.Name == "bbox" {
				continue
			}
			ty, _ := p.Schema["type"].(string)
			if !slices.Contains([]string{"string", "integer", "number", "boolean"}, ty) {
				t.Errorf("%s parameter %s has type %v, not a simple type", id, p.Name, p.Schema["type"])
			}
		}
		if i, ok := byName["status"]; ok {
			if p := params[i]; p.Style != "form" || p.Explode == nil || *p.Explode {
				t.Errorf("%s status parameter: style %q explode %v", id, p.Style, p.Explode)
			}
		}
	}
}
