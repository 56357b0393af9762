package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
	"github.com/lastmile/lastmile/server"
	"github.com/lastmile/lastmile/server/respond"
	"github.com/lastmile/lastmile/version"
)

// panicky is a mount whose handler panics, to test recovery, and one that
// reads bodies, to test the limits.
type panicky struct{}

func (panicky) Register(r *mux.Router) {
	r.HandleFunc("/boom", func(http.ResponseWriter, *http.Request) { panic("secret internal detail") })
	read := respond.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			return err
		}
		respond.JSON(w, 200, map[string]int64{"read": n})
		return nil
	})
	r.Handle("/echo", read)
	r.Handle("/api/import/{layer}", read)
}

func newTestServer(t *testing.T) (*httptest.Server, *strings.Builder) {
	ts, logs, _ := newTestServerPool(t)
	return ts, logs
}

func newTestServerPool(t *testing.T) (*httptest.Server, *strings.Builder, *pgxpool.Pool) {
	pool := pgtest.New(t)
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	srv := server.New(server.Options{BodyLimit: 1 << 20, ImportLimit: 3 << 20, AccessLog: true}, server.Deps{
		Pool: pool, Catalog: layer.Default(), Store: postgis.NewStore(pool, layer.Default()), Logger: log,
		Mounts: []server.Mount{panicky{}},
	})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts, &logs, pool
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestHealthAndErrors(t *testing.T) {
	ts, logs, pool := newTestServerPool(t)
	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/healthz", 200, `{"commit":"` + version.Get().Commit + `","date":"` + version.Get().Date + `","status":"ok","version":"` + version.Get().Version + `"}`},
		{"/readyz", 200, `{"status":"ready"}`},
		{"/no/such/path", 404, `"code":"not_found","message":"no such path: /no/such/path"`},
		{"/boom", 500, `"code":"internal","message":"internal error"`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			status, h, body := get(t, ts.URL+tt.path)
			if status != tt.status || !strings.Contains(body, tt.body) {
				t.Fatalf("%d %s, want %d containing %s", status, body, tt.status, tt.body)
			}
			if h.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
		})
	}
	// The 500 body carries the request id, never the panic's text; the log has both.
	_, h, body := get(t, ts.URL+"/boom")
	if strings.Contains(body, "secret") || !strings.Contains(body, h.Get("X-Request-Id")) {
		t.Errorf("500 body = %s", body)
	}
	if !strings.Contains(logs.String(), "secret internal detail") || !strings.Contains(logs.String(), h.Get("X-Request-Id")) {
		t.Errorf("log lacks the panic or request id:\n%s", logs.String())
	}
	// Metrics count requests by route template, and failures by reason;
	// they need a token with scope metrics.
	if status, _, body := get(t, ts.URL+"/metrics"); status != 401 {
		t.Errorf("anonymous /metrics: %d %s, want 401", status, body)
	}
	_, secret, err := postgis.NewTokens(pool, layer.Default()).Create(context.Background(), "prometheus", []string{"metrics"})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", ts.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	metrics := string(b)
	for _, want := range []string{`lastmile_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
		`lastmile_http_failures_total{reason="internal",route="/boom",status="500"} 2`,
		`lastmile_build_info{commit="` + version.Get().Commit + `",date="` + version.Get().Date + `",goversion="` + runtime.Version() + `",version="` + version.Get().Version + `"} 1`,
		"lastmile_db_pool_max_connections", "go_goroutines"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestReadyzReportsPendingMigrations(t *testing.T) {
	pool := pgtest.New(t)
	if _, err := pool.Exec(context.Background(), `DELETE FROM lastmile.schema_migrations`); err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Options{}, server.Deps{Pool: pool, Catalog: layer.Default(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	status, h, body := get(t, ts.URL+"/readyz")
	var e struct {
		Error struct{ Code, Message string }
	}
	json.Unmarshal([]byte(body), &e)
	if status != 503 || e.Error.Code != "unavailable" || !strings.Contains(e.Error.Message, "0001_schema.sql") || h.Get("Retry-After") == "" {
		t.Fatalf("%d %s", status, body)
	}
	pool.Close()
	if status, _, _ := get(t, ts.URL+"/readyz"); status != 503 {
		t.Fatalf("closed pool: readyz %d", status)
	}
}

func TestListenErrorIsClear(t *testing.T) {
	ts, _ := newTestServer(t)
	addr := strings.TrimPrefix(ts.URL, "http://")
	srv := server.New(server.Options{Addr: addr}, server.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	err := srv.ListenAndServe(context.Background(), nil)
	if err == nil || err.Error() != "cannot listen on "+addr+": address already in use (choose another --addr / LASTMILE_ADDR)" {
		t.Fatalf("err = %v", err)
	}
}

func TestListenBadAddress(t *testing.T) {
	srv := server.New(server.Options{Addr: "nonsense:http:x"}, server.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	err := srv.ListenAndServe(context.Background(), nil)
	if err == nil || strings.Contains(err.Error(), "<nil>") || !strings.HasPrefix(err.Error(), "cannot listen on nonsense:http:x: ") {
		t.Fatalf("err = %v", err)
	}
}

func TestCORSAndHeaders(t *testing.T) {
	pool := pgtest.New(t)
	newServer := func(origins string) *httptest.Server {
		srv := server.New(server.Options{CORSOrigins: origins}, server.Deps{Pool: pool, Catalog: layer.Default(),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		ts := httptest.NewServer(srv.Handler())
		t.Cleanup(ts.Close)
		return ts
	}
	do := func(ts *httptest.Server, method, origin string) *http.Response {
		req, _ := http.NewRequest(method, ts.URL+"/healthz", nil)
		req.Header.Set("Origin", origin)
		if method == http.MethodOptions {
			req.Header.Set("Access-Control-Request-Method", "PATCH")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	off := newServer("")
	if resp := do(off, "GET", "https://evil.example"); resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("CORS off: %v", resp.Header)
	}
	on := newServer("https://gis.example.gov.cn")
	if resp := do(on, "GET", "https://gis.example.gov.cn"); resp.Header.Get("Access-Control-Allow-Origin") != "https://gis.example.gov.cn" {
		t.Errorf("allowed origin: %v", resp.Header)
	}
	if resp := do(on, "GET", "https://evil.example"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("other origin: %v", resp.Header)
	}
	resp := do(on, "OPTIONS", "https://gis.example.gov.cn")
	if resp.StatusCode != 204 || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "If-Match") {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestNULAndInvalidUTF8Refused(t *testing.T) {
	ts, _ := newTestServer(t)
	for _, path := range []string{"/healthz?name=a%00b", "/healthz?name=%ff%fe", "/no%00where", "/healthz?a=%zz"} {
		status, _, body := get(t, ts.URL+path)
		if status != 400 || !strings.Contains(body, `"code":"invalid"`) {
			t.Errorf("%s: %d %s", path, status, body)
		}
	}
	if status, _, body := get(t, ts.URL+"/healthz?name=%E4%B8%AD%E6%96%87"); status != 200 {
		t.Errorf("UTF-8 Chinese refused: %d %s", status, body)
	}
}

func TestBodyLimits(t *testing.T) {
	ts, _ := newTestServer(t)
	tests := []struct {
		path   string
		size   int
		status int
	}{
		{"/echo", 1 << 20, 200},
		{"/echo", 1<<20 + 1, 413},
		{"/api/import/roads", 2 << 20, 200}, // imports have their own, larger limit
		{"/api/import/roads", 3<<20 + 1, 413},
	}
	for _, tt := range tests {
		resp, err := http.Post(ts.URL+tt.path, "application/octet-stream", strings.NewReader(strings.Repeat("x", tt.size)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || (tt.status == 413 && !strings.Contains(string(b), `"code":"too_large"`)) {
			t.Errorf("POST %d bytes to %s: %d %s, want %d", tt.size, tt.path, resp.StatusCode, b, tt.status)
		}
	}
}

func TestAccessLogSwitch(t *testing.T) {
	pool := pgtest.New(t)
	for _, on := range []bool{true, false} {
		var logs strings.Builder
		srv := server.New(server.Options{AccessLog: on}, server.Deps{Pool: pool, Catalog: layer.Default(),
			Logger: slog.New(slog.NewTextHandler(&logs, nil)), Mounts: []server.Mount{panicky{}}})
		ts := httptest.NewServer(srv.Handler())
		get(t, ts.URL+"/healthz")
		get(t, ts.URL+"/boom")
		ts.Close()
		okLogged := strings.Contains(logs.String(), "path=/healthz")
		if okLogged != on || !strings.Contains(logs.String(), "path=/boom") {
			t.Errorf("access log %v: /healthz logged %v, /boom logged %v", on, okLogged, strings.Contains(logs.String(), "path=/boom"))
		}
	}
}
