package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
	"github.com/lastmile/lastmile/server"
)

// ogcEnv is a server on a fresh database with its store and tokens.
type ogcEnv struct {
	url    string
	pool   *pgxpool.Pool
	store  *postgis.Store
	tokens *postgis.Tokens
	logs   *strings.Builder
	// onRequest, when set before requests are made, sees every request.
	onRequest func(*http.Request)
}

// countItems counts the /items requests the server receives.
func (e *ogcEnv) countItems(n *atomic.Int64) {
	e.onRequest = func(r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/items") {
			n.Add(1)
		}
	}
}

func newOGC(t *testing.T, opts server.Options) *ogcEnv {
	t.Helper()
	pool := pgtest.New(t)
	cat := layer.Default()
	e := &ogcEnv{pool: pool, store: postgis.NewStore(pool, cat), tokens: postgis.NewTokens(pool, cat), logs: &strings.Builder{}}
	if opts.BodyLimit == 0 {
		opts.BodyLimit = 1 << 20
	}
	opts.RequestTimeout = time.Minute
	srv := server.New(opts, server.Deps{Pool: pool, Catalog: cat, Store: e.store,
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{b: e.logs}, nil))})
	h := srv.Handler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.onRequest != nil {
			e.onRequest(r)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	t.Cleanup(func() {
		if t.Failed() {
			logs := e.logs.String()
			t.Logf("server log (last 4 kB):\n%s", logs[max(0, len(logs)-4096):])
		}
	})
	e.url = ts.URL
	return e
}

type lockedWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// token creates a token with the scopes and returns its secret.
func (e *ogcEnv) token(t *testing.T, name string, scopes ...string) string {
	t.Helper()
	_, secret, err := e.tokens.Create(context.Background(), name, scopes)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// do sends a request; headers are name, value pairs.
func (e *ogcEnv) do(t *testing.T, method, path, body string, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, b
}

func (e *ogcEnv) getJSON(t *testing.T, path string, v any) http.Header {
	t.Helper()
	status, h, b := e.do(t, "GET", path, "")
	if status != 200 {
		t.Fatalf("GET %s: %d %s", path, status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, b)
	}
	return h
}

type featureCollection struct {
	Type           string `json:"type"`
	NumberMatched  int    `json:"numberMatched"`
	NumberReturned int    `json:"numberReturned"`
	Links          []struct {
		Href, Rel, Type string
	} `json:"links"`
	Features []struct {
		ID         int64           `json:"id"`
		Geometry   json.RawMessage `json:"geometry"`
		Properties map[string]any  `json:"properties"`
	} `json:"features"`
}

func (fc featureCollection) link(rel string) string {
	for _, l := range fc.Links {
		if l.Rel == rel {
			return l.Href
		}
	}
	return ""
}

func (fc featureCollection) ids() []int64 {
	var out []int64
	for _, f := range fc.Features {
		out = append(out, f.ID)
	}
	return out
}

// seedRoads stores five roads in Liechtenstein and returns their ids.
func seedRoads(t *testing.T, e *ogcEnv) []int64 {
	t.Helper()
	ctx := postgis.WithActor(context.Background(), postgis.Actor{Name: "seed"})
	roads := []struct {
		surface, status, completed string
		line                       orb.LineString
	}{
		{"cement", "completed", "2014-05-01", orb.LineString{{9.50, 47.10}, {9.51, 47.11}}},
		{"asphalt", "completed", "2015-06-01", orb.LineString{{9.52, 47.12}, {9.53, 47.13}}},
		{"gravel", "completed", "2016-07-01", orb.LineString{{9.54, 47.14}, {9.55, 47.15}}},
		{"earth", "planned", "", orb.LineString{{9.56, 47.16}, {9.57, 47.17}}},
		{"cement", "under_construction", "", orb.LineString{{9.60, 47.20}, {9.61, 47.21}}},
	}
	var ids []int64
	for i, r := range roads {
		props := map[string]any{"name": fmt.Sprintf("road %d", i+1), "surface": r.surface, "status": r.status, "road_class": "village"}
		if r.completed != "" {
			props["completed_on"] = r.completed
		}
		f, err := e.store.Create(ctx, "roads", props, r.line)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, f.ID)
	}
	return ids
}

