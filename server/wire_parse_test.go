package server

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
)

// TestParseWire: what the wire path takes, and what it leaves to net/http.
func TestParseWire(t *testing.T) {
	const ok = "GET /tiles/roads/1/0/0.mvt HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n"
	for _, tc := range []struct {
		name, in string
		want     wireVerdict
	}{
		{"plain", ok, wireOK},
		{"head", "HEAD /tiles/a HTTP/1.1\r\nHost: h\r\n\r\n", wireOK},
		{"partial method", "GE", wireMore},
		{"partial target", "GET /til", wireMore},
		{"partial version", "GET /tiles/a HTTP/1", wireMore},
		{"partial header", "GET /tiles/a HTTP/1.1\r\nHost: h\r", wireMore},
		{"partial end", "GET /tiles/a HTTP/1.1\r\nHost: h\r\n", wireMore},
		{"pipelined", ok + ok, wireOK},
		{"ignored headers", "GET /tiles/a HTTP/1.1\r\nhost: h:8080\r\nUser-Agent: x/1 (y; z)\r\nAccept: */*\r\nCookie: a=b\r\nconnection: Keep-Alive\r\nX:\t v \t\r\n\r\n", wireOK},
		{"post", "POST /tiles/a HTTP/1.1\r\nHost: h\r\n\r\n", wireDecline},
		{"lower-case method", "get /tiles/a HTTP/1.1\r\nHost: h\r\n\r\n", wireDecline},
		{"other prefix", "GET /ogc/x HTTP/1.1\r\nHost: h\r\n\r\n", wireDecline},
		{"prefix only partly", "GET /tile HTTP/1.1\r\nHost: h\r\n\r\n", wireDecline},
		{"query", "GET /tiles/a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", wireDecline},
		{"percent", "GET /tiles/%61 HTTP/1.1\r\nHost: h\r\n\r\n", wireDecline},
		{"absolute form", "GET http://h/tiles/a HTTP/1.1\r\nHost: h\r\n\r\n", wireDecline},
		{"two spaces", "GET  /tiles/a HTTP/1.1\r\nHost: h\r\n\r\n", wireDecline},
		{"http/1.0", "GET /tiles/a HTTP/1.0\r\nHost: h\r\n\r\n", wireDecline},
		{"no host", "GET /tiles/a HTTP/1.1\r\n\r\n", wireDecline},
		{"two hosts", "GET /tiles/a HTTP/1.1\r\nHost: h\r\nHost: i\r\n\r\n", wireDecline},
		{"empty host", "GET /tiles/a HTTP/1.1\r\nHost: \r\n\r\n", wireDecline},
		{"odd host", "GET /tiles/a HTTP/1.1\r\nHost: h/x\r\n\r\n", wireDecline},
		{"bare LF", "GET /tiles/a HTTP/1.1\nHost: h\n\n", wireDecline},
		{"bare LF in headers", "GET /tiles/a HTTP/1.1\r\nHost: h\n\r\n", wireDecline},
		{"bare CR", "GET /tiles/a HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", wireDecline},
		{"obs-fold", "GET /tiles/a HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", wireDecline},
		{"space before colon", "GET /tiles/a HTTP/1.1\r\nHost : h\r\n\r\n", wireDecline},
		{"no colon", "GET /tiles/a HTTP/1.1\r\nHost h\r\n\r\n", wireDecline},
		{"NUL in value", "GET /tiles/a HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n", wireDecline},
		{"DEL in value", "GET /tiles/a HTTP/1.1\r\nHost: h\r\nX: a\x7fb\r\n\r\n", wireDecline},
		{"leading empty line", "\r\nGET /tiles/a HTTP/1.1\r\nHost: h\r\n\r\n", wireDecline},
		{"content-length", "GET /tiles/a HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", wireDecline},
		{"transfer-encoding", "GET /tiles/a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", wireDecline},
		{"expect", "GET /tiles/a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n", wireDecline},
		{"upgrade", "GET /tiles/a HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n", wireDecline},
		{"connection close", "GET /tiles/a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", wireDecline},
		{"connection list", "GET /tiles/a HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\n\r\n", wireDecline},
		{"authorization", "GET /tiles/a HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer x\r\n\r\n", wireDecline},
		{"origin", "GET /tiles/a HTTP/1.1\r\nHost: h\r\nOrigin: https://x\r\n\r\n", wireDecline},
		{"request id", "GET /tiles/a HTTP/1.1\r\nHost: h\r\nx-request-id: r\r\n\r\n", wireDecline},
		{"empty if-none-match", "GET /tiles/a HTTP/1.1\r\nHost: h\r\nIf-None-Match:\r\n\r\n", wireDecline},
		{"long header", "GET /tiles/a HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("a", wireMaxHead) + "\r\n\r\n", wireDecline},
		{"long unfinished header", "GET /tiles/a HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("a", wireMaxHead), wireDecline},
		{"many headers", "GET /tiles/a HTTP/1.1\r\nHost: h\r\n" + strings.Repeat("X: y\r\n", wireMaxHeaders) + "\r\n", wireDecline},
		{"long target", "GET /tiles/" + strings.Repeat("a", wireMaxTarget) + " HTTP/1.1\r\nHost: h\r\n\r\n", wireDecline},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, n, v := parseWire([]byte(tc.in), "/tiles/")
			if v != tc.want {
				t.Fatalf("verdict %d, want %d", v, tc.want)
			}
			if v == wireOK && (n == 0 || !strings.HasSuffix(tc.in[:n], "\r\n\r\n") || strings.Contains(tc.in[:n-2], "\r\n\r\n")) {
				t.Errorf("n = %d: not the first request", n)
			}
			if tc.name == "plain" && (req.head || req.path != "/tiles/roads/1/0/0.mvt" || !slices.Equal(req.acceptEnc, []string{"gzip"})) {
				t.Errorf("request %+v", req)
			}
		})
	}
	req, _, _ := parseWire([]byte("GET /tiles/a HTTP/1.1\r\nHost: h\r\nIf-None-Match:  \"a\" \r\nAccept-Encoding: br\r\nif-none-match: \"b\"\r\naccept-encoding: gzip\r\n\r\n"), "/tiles/")
	if req.ifNoneMatch != `"a"` || !slices.Equal(req.acceptEnc, []string{"br", "gzip"}) {
		t.Errorf("If-None-Match %q (want the first line's), Accept-Encoding %q", req.ifNoneMatch, req.acceptEnc)
	}
}

