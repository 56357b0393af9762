package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lastmile/lastmile/server"
)

// datedRoads loads the Liechtenstein roads and gives them deterministic
// dates and widths, so that date and number filters select real subsets.
func datedRoads(t *testing.T, e *ogcEnv) int {
	t.Helper()
	n := loadOSMRoads(t, e.pool)
	_, err := e.pool.Exec(context.Background(), `UPDATE lastmile.roads SET
		started_on = DATE '2012-01-01' + (id * 7 % 1500)::int,
		completed_on = CASE WHEN id % 5 = 0 THEN NULL ELSE DATE '2012-01-01' + (id * 7 % 1500)::int + (id * 11 % 800)::int END,
		width_m = CASE WHEN id % 3 = 0 THEN NULL ELSE 3 + (id % 9) * 0.5 END`)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// sqlIDs runs an independent SQL condition, written by hand, on the roads.
func sqlIDs(t *testing.T, e *ogcEnv, where string) []int64 {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT id FROM lastmile.roads WHERE `+where+` ORDER BY id`)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	return ids
}

// TestOGCFilter sends CQL2 filters to /items on real PostGIS and compares
// the features with the same condition written as SQL by hand.
func TestOGCFilter(t *testing.T) {
	e := newOGC(t, server.Options{})
	n := datedRoads(t, e)
	tests := []struct {
		name, query, where string
	}{
		{"enum equality", "filter=surface = 'gravel'", "surface = 'gravel'"},
		{"QGIS quoting", `filter="surface" = 'asphalt' AND "width_m" >= 4.5`, "surface = 'asphalt' AND width_m >= 4.5"},
		{"in and or", "filter=surface IN ('gravel','earth') OR width_m < 3.5", "surface IN ('gravel','earth') OR width_m < 3.5"},
		{"date", "filter=started_on >= DATE('2015-01-01')", "started_on >= '2015-01-01'"},
		{"GDAL date string", "filter=started_on >= '2015-01-01T'", "started_on >= '2015-01-01'"},
		{"between", "filter=width_m BETWEEN 4 AND 5", "width_m BETWEEN 4 AND 5"},
		{"is null", "filter=completed_on IS NULL", "completed_on IS NULL"},
		{"like", "filter=name LIKE '%25weg%25'", "name LIKE '%weg%'"},
		{"not", "filter=NOT (surface = 'asphalt')", "NOT (surface = 'asphalt')"},
		{"spatial bbox", "filter=S_INTERSECTS(geometry, BBOX(9.50,47.10,9.55,47.15))",
			"ST_Intersects(geom, ST_MakeEnvelope(9.50, 47.10, 9.55, 47.15, 4326))"},
		{"with datetime on completed_on", "filter=surface = 'asphalt'&datetime=2015-01-01T/..", "surface = 'asphalt' AND completed_on >= '2015-01-01'"},
		{"with a property parameter", "filter=width_m > 5&surface=asphalt", "width_m > 5 AND surface = 'asphalt'"},
		{"cql2-json", `filter-lang=cql2-json&filter={"op":"and","args":[{"op":"=","args":[{"property":"surface"},"asphalt"]},{"op":"<","args":[{"property":"started_on"},{"date":"2014-06-01"}]}]}`,
			"surface = 'asphalt' AND started_on < '2014-06-01'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := sqlIDs(t, e, tt.where)
			if len(want) == 0 || len(want) == n {
				t.Fatalf("the SQL %q selects %d of %d roads: not a useful case", tt.where, len(want), n)
			}
			q, _ := url.ParseQuery(tt.query)
			q.Set("limit", "10000")
			var fc featureCollection
			e.getJSON(t, "/ogc/collections/roads/items?"+q.Encode(), &fc)
			if fc.NumberMatched != len(want) || !slices.Equal(fc.ids(), want) {
				t.Errorf("%s: numberMatched %d, %d ids; the SQL %q selects %d", tt.query, fc.NumberMatched, len(fc.ids()), tt.where, len(want))
			}
		})
	}
}

func TestOGCFilterErrors(t *testing.T) {
	e := newOGC(t, server.Options{})
	tests := []struct{ name, query, msg string }{
		{"syntax", "filter=" + url.QueryEscape("surface = 'cement' AND AND"), "syntax error at character 24"},
		{"unterminated string", "filter=" + url.QueryEscape("name = 'abc"), "syntax error at character 8"},
		{"unknown property", "filter=" + url.QueryEscape("colour = 'red'"), `"colour" is not a queryable`},
		{"type", "filter=" + url.QueryEscape("width_m = 'wide'"), "width_m is number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, b := e.do(t, "GET", "/ogc/collections/roads/items?"+tt.query, "")
			if status != 400 {
				t.Fatalf("%s: %d %s", tt.query, status, b)
			}
			_, _, details := errorOf(t, b)
			if len(details) == 0 || details[0]["field"] != "filter" || !strings.Contains(fmt.Sprint(details[0]["message"]), tt.msg) {
				t.Errorf("%s: details %v, want field filter and %q", tt.query, details, tt.msg)
			}
		})
	}
}

// TestOGCQueryables checks what QGIS and GDAL read to push filters: the
// Part 3 conformance classes, the queryables link and its JSON Schema.
func TestOGCQueryables(t *testing.T) {
	e := newOGC(t, server.Options{})
	var conf struct{ ConformsTo []string }
	e.getJSON(t, "/ogc/conformance", &conf)
	for _, c := range []string{
		"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
		"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
		"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
		"http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
		"http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
		"http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
	} {
		if !slices.Contains(conf.ConformsTo, c) {
			t.Errorf("conformance lacks %s", c)
		}
	}
	var coll struct {
		CRS        []string
		StorageCRS string
		Links      []struct{ Href, Rel, Type string }
	}
	e.getJSON(t, "/ogc/collections/roads", &coll)
	var qurl string
	for _, l := range coll.Links {
		if l.Rel == "http://www.opengis.net/def/rel/ogc/1.0/queryables" {
			qurl = l.Href
		}
	}
	if qurl != e.url+"/ogc/collections/roads/queryables" {
		t.Fatalf("queryables link %q", qurl)
	}
	if coll.StorageCRS != server.CRS84 || len(coll.CRS) != 4+64 || coll.CRS[2] != "http://www.opengis.net/def/crs/EPSG/0/4490" {
		t.Errorf("crs %v (%d), storageCrs %s", coll.CRS[:4], len(coll.CRS), coll.StorageCRS)
	}
	status, h, b := e.do(t, "GET", "/ogc/collections/roads/queryables", "")
	if status != 200 || h.Get("Content-Type") != "application/schema+json" {
		t.Fatalf("queryables: %d %s", status, h.Get("Content-Type"))
	}
	var s struct {
		Properties map[string]map[string]any
	}
	json.Unmarshal(b, &s)
	check := func(name, key string, want any) {
		t.Helper()
		if got := s.Properties[name][key]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("queryable %s.%s = %v, want %v", name, key, got, want)
		}
	}
	check("surface", "type", "string")
	check("surface", "enum", "[earth gravel stone cement asphalt]")
	check("width_m", "type", "number")
	check("started_on", "format", "date")
	check("updated_at", "format", "date-time")
	check("geometry", "$ref", "https://geojson.org/schema/Geometry.json") // roads are LineString or MultiLineString
	if _, ok := s.Properties["props"]; ok {
		t.Error("props (an object) is listed as a queryable")
	}
}

// TestOGCCRS reads features in other CRSs and compares the coordinates
// with PostGIS's ST_Transform and with the Web Mercator formula.
func TestOGCCRS(t *testing.T) {
	e := newOGC(t, server.Options{})
	ids := seedRoads(t, e)
	first := func(path string) ([]float64, string) {
		t.Helper()
		status, h, b := e.do(t, "GET", path, "")
		if status != 200 {
			t.Fatalf("GET %s: %d %s", path, status, b)
		}
		var fc featureCollection
		if err := json.Unmarshal(b, &fc); err != nil {
			t.Fatal(err)
		}
		var g struct{ Coordinates [][]float64 }
		json.Unmarshal(fc.Features[0].Geometry, &g)
		return g.Coordinates[0], h.Get("Content-Crs")
	}
	path := fmt.Sprintf("/ogc/collections/roads/items?filter=id=%d", ids[0])
	p, crs := first(path)
	if crs != "<"+server.CRS84+">" || p[0] != 9.50 || p[1] != 47.10 {
		t.Errorf("CRS84: %v %s", p, crs)
	}
	var x, y float64
	e.pool.QueryRow(context.Background(), `SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_StartPoint(geom), 4490) p FROM lastmile.roads WHERE id = $1) s`, ids[0]).Scan(&x, &y)
	p, crs = first(path + "&crs=http://www.opengis.net/def/crs/EPSG/0/4490")
	if crs != "<http://www.opengis.net/def/crs/EPSG/0/4490>" || math.Abs(p[0]-y) > 1e-9 || math.Abs(p[1]-x) > 1e-9 {
		t.Errorf("EPSG:4490: %v %s; ST_Transform gives lon %v lat %v (the axis order is lat, lon)", p, crs, x, y)
	}
	p, _ = first(path + "&crs=EPSG:3857")
	const r = 6378137.0
	wx, wy := r*9.50*math.Pi/180, r*math.Log(math.Tan(math.Pi/4+47.10*math.Pi/360))
	if math.Abs(p[0]-wx) > 0.002 || math.Abs(p[1]-wy) > 0.002 {
		t.Errorf("EPSG:3857: %v, the formula gives %.3f %.3f", p, wx, wy)
	}
	// One feature in a Gauss–Krüger zone, as PostGIS transforms it.
	e.pool.QueryRow(context.Background(), `SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_StartPoint(geom), 4513) p FROM lastmile.roads WHERE id = $1) s`, ids[0]).Scan(&x, &y)
	status, h, b := e.do(t, "GET", fmt.Sprintf("/ogc/collections/roads/items/%d?crs=http://www.opengis.net/def/crs/EPSG/0/4513", ids[0]), "")
	var f struct {
		Geometry struct{ Coordinates [][]float64 }
	}
	json.Unmarshal(b, &f)
	if status != 200 || h.Get("Content-Crs") != "<http://www.opengis.net/def/crs/EPSG/0/4513>" || len(f.Geometry.Coordinates) == 0 ||
		math.Abs(f.Geometry.Coordinates[0][0]-x) > 0.001 || math.Abs(f.Geometry.Coordinates[0][1]-y) > 0.001 {
		t.Errorf("item in EPSG:4513: %d %s %v, ST_Transform gives %v %v", status, h.Get("Content-Crs"), f.Geometry.Coordinates, x, y)
	}
	// bbox in EPSG:4490 (lat, lon) selects what the CRS84 bbox selects.
	var a, c featureCollection
	e.getJSON(t, "/ogc/collections/roads/items?bbox=9.49,47.09,9.535,47.135", &a)
	e.getJSON(t, "/ogc/collections/roads/items?bbox=47.09,9.49,47.135,9.535&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4490", &c)
	if a.NumberMatched != 2 || !slices.Equal(a.ids(), c.ids()) {
		t.Errorf("bbox CRS84 %v, EPSG:4490 %v", a.ids(), c.ids())
	}
}

// recordItems records the query strings of the /items requests.
func recordItems(e *ogcEnv) func() []string {
	var mu sync.Mutex
	var qs []string
	e.onRequest = func(r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/items") {
			mu.Lock()
			qs = append(qs, r.URL.RawQuery)
			mu.Unlock()
		}
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := qs
		qs = nil
		return out
	}
}

// TestGDALFilter runs ogr2ogr -where on an enum and on a date through
// OAPIF: the output matches the database's count and the filter went to
// the server (the recorded /items queries carry it).
func TestGDALFilter(t *testing.T) {
	e := newOGC(t, server.Options{})
	datedRoads(t, e)
	requests := recordItems(e)
	env := append(os.Environ(), "GDAL_HTTP_TIMEOUT=60", "CPL_DEBUG=OFF")
	src := "OAPIF:" + e.url + "/ogc"
	tests := []struct{ name, where, sql, sent string }{
		{"enum", "surface = 'asphalt'", "surface = 'asphalt'", "surface"},
		{"date", "started_on >= '2015-01-01'", "started_on >= '2015-01-01'", "started_on"},
		{"completed_on", "completed_on >= '2015-01-01'", "completed_on >= '2015-01-01'", "completed_on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := len(sqlIDs(t, e, tt.sql))
			if want == 0 {
				t.Fatalf("the SQL %q selects nothing: not a useful case", tt.sql)
			}
			dst := filepath.Join(t.TempDir(), "out.json")
			requests()
			out, err := runGDAL(env, "ogr2ogr", "-f", "GeoJSON", dst, src, "roads", "-where", tt.where)
			if err != nil {
				t.Fatalf("ogr2ogr -where %q: %v\n%s", tt.where, err, out)
			}
			b, _ := os.ReadFile(dst)
			var fc struct{ Features []json.RawMessage }
			json.Unmarshal(b, &fc)
			qs := requests()
			if len(fc.Features) != want {
				t.Errorf("ogr2ogr -where %q wrote %d features; the SQL selects %d", tt.where, len(fc.Features), want)
			}
			// The first request (limit=10, no filter) is GDAL reading the
			// schema; every request after it must carry the filter.
			pushed := len(qs) > 1
			for _, q := range qs[min(1, len(qs)):] {
				v, _ := url.ParseQuery(q)
				if !strings.Contains(v.Get("filter"), tt.sent) {
					pushed = false
				}
			}
			t.Logf("ogr2ogr -where %q: %d features in %d /items requests: %q", tt.where, len(fc.Features), len(qs), qs[:min(3, len(qs))])
			if !pushed {
				t.Errorf("the filter was not sent to the server: %q", qs)
			}
		})
	}
}

// TestOGCCRSWrite creates features whose geometry is in EPSG:4490 (lat,
// lon) and EPSG:3857, named by Content-Crs, and checks what is stored.
func TestOGCCRSWrite(t *testing.T) {
	e := newOGC(t, server.Options{})
	tok := e.token(t, "Road bureau", "write:roads")
	post := func(crs, coords string) (int, []byte) {
		status, _, b := e.do(t, "POST", "/ogc/collections/roads/items",
			`{"type":"Feature","geometry":{"type":"LineString","coordinates":`+coords+`},"properties":{"name":"r","status":"planned","surface":"earth","road_class":"village"}}`,
			"Authorization", "Bearer "+tok, "Content-Crs", crs, "Content-Type", "application/geo+json")
		return status, b
	}
	stored := func(b []byte) (x, y float64) {
		var f struct{ ID int64 }
		json.Unmarshal(b, &f)
		e.pool.QueryRow(context.Background(), `SELECT ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom)) FROM lastmile.roads WHERE id = $1`, f.ID).Scan(&x, &y)
		return x, y
	}
	status, b := post("<http://www.opengis.net/def/crs/EPSG/0/4490>", "[[47.10,9.50],[47.11,9.51]]")
	var wx, wy float64
	e.pool.QueryRow(context.Background(), `SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(9.50, 47.10), 4490), 4326) p) s`).Scan(&wx, &wy)
	if x, y := stored(b); status != 201 || math.Abs(x-wx) > 1e-9 || math.Abs(y-wy) > 1e-9 {
		t.Errorf("POST in EPSG:4490: %d %s; stored %v %v, want %v %v", status, b, x, y, wx, wy)
	}
	const r = 6378137.0
	mx, my := r*9.50*math.Pi/180, r*math.Log(math.Tan(math.Pi/4+47.10*math.Pi/360))
	status, b = post("http://www.opengis.net/def/crs/EPSG/0/3857", fmt.Sprintf("[[%f,%f],[%f,%f]]", mx, my, mx+1000, my+1000))
	if x, y := stored(b); status != 201 || math.Abs(x-9.50) > 1e-8 || math.Abs(y-47.10) > 1e-8 {
		t.Errorf("POST in EPSG:3857: %d %s; stored %v %v, want 9.5 47.1", status, b, x, y)
	}
	if status, b := post("EPSG:9999", "[[9.5,47.1],[9.51,47.11]]"); status != 400 || !strings.Contains(string(b), "Content-Crs") {
		t.Errorf("POST with an unknown Content-Crs: %d %s", status, b)
	}
}