func TestOGCLandingConformanceAPI(t *testing.T) {
	e := newOGC(t, server.Options{})
	var landing struct {
		Links []struct{ Href, Rel, Type string }
	}
	e.getJSON(t, "/ogc", &landing)
	rels := map[string]string{}
	for _, l := range landing.Links {
		rels[l.Rel] = l.Href
	}
	for _, rel := range []string{"self", "service-desc", "conformance", "data"} {
		if !strings.HasPrefix(rels[rel], e.url+"/ogc") {
			t.Errorf("landing link %s = %q, want an absolute /ogc link", rel, rels[rel])
		}
	}
	var conf struct{ ConformsTo []string }
	e.getJSON(t, "/ogc/conformance", &conf)
	for _, c := range []string{"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core", "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"} {
		if !slices.Contains(conf.ConformsTo, c) {
			t.Errorf("conformance lacks %s", c)
		}
	}
	var api struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
		Raw     map[string]any `json:"-"`
	}
	h := e.getJSON(t, "/ogc/api", &api)
	e.getJSON(t, "/ogc/api", &api.Raw)
	if api.OpenAPI != "3.0.3" || !strings.HasPrefix(h.Get("Content-Type"), "application/vnd.oai.openapi+json") {
		t.Errorf("api: openapi %q, content type %q", api.OpenAPI, h.Get("Content-Type"))
	}
	for _, l := range layer.Default().Layers() {
		for _, p := range []string{"/collections/" + l.Name + "/items", "/collections/" + l.Name + "/items/{id}", "/collections/" + l.Name + "/items/{id}/history"} {
			if api.Paths[p] == nil {
				t.Errorf("api lacks path %s", p)
			}
		}
	}
	items := api.Paths["/collections/roads/items"].(map[string]any)["get"].(map[string]any)
	var params []string
	for _, p := range items["parameters"].([]any) {
		p := p.(map[string]any)
		if ref, ok := p["$ref"].(string); ok { // #/components/parameters/limit
			p = resolveRef(t, api.Raw, ref)
		}
		params = append(params, p["name"].(string))
	}
	for _, want := range []string{"limit", "bbox", "datetime", "surface", "status", "tech_grade"} {
		if !slices.Contains(params, want) {
			t.Errorf("roads items parameters %v lack %s", params, want)
		}
	}
}

func TestOGCCollections(t *testing.T) {
	e := newOGC(t, server.Options{})
	seedRoads(t, e)
	var cs struct {
		Collections []struct {
			ID     string
			Extent struct {
				Spatial  struct{ BBox [][]float64 }
				Temporal struct{ Interval [][]*string }
			}
			Links []struct{ Href, Rel, Type string }
		}
	}
	e.getJSON(t, "/ogc/collections", &cs)
	var ids []string
	for _, c := range cs.Collections {
		ids = append(ids, c.ID)
	}
	sort.Strings(ids)
	if want := server.CollectionNames(layer.Default()); !slices.Equal(ids, want) {
		t.Fatalf("collections %v, want %v", ids, want)
	}
	for _, want := range []string{"power_upgrades_lines", "power_upgrades_points", "relocation_sites_polygons", "relocation_sites_points"} {
		if !slices.Contains(ids, want) {
			t.Errorf("collections %v lack the per-kind collection %s", ids, want)
		}
	}
	for _, c := range cs.Collections {
		if c.ID != "roads" {
			continue
		}
		if got, want := c.Extent.Spatial.BBox[0], []float64{9.5, 47.1, 9.61, 47.21}; !slices.Equal(got, want) {
			t.Errorf("roads bbox %v, want %v", got, want)
		}
		iv := c.Extent.Temporal.Interval[0]
		if *iv[0] != "2014-05-01T00:00:00Z" || *iv[1] != "2016-07-01T00:00:00Z" {
			t.Errorf("roads temporal extent %s/%s", *iv[0], *iv[1])
		}
	}
	status, _, body := e.do(t, "GET", "/ogc/collections/nope", "")
	if status != 404 || !strings.Contains(string(body), `no collection \"nope\"`) {
		t.Errorf("unknown collection: %d %s", status, body)
	}
}

