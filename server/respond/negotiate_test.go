package respond

import (
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		name    string
		headers []string // one value per Accept-Encoding line
		want    bool
	}{
		{"no header", nil, false},
		{"empty", []string{""}, false},
		{"gzip", []string{"gzip"}, true},
		{"case", []string{"GZIP"}, true},
		{"in a list with q", []string{"deflate, gzip;q=0.8, br"}, true},
		{"x-gzip alias", []string{"x-gzip"}, true},
		{"q=0 refuses", []string{"gzip;q=0"}, false},
		{"q=0.0 with spaces", []string{"gzip ; q = 0.0"}, false},
		{"q=0.000", []string{"gzip;q=0.000"}, false},
		{"q=0.001", []string{"gzip;q=0.001"}, true},
		{"q=1", []string{"gzip;q=1"}, true},
		{"upper-case Q", []string{"gzip;Q=0"}, false},
		{"q unparsable", []string{"gzip;q=abc"}, false},
		{"q above 1", []string{"gzip;q=2"}, false},
		{"q overflow", []string{"gzip;q=1e400"}, false},
		{"star", []string{"*"}, true},
		{"star q=0", []string{"*;q=0"}, false},
		{"gzip q=0 beats star", []string{"gzip;q=0, *"}, false},
		{"star first, gzip q=0 later", []string{"*, gzip;q=0"}, false},
		{"star with weight", []string{"br, *;q=0.1"}, true},
		{"identity only", []string{"identity"}, false},
		{"identity refused, gzip listed", []string{"identity;q=0, gzip"}, true},
		{"prefix is not gzip", []string{"gzipped"}, false},
		{"two header lines", []string{"br", "gzip"}, true},
		{"two lines, refusal in second", []string{"*", "gzip;q=0"}, false},
		{"empty elements", []string{" , ,gzip,"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			for _, h := range tc.headers {
				r.Header.Add("Accept-Encoding", h)
			}
			if got := AcceptsGzip(r); got != tc.want {
				t.Errorf("AcceptsGzip(%q) = %v, want %v", tc.headers, got, tc.want)
			}
		})
	}
}

func TestParseETags(t *testing.T) {
	tests := []struct {
		header string
		tags   []ETag
		any    bool
		ok     bool
	}{
		{`*`, nil, true, true},
		{` * `, nil, true, true},
		{`"3"`, []ETag{{`"3"`, false}}, false, true},
		{`W/"3"`, []ETag{{`"3"`, true}}, false, true},
		{`"a", W/"b" ,"c"`, []ETag{{`"a"`, false}, {`"b"`, true}, {`"c"`, false}}, false, true},
		{`"a,b"`, []ETag{{`"a,b"`, false}}, false, true},
		{`, "a",,`, []ETag{{`"a"`, false}}, false, true},
		{`""`, []ETag{{`""`, false}}, false, true},
		{``, nil, false, false},
		{`3`, nil, false, false},
		{`"3`, nil, false, false},
		{`"3"x`, nil, false, false},
		{`w/"3"`, nil, false, false},
		{`*, "3"`, nil, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.header, func(t *testing.T) {
			tags, any, ok := ParseETags(tc.header)
			if ok != tc.ok || any != tc.any || len(tags) != len(tc.tags) {
				t.Fatalf("ParseETags(%q) = %v, %v, %v; want %v, %v, %v", tc.header, tags, any, ok, tc.tags, tc.any, tc.ok)
			}
			for i := range tags {
				if tags[i] != tc.tags[i] {
					t.Errorf("tag %d = %+v, want %+v", i, tags[i], tc.tags[i])
				}
			}
		})
	}
}

func TestMatchETag(t *testing.T) {
	current := []string{`"abc"`, `"abc-gz"`}
	tests := []struct {
		name   string
		header string
		weak   bool
		want   bool
	}{
		{"empty", "", true, false},
		{"exact", `"abc"`, true, true},
		{"second form", `"abc-gz"`, true, true},
		{"weak comparison ignores W/", `W/"abc"`, true, true},
		{"strong comparison refuses W/", `W/"abc"`, false, false},
		{"strong exact", `"abc"`, false, true},
		{"list", `"x", "abc"`, true, true},
		{"list without match", `"x", "y"`, true, false},
		{"star", `*`, true, true},
		{"star strong", `*`, false, true},
		{"prefix is no match", `"ab"`, true, false},
		{"unquoted", `abc`, true, false},
		{"substring of a longer tag", `"xabc"`, true, false},
		{"malformed list", `"abc" junk`, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MatchETag(tc.header, tc.weak, current...); got != tc.want {
				t.Errorf("MatchETag(%q, weak=%v) = %v, want %v", tc.header, tc.weak, got, tc.want)
			}
		})
	}
	if !MatchETag(`"abc"`, true, `W/"abc"`) || MatchETag(`"abc"`, false, `W/"abc"`) {
		t.Error("a weak current tag: weak comparison must match, strong must not")
	}
}