// FuzzParseWire: whatever the bytes, the parser does not fail, a request it
// takes is one net/http reads the same way (method, path, no query, no
// body, the same Accept-Encoding and If-None-Match, exactly n bytes), and
// every prefix of it is "more" (so reading it in pieces changes nothing).
// go test ./server -run X -fuzz FuzzParseWire
func FuzzParseWire(f *testing.F) {
	for _, s := range []string{
		"GET /tiles/roads/1/0/0.mvt HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n",
		"HEAD /tiles/a HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"x\"\r\nConnection: keep-alive\r\n\r\nGET /tiles/b HTTP/1.1\r\n",
		"GET /tiles/a HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
		"GET /tiles/a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET /tiles/a HTTP/1.1\r\nHost: h\nX:y\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, n, v := parseWire(b, "/tiles/")
		if v != wireOK {
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("n = %d of %d", n, len(b))
		}
		for k := 0; k < n; k++ {
			if _, _, pv := parseWire(b[:k], "/tiles/"); pv != wireMore {
				t.Fatalf("prefix %d of %d: verdict %d", k, n, pv)
			}
		}
		br := bufio.NewReader(bytes.NewReader(b[:n]))
		r, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("net/http refuses %q: %v", b[:n], err)
		}
		if br.Buffered() != 0 {
			t.Fatalf("net/http left %d bytes", br.Buffered())
		}
		method := http.MethodGet
		if req.head {
			method = http.MethodHead
		}
		if r.Method != method || r.URL.Path != req.path || r.URL.RawQuery != "" || r.RequestURI != req.path ||
			r.ContentLength != 0 || len(r.TransferEncoding) != 0 || r.Close || r.ProtoMinor != 1 {
			t.Fatalf("net/http reads %s %q (query %q, length %d, TE %v, close %v), the wire path %s %q",
				r.Method, r.URL.Path, r.URL.RawQuery, r.ContentLength, r.TransferEncoding, r.Close, method, req.path)
		}
		if got := r.Header.Values("Accept-Encoding"); !slices.Equal(got, req.acceptEnc) && (len(got) != 0 || len(req.acceptEnc) != 0) {
			t.Fatalf("Accept-Encoding: net/http %q, wire %q", got, req.acceptEnc)
		}
		if r.Header.Get("If-None-Match") != req.ifNoneMatch {
			t.Fatalf("If-None-Match: net/http %q, wire %q", r.Header.Get("If-None-Match"), req.ifNoneMatch)
		}
		for _, h := range []string{"Authorization", "Origin", "X-Request-Id"} {
			if r.Header[h] != nil {
				t.Fatalf("takes a request with %s", h)
			}
		}
	})
}