func TestOGCItems(t *testing.T) {
	e := newOGC(t, server.Options{})
	ids := seedRoads(t, e)
	tests := []struct {
		name  string
		query string
		want  []int64
	}{
		{"all", "", ids},
		{"surface any of", "surface=cement,asphalt", []int64{ids[0], ids[1], ids[4]}},
		{"status and surface", "status=completed&surface=cement", []int64{ids[0]}},
		{"datetime interval", "datetime=2015-01-01/2016-12-31", []int64{ids[1], ids[2]}},
		{"datetime open start", "datetime=../2015-06-01", []int64{ids[0], ids[1]}},
		{"datetime instant", "datetime=2016-07-01", []int64{ids[2]}},
		{"bbox", "bbox=9.535,47.135,9.565,47.165", []int64{ids[2], ids[3]}},
		{"bbox 6 numbers", "bbox=9.595,47.195,0,9.7,47.3,10", []int64{ids[4]}},
		{"SQL in a text filter is a value", "name=%27%20OR%201%3D1%20--", nil},
		{"name", "name=road%203", []int64{ids[2]}},
		{"offset past the end", "offset=10", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := e.do(t, "GET", "/ogc/collections/roads/items?"+tt.query, "")
			if status != 200 || h.Get("Content-Type") != "application/geo+json" {
				t.Fatalf("status %d, content type %q: %s", status, h.Get("Content-Type"), body)
			}
			var fc featureCollection
			if err := json.Unmarshal(body, &fc); err != nil {
				t.Fatalf("%v in %s", err, body)
			}
			if !slices.Equal(fc.ids(), tt.want) || fc.NumberReturned != len(tt.want) {
				t.Errorf("ids %v (numberReturned %d), want %v", fc.ids(), fc.NumberReturned, tt.want)
			}
			if tt.query != "offset=10" && fc.NumberMatched != len(tt.want) {
				t.Errorf("numberMatched %d, want %d", fc.NumberMatched, len(tt.want))
			}
		})
	}

	// One feature's content, as PostGIS rendered it.
	var fc featureCollection
	e.getJSON(t, "/ogc/collections/roads/items?limit=1", &fc)
	f := fc.Features[0]
	if string(f.Geometry) != `{"type":"LineString","coordinates":[[9.5,47.1],[9.51,47.11]]}` {
		t.Errorf("geometry %s", f.Geometry)
	}
	p := f.Properties
	if p["surface"] != "cement" || p["completed_on"] != "2014-05-01" || p["version"] != 1.0 || p["updated_by"] != "seed" {
		t.Errorf("properties %v", p)
	}
	if l, _ := p["length_m"].(float64); l < 1300 || l > 1400 { // geodesic ≈ 1344 m
		t.Errorf("length_m %v, want the geodesic ≈1344 m", p["length_m"])
	}
	if _, ok := p["geom"]; ok {
		t.Errorf("properties carry the geometry column")
	}
}

