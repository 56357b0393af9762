package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/auth"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/server"
)

// The tests in this file run the OGC handlers on a fakeStore: they check
// what the handlers make of the store's answers (statuses, links, ETags,
// headers) without a database. ogc_test.go and ogc_write_test.go run the
// same endpoints on real PostGIS.

// fakeOGC is a server over store with one write token, "tok", for roads.
type fakeOGC struct {
	store *fakeStore
	h     http.Handler
	logs  *strings.Builder
}

func newFakeOGC(t *testing.T, store *fakeStore) *fakeOGC {
	t.Helper()
	logs := &strings.Builder{}
	srv := server.New(server.Options{BodyLimit: 1 << 20, RequestTimeout: time.Minute}, server.Deps{
		Catalog: layer.Default(), Store: store,
		Tokens: fakeTokens{"tok": {Name: "Road bureau", Scopes: []string{"write:roads"}}},
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{b: logs}, nil)),
	})
	return &fakeOGC{store: store, h: srv.Handler(), logs: logs}
}

// do serves one request; headers are name, value pairs.
func (f *fakeOGC) do(t *testing.T, method, path, body string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	return w
}

// features yields the given GeoJSON features, then err if not nil.
func features(err error, fs ...string) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		for _, f := range fs {
			if !yield([]byte(f), nil) {
				return
			}
		}
		if err != nil {
			yield(nil, err)
		}
	}
}

func feature(id int64, version int) *postgis.Feature {
	return &postgis.Feature{ID: id, Layer: "roads", Version: version,
		JSON: []byte(fmt.Sprintf(`{"type" : "Feature", "id" : %d, "geometry" : null, "properties" : {"version" : %d}}`, id, version))}
}

const writeBody = `{"type":"Feature","geometry":{"type":"LineString","coordinates":[[9.5,47.1],[9.51,47.11]]},"properties":{"status":"planned"}}`

