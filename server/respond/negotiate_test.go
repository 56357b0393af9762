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
	tests := []struct {
		name  string
		host  string
		tls   bool
		proto string
		want  string
	}{
		{"plain", "example.org", false, "", "http://example.org"},
		{"tls", "example.org", true, "", "https://example.org"},
		{"forwarded https", "example.org:8080", false, "https", "https://example.org:8080"},
		{"forwarded list takes the first", "example.org", false, "https, http", "https://example.org"},
		{"forwarded upper case", "example.org", false, "HTTPS", "https://example.org"},
		{"forwarded junk ignored", "example.org", false, "gopher", "http://example.org"},
		{"no host", "", false, "", "http://localhost"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/x", nil)
			r.Host = tc.host
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			} else {
				r.TLS = nil
			}
			if tc.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			if got := BaseURL(r); got != tc.want {
				t.Errorf("BaseURL = %q, want %q", got, tc.want)
			}
		})
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