func TestOGCPaging(t *testing.T) {
	e := newOGC(t, server.Options{})
	ids := seedRoads(t, e)
	var got []int64
	path := "/ogc/collections/roads/items?limit=2&surface=cement,asphalt,gravel,earth"
	pages := 0
	for path != "" {
		var fc featureCollection
		e.getJSON(t, strings.TrimPrefix(path, e.url), &fc)
		pages++
		if fc.NumberMatched != 5 {
			t.Fatalf("page %d: numberMatched %d", pages, fc.NumberMatched)
		}
		if pages == 2 {
			prev := fc.link("prev")
			if !strings.Contains(prev, "offset=0") || !strings.Contains(prev, "surface=cement%2Casphalt%2Cgravel%2Cearth") {
				t.Errorf("prev link %q", prev)
			}
		}
		got = append(got, fc.ids()...)
		path = fc.link("next")
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if pages != 3 || !slices.Equal(got, ids) {
		t.Errorf("%d pages with ids %v, want 3 pages with %v", pages, got, ids)
	}
}

func TestOGCItem(t *testing.T) {
	e := newOGC(t, server.Options{})
	ids := seedRoads(t, e)
	path := fmt.Sprintf("/ogc/collections/roads/items/%d", ids[1])
	status, h, body := e.do(t, "GET", path, "")
	if status != 200 || h.Get("ETag") != `"1"` || h.Get("Content-Type") != "application/geo+json" {
		t.Fatalf("GET item: %d ETag %q type %q: %s", status, h.Get("ETag"), h.Get("Content-Type"), body)
	}
	var f struct {
		Type       string
		ID         int64
		Properties map[string]any
	}
	json.Unmarshal(body, &f)
	if f.Type != "Feature" || f.ID != ids[1] || f.Properties["surface"] != "asphalt" {
		t.Errorf("item %s", body)
	}
	if status, _, _ := e.do(t, "GET", path, "", "If-None-Match", `"1"`); status != 304 {
		t.Errorf("If-None-Match current: %d, want 304", status)
	}
}

// errorOf decodes an error body.
func errorOf(t *testing.T, body []byte) (code, message string, details []map[string]any) {
	t.Helper()
	var e struct {
		Error struct {
			Code    string
			Message string
			Details []map[string]any
		}
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, body)
	}
	return e.Error.Code, e.Error.Message, e.Error.Details
}