// TestOGCErrorMapping checks that each kind of store error becomes its
// status and that internal text never reaches the client.
func TestOGCErrorMapping(t *testing.T) {
	internal := errors.New(`ERROR: relation "lastmile.secret_table" does not exist`)
	notFound := lastmile.Errorf(lastmile.ENOTFOUND, "roads feature 9 does not exist")
	stale := lastmile.Errorf(lastmile.EPRECONDITION, "roads feature 9 is at version 4, not 3")
	conflict := &lastmile.Error{Code: lastmile.ECONFLICT, Message: "a feature with the same unique value exists"}
	invalid := lastmile.Invalid("the roads feature is invalid", lastmile.Problem{Field: "surface", Message: "must be one of earth, gravel"})
	write := []string{"Authorization", "Bearer tok", "If-Match", `"3"`}
	tests := []struct {
		name         string
		store        *fakeStore
		method, path string
		body         string
		headers      []string
		status       int
		want         string // in the body
	}{
		{"get: not found is 404", &fakeStore{GetFn: func(context.Context, string, int64) (*postgis.Feature, error) { return nil, notFound }},
			"GET", "/ogc/collections/roads/items/9", "", nil, 404, "roads feature 9 does not exist"},
		{"get: timeout is 503", &fakeStore{GetFn: func(context.Context, string, int64) (*postgis.Feature, error) {
			return nil, fmt.Errorf("store.Get(roads, 9): %w", context.DeadlineExceeded)
		}}, "GET", "/ogc/collections/roads/items/9", "", nil, 503, "time limit"},
		{"get: lost database is 503", &fakeStore{GetFn: func(context.Context, string, int64) (*postgis.Feature, error) {
			return nil, &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}
		}}, "GET", "/ogc/collections/roads/items/9", "", nil, 503, "database is unavailable"},
		{"get: internal is 500 without its text", &fakeStore{GetFn: func(context.Context, string, int64) (*postgis.Feature, error) { return nil, internal }},
			"GET", "/ogc/collections/roads/items/9", "", nil, 500, `"internal error"`},
		{"items: timeout is 503", &fakeStore{ItemsFn: func(context.Context, *layer.Layer, postgis.ItemsQuery, postgis.PageFunc) error {
			return context.DeadlineExceeded
		}}, "GET", "/ogc/collections/roads/items", "", nil, 503, "time limit"},
		{"items: internal is 500 without its text", &fakeStore{ItemsFn: func(context.Context, *layer.Layer, postgis.ItemsQuery, postgis.PageFunc) error {
			return internal
		}}, "GET", "/ogc/collections/roads/items", "", nil, 500, `"internal error"`},
		{"collection: extent timeout is 503", &fakeStore{ExtentFn: func(context.Context, *layer.Layer) (postgis.Extent, error) {
			return postgis.Extent{}, context.DeadlineExceeded
		}}, "GET", "/ogc/collections/roads", "", nil, 503, "time limit"},
		{"create: invalid is 400 with details", &fakeStore{CreateFn: func(context.Context, string, map[string]any, orb.Geometry) (*postgis.Feature, error) {
			return nil, invalid
		}}, "POST", "/ogc/collections/roads/items", writeBody, write, 400, `"field":"surface"`},
		{"create: conflict is 409", &fakeStore{CreateFn: func(context.Context, string, map[string]any, orb.Geometry) (*postgis.Feature, error) {
			return nil, conflict
		}}, "POST", "/ogc/collections/roads/items", writeBody, write, 409, "same unique value"},
		{"patch: stale version is 412", &fakeStore{PatchFn: func(context.Context, string, int64, postgis.Precondition, map[string]any, orb.Geometry) (*postgis.Feature, error) {
			return nil, stale
		}}, "PATCH", "/ogc/collections/roads/items/9", `{"properties":{"status":"planned"}}`, write, 412, "at version 4, not 3"},
		{"put: not found is 404", &fakeStore{ReplaceFn: func(context.Context, string, int64, postgis.Precondition, map[string]any, orb.Geometry) (*postgis.Feature, error) {
			return nil, notFound
		}}, "PUT", "/ogc/collections/roads/items/9", writeBody, write, 404, "does not exist"},
		{"delete: stale version is 412", &fakeStore{DeleteFn: func(context.Context, string, int64, postgis.Precondition) error { return stale }},
			"DELETE", "/ogc/collections/roads/items/9", "", write, 412, "at version 4"},
		{"history: not found is 404", &fakeStore{HistoryFn: func(context.Context, string, int64) ([]postgis.HistoryEntry, error) {
			return nil, lastmile.Errorf(lastmile.ENOTFOUND, "roads feature 9 has no history (it never existed)")
		}}, "GET", "/ogc/collections/roads/items/9/history", "", nil, 404, "never existed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeOGC(t, tt.store)
			w := f.do(t, tt.method, tt.path, tt.body, tt.headers...)
			body := w.Body.String()
			if w.Code != tt.status || !strings.Contains(body, tt.want) {
				t.Errorf("%d %s, want %d with %q", w.Code, body, tt.status, tt.want)
			}
			if strings.Contains(body, "secret_table") || strings.Contains(body, "administrator command") {
				t.Errorf("database text reached the client: %s", body)
			}
			if w.Code == 503 && w.Header().Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
			if len(f.store.Calls()) != 1 {
				t.Errorf("store calls %v, want one", f.store.Calls())
			}
		})
	}
}

// TestOGCBadInputNeverReachesTheStore sends requests the handlers must
// refuse themselves: the store (every function nil) is never called.
func TestOGCBadInputNeverReachesTheStore(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
	}{
		{"unknown collection", "GET", "/ogc/collections/pipes/items", "", nil, 404},
		{"bad bbox", "GET", "/ogc/collections/roads/items?bbox=1,2,3", "", nil, 400},
		{"unknown filter", "GET", "/ogc/collections/roads/items?colour=red", "", nil, 400},
		{"limit too large", "GET", "/ogc/collections/roads/items?limit=10001", "", nil, 400},
		{"bad id", "GET", "/ogc/collections/roads/items/abc", "", nil, 400},
		{"write without token", "POST", "/ogc/collections/roads/items", writeBody, nil, 401},
		{"weak If-Match", "DELETE", "/ogc/collections/roads/items/1", "", []string{"Authorization", "Bearer tok", "If-Match", `W/"3"`}, 400},
		{"malformed If-Match", "PUT", "/ogc/collections/roads/items/1", writeBody, []string{"Authorization", "Bearer tok", "If-Match", `3`}, 400},
		{"merge-patch null geometry", "PATCH", "/ogc/collections/roads/items/1", `{"geometry":null}`, []string{"Authorization", "Bearer tok"}, 400},
		{"body id is another feature", "PUT", "/ogc/collections/roads/items/1", `{"type":"Feature","id":2,"geometry":null,"properties":{}}`, []string{"Authorization", "Bearer tok"}, 400},
		{"props not an object", "POST", "/ogc/collections/roads/items", `{"type":"Feature","geometry":null,"properties":{"props":"[1,2]"}}`, []string{"Authorization", "Bearer tok"}, 400},
		{"token in the URL", "GET", "/ogc/collections/roads/items?access_token=lm_x", "", nil, 400},
		{"Basic without a password", "GET", "/ogc/collections/roads/items", "", []string{"Authorization", "Basic dXNlcg=="}, 401},
		{"not a Feature", "POST", "/ogc/collections/roads/items", `{"type":"FeatureCollection"}`, []string{"Authorization", "Bearer tok"}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeOGC(t, &fakeStore{})
			w := f.do(t, tt.method, tt.path, tt.body, tt.headers...)
			if w.Code != tt.status {
				t.Errorf("%d %s, want %d", w.Code, w.Body, tt.status)
			}
			if calls := f.store.Calls(); len(calls) != 0 {
				t.Errorf("the store was called: %v", calls)
			}
		})
	}
}

