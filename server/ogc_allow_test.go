package server_test

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile/auth"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/server"
)

// extraRoutes is a mount standing for the other packages' routes (tiles,
// import): Allow on their paths comes from the same router.
type extraRoutes struct{}

func (extraRoutes) Register(r *mux.Router) {
	ok := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }
	r.HandleFunc("/api/import/{layer}", ok).Methods(http.MethodPost)
	r.HandleFunc("/tiles/{z}/{x}/{y}", ok).Methods(http.MethodGet, http.MethodHead)
}

// TestOptionsAndAllow: OPTIONS on /items and /items/{id} answers 204 with
// the Allow QGIS looks for (POST; PUT, PATCH, DELETE), without asking the
// store or needing a token; every path answers OPTIONS; every 405 carries
// Allow; a CORS preflight is still answered by the CORS middleware.
func TestOptionsAndAllow(t *testing.T) {
	store := &fakeStore{}
	srv := server.New(server.Options{CORSOrigins: "https://gis.example.gov.cn", Private: true}, server.Deps{
		Catalog: layer.Default(), Store: store, Mounts: []server.Mount{extraRoutes{}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	h := srv.Handler()
	do := func(method, path string, headers ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	tests := []struct {
		name, method, path string
		status             int
		allow              string
	}{
		{"items", "OPTIONS", "/ogc/collections/roads/items", 204, "GET, HEAD, POST, OPTIONS"},
		{"an item", "OPTIONS", "/ogc/collections/roads/items/7", 204, "GET, HEAD, PUT, PATCH, DELETE, OPTIONS"},
		{"an item of an empty layer (QGIS asks for unknown_id)", "OPTIONS", "/ogc/collections/villages/items/unknown_id", 204, "GET, HEAD, PUT, PATCH, DELETE, OPTIONS"},
		{"unknown collection", "OPTIONS", "/ogc/collections/pipes/items", 404, ""},
		{"a read-only per-kind view", "OPTIONS", "/ogc/collections/power_upgrades_points/items", 204, "GET, HEAD, OPTIONS"},
		{"an item of a per-kind view", "OPTIONS", "/ogc/collections/power_upgrades_points/items/7", 204, "GET, HEAD, OPTIONS"},
		{"405 on a per-kind view", "DELETE", "/ogc/collections/relocation_sites_points/items", 405, "GET, HEAD, OPTIONS"},
		{"a read-only path", "OPTIONS", "/ogc/collections", 204, "GET, HEAD, OPTIONS"},
		{"history", "OPTIONS", "/ogc/collections/roads/items/7/history", 204, "GET, HEAD, OPTIONS"},
		{"a mounted path", "OPTIONS", "/api/import/roads", 204, "POST, OPTIONS"},
		{"unknown path", "OPTIONS", "/nowhere", 404, ""},
		{"405 on collections", "POST", "/ogc/collections", 405, "GET, HEAD, OPTIONS"},
		{"405 on items", "PUT", "/ogc/collections/roads/items", 405, "GET, HEAD, POST, OPTIONS"},
		{"405 on an item", "POST", "/ogc/collections/roads/items/7", 405, "GET, HEAD, PUT, PATCH, DELETE, OPTIONS"},
		{"405 on a mounted path", "DELETE", "/tiles/1/2/3", 405, "GET, HEAD, OPTIONS"},
		{"405 on healthz", "PATCH", "/healthz", 405, "GET, HEAD, OPTIONS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(tt.method, tt.path)
			if w.Code != tt.status || w.Header().Get("Allow") != tt.allow {
				t.Errorf("%s %s: %d Allow %q, want %d %q: %s", tt.method, tt.path, w.Code, w.Header().Get("Allow"), tt.status, tt.allow, w.Body)
			}
			if tt.status == 405 && !strings.Contains(w.Body.String(), `"code":"method_not_allowed"`) {
				t.Errorf("405 body %s", w.Body)
			}
		})
	}
	if calls := store.Calls(); len(calls) != 0 {
		t.Errorf("OPTIONS asked the store: %v", calls)
	}
	// A CORS preflight from an allowed origin: the CORS answer, as before.
	w := do("OPTIONS", "/ogc/collections/roads/items/7", "Origin", "https://gis.example.gov.cn", "Access-Control-Request-Method", "PATCH")
	if w.Code != 204 || !strings.Contains(w.Header().Get("Access-Control-Allow-Methods"), "PATCH") ||
		w.Header().Get("Access-Control-Allow-Origin") != "https://gis.example.gov.cn" {
		t.Errorf("preflight: %d %v", w.Code, w.Header())
	}
}

// TestBasicAuthAndChallenges: the token as a Basic password (any user name)
// is accepted wherever a bearer token is; a 401 challenges for Bearer and
// Basic, each on its own line (Qt reads the scheme a line starts with), but
// a request that sent a bearer token gets the Bearer challenge alone.
func TestBasicAuthAndChallenges(t *testing.T) {
	store := &fakeStore{
		GetFn: func(context.Context, string, int64) (*postgis.Feature, error) { return feature(1, 1), nil },
		CreateFn: func(ctx context.Context, _ string, _ map[string]any, _ orb.Geometry) (*postgis.Feature, error) {
			if a := postgis.ActorFrom(ctx).Name; a != "QGIS desk" {
				t.Errorf("actor %q, want the token's name", a)
			}
			return feature(2, 1), nil
		},
	}
	srv := server.New(server.Options{Private: true}, server.Deps{Catalog: layer.Default(), Store: store,
		Tokens: fakeTokens{"lm_t": {Name: "QGIS desk", Scopes: []string{auth.ScopeRead, "write:roads"}}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	h := srv.Handler()
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	both := []string{`Bearer realm="lastmile"`, `Basic realm="lastmile", charset="UTF-8"`}
	tests := []struct {
		name, method, path, authz string
		status                    int
		challenges                []string
		want                      string
	}{
		{"no token", "GET", "/ogc/collections/roads/items/1", "", 401, both, "Basic with the token as the password"},
		{"Basic, token as password", "GET", "/ogc/collections/roads/items/1", basic("qgis", "lm_t"), 200, nil, ""},
		{"Basic, empty user name", "GET", "/ogc/collections/roads/items/1", basic("", "lm_t"), 200, nil, ""},
		{"Basic writes", "POST", "/ogc/collections/roads/items", basic("x", "lm_t"), 201, nil, ""},
		{"Bearer", "GET", "/ogc/collections/roads/items/1", "Bearer lm_t", 200, nil, ""},
		{"Basic, wrong token", "GET", "/ogc/collections/roads/items/1", basic("qgis", "lm_x"), 401,
			[]string{`Bearer realm="lastmile", error="invalid_token"`, `Basic realm="lastmile", charset="UTF-8"`}, ""},
		{"Basic, token as the user name", "GET", "/ogc/collections/roads/items/1", basic("lm_t", ""), 401,
			[]string{`Bearer realm="lastmile", error="invalid_request"`, `Basic realm="lastmile", charset="UTF-8"`}, "put the token in the password"},
		{"Basic, not base64", "GET", "/ogc/collections/roads/items/1", "Basic !!", 401,
			[]string{`Bearer realm="lastmile", error="invalid_request"`, `Basic realm="lastmile", charset="UTF-8"`}, "not base64"},
		{"Bearer, wrong token", "GET", "/ogc/collections/roads/items/1", "Bearer lm_x", 401,
			[]string{`Bearer realm="lastmile", error="invalid_token"`}, ""},
		{"another scheme", "GET", "/ogc/collections/roads/items/1", "Digest x", 401,
			[]string{`Bearer realm="lastmile", error="invalid_request"`, `Basic realm="lastmile", charset="UTF-8"`}, "Bearer <token>"},
		{"token in the query string", "GET", "/ogc/collections/roads/items/1?token=lm_t", "", 400, nil, "cannot be sent in the URL"},
		{"api_key in the query string", "GET", "/ogc/collections/roads/items/1?API_KEY=lm_t", "", 400, nil, "Authorization header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := ""
			if tt.method == "POST" {
				body = writeBody
			}
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(body))
			if tt.authz != "" {
				req.Header.Set("Authorization", tt.authz)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tt.status || !slices.Equal(w.Header().Values("WWW-Authenticate"), tt.challenges) || !strings.Contains(w.Body.String(), tt.want) {
				t.Errorf("%d WWW-Authenticate %q %s; want %d %q %q", w.Code, w.Header().Values("WWW-Authenticate"), w.Body, tt.status, tt.challenges, tt.want)
			}
			if strings.Contains(w.Body.String(), "lm_t") {
				t.Errorf("the token is echoed: %s", w.Body)
			}
		})
	}
}
