package respond

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"

	kgzip "github.com/klauspost/compress/gzip"
)

// This file is the one place for HTTP content negotiation (tegola's
// server/middleware_gzip.go is the model): whether a client takes gzip,
// whether its validators match an entity tag, the base of absolute links,
// and the pooled gzip writers every handler compresses with.

// AcceptsGzip reports whether r's Accept-Encoding allows a gzip-encoded
// response (RFC 9110 §12.5.3): gzip (or its alias x-gzip) listed with a
// q-value above 0, or, when gzip is not listed, "*" with a q-value above 0.
// "gzip;q=0" refuses gzip even when "*" is listed; a missing header, or one
// that lists only identity or other codings, gets the bytes as they are. A
// q-value that does not parse counts as 0.
func AcceptsGzip(r *http.Request) bool {
	return acceptsGzip(r.Header.Values("Accept-Encoding"))
}

// AcceptsGzipValues is AcceptsGzip on the values of the request's
// Accept-Encoding header lines (the wire path parses requests itself).
func AcceptsGzipValues(values []string) bool { return acceptsGzip(values) }

func acceptsGzip(headers []string) bool {
	star, explicit := false, false
	for _, h := range headers {
		for part := range strings.SplitSeq(h, ",") {
			name, params, _ := strings.Cut(part, ";")
			name = strings.ToLower(strings.TrimSpace(name))
			if name != "gzip" && name != "x-gzip" && name != "*" {
				continue
			}
			ok := qValue(params) > 0
			if name == "*" {
				star = star || ok
				continue
			}
			if !ok {
				return false // an explicit refusal wins over any other mention
			}
			explicit = true
		}
	}
	return explicit || star
}

// qValue returns the weight in a coding's parameters (1 when absent, 0 when
// it does not parse or lies outside 0…1).
func qValue(params string) float64 {
	q := 1.0
	for p := range strings.SplitSeq(params, ";") {
		k, v, found := strings.Cut(strings.TrimSpace(p), "=")
		if !found || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 || f > 1 {
			return 0
		}
		q = f
	}
	return q
}

// ETag is one entity tag of an If-Match or If-None-Match list: Tag keeps
// its double quotes (`"3"`), Weak tells whether it carried W/.
type ETag struct {
	Tag  string
	Weak bool
}

// ParseETags splits an If-Match or If-None-Match value (RFC 9110 §13.1.1):
// "*" gives any = true; otherwise the entity tags of the comma-separated
// list (a quoted tag may itself hold commas). ok is false when the value is
// neither: an element that is not a quoted tag.
func ParseETags(header string) (tags []ETag, any bool, ok bool) {
	s := strings.TrimSpace(header)
	if s == "*" {
		return nil, true, true
	}
	for s != "" {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			break
		}
		if s[0] == ',' { // empty list elements are allowed (RFC 9110 §5.6.1)
			s = s[1:]
			continue
		}
		var t ETag
		if strings.HasPrefix(s, "W/") {
			t.Weak, s = true, s[2:]
		}
		if s == "" || s[0] != '"' {
			return nil, false, false
		}
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return nil, false, false
		}
		t.Tag, s = s[:end+2], strings.TrimLeft(s[end+2:], " \t")
		if s != "" && s[0] != ',' {
			return nil, false, false
		}
		tags = append(tags, t)
	}
	return tags, false, len(tags) > 0
}

// MatchETag reports whether a conditional header value matches one of the
// current entity tags (each quoted, e.g. `"3"`; a representation may have
// several, such as a plain and a gzip-encoded form). "*" matches any.
// For If-None-Match pass weak = true: the weak comparison ignores W/ on
// either side (RFC 9110 §13.1.2). For If-Match pass weak = false: the strong
// comparison never matches a W/ tag. A malformed value matches nothing.
func MatchETag(header string, weak bool, current ...string) bool {
	if header == "" {
		return false
	}
	tags, any, ok := ParseETags(header)
	if any {
		return true
	}
	if !ok {
		return false
	}
	for _, t := range tags {
		if t.Weak && !weak {
			continue
		}
		for _, c := range current {
			cw := strings.HasPrefix(c, "W/")
			if cw && !weak {
				continue
			}
			if t.Tag == strings.TrimPrefix(c, "W/") {
				return true
			}
		}
	}
	return false
}

// gzipWriters reuses gzip writers: each holds about 800 KB of compressor
// state, and a tile server making one per response spends more time in the
// allocator than in deflate.
var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return w
}}

// GzipWriter returns a pooled gzip writer at BestSpeed writing to w: on MVT
// and GeoJSON it costs half the CPU of the default level for about 10 % more
// bytes. Close it (which flushes the gzip stream) and give it back with
// PutGzipWriter.
func GzipWriter(w io.Writer) *gzip.Writer {
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(w)
	return zw
}

// PutGzipWriter returns zw to the pool; zw must not be used afterwards.
func PutGzipWriter(zw *gzip.Writer) {
	zw.Reset(io.Discard)
	gzipWriters.Put(zw)
}