// TestOGCItemsPage checks the page the handler writes around the store's
// features: the query it passes down, numberMatched/numberReturned, the
// next and prev links, and the features' bytes copied as they are.
func TestOGCItemsPage(t *testing.T) {
	one := `{"type" : "Feature", "id" : 5, "geometry" : null, "properties" : {"name" : "王家庄路"}}`
	two := `{"type" : "Feature", "id" : 6, "geometry" : null, "properties" : {"name" : "b"}}`
	tests := []struct {
		name     string
		query    string
		matched  int
		features []string
		wantQ    postgis.ItemsQuery
		next     string // "" for none
		prev     string
	}{
		{"first page", "limit=2", 5, []string{one, two}, postgis.ItemsQuery{Limit: 2},
			"http://example.org/ogc/collections/roads/items?limit=2&offset=2", ""},
		{"middle page keeps the filters", "limit=2&offset=2&surface=cement,asphalt", 5, []string{one, two},
			postgis.ItemsQuery{Limit: 2, Offset: 2, Filters: []postgis.Filter{{Field: "surface", Values: []string{"cement", "asphalt"}}}},
			"http://example.org/ogc/collections/roads/items?limit=2&offset=4&surface=cement%2Casphalt",
			"http://example.org/ogc/collections/roads/items?limit=2&offset=0&surface=cement%2Casphalt"},
		{"last page", "limit=2&offset=4", 5, []string{one}, postgis.ItemsQuery{Limit: 2, Offset: 4},
			"", "http://example.org/ogc/collections/roads/items?limit=2&offset=2"},
		{"prev never below 0", "limit=3&offset=1", 2, []string{one}, postgis.ItemsQuery{Limit: 3, Offset: 1},
			"", "http://example.org/ogc/collections/roads/items?limit=3&offset=0"},
		{"past the end", "offset=10", 5, nil, postgis.ItemsQuery{Limit: server.DefaultLimit, Offset: 10},
			"", "http://example.org/ogc/collections/roads/items?limit=100&offset=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeStore{ItemsFn: func(ctx context.Context, l *layer.Layer, q postgis.ItemsQuery, page postgis.PageFunc) error {
				if l.Name != "roads" {
					t.Errorf("layer %s", l.Name)
				}
				if fmt.Sprint(q) != fmt.Sprint(tt.wantQ) {
					t.Errorf("query %+v, want %+v", q, tt.wantQ)
				}
				return page(tt.matched, features(nil, tt.features...))
			}}
			f := newFakeOGC(t, store)
			w := f.do(t, "GET", "http://example.org/ogc/collections/roads/items?"+tt.query, "")
			if w.Code != 200 || w.Header().Get("Content-Type") != server.GeoJSONType {
				t.Fatalf("%d %q: %s", w.Code, w.Header().Get("Content-Type"), w.Body)
			}
			body := w.Body.String()
			for _, f := range tt.features {
				if !strings.Contains(body, "\n"+f) {
					t.Errorf("feature %s not copied as it is into %s", f, body)
				}
			}
			var fc featureCollection
			if err := json.Unmarshal(w.Body.Bytes(), &fc); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if fc.Type != "FeatureCollection" || fc.NumberMatched != tt.matched || fc.NumberReturned != len(tt.features) || len(fc.Features) != len(tt.features) {
				t.Errorf("type %q matched %d returned %d features %d", fc.Type, fc.NumberMatched, fc.NumberReturned, len(fc.Features))
			}
			if got := fc.link("next"); got != tt.next {
				t.Errorf("next %q, want %q", got, tt.next)
			}
			if got := fc.link("prev"); got != tt.prev {
				t.Errorf("prev %q, want %q", got, tt.prev)
			}
			if got := fc.link("self"); got != "http://example.org/ogc/collections/roads/items?"+tt.query {
				t.Errorf("self %q", got)
			}
		})
	}
}