// rowCounts returns the number of roads, facilities, relocation sites and
// history rows, to check a failed request changed nothing.
func rowCounts(t *testing.T, pool *pgxpool.Pool) string {
	var r, f, s, h int
	err := pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM lastmile.roads), (SELECT count(*) FROM lastmile.facilities),
		(SELECT count(*) FROM lastmile.relocation_sites), (SELECT count(*) FROM lastmile.feature_history)`).Scan(&r, &f, &s, &h)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(r, f, s, h)
}

func TestOGCBadInput(t *testing.T) {
	e := newOGC(t, server.Options{BodyLimit: 1 << 20})
	ids := seedRoads(t, e)
	tok := e.token(t, "Road bureau", "write:roads", "write:relocation_sites")
	auth := []string{"Authorization", "Bearer " + tok}
	road := fmt.Sprintf("/ogc/collections/roads/items/%d", ids[0])
	pt := `{"type":"Point","coordinates":[9.5,47.1]}`
	before := rowCounts(t, e.pool)
	tests := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		code, want               string // error code, a part of the message or details
	}{
		{"unknown layer", "GET", "/ogc/collections/pipes/items", "", nil, 404, "not_found", `no collection \"pipes\" (collections: admin_areas, facilities`},
		{"id not a number", "GET", "/ogc/collections/roads/items/abc", "", nil, 400, "invalid", "positive whole number"},
		{"missing id", "GET", "/ogc/collections/roads/items/999999", "", nil, 404, "not_found", "does not exist"},
		{"bbox with 3 numbers", "GET", "/ogc/collections/roads/items?bbox=1,2,3", "", nil, 400, "invalid", "got 3"},
		{"lon > 180", "GET", "/ogc/collections/roads/items?bbox=170,10,190,20", "", nil, 400, "invalid", "longitude 190"},
		{"limit -1", "GET", "/ogc/collections/roads/items?limit=-1", "", nil, 400, "invalid", "at least 1"},
		{"limit 1e9", "GET", "/ogc/collections/roads/items?limit=1e9", "", nil, 400, "invalid", "whole number from 1 to 10000"},
		{"limit 10001", "GET", "/ogc/collections/roads/items?limit=10001", "", nil, 400, "invalid", "at most 10000"},
		{"filter not in catalog", "GET", "/ogc/collections/roads/items?colour=red", "", nil, 400, "invalid", "colour"},
		{"SQL in an enum filter", "GET", "/ogc/collections/roads/items?surface=%27%20OR%201%3D1%20--", "", nil, 400, "invalid", "must be one of"},
		{"history of unknown feature", "GET", "/ogc/collections/roads/items/999999/history", "", nil, 404, "not_found", "never existed"},
		{"write without token", "POST", "/ogc/collections/roads/items", `{}`, nil, 401, "unauthorized", "write:roads"},
		{"malformed authorization", "POST", "/ogc/collections/roads/items", `{}`, []string{"Authorization", "Token abc"}, 401, "unauthorized", "Bearer"},
		{"Basic not base64", "POST", "/ogc/collections/roads/items", `{}`, []string{"Authorization", "Basic abc"}, 401, "unauthorized", "not base64"},
		{"Basic with an unknown token", "POST", "/ogc/collections/roads/items", `{}`, []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("qgis:lm_00000000_nope"))}, 401, "unauthorized", "not valid"},
		{"token in the URL", "GET", "/ogc/collections/roads/items?access_token=" + tok, "", nil, 400, "invalid", "cannot be sent in the URL"},
		{"unknown token", "POST", "/ogc/collections/roads/items", `{}`, []string{"Authorization", "Bearer lm_00000000_nope"}, 401, "unauthorized", "not valid"},
		{"token lacks scope", "POST", "/ogc/collections/facilities/items", `{}`, auth, 403, "forbidden", "write:facilities"},
		{"FeatureCollection for a Feature", "POST", "/ogc/collections/roads/items", `{"type":"FeatureCollection","features":[]}`, auth, 400, "invalid", `must be \"Feature\"`},
		{"NaN coordinates", "POST", "/ogc/collections/roads/items", `{"type":"Feature","geometry":{"type":"LineString","coordinates":[[NaN,47],[9.5,47.1]]},"properties":{"status":"planned"}}`, auth, 400, "invalid", "NaN"},
		{"polygon not closed", "POST", "/ogc/collections/relocation_sites/items", `{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[9.5,47.1],[9.51,47.1],[9.51,47.11],[9.5,47.11]]]},"properties":{"status":"planned"}}`, auth, 400, "invalid", "not closed"},
		{"self-intersecting polygon", "POST", "/ogc/collections/relocation_sites/items", `{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[9.5,47.1],[9.51,47.11],[9.51,47.1],[9.5,47.11],[9.5,47.1]]]},"properties":{"status":"planned"}}`, auth, 400, "invalid", "Self-intersection"},
		{"geometry kind not allowed", "POST", "/ogc/collections/roads/items", `{"type":"Feature","geometry":` + pt + `,"properties":{"status":"planned"}}`, auth, 400, "invalid", "Point is not allowed"},
		{"coordinates out of range", "POST", "/ogc/collections/roads/items", `{"type":"Feature","geometry":{"type":"LineString","coordinates":[[200,47],[9.5,47.1]]},"properties":{"status":"planned"}}`, auth, 400, "invalid", "longitude 200"},
		{"unknown field", "POST", "/ogc/collections/roads/items", `{"type":"Feature","geometry":{"type":"LineString","coordinates":[[9.4,47],[9.5,47.1]]},"properties":{"status":"planned","colour":"red"}}`, auth, 400, "invalid", "colour"},
		{"wrong type", "POST", "/ogc/collections/roads/items", `{"type":"Feature","geometry":{"type":"LineString","coordinates":[[9.4,47],[9.5,47.1]]},"properties":{"status":"planned","width_m":"wide"}}`, auth, 400, "invalid", "finite number"},
		{"enum value not allowed", "POST", "/ogc/collections/roads/items", `{"type":"Feature","geometry":{"type":"LineString","coordinates":[[9.4,47],[9.5,47.1]]},"properties":{"status":"planned","surface":"gold"}}`, auth, 400, "invalid", "must be one of"},
		{"required field missing", "POST", "/ogc/collections/roads/items", `{"type":"Feature","geometry":{"type":"LineString","coordinates":[[9.4,47],[9.5,47.1]]},"properties":{}}`, auth, 400, "invalid", "status"},
		{"geometry missing", "POST", "/ogc/collections/roads/items", `{"type":"Feature","properties":{"status":"planned"}}`, auth, 400, "invalid", "geometry is missing"},
		{"not JSON", "POST", "/ogc/collections/roads/items", `status=planned`, auth, 400, "invalid", "not valid JSON"},
		{"50 MB body", "POST", "/ogc/collections/roads/items", `{"type":"Feature","properties":{"name":"` + strings.Repeat("x", 50<<20) + `"}}`, auth, 413, "too_large", "larger than the limit"},
		{"PATCH with a stale If-Match", "PATCH", road, `{"type":"Feature","properties":{"status":"planned"}}`, append([]string{"If-Match", `"7"`}, auth...), 412, "precondition", "at version 1, not 7"},
		{"PATCH with a stale If-Match list", "PATCH", road, `{"properties":{"status":"planned"}}`, append([]string{"If-Match", `"5", "7"`}, auth...), 412, "precondition", "at version 1, not 5 or 7"},
		{"PUT with a weak If-Match", "PUT", road, `{"type":"Feature","geometry":{"type":"LineString","coordinates":[[9.4,47],[9.5,47.1]]},"properties":{"status":"planned"}}`, append([]string{"If-Match", `W/"1"`}, auth...), 400, "invalid", "strong comparison"},
		{"DELETE with a malformed If-Match", "DELETE", road, ``, append([]string{"If-Match", `1`}, auth...), 400, "invalid", "If-Match"},
		{"PATCH geometry null", "PATCH", road, `{"geometry":null}`, auth, 400, "invalid", `"field":"geometry"`},
		{"PATCH a required field null", "PATCH", road, `{"properties":{"status":null}}`, auth, 400, "invalid", `"field":"status"`},
		{"PUT naming another feature", "PUT", road, `{"type":"Feature","id":999,"geometry":{"type":"LineString","coordinates":[[9.4,47],[9.5,47.1]]},"properties":{"status":"planned"}}`, auth, 400, "invalid", "not the id in the URL"},
		{"props a string but not an object", "PATCH", road, `{"properties":{"props":"[1]"}}`, auth, 400, "invalid", `"field":"props"`},
		{"method not allowed", "POST", "/ogc/collections", `{}`, nil, 405, "method_not_allowed", "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := e.do(t, tt.method, tt.path, tt.body, tt.headers...)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
				t.Errorf("content type %q", h.Get("Content-Type"))
			}
			code, _, _ := errorOf(t, body)
			if code != tt.code || !strings.Contains(string(body), tt.want) {
				t.Errorf("body %s, want code %q and %q", body, tt.code, tt.want)
			}
		})
	}
	if after := rowCounts(t, e.pool); after != before {
		t.Errorf("bad requests changed the database: counts %s before, %s after", before, after)
	}
	if strings.Contains(e.logs.String(), "status=500") {
		t.Errorf("a request failed with 500:\n%s", e.logs)
	}
}

