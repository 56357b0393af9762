package main

import (
	"context"
	"encoding/csv"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/demo"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// hardened is a served demo county.
type hardened struct {
	base  string
	pool  *pgxpool.Pool
	out   *syncBuffer
	token map[string]string // secret by scope
}

// hardenedServer serves the demo county with extra serve flags, with a
// token for each of the scopes read, metrics and admin.
func hardenedServer(t *testing.T, flags ...string) *hardened {
	t.Helper()
	dbURL := pgtest.URL(t)
	ctx, cancel := context.WithCancel(context.Background())
	pool, err := postgis.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.Load(ctx, pool, demo.Generate(1)); err != nil {
		t.Fatal(err)
	}
	h := &hardened{pool: pool, out: &syncBuffer{}, token: map[string]string{}}
	tokens := postgis.NewTokens(pool, layer.Default())
	for _, scope := range []string{"read", "metrics", "admin"} {
		_, secret, err := tokens.Create(ctx, scope+" token", []string{scope})
		if err != nil {
			t.Fatal(err)
		}
		h.token[scope] = secret
	}
	done := make(chan error, 1)
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--database-url", dbURL}, flags...)
	go func() { done <- run(ctx, args, h.out) }()
	t.Cleanup(func() { cancel(); <-done; pool.Close() })
	h.base = waitServing(t, h.out, done)
	return h
}

// get sends a GET with header pairs; "token" names a scope whose token to send.
func (h *hardened) get(t *testing.T, path string, header ...string) (*http.Response, string) {
	t.Helper()
	url := path
	if strings.HasPrefix(path, "/") {
		url = h.base + path
	}
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "token" {
			req.Header.Set("Authorization", "Bearer "+h.token[header[i+1]])
			continue
		}
		req.Header.Set(header[i], header[i+1])
		if header[i] == "Host" {
			req.Host = header[i+1]
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestTimeoutIsUnavailable: the reported cases, each under a request time
// limit far below what they cost, answer 503 with Retry-After, never 500;
// a client that goes away is counted as 499 client_gone, apart from them.
func TestTimeoutIsUnavailable(t *testing.T) {
	// 5 ms: both questions take tens of milliseconds even on an idle
	// machine (the progress series 70 ms), so they run out of time.
	h := hardenedServer(t, "--request-timeout", "5ms")
	for _, path := range []string{
		"/api/sites/rank?source=grid&bbox=-180,-85,180,-80&cell_m=50000&limit=1",
		"/api/stats/progress?series=year&group_by=township",
	} {
		t.Run(path, func(t *testing.T) {
			resp, body := h.get(t, path)
			t.Logf("%d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), strings.TrimSpace(body))
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, `"code":"unavailable"`) {
				t.Errorf("%s: %d (Retry-After %q) %s, want 503 with Retry-After", path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
			}
		})
	}
	// A client that gives up after 30 ms, on a server that would give it 150 ms.
	slow := hardenedServer(t, "--request-timeout", "150ms")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", slow.base+"/api/sites/rank?source=grid&bbox=-180,-85,180,-80&cell_m=50000&limit=1", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the impatient client got %d", resp.StatusCode)
	}
	for _, c := range []struct {
		h    *hardened
		want []string
	}{
		{h, []string{
			`lastmile_http_failures_total{reason="timeout",route="/api/sites/rank",status="503"} 1`,
			`lastmile_http_failures_total{reason="timeout",route="/api/stats/progress",status="503"} 1`,
		}},
		{slow, []string{`lastmile_http_failures_total{reason="client_gone",route="/api/sites/rank",status="499"} 1`}},
	} {
		var metrics string
		for range 50 { // the gone client's request ends when the server notices
			_, metrics = c.h.get(t, "/metrics", "token", "metrics")
			if strings.Contains(metrics, c.want[len(c.want)-1]) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		for _, w := range c.want {
			if !strings.Contains(metrics, w) {
				t.Errorf("/metrics lacks %s", w)
			}
		}
		if strings.Contains(metrics, `status="500"`) {
			t.Errorf("a 500 was counted:\n%s", grepLines(metrics, `status="500"`))
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestLinksFollowPublicURL: with --public-url every link starts there,
// whatever Host and forwarding headers say.
func TestLinksFollowPublicURL(t *testing.T) {
	h := hardenedServer(t, "--public-url", "https://gis.example.org/lastmile/")
	spoof := []string{"Host", "evil.example", "X-Forwarded-Host", "evil2.example", "X-Forwarded-Proto", "http"}
	for _, path := range []string{"/tiles/roads.json", "/tiles", "/ogc", "/ogc/collections/roads", "/ogc/collections/roads/items?limit=1", "/ogc/api"} {
		resp, body := h.get(t, path, spoof...)
		if resp.StatusCode != 200 || !strings.Contains(body, "https://gis.example.org/lastmile/") || strings.Contains(body, "evil") {
			t.Errorf("%s: %d, links not on the public URL: %.300s", path, resp.StatusCode, body)
		}
	}
}

// TestForwardedHeadersOnlyFromTrustedProxies: by default the loopback
// proxy's X-Forwarded-* are believed (first value of a list); with
// --trusted-proxies naming another network they are ignored.
func TestForwardedHeadersOnlyFromTrustedProxies(t *testing.T) {
	fwd := []string{"X-Forwarded-Host", "gis.example.org, inner.example", "X-Forwarded-Proto", "https, http"}
	h := hardenedServer(t)
	if _, body := h.get(t, "/tiles/roads.json", fwd...); !strings.Contains(body, `"https://gis.example.org/tiles/roads/{z}/{x}/{y}.mvt"`) {
		t.Errorf("loopback proxy not believed: %.300s", body)
	}
	other := hardenedServer(t, "--trusted-proxies", "10.0.0.0/8")
	if _, body := other.get(t, "/tiles/roads.json", fwd...); strings.Contains(body, "gis.example.org") || !strings.Contains(body, "http://127.0.0.1") {
		t.Errorf("an untrusted client's X-Forwarded-* were believed: %.300s", body)
	}
}

// TestLongQueryRefused: the reported 450 KB filter (echoed twice into
// self and next links: a 1 MB page for limit=1) is refused with 414.
func TestLongQueryRefused(t *testing.T) {
	h := hardenedServer(t)
	long := "/ogc/collections/roads/items?limit=1&name=" + strings.Repeat("x", 450<<10)
	resp, body := h.get(t, long)
	if resp.StatusCode != http.StatusRequestURITooLong || !strings.Contains(body, "8192") || len(body) > 1000 {
		t.Errorf("450 KB query: %d, %d bytes %.200s; want 414 naming the limit", resp.StatusCode, len(body), body)
	}
	resp, body = h.get(t, "/ogc/collections/roads/items?limit=1&name="+strings.Repeat("x", 8000))
	if resp.StatusCode != 200 || len(body) > 30<<10 {
		t.Errorf("8 000-byte query: %d, %d bytes", resp.StatusCode, len(body))
	}
}

// TestMetricsNeedAToken: /metrics and the tile cache's counters are for
// a token with scope metrics (or admin), or on --metrics-addr.
func TestMetricsNeedAToken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a free port for the metrics listener
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := ln.Addr().String()
	ln.Close()
	h := hardenedServer(t, "--metrics-addr", metricsAddr)
	for _, tc := range []struct {
		token  string
		status int
	}{{"", 401}, {"read", 403}, {"metrics", 200}, {"admin", 200}} {
		var hdr []string
		if tc.token != "" {
			hdr = []string{"token", tc.token}
		}
		resp, body := h.get(t, "/metrics", hdr...)
		if resp.StatusCode != tc.status || (tc.status == 200) != strings.Contains(body, "lastmile_tile_cache_events_total") {
			t.Errorf("/metrics with %q token: %d %.200s, want %d", tc.token, resp.StatusCode, body, tc.status)
		}
		_, body = h.get(t, "/tiles", hdr...)
		if (tc.status == 200) != strings.Contains(body, `"cache":`) {
			t.Errorf("/tiles with %q token: cache counters shown = %v", tc.token, strings.Contains(body, `"cache":`))
		}
	}
	resp, body := h.get(t, "http://"+metricsAddr+"/metrics")
	if resp.StatusCode != 200 || !strings.Contains(body, "lastmile_http_requests_total") {
		t.Errorf("--metrics-addr: %d %.200s", resp.StatusCode, body)
	}
	if resp, _ := h.get(t, "http://"+metricsAddr+"/tiles"); resp.StatusCode != 404 {
		t.Errorf("--metrics-addr serves /tiles: %d", resp.StatusCode)
	}
}

// TestCSVFormulaCellsNeutralised: a village and a planned site named
// =HYPERLINK(…) come out of the statistics and ranking CSV with a leading
// apostrophe; negative numbers stay numbers.
func TestCSVFormulaCellsNeutralised(t *testing.T) {
	h := hardenedServer(t)
	const evil = `=HYPERLINK("http://x","a")`
	ctx := context.Background()
	for _, sql := range []string{`UPDATE lastmile.villages SET name = $1`, `UPDATE lastmile.relocation_sites SET name = $1`} {
		if _, err := h.pool.Exec(ctx, sql, evil); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range []string{
		"/api/stats/coverage?list=uncovered&format=csv&bom=true",
		"/api/sites/rank?source=planned&format=csv",
	} {
		resp, body := h.get(t, path)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %.300s", path, resp.StatusCode, body)
		}
		rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\ufeff"))).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		named := 0
		for _, row := range rows {
			for _, cell := range row {
				if cell == "'"+evil {
					named++
				}
				if cell != "" && strings.ContainsRune("=+@\t\r", rune(cell[0])) {
					t.Errorf("%s: cell %q starts a formula", path, cell)
				}
				if cell != "" && cell[0] == '-' {
					if _, err := strconv.ParseFloat(cell, 64); err != nil {
						t.Errorf("%s: cell %q starts with - and is not a number", path, cell)
					}
				}
			}
		}
		if named == 0 {
			t.Errorf("%s: no neutralised name in %d rows: %.300s", path, len(rows), body)
		}
		t.Logf("%s: %d rows, %d neutralised names", path, len(rows), named)
	}
}
