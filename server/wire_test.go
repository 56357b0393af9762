package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
	"github.com/lastmile/lastmile/server"
	"github.com/lastmile/lastmile/tiles"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestWire sends the same raw requests to a server with the wire path and
// one without (each with its own tile service on one database, warmed
// alike) and checks that every answer is byte for byte the same but for
// Date and the generated request ids — the wire path's own answers (hits,
// HEAD, 304, 204, pipelined) and net/http's after a handoff (misses,
// tokens, CORS, bodies, malformed or unusual requests) — and that the
// metrics and the access log count the wire path's answers.
func TestWire(t *testing.T) {
	pool := pgtest.New(t)
	fixture, err := os.ReadFile("../testdata/tiles/fixture.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(context.Background(), string(fixture)); err != nil {
		t.Fatal(err)
	}
	tilePath := func(layers string, lon, lat float64, z int, ext string) string {
		tl := maptile.At(orb.Point{lon, lat}, maptile.Zoom(z))
		return fmt.Sprintf("/tiles/%s/%d/%d/%d.%s", layers, tl.Z, tl.X, tl.Y, ext)
	}
	full := tilePath("roads,villages", 106.63, 26.605, 13, "mvt")
	reordered := tilePath("villages,roads,villages", 106.63, 26.605, 13, "pbf")
	empty := tilePath("roads", 0, 0, 13, "mvt")
	miss := tilePath("roads", 106.63, 26.605, 12, "mvt")
	miss2 := tilePath("roads", 106.63, 26.605, 14, "mvt")

	type started struct {
		addr string
		logs *syncBuffer
		svc  *tiles.Service
		srv  *server.Server
	}
	start := func(wire bool) started {
		logs := &syncBuffer{}
		log := slog.New(slog.NewTextHandler(logs, nil))
		svc := tiles.New(pool, layer.Default(), log, tiles.Options{CacheBytes: 1 << 20, CacheControl: "public, max-age=5"})
		srv := server.New(server.Options{Addr: "127.0.0.1:0", Wire: wire, AccessLog: true, RequestTimeout: 30 * time.Second,
			BodyLimit: 1 << 20, QueryLimit: server.DefaultQueryLimit},
			server.Deps{Pool: pool, Catalog: layer.Default(), Store: postgis.NewStore(pool, layer.Default()), Logger: log,
				Mounts: []server.Mount{svc}})
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan string, 1)
		done := make(chan struct{})
		go func() { defer close(done); srv.ListenAndServe(ctx, func(a string) { ready <- a }) }()
		t.Cleanup(func() { cancel(); <-done })
		addr := <-ready
		for _, p := range []string{full, reordered, empty} { // warm the cache
			req, _ := http.NewRequest("GET", "http://"+addr+p, nil)
			req.Header.Set("Accept-Encoding", "gzip")
			resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return started{addr, logs, svc, srv}
	}
	wire, plain := start(true), start(false)
	etag := func(s started) string {
		req, _ := http.NewRequest("GET", "http://"+s.addr+full, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Etag")
	}
	gzTag := etag(plain)
	plainTag := strings.Replace(gzTag, `-gz"`, `"`, 1)

	// exchange writes raw to a new connection (in pieces when split) and
	// returns everything the server sent until it closed the connection or
	// fell silent, with how the exchange ended.
	exchange := func(addr, raw string, split bool) string {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Error(err)
			return ""
		}
		defer c.Close()
		if split {
			for i := 0; i < len(raw); i += 7 {
				c.Write([]byte(raw[i:min(len(raw), i+7)]))
				time.Sleep(time.Millisecond)
			}
		} else {
			io.WriteString(c, raw)
		}
		var got bytes.Buffer
		buf := make([]byte, 64<<10)
		end := "open"
		for {
			c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			n, err := c.Read(buf)
			got.Write(buf[:n])
			if err != nil {
				if err == io.EOF {
					end = "closed"
				}
				break
			}
		}
		return got.String() + "\n[" + end + "]"
	}
	date := regexp.MustCompile(`(?m)^Date: [^\r]*\r$`)
	id := regexp.MustCompile(`(^|[^0-9a-f])[0-9a-f]{8}-[0-9a-z]+`) // a generated request id, not an ETag's -gz
	normal := func(s string) string { return id.ReplaceAllString(date.ReplaceAllString(s, "Date: D\r"), "${1}ID") }

	get := func(path string, headers ...string) string {
		return "GET " + path + " HTTP/1.1\r\nHost: lastmile.test\r\n" + strings.Join(headers, "") + "\r\n"
	}
	const gz = "Accept-Encoding: gzip\r\n"
	for _, tc := range []struct {
		name, raw string
		answers   int // 200/204/304 answers expected (0: not checked)
		split     bool
		onWire    int // of which the wire path gives
	}{
		{"hit", get(full, gz), 1, false, 1},
		{"hit, browser headers", get(full, "Connection: keep-alive\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: */*\r\n"+
			"Accept-Encoding: gzip, deflate, br\r\nAccept-Language: zh-CN,zh;q=0.9\r\nReferer: http://lastmile.test/\r\nSec-Fetch-Mode: cors\r\n"), 1, false, 1},
		{"hit, lower-case names and tabs", "GET " + full + " HTTP/1.1\r\nhost: lastmile.test:8080\r\naccept-encoding:\tgzip \r\n\r\n", 1, false, 1},
		{"hit in pieces", get(full, gz), 1, true, 1},
		{"head", "HEAD " + full + " HTTP/1.1\r\nHost: x\r\n" + gz + "\r\n", 1, false, 1},
		{"pbf, other layer order", get(reordered, gz), 1, false, 1},
		{"if-none-match gzip tag", get(full, gz, "If-None-Match: "+gzTag+"\r\n"), 1, false, 1},
		{"if-none-match plain weak tag in a list", get(full, gz, `If-None-Match: "x", W/`+plainTag+"\r\n"), 1, false, 1},
		{"if-none-match star", get(full, gz, "If-None-Match: *\r\n"), 1, false, 1},
		{"if-none-match other", get(full, gz, "If-None-Match: \"0123\"\r\n"), 1, false, 1},
		{"two if-none-match lines", get(full, gz, "If-None-Match: \"0123\"\r\nIf-None-Match: "+gzTag+"\r\n"), 1, false, 1},
		{"empty tile", get(empty, gz), 1, false, 1},
		{"accept-encoding over two lines", get(full, "Accept-Encoding: identity\r\nAccept-Encoding: gzip\r\n"), 1, false, 1},
		{"pipelined hits", get(full, gz) + get(empty, gz) + "HEAD " + full + " HTTP/1.1\r\nHost: x\r\n" + gz + "\r\n" + get(full, gz, "If-None-Match: *\r\n"), 4, false, 4},
		{"pipelined, a miss in the middle", get(full, gz) + get(miss, gz) + get(full, gz), 3, false, 1},
		{"pipelined, handed over at a POST", get(full, gz) + "POST /tiles/roads/1/0/0.mvt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" + get(full, gz), 0, false, 1},
		{"miss", get(miss2, gz), 1, false, 0},
		{"no gzip", get(full), 1, false, 0},
		{"gzip refused", get(full, "Accept-Encoding: gzip;q=0, *\r\n"), 1, false, 0},
		{"filters", get(full+"?status=completed", gz), 1, false, 0},
		{"percent-encoded", get(strings.Replace(full, "roads", "r%6Fads", 1), gz), 0, false, 0},
		{"bad tile", get("/tiles/roads/23/0/0.mvt", gz), 0, false, 0},
		{"unknown layer", get("/tiles/nope/1/0/0.mvt", gz), 0, false, 0},
		{"tilejson", get("/tiles/roads.json", gz), 1, false, 0},
		{"bad token", get(full, gz, "Authorization: Bearer lm_nope\r\n"), 0, false, 0},
		{"origin", get(full, gz, "Origin: https://elsewhere.example\r\n"), 1, false, 0},
		{"client request id", get(full, gz, "X-Request-Id: mine-1\r\n"), 1, false, 0},
		{"connection close", get(full, gz, "Connection: close\r\n"), 1, false, 0},
		{"http/1.0", "GET " + full + " HTTP/1.0\r\n" + gz + "\r\n", 0, false, 0},
		{"no host", "GET " + full + " HTTP/1.1\r\n" + gz + "\r\n", 0, false, 0},
		{"two hosts", get(full, gz, "Host: other\r\n"), 0, false, 0},
		{"absolute form", get("http://lastmile.test"+full, gz), 1, false, 0},
		{"content-length on GET", get(full, gz, "Content-Length: 0\r\n"), 1, false, 0},
		{"chunked GET", get(full, gz, "Transfer-Encoding: chunked\r\n") + "0\r\n\r\n", 0, false, 0},
		{"smuggling: CL and TE", get(full, gz, "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n") + "0\r\n\r\n" + get(full, gz), 0, false, 0},
		{"obs-fold", get(full, gz, "X-Long: a\r\n b\r\n"), 0, false, 0},
		{"bare LF", "GET " + full + " HTTP/1.1\nHost: x\n" + "Accept-Encoding: gzip\n\n", 0, false, 0},
		{"header over the wire limit", get(full, gz, "X-Big: "+strings.Repeat("b", 9000)+"\r\n"), 1, false, 0},
		{"expect", get(full, gz, "Expect: 100-continue\r\n"), 0, false, 0},
		{"unfinished", "GET " + full + " HTTP/1.1\r\nHost: x\r\n", 0, false, 0},
		{"garbage", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 0, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wired := server.WireAnswers(wire.srv)
			var w, p string
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); w = normal(exchange(wire.addr, tc.raw, tc.split)) }()
			go func() { defer wg.Done(); p = normal(exchange(plain.addr, tc.raw, tc.split)) }()
			wg.Wait()
			if w != p {
				t.Errorf("answers differ\nwire path:\n%.3000q\nnet/http:\n%.3000q", w, p)
			}
			if got := server.WireAnswers(wire.srv) - wired; got != uint64(tc.onWire) {
				t.Errorf("the wire path gave %d answers, want %d", got, tc.onWire)
			}
			if n := server.WireAnswers(plain.srv); n != 0 {
				t.Errorf("the server without the wire path gave %d answers on it", n)
			}
			if tc.answers > 0 {
				if n := strings.Count(w, "HTTP/1.1 200 OK\r\n") + strings.Count(w, "HTTP/1.1 204 No Content\r\n") +
					strings.Count(w, "HTTP/1.1 304 Not Modified\r\n"); n != tc.answers {
					t.Errorf("%d answers, want %d:\n%.2000q", n, tc.answers, w)
				}
			}
		})
	}

	// The wire path's answers are counted under the tile route and logged.
	before := wire.svc.Stats().Hits
	exchange(wire.addr, get(full, gz), false)
	if got := wire.svc.Stats().Hits; got != before+1 {
		t.Errorf("cache hits %d → %d", before, got)
	}
	if !strings.Contains(wire.logs.String(), `path=`+full+` route=/tiles/{layers}/{z}/{x}/{y} status=200 client=127.0.0.1`) {
		t.Errorf("no access log line for a wire answer:\n%.2000s", wire.logs.String())
	}
	if !strings.Contains(wire.logs.String(), `status=304`) || !strings.Contains(wire.logs.String(), `method=HEAD`) {
		t.Errorf("no access log lines for 304 and HEAD")
	}
	_, secret, err := postgis.NewTokens(pool, layer.Default()).Create(context.Background(), "prometheus", []string{"metrics"})
	if err != nil {
		t.Fatal(err)
	}
	metrics := exchange(wire.addr, get("/metrics", "Authorization: Bearer "+secret+"\r\n", "Connection: close\r\n"), false)
	for _, want := range []string{
		`lastmile_http_requests_total{method="HEAD",route="/tiles/{layers}/{z}/{x}/{y}",status="200"}`,
		`lastmile_http_requests_total{method="GET",route="/tiles/{layers}/{z}/{x}/{y}",status="304"}`,
		`lastmile_http_requests_total{method="GET",route="/tiles/{layers}/{z}/{x}/{y}",status="204"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