// fastGzipWriters are the writers of Gzip: klauspost/compress at level 2,
// which on the tiles of bench/roads1m.sql (z12–z14 MVT) compresses as well
// as compress/gzip at BestSpeed (55 % of the bytes) in half the CPU
// (188 against 95 MB/s here). An uncached tile is gzipped once per request,
// and that was 45 % of the server's own CPU per tile (docs/tiles.md).
var fastGzipWriters = sync.Pool{New: func() any {
	w, _ := kgzip.NewWriterLevel(nil, 2)
	return w
}}

// Gzip returns b gzip-compressed with a pooled writer.
func Gzip(b []byte) []byte {
	buf := bytes.NewBuffer(make([]byte, 0, len(b)*5/8+256))
	zw := fastGzipWriters.Get().(*kgzip.Writer)
	zw.Reset(buf)
	zw.Write(b) // writes to a bytes.Buffer do not fail
	zw.Close()
	zw.Reset(io.Discard)
	fastGzipWriters.Put(zw)
	out := buf.Bytes()
	if cap(out)-len(out) > len(out)/8 {
		out = bytes.Clone(out) // no spare capacity kept alive in caches
	}
	return out
}

// Links decides the base of every absolute link the server writes
// (TileJSON tile URLs, OGC links, the OpenAPI servers entry).
type Links struct {
	// Public, when set, is the base of every link ("https://gis.example.org"
	// or with a path prefix, "https://example.org/lastmile"; no trailing
	// slash): the request's Host and forwarding headers are then ignored.
	Public string
	// Trusted are the networks of reverse proxies whose X-Forwarded-Proto
	// and X-Forwarded-Host are believed (first value of a list: the one the
	// proxy nearest the client wrote). Other clients' forwarding headers are
	// ignored, so no client can make links point elsewhere.
	Trusted []netip.Prefix
}

// DefaultLinks trusts forwarding headers from loopback only: a reverse
// proxy on the same machine works without configuration, a remote client
// cannot spoof them.
var DefaultLinks = Links{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}

type linksKey struct{}

// WithLinks returns ctx carrying the link settings BaseURL follows.
func WithLinks(ctx context.Context, l *Links) context.Context {
	return context.WithValue(ctx, linksKey{}, l)
}

// BaseURL is the base of absolute links for r: the Links in r's context
// (DefaultLinks when none) applied to r.
func BaseURL(r *http.Request) string {
	return linksOf(r).Base(r)
}

// linksOf is the Links in r's context, DefaultLinks when none.
func linksOf(r *http.Request) *Links {
	if l, ok := r.Context().Value(linksKey{}).(*Links); ok {
		return l
	}
	return &DefaultLinks
}

// Base is the public URL when set; otherwise the scheme and host clients
// reached the server by: https when the connection is TLS, the Host header
// ("localhost" when empty), each replaced by the first value of
// X-Forwarded-Proto (http or https) and X-Forwarded-Host when the request
// comes from a trusted proxy.
func (l *Links) Base(r *http.Request) string {
	if l.Public != "" {
		return l.Public
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if l.trusted(r.RemoteAddr) {
		if p := strings.ToLower(strings.TrimSpace(firstValue(r.Header.Get("X-Forwarded-Proto")))); p == "http" || p == "https" {
			scheme = p
		}
		if h := strings.TrimSpace(firstValue(r.Header.Get("X-Forwarded-Host"))); validHost(h) {
			host = h
		}
	}
	if !validHost(host) {
		host = "localhost"
	}
	return scheme + "://" + host
}

func (l *Links) trusted(remoteAddr string) bool {
	a, ok := addrOf(remoteAddr) // not a Unix socket or a test's made-up address
	return ok && l.trustedAddr(a)
}

// validHost reports whether h is a plausible host[:port]: letters, digits
// and . - : [ ] _ only, so a forwarded value cannot carry a path, a quote or
// another URL into links.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-:[]_", c)) {
			return false
		}
	}
	return true
}

// firstValue is the first element of a comma-separated header value (the
// one the proxy nearest the client wrote).
func firstValue(h string) string {
	v, _, _ := strings.Cut(h, ",")
	return v
}

// ParsePublicURL checks a --public-url value: an absolute http or https URL
// with a host, optionally a path prefix, no query or fragment. It returns it
// without a trailing slash ("" stays "").
func ParsePublicURL(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !validHost(u.Host) ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.HasSuffix(s, "?") {
		return "", fmt.Errorf("%q is not an absolute http(s) URL such as https://gis.example.org or https://example.org/lastmile (no query, fragment or user)", s)
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}

// ParseTrustedProxies parses a comma-separated list of CIDR networks or
// single addresses (10.0.0.0/8, 192.0.2.7, ::1); "" trusts no proxy.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR network (10.0.0.0/8) nor an address (192.0.2.7)", part)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}