// TestOGCItemsStreamFailure: once the page has started, a read error or a
// short page cuts the connection instead of ending the JSON as if complete.
func TestOGCItemsStreamFailure(t *testing.T) {
	for _, tt := range []struct {
		name string
		seq  iter.Seq2[[]byte, error]
	}{
		{"read error mid-page", features(errors.New("connection reset"), `{"id":1}`)},
		{"fewer rows than counted", features(nil, `{"id":1}`)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeOGC(t, &fakeStore{ItemsFn: func(ctx context.Context, l *layer.Layer, q postgis.ItemsQuery, page postgis.PageFunc) error {
				return page(3, tt.seq)
			}})
			ts := httptest.NewServer(f.h)
			defer ts.Close()
			// A small page is still in the write buffer: the connection is cut
			// before the headers. A large one is cut mid-body.
			if resp, err := http.Get(ts.URL + "/ogc/collections/roads/items"); err == nil {
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil || strings.HasSuffix(string(b), "]}\n") {
					t.Errorf("the cut page ended cleanly (%d): %s", resp.StatusCode, b)
				}
			}
			if !strings.Contains(f.logs.String(), "streaming items failed") {
				t.Errorf("the failure was not logged:\n%s", f.logs)
			}
		})
	}
}

// TestOGCETags checks the ETag of a feature, If-None-Match, and that the
// If-Match version is what the store is asked to change.
func TestOGCETags(t *testing.T) {
	var gotPre postgis.Precondition
	var gotActor string
	store := &fakeStore{
		GetFn: func(ctx context.Context, name string, id int64) (*postgis.Feature, error) {
			if name != "roads" || id != 9 {
				t.Errorf("Get(%s, %d)", name, id)
			}
			return feature(9, 7), nil
		},
		PatchFn: func(ctx context.Context, name string, id int64, pre postgis.Precondition, props map[string]any, geom orb.Geometry) (*postgis.Feature, error) {
			gotPre, gotActor = pre, postgis.ActorFrom(ctx).Name
			if props["status"] != "completed" || geom != nil {
				t.Errorf("patch props %v geom %v", props, geom)
			}
			return feature(id, pre.Versions[0]+1), nil
		},
		CreateFn: func(ctx context.Context, name string, props map[string]any, geom orb.Geometry) (*postgis.Feature, error) {
			gotActor = postgis.ActorFrom(ctx).Name
			if !orb.Equal(geom, orb.LineString{{9.5, 47.1}, {9.51, 47.11}}) {
				t.Errorf("create geometry %v", geom)
			}
			return feature(12, 1), nil
		},
		DeleteFn: func(ctx context.Context, name string, id int64, pre postgis.Precondition) error {
			gotPre = pre
			return nil
		},
	}
	f := newFakeOGC(t, store)

	w := f.do(t, "GET", "/ogc/collections/roads/items/9", "")
	if w.Code != 200 || w.Header().Get("ETag") != `"7"` || w.Body.String() != string(feature(9, 7).JSON)+"\n" {
		t.Errorf("GET: %d ETag %q body %s", w.Code, w.Header().Get("ETag"), w.Body)
	}
	for _, inm := range []string{`"7"`, `"6", "7"`, `W/"7"`} {
		if w := f.do(t, "GET", "/ogc/collections/roads/items/9", "", "If-None-Match", inm); w.Code != 304 || w.Body.Len() != 0 {
			t.Errorf("If-None-Match %s: %d %s, want an empty 304", inm, w.Code, w.Body)
		}
	}
	if w := f.do(t, "GET", "/ogc/collections/roads/items/9", "", "If-None-Match", `"6"`); w.Code != 200 {
		t.Errorf("If-None-Match stale: %d, want 200", w.Code)
	}

	w = f.do(t, "PATCH", "/ogc/collections/roads/items/9", `{"properties":{"status":"completed"}}`, "Authorization", "Bearer tok", "If-Match", `"7"`)
	if w.Code != 200 || w.Header().Get("ETag") != `"8"` || fmt.Sprint(gotPre.Versions) != "[7]" || gotActor != "Road bureau" {
		t.Errorf("PATCH: %d ETag %q; store saw %+v actor %q", w.Code, w.Header().Get("ETag"), gotPre, gotActor)
	}
	if w.Body.String() != string(feature(9, 8).JSON)+"\n" {
		t.Errorf("PATCH answered %s, want the store's feature", w.Body)
	}

	w = f.do(t, "POST", "http://example.org/ogc/collections/roads/items", writeBody, "Authorization", "Bearer tok")
	if w.Code != 201 || w.Header().Get("ETag") != `"1"` || w.Header().Get("Location") != "http://example.org/ogc/collections/roads/items/12" {
		t.Errorf("POST: %d ETag %q Location %q", w.Code, w.Header().Get("ETag"), w.Header().Get("Location"))
	}

	w = f.do(t, "DELETE", "/ogc/collections/roads/items/9", "", "Authorization", "Bearer tok", "If-Match", `"7", "8"`)
	if w.Code != 204 || fmt.Sprint(gotPre.Versions) != "[7 8]" {
		t.Errorf("DELETE: %d, store saw %+v", w.Code, gotPre)
	}
	if want := []string{"Get", "Get", "Get", "Get", "Get", "Patch", "Create", "Delete"}; !slices.Equal(f.store.Calls(), want) {
		t.Errorf("calls %v, want %v", f.store.Calls(), want)
	}
}