// TestOGCRequireIfMatch: with --require-if-match a write without If-Match
// is 428 and changes nothing; one with it is applied.
func TestOGCRequireIfMatch(t *testing.T) {
	e := newOGC(t, server.Options{RequireIfMatch: true})
	ids := seedRoads(t, e)
	auth := []string{"Authorization", "Bearer " + e.token(t, "Road bureau", "write:roads")}
	road := fmt.Sprintf("/ogc/collections/roads/items/%d", ids[0])
	before := rowCounts(t, e.pool)
	for _, m := range []string{"PUT", "PATCH", "DELETE"} {
		status, _, body := e.do(t, m, road, `{"type":"Feature","geometry":{"type":"LineString","coordinates":[[9.4,47],[9.5,47.1]]},"properties":{"status":"planned"}}`, auth...)
		if code, msg, _ := errorOf(t, body); status != 428 || code != "precondition_required" || !strings.Contains(msg, "--require-if-match") {
			t.Errorf("%s without If-Match: %d %s", m, status, body)
		}
	}
	if after := rowCounts(t, e.pool); after != before {
		t.Errorf("refused writes changed the database: %s → %s", before, after)
	}
	if status, _, body := e.do(t, "PATCH", road, `{"properties":{"surface":"cement"}}`, append([]string{"If-Match", `"1"`}, auth...)...); status != 200 {
		t.Errorf("PATCH with If-Match: %d %s", status, body)
	}
	var api map[string]any
	e.getJSON(t, "/ogc/api", &api)
	for _, p := range api["paths"].(map[string]any)["/collections/roads/items/{id}"].(map[string]any)["put"].(map[string]any)["parameters"].([]any) {
		if p := p.(map[string]any); p["name"] == "If-Match" && p["required"] != true {
			t.Errorf("the OpenAPI document says If-Match is not required: %v", p)
		}
	}
}