// wireMount is a fake mount with a wire path: /w/hit is answered there
// (and on its fast path), anything else goes to its route.
type wireMount struct{}

func (wireMount) Register(r *mux.Router) {
	r.HandleFunc("/w/{x}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "general "+r.URL.Path) })
}
func (wireMount) FastPrefix() string { return "/w/" }
func (wireMount) ServeFast(w http.ResponseWriter, r *http.Request) (int, string, bool) {
	if r.URL.Path != "/w/hit" || r.URL.RawQuery != "" {
		return 0, "", false
	}
	w.Header()["Content-Length"] = []string{"4"}
	w.WriteHeader(200)
	io.WriteString(w, "fast")
	return 200, "/w/{x}", true
}
func (wireMount) ServeWire(method, path string, _ []string, _ string) ([]byte, []byte, int, string, bool) {
	if path != "/w/hit" {
		return nil, nil, 0, "", false
	}
	return []byte("Content-Length: 4\r\n"), []byte("fast"), 200, "/w/{x}", true
}

// TestWireTimeouts: a connection on the wire path has the server's header
// and idle time limits, and a request handed over keeps its bytes.
func TestWireTimeouts(t *testing.T) {
	s := New(Options{Wire: true}, Deps{Logger: slog.New(slog.DiscardHandler), Mounts: []Mount{wireMount{}}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 300 * time.Millisecond, IdleTimeout: 600 * time.Millisecond}
	go srv.Serve(s.wireListener(ln, srv))
	defer srv.Close()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// closedAfter waits for the server to close c and says when.
	closedAfter := func(c net.Conn) (time.Duration, []byte) {
		start := time.Now()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(c)
		return time.Since(start), b
	}
	// A request whose headers never end: closed at the header limit.
	c := dial()
	io.WriteString(c, "GET /w/hit HTTP/1.1\r\nHost: h\r\n")
	if d, b := closedAfter(c); d < 200*time.Millisecond || d > 2*time.Second || len(b) != 0 {
		t.Errorf("unfinished headers: closed after %v with %q", d, b)
	}
	// Answered, then idle: closed at the idle limit.
	c = dial()
	io.WriteString(c, "GET /w/hit HTTP/1.1\r\nHost: h\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "fast" || resp.Header.Get("X-Request-Id") == "" {
		t.Fatalf("wire answer %q %v", body, resp.Header)
	}
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF || time.Since(start) < 450*time.Millisecond || time.Since(start) > 3*time.Second {
		t.Errorf("idle: %v after %v", err, time.Since(start))
	}
	// Pipelined: answered here, handed over, and net/http goes on in order,
	// reading the handed request's body.
	c = dial()
	io.WriteString(c, "GET /w/hit HTTP/1.1\r\nHost: h\r\n\r\n"+
		"POST /w/post HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"+
		"GET /w/hit HTTP/1.1\r\nHost: h\r\n\r\n"+
		"GET /w/other HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	_, b := closedAfter(c)
	got := string(b)
	want := []string{"\r\n\r\nfast", "general /w/post", "\r\n\r\nfast", "general /w/other"}
	at := 0
	for _, w := range want {
		i := strings.Index(got[at:], w)
		if i < 0 {
			t.Fatalf("answers out of order or missing %q:\n%s", w, got)
		}
		at += i + len(w)
	}
	if n := strings.Count(got, "HTTP/1.1 200 OK"); n != 4 {
		t.Errorf("%d answers, want 4:\n%s", n, got)
	}
	// Many pipelined requests (more than the read buffer holds, split
	// anywhere): every one answered, in order, on the wire path.
	c = dial()
	before := s.wireAnswers.Load()
	go io.WriteString(c, strings.Repeat("GET /w/hit HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n", 299)+
		"GET /w/hit HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	_, b = closedAfter(c)
	if n := strings.Count(string(b), "HTTP/1.1 200 OK\r\n"); n != 300 || strings.Count(string(b), "\r\n\r\nfast") != 300 {
		t.Errorf("%d answers to 300 pipelined requests", n)
	}
	if got := s.wireAnswers.Load() - before; got != 299 {
		t.Errorf("%d answered on the wire path, want 299 (the last one closes: net/http's)", got)
	}
	// Trickled a byte at a time, a request is still answered on the wire path.
	c = dial()
	for _, ch := range []byte("GET /w/hit HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n") {
		c.Write([]byte{ch})
	}
	resp, err = http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	if string(body) != "fast" {
		t.Errorf("trickled: %q", body)
	}
}