func TestBaseURL(t *testing.T) {
	proxies, err := ParseTrustedProxies("10.0.0.0/8, 192.0.2.7, ::1")
	if err != nil {
		t.Fatal(err)
	}
	trusting := &Links{Trusted: proxies}
	public := &Links{Public: "https://gis.example.org/lastmile", Trusted: proxies}
	tests := []struct {
		name   string
		links  *Links // nil: none in the context (DefaultLinks)
		remote string
		host   string
		tls    bool
		header []string
		want   string
	}{
		{"plain", trusting, "203.0.113.5:4000", "example.org", false, nil, "http://example.org"},
		{"tls", trusting, "203.0.113.5:4000", "example.org", true, nil, "https://example.org"},
		{"untrusted client's forwarding ignored", trusting, "203.0.113.5:4000", "example.org", false,
			[]string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example"}, "http://example.org"},
		{"trusted proxy", trusting, "10.1.2.3:4000", "internal:8080", false,
			[]string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "gis.example.org"}, "https://gis.example.org"},
		{"trusted single address", trusting, "192.0.2.7:1", "internal", false,
			[]string{"X-Forwarded-Proto", "https"}, "https://internal"},
		{"trusted IPv6", trusting, "[::1]:1", "internal", false, []string{"X-Forwarded-Host", "a.example"}, "http://a.example"},
		{"lists take the first value", trusting, "10.0.0.1:1", "internal", false,
			[]string{"X-Forwarded-Proto", "https, http", "X-Forwarded-Host", "a.example, b.example"}, "https://a.example"},
		{"forwarded upper case", trusting, "10.0.0.1:1", "internal", false, []string{"X-Forwarded-Proto", "HTTPS"}, "https://internal"},
		{"forwarded junk ignored", trusting, "10.0.0.1:1", "internal", false,
			[]string{"X-Forwarded-Proto", "gopher", "X-Forwarded-Host", `a.example/"><script>`}, "http://internal"},
		{"public URL wins over everything", public, "10.0.0.1:1", "internal", true,
			[]string{"X-Forwarded-Proto", "http", "X-Forwarded-Host", "a.example"}, "https://gis.example.org/lastmile"},
		{"no host", trusting, "203.0.113.5:4000", "", false, nil, "http://localhost"},
		{"default trusts loopback", nil, "127.0.0.1:5000", "localhost:8080", false,
			[]string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "gis.example.org"}, "https://gis.example.org"},
		{"default ignores others", nil, "198.51.100.1:5000", "localhost:8080", false,
			[]string{"X-Forwarded-Proto", "https"}, "http://localhost:8080"},
		{"trust none", &Links{}, "127.0.0.1:5000", "localhost:8080", false,
			[]string{"X-Forwarded-Proto", "https"}, "http://localhost:8080"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/x", nil)
			r.RemoteAddr, r.Host = tc.remote, tc.host
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			} else {
				r.TLS = nil
			}
			for i := 0; i+1 < len(tc.header); i += 2 {
				r.Header.Set(tc.header[i], tc.header[i+1])
			}
			if tc.links != nil {
				r = r.WithContext(WithLinks(r.Context(), tc.links))
			}
			if got := BaseURL(r); got != tc.want {
				t.Errorf("BaseURL = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParsePublicURL(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{"https://gis.example.org", "https://gis.example.org", true},
		{"https://gis.example.org/", "https://gis.example.org", true},
		{"http://example.org:8080/lastmile/", "http://example.org:8080/lastmile", true},
		{"gis.example.org", "", false},
		{"ftp://example.org", "", false},
		{"https://example.org/?a=1", "", false},
		{"https://example.org/#x", "", false},
		{"https://user:pw@example.org", "", false},
		{"https://", "", false},
	}
	for _, tc := range tests {
		got, err := ParsePublicURL(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParsePublicURL(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies(" 10.1.2.3/8 ,192.0.2.7,, ::1, fd00::/8")
	want := []string{"10.0.0.0/8", "192.0.2.7/32", "::1/128", "fd00::/8"}
	if err != nil || len(got) != len(want) {
		t.Fatalf("got %v, %v", got, err)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("%d: %s, want %s", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "localhost", "10.0.0"} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if p, err := ParseTrustedProxies(""); err != nil || len(p) != 0 {
		t.Errorf(`"" = %v, %v; want none`, p, err)
	}
}

func TestGzip(t *testing.T) {
	in := bytes.Repeat([]byte("lastmile "), 1000)
	var wg sync.WaitGroup
	for range 8 { // the pool is shared: concurrent use must not mix streams
		wg.Add(1)
		go func() {
			defer wg.Done()
			zr, err := gzip.NewReader(bytes.NewReader(Gzip(in)))
			if err != nil {
				t.Error(err)
				return
			}
			out, err := io.ReadAll(zr)
			if err != nil || !bytes.Equal(out, in) {
				t.Errorf("round trip: %d bytes, err %v", len(out), err)
			}
		}()
	}
	wg.Wait()
	var buf bytes.Buffer
	zw := GzipWriter(&buf)
	io.WriteString(zw, "hello")
	zw.Close()
	PutGzipWriter(zw)
	zr, _ := gzip.NewReader(&buf)
	if out, _ := io.ReadAll(zr); string(out) != "hello" {
		t.Errorf("GzipWriter stream = %q", out)
	}
}

// FuzzNegotiationHeaders: the Accept-Encoding and entity-tag parsers never
// panic, a single quoted tag always matches itself, and a tag list parses
// to tags that each match the list.
func FuzzNegotiationHeaders(f *testing.F) {
	for _, s := range []string{"gzip", "gzip;q=0", "*;q=", `W/"a", "b"`, ";;,,", "gzip;q=1e400", `"a,b"`, `*`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		acceptsGzip([]string{h})
		tags, _, ok := ParseETags(h)
		MatchETag(h, true, `"abc"`)
		if ok {
			for _, tag := range tags {
				if !MatchETag(h, true, tag.Tag) {
					t.Fatalf("%q does not match its own tag %q", h, tag.Tag)
				}
			}
		}
		if s := strings.TrimSpace(h); strings.Count(s, `"`) == 2 && strings.HasPrefix(s, `"`) && strings.HasSuffix(s, `"`) && !MatchETag(h, false, s) {
			t.Fatalf("%q does not match itself", h)
		}
	})
}