// TestOGCCollectionExtent checks how the store's extent becomes the
// collection's: the bounds and dates, or the whole world for an empty layer.
func TestOGCCollectionExtent(t *testing.T) {
	lo, hi := time.Date(2014, 5, 1, 0, 0, 0, 0, time.UTC), time.Date(2016, 7, 1, 0, 0, 0, 0, time.UTC)
	store := &fakeStore{ExtentFn: func(ctx context.Context, l *layer.Layer) (postgis.Extent, error) {
		if l.Name == "roads" {
			return postgis.Extent{Bound: &orb.Bound{Min: orb.Point{9.5, 47.1}, Max: orb.Point{9.61, 47.21}}, Start: &lo, End: &hi}, nil
		}
		return postgis.Extent{}, nil
	}}
	f := newFakeOGC(t, store)
	var c struct {
		Extent struct {
			Spatial  struct{ BBox [][]float64 }
			Temporal struct{ Interval [][]*string }
		}
	}
	for _, tt := range []struct {
		layer, bbox, interval string
	}{
		{"roads", "[[9.5 47.1 9.61 47.21]]", "2014-05-01T00:00:00Z/2016-07-01T00:00:00Z"},
		{"villages", "[[-180 -90 180 90]]", "../.."},
	} {
		w := f.do(t, "GET", "/ogc/collections/"+tt.layer, "")
		if err := json.Unmarshal(w.Body.Bytes(), &c); err != nil || w.Code != 200 {
			t.Fatalf("%s: %d %v %s", tt.layer, w.Code, err, w.Body)
		}
		iv := c.Extent.Temporal.Interval[0]
		str := func(p *string) string {
			if p == nil {
				return ".."
			}
			return *p
		}
		if got := fmt.Sprint(c.Extent.Spatial.BBox); got != tt.bbox {
			t.Errorf("%s: bbox %s, want %s", tt.layer, got, tt.bbox)
		}
		if got := str(iv[0]) + "/" + str(iv[1]); got != tt.interval {
			t.Errorf("%s: interval %s, want %s", tt.layer, got, tt.interval)
		}
	}
	// /ogc/collections asks the store once per catalog layer.
	if w := f.do(t, "GET", "/ogc/collections", ""); w.Code != 200 {
		t.Fatalf("collections: %d %s", w.Code, w.Body)
	}
	if n := len(f.store.Calls()); n != 2+len(layer.Default().Layers()) {
		t.Errorf("%d store calls, want %d", n, 2+len(layer.Default().Layers()))
	}
}

// TestOGCPrivateReadsNeedAToken: on a private server the read scope is
// checked before the store is asked.
func TestOGCPrivateReadsNeedAToken(t *testing.T) {
	store := &fakeStore{}
	srv := server.New(server.Options{Private: true}, server.Deps{Catalog: layer.Default(), Store: store,
		Tokens: fakeTokens{"r": {Name: "reader", Scopes: []string{auth.ScopeRead}}}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	req := httptest.NewRequest("GET", "/ogc/collections/roads/items/1", nil)
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, req)
	if w.Code != 401 || len(store.Calls()) != 0 {
		t.Errorf("anonymous read: %d, store calls %v", w.Code, store.Calls())
	}
	store.GetFn = func(context.Context, string, int64) (*postgis.Feature, error) { return feature(1, 1), nil }
	req = httptest.NewRequest("GET", "/ogc/collections/roads/items/1", nil)
	req.Header.Set("Authorization", "Bearer r")
	w = httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, req)
	if w.Code != 200 {
		t.Errorf("read with a token: %d %s", w.Code, w.Body)
	}
}