// TestOGCEveryLayer reads items and an item of every catalog layer, so a
// catalog field without its column (or the reverse) fails here.
func TestOGCEveryLayer(t *testing.T) {
	e := newOGC(t, server.Options{})
	tok := e.token(t, "Root", "admin")
	auth := []string{"Authorization", "Bearer " + tok}
	bodies := map[string]string{
		"roads":             `{"type":"LineString","coordinates":[[9.5,47.1],[9.51,47.11]]},"properties":{"status":"completed","surface":"cement"}`,
		"water_pipelines":   `{"type":"MultiLineString","coordinates":[[[9.5,47.1],[9.51,47.11]]]},"properties":{"status":"planned"}`,
		"power_upgrades":    `{"type":"Point","coordinates":[9.5,47.1]},"properties":{"status":"completed","kind":"transformer"}`,
		"house_renovations": `{"type":"Point","coordinates":[9.5,47.1]},"properties":{"status":"completed","danger_grade":"D"}`,
		"relocation_sites":  `{"type":"Polygon","coordinates":[[[9.5,47.1],[9.51,47.1],[9.51,47.11],[9.5,47.1]]]},"properties":{"status":"planned","capacity_households":40}`,
		"villages":          `{"type":"Point","coordinates":[9.5,47.1]},"properties":{"code":"520100000001","is_poor_village":true}`,
		"admin_areas":       `{"type":"MultiPolygon","coordinates":[[[[9.5,47.1],[9.51,47.1],[9.51,47.11],[9.5,47.1]]]]},"properties":{"level":"village","code":"520100000001"}`,
		"hazard_zones":      `{"type":"MultiPolygon","coordinates":[[[[9.5,47.1],[9.51,47.1],[9.51,47.11],[9.5,47.1]]]]},"properties":{"kind":"flood","severity":"high"}`,
		"facilities":        `{"type":"Point","coordinates":[9.5,47.1]},"properties":{"kind":"clinic"}`,
	}
	for _, l := range layer.Default().Layers() {
		t.Run(l.Name, func(t *testing.T) {
			items := "/ogc/collections/" + l.Name + "/items"
			status, h, body := e.do(t, "POST", items, `{"type":"Feature","geometry":`+bodies[l.Name]+`}`, auth...)
			if status != 201 {
				t.Fatalf("POST: %d %s", status, body)
			}
			var fc featureCollection
			e.getJSON(t, items+"?bbox=9.4,47,9.6,47.2", &fc)
			if fc.NumberMatched != 1 || len(fc.Features) != 1 {
				t.Fatalf("items: %d matched, %d features", fc.NumberMatched, len(fc.Features))
			}
			// The streamed properties are the catalog's fields (+ length_m on lines).
			var want []string
			for _, f := range l.Fields {
				want = append(want, f.Name)
			}
			if l.IsLinear() {
				want = append(want, "length_m")
			}
			var got []string
			for k := range fc.Features[0].Properties {
				got = append(got, k)
			}
			sort.Strings(got)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("properties %v, want %v", got, want)
			}
			status, h2, _ := e.do(t, "GET", strings.TrimPrefix(h.Get("Location"), e.url), "")
			if status != 200 || h2.Get("ETag") != `"1"` {
				t.Errorf("GET Location: %d ETag %q", status, h2.Get("ETag"))
			}
		})
	}
}

// resolveRef follows a local JSON reference (#/a/b) in doc.
func resolveRef(t *testing.T, doc map[string]any, ref string) map[string]any {
	t.Helper()
	var cur any = doc
	for _, k := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("reference %s does not resolve", ref)
		}
		cur = m[k]
	}
	m, ok := cur.(map[string]any)
	if !ok {
		t.Fatalf("reference %s does not resolve to an object", ref)
	}
	return m
}
