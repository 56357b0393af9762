package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
	"github.com/lastmile/lastmile/server"
)

// fastMount answers GET /fast/hit on its fast path (and panics on
// /fast/panic there); everything else under /fast/ goes to its router
// route, which says "general".
type fastMount struct{}

func (fastMount) Register(r *mux.Router) {
	r.HandleFunc("/fast/{x}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "general") })
}

func (fastMount) FastPrefix() string { return "/fast/" }

func (fastMount) ServeFast(w http.ResponseWriter, r *http.Request) (int, string, bool) {
	switch r.URL.Path {
	case "/fast/hit":
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "fast")
		return http.StatusOK, "/fast/{x}", true
	case "/fast/panic":
		panic("fast secret")
	}
	return 0, "", false
}

func TestFastPath(t *testing.T) {
	pool := pgtest.New(t)
	var logs strings.Builder
	srv := server.New(server.Options{AccessLog: true, CORSOrigins: "https://map.example.org"}, server.Deps{
		Pool: pool, Catalog: layer.Default(), Store: postgis.NewStore(pool, layer.Default()),
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Mounts: []server.Mount{fastMount{}},
	})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	do := func(method, path string, headers ...string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest(method, ts.URL+path, nil)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	status, h, body := do("GET", "/fast/hit")
	if status != 200 || body != "fast" {
		t.Fatalf("fast path: %d %q", status, body)
	}
	id := h.Get("X-Request-Id")
	if id == "" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("fast path headers: %v", h)
	}
	if !strings.Contains(logs.String(), "request_id="+id) || !strings.Contains(logs.String(), `route=/fast/{x} status=200 client=127.0.0.1`) {
		t.Errorf("no access log line for the fast request:\n%s", logs.String())
	}
	_, h2, _ := do("GET", "/fast/hit")
	if h2.Get("X-Request-Id") == id {
		t.Errorf("two requests share the id %s", id)
	}
	// What the general middleware must see takes the general path.
	for _, tc := range []struct {
		name, method, path string
		headers            []string
	}{
		{"declined", "GET", "/fast/miss", nil},
		{"POST", "POST", "/fast/hit", nil},
		{"Authorization", "GET", "/fast/hit", []string{"Authorization", "Bearer nope"}},
		{"Origin", "GET", "/fast/hit", []string{"Origin", "https://map.example.org"}},
		{"X-Request-Id", "GET", "/fast/hit", []string{"X-Request-Id", "mine-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, h, body := do(tc.method, tc.path, tc.headers...)
			switch tc.name {
			case "Authorization":
				if status != 401 {
					t.Errorf("bad token: %d %s", status, body)
				}
				return
			case "Origin":
				if h.Get("Access-Control-Allow-Origin") != "https://map.example.org" {
					t.Errorf("CORS header missing: %v", h)
				}
			case "X-Request-Id":
				if h.Get("X-Request-Id") != "mine-1" {
					t.Errorf("request id %q, want the client's", h.Get("X-Request-Id"))
				}
			}
			if status != 200 || body != "general" {
				t.Errorf("%d %q, want the general path", status, body)
			}
		})
	}
	// A panic on the fast path is a 500 with the request id, not the text.
	status, h, body = do("GET", "/fast/panic")
	if status != 500 || strings.Contains(body, "secret") || !strings.Contains(body, h.Get("X-Request-Id")) {
		t.Errorf("panic: %d %s", status, body)
	}
	// Metrics count fast requests under the route template.
	_, secret, err := postgis.NewTokens(pool, layer.Default()).Create(context.Background(), "prometheus", []string{"metrics"})
	if err != nil {
		t.Fatal(err)
	}
	_, _, metrics := do("GET", "/metrics", "Authorization", "Bearer "+secret)
	for _, want := range []string{
		`lastmile_http_requests_total{method="GET",route="/fast/{x}",status="200"} 5`, // 2 fast, 3 general
		`lastmile_http_request_duration_seconds_count{route="/fast/{x}"} 6`,           // and the POST
		`lastmile_http_failures_total{reason="internal",route="/fast/*",status="500"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
