package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The wire path answers cached tiles on keep-alive connections without
// net/http: a listener wrapper reads each connection's requests itself, and
// answers those it fully understands — GET or HEAD of a path under a
// WirePath's prefix, HTTP/1.1, no query, headers it knows or may ignore —
// from the mount's precomputed header lines and bytes, with what serveFast
// adds (X-Content-Type-Options, a request id, the Date net/http would write,
// metrics, the access log line). At the first request it does not fully
// understand or the mount declines (a miss, a token, CORS, a body, an odd
// byte), it hands the connection to net/http for good: net/http then reads
// that request's bytes, and everything after them, as the client sent them.
// Requests are answered in order, one at a time, so a pipelining client gets
// its answers in order whoever gives them. The header-read and idle time
// limits are the http.Server's (ReadHeaderTimeout, IdleTimeout).
//
// What it buys (docs/tiles.md): net/http's per-request work — a Request,
// a header map, a sorted header write, a 4 KiB bufio copy of the body — is
// most of a cached tile's CPU; here a request is parsed in place and
// answered with one writev of the header block and the stored bytes.

// WirePath is a mount whose cached answers the wire path may send: for a
// GET or HEAD of path with those Accept-Encoding values and first
// If-None-Match value, the status, its header lines (each ending in CRLF,
// sorted as net/http sorts them, all sorting before X-Content-Type-Options)
// and the body, or ok=false to leave the request to net/http. It must
// answer exactly as its ServeFast would.
type WirePath interface {
	FastPath
	ServeWire(method, path string, acceptEncoding []string, ifNoneMatch string) (lines, body []byte, status int, route string, ok bool)
}

// Limits of what the wire path reads before it hands a request over.
const (
	wireMaxHead    = 8 << 10 // bytes of a request line and headers
	wireMaxTarget  = 512     // bytes of a request target
	wireMaxHeaders = 64      // header lines
)

// wireRequest is a request the wire path understands.
type wireRequest struct {
	head        bool // HEAD, else GET
	path        string
	acceptEnc   []string
	ifNoneMatch string // the first If-None-Match line's value
	forwarded   []string
	forwardedX  []string
}

// wireVerdict is what parseWire makes of the bytes read so far.
type wireVerdict int

const (
	wireMore    wireVerdict = iota // a request that may be understood, not complete yet
	wireOK                         // a complete request, understood: n bytes
	wireDecline                    // anything else: net/http's to judge
)

// parseWire reads one request from the start of b: the request line and the
// header block up to the empty line. It is strict: a request line other
// than "GET|HEAD SP /path SP HTTP/1.1", a target with a byte outside
// [A-Za-z0-9/_.,-] (so no query, no percent-encoding), bare LF, obs-fold,
// control bytes, a header name that is not a token, no Host or two, any
// header that would change the answer or frame a body (Authorization,
// Origin, X-Request-Id, Content-Length, Transfer-Encoding, Expect, Upgrade,
// TE, Trailer, Connection other than keep-alive), or more than the limits
// is declined. The strings of req point into b.
func parseWire(b []byte, prefix string) (req wireRequest, n int, v wireVerdict) {
	// The method, as soon as there are bytes to tell.
	var rest []byte
	switch {
	case hasPrefixPartial(b, "GET "):
		rest = b[min(len(b), 4):]
	case hasPrefixPartial(b, "HEAD "):
		req.head = true
		rest = b[min(len(b), 5):]
	default:
		return req, 0, wireDecline
	}
	if len(rest) == 0 || (req.head && len(b) < 5) || (!req.head && len(b) < 4) {
		return req, 0, wireMore
	}
	// The target, and the prefix as soon as its bytes are there.
	sp := bytes.IndexByte(rest, ' ')
	target := rest
	if sp >= 0 {
		target = rest[:sp]
	}
	if !hasPrefixPartial(target, prefix) || len(target) > wireMaxTarget {
		return req, 0, wireDecline
	}
	for _, c := range target {
		if !pathByte(c) {
			return req, 0, wireDecline
		}
	}
	if sp < 0 {
		return req, 0, wireMore
	}
	if len(target) < len(prefix) {
		return req, 0, wireDecline
	}
	rest = rest[sp+1:]
	const version = "HTTP/1.1\r\n"
	if !hasPrefixPartial(rest, version) {
		return req, 0, wireDecline
	}
	if len(rest) < len(version) {
		return req, 0, wireMore
	}
	rest = rest[len(version):]
	req.path = string(target)
	hosts, lines := 0, 0
	for {
		eol := bytes.IndexByte(rest, '\n')
		if eol < 0 {
			if cr := bytes.IndexByte(rest, '\r'); (cr >= 0 && cr < len(rest)-1) || len(b) > wireMaxHead {
				return req, 0, wireDecline // a CR not followed by LF, or too long
			}
			return req, 0, wireMore
		}
		if eol == 0 || rest[eol-1] != '\r' {
			return req, 0, wireDecline // bare LF
		}
		line := rest[:eol-1]
		rest = rest[eol+1:]
		if len(b)-len(rest) > wireMaxHead {
			return req, 0, wireDecline
		}
		if len(line) == 0 {
			break // the end of the header block
		}
		if lines++; lines > wireMaxHeaders {
			return req, 0, wireDecline
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return req, 0, wireDecline // no name, or obs-fold (a line starting with SP/HTAB has no token before ':')
		}
		name, value := line[:colon], line[colon+1:]
		for _, c := range name {
			if !tokenByte(c) {
				return req, 0, wireDecline
			}
		}
		for _, c := range value {
			if (c < 0x20 && c != '\t') || c == 0x7f {
				return req, 0, wireDecline
			}
		}
		value = bytes.Trim(value, " \t")
		switch {
		case equalFold(name, "host"):
			hosts++
			if len(value) == 0 {
				return req, 0, wireDecline
			}
			for _, c := range value {
				if !hostByte(c) {
					return req, 0, wireDecline
				}
			}
		case equalFold(name, "accept-encoding"):
			req.acceptEnc = append(req.acceptEnc, internEncoding(value))
		case equalFold(name, "if-none-match"):
			if req.ifNoneMatch == "" { // the first line's, as http.Header.Get
				if req.ifNoneMatch = string(value); req.ifNoneMatch == "" {
					return req, 0, wireDecline
				}
			}
		case equalFold(name, "connection"):
			if !equalFold(value, "keep-alive") {
				return req, 0, wireDecline
			}
		case equalFold(name, "x-forwarded-for"):
			req.forwardedX = append(req.forwardedX, string(value))
		case equalFold(name, "forwarded"):
			req.forwarded = append(req.forwarded, string(value))
		case equalFold(name, "authorization"), equalFold(name, "origin"), equalFold(name, "x-request-id"),
			equalFold(name, "content-length"), equalFold(name, "transfer-encoding"), equalFold(name, "expect"),
			equalFold(name, "upgrade"), equalFold(name, "te"), equalFold(name, "trailer"),
			equalFold(name, "proxy-connection"), equalFold(name, "keep-alive"), equalFold(name, "http2-settings"):
			return req, 0, wireDecline
		}
	}
	if hosts != 1 {
		return req, 0, wireDecline
	}
	return req, len(b) - len(rest), wireOK
}

// internEncoding returns value as a string, without allocating for the
// Accept-Encoding values browsers and tools send.
func internEncoding(value []byte) string {
	switch string(value) { // no allocation: the compiler compares in place
	case "gzip":
		return "gzip"
	case "gzip, deflate":
		return "gzip, deflate"
	case "gzip, deflate, br":
		return "gzip, deflate, br"
	case "gzip, deflate, br, zstd":
		return "gzip, deflate, br, zstd"
	case "br, gzip":
		return "br, gzip"
	}
	return string(value)
}

// hasPrefixPartial reports whether b and s agree on their common length
// (b may be a prefix of s still being read).
func hasPrefixPartial(b []byte, s string) bool {
	n := min(len(b), len(s))
	return string(b[:n]) == s[:n]
}

func pathByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '/' || c == '_' || c == '.' || c == ',' || c == '-'
}

func hostByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_'
}

// tokenByte is RFC 9110's tchar.
func tokenByte(c byte) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// equalFold compares an ASCII header name or value with a lower-case s.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// wireListener wraps the server's listener: its connections start on the
// wire path.
type wireListener struct {
	net.Listener
	s           *Server
	paths       []WirePath
	prefix      string        // what every wire request's target starts with
	headTimeout time.Duration // http.Server.ReadHeaderTimeout
	idleTimeout time.Duration // http.Server.IdleTimeout
	// writeTimeout bounds the writing of answers (the request time limit):
	// a client that stops reading cannot hold a Close (below) forever.
	writeTimeout time.Duration
}

func (l *wireListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &wireConn{Conn: c, l: l, start: time.Now()}, nil
}

// wireConn is a connection on the wire path until handed to net/http.
type wireConn struct {
	net.Conn
	l      *wireListener
	start  time.Time // accepted, or the first byte of the current request
	served int       // requests answered here
	handed bool      // net/http reads from pending, then from Conn
	// buf holds bytes read and not yet answered; after the handoff, pending
	// is what of it net/http has not read yet.
	buf, pending []byte
	rbuf         []byte // buf's backing array
	err          error  // the read error to give net/http after pending
	// out holds the header blocks of the answers not sent yet, queue their
	// places and bodies, bufs is reused by flush.
	out   []byte
	queue []queued
	bufs  net.Buffers
	// mu is held while answers are written: Close (http.Server.Shutdown
	// closes connections it takes for idle) waits for an answer being sent.
	mu       sync.Mutex
	deadline bool // a write deadline is set
}

// queued is an answer not sent yet: out[start:end] and the body.
type queued struct {
	start, end int
	body       []byte
}

// Read is net/http's read: on the wire path it answers requests until one
// is to be handed over (or the connection fails), then gives net/http the
// bytes read so far and reads on for it.
func (c *wireConn) Read(p []byte) (int, error) {
	if !c.handed {
		c.serve()
	}
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	if c.err != nil {
		return 0, c.err
	}
	return c.Conn.Read(p)
}

// serve answers requests until a handoff.
func (c *wireConn) serve() {
	defer func() {
		if c.deadline {
			c.Conn.SetWriteDeadline(time.Time{}) // net/http sets its own, or none
		}
		c.handed = true
		c.pending = c.buf
		c.buf = nil
	}()
	for {
		req, n, v := parseWire(c.buf, c.l.prefix)
		switch v {
		case wireOK:
			if !c.answer(req) {
				c.flush()
				return
			}
			c.buf = c.buf[n:]
			if len(c.buf) == 0 {
				c.buf = c.rbuf[:0] // back to the start of the buffer
			}
			continue
		case wireDecline:
			c.flush()
			return
		}
		// More bytes are needed: send what is answered first (a client
		// pipelining waits for nothing, one waiting for its answer gets it).
		if err := c.flush(); err != nil {
			c.err = err
			return
		}
		now := time.Now()
		if len(c.buf) == 0 && c.served > 0 {
			c.Conn.SetReadDeadline(deadline(now, c.l.idleTimeout))
		} else {
			c.Conn.SetReadDeadline(deadline(c.start, c.l.headTimeout))
		}
		if cap(c.buf)-len(c.buf) < 1024 {
			// Move the unanswered bytes to the front, and grow the buffer
			// only when that is not room enough (a request is at most
			// wireMaxHead bytes here, so it stays under 2×wireMaxHead).
			if len(c.buf) > 0 && len(c.rbuf) > 0 && &c.buf[0] != &c.rbuf[0] {
				c.buf = c.rbuf[:copy(c.rbuf[:cap(c.rbuf)], c.buf)]
			}
			if cap(c.buf)-len(c.buf) < 1024 {
				c.rbuf = make([]byte, max(4096, 2*cap(c.rbuf)))
				c.buf = c.rbuf[:copy(c.rbuf, c.buf)]
			}
		}
		empty := len(c.buf) == 0
		m, err := c.Conn.Read(c.buf[len(c.buf):cap(c.buf)])
		if m > 0 && empty && c.served > 0 {
			// A new request starts: its headers have the header timeout.
			c.start = time.Now()
			c.Conn.SetReadDeadline(deadline(c.start, c.l.headTimeout))
		}
		c.buf = c.buf[:len(c.buf)+m]
		if err != nil {
			c.err = err
			return
		}
	}
}

func deadline(from time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return from.Add(d)
}

// answer queues the answer to req, or reports false to hand it over.
func (c *wireConn) answer(req wireRequest) bool {
	s := c.l.s
	started := time.Now()
	method := http.MethodGet
	if req.head {
		method = http.MethodHead
	}
	for _, p := range c.l.paths {
		if len(req.path) < len(p.FastPrefix()) || req.path[:len(p.FastPrefix())] != p.FastPrefix() {
			continue
		}
		lines, body, status, route, ok := p.ServeWire(method, req.path, req.acceptEnc, req.ifNoneMatch)
		if !ok {
			continue
		}
		out := c.out
		start := len(out)
		out = append(out, "HTTP/1.1 "...)
		out = strconv.AppendInt(out, int64(status), 10)
		out = append(out, ' ')
		out = append(out, http.StatusText(status)...)
		out = append(out, "\r\n"...)
		out = append(out, lines...)
		out = append(out, "X-Content-Type-Options: nosniff\r\nX-Request-Id: "...)
		idStart := len(out)
		out = append(out, s.idPrefix...)
		out = strconv.AppendUint(out, s.idCounter.Add(1), 36)
		idEnd := len(out)
		out = append(out, "\r\nDate: "...)
		out = appendDate(out, started)
		out = append(out, "\r\n\r\n"...)
		c.served++
		s.wireAnswers.Add(1)
		elapsed := time.Since(started)
		s.metrics.observeFast(route, method, status, elapsed)
		if s.opts.AccessLog && s.deps.Logger.Enabled(context.Background(), slog.LevelInfo) {
			c.log(req, method, route, status, string(out[idStart:idEnd]), len(body), elapsed)
		}
		c.out = out
		c.queue = append(c.queue, queued{start, len(out), body})
		return true
	}
	return false
}

// log writes the access log line serveFast writes.
func (c *wireConn) log(req wireRequest, method, route string, status int, id string, bytes int, elapsed time.Duration) {
	s := c.l.s
	r := &http.Request{RemoteAddr: c.RemoteAddr().String(), Header: http.Header{}}
	if req.forwardedX != nil {
		r.Header["X-Forwarded-For"] = req.forwardedX
	}
	if req.forwarded != nil {
		r.Header["Forwarded"] = req.forwarded
	}
	s.deps.Logger.LogAttrs(context.Background(), slog.LevelInfo, "request", slog.String("request_id", id),
		slog.String("method", method), slog.String("path", req.path), slog.String("route", route),
		slog.Int("status", status), slog.String("client", s.links.Client(r)),
		slog.Int64("bytes", int64(bytes)), slog.Float64("ms", float64(elapsed.Microseconds())/1000))
}

// flush writes the queued answers (one writev).
func (c *wireConn) flush() error {
	if len(c.queue) == 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.l.writeTimeout > 0 {
		c.Conn.SetWriteDeadline(time.Now().Add(c.l.writeTimeout))
		c.deadline = true
	}
	bufs := c.bufs[:0]
	for _, q := range c.queue {
		bufs = append(bufs, c.out[q.start:q.end])
		if len(q.body) > 0 {
			bufs = append(bufs, q.body)
		}
	}
	c.bufs = bufs
	_, err := bufs.WriteTo(c.Conn) // consumes its copy of the slice header
	clear(c.bufs[:cap(c.bufs)])
	clear(c.queue)
	c.queue = c.queue[:0]
	c.out = c.out[:0]
	return err
}

// SetReadDeadline and SetDeadline are net/http's; on the wire path the
// wire path keeps its own (the same limits), and net/http's take effect at
// the handoff, when it next sets one.
func (c *wireConn) SetReadDeadline(t time.Time) error {
	if !c.handed {
		return nil
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *wireConn) SetDeadline(t time.Time) error {
	if !c.handed {
		return c.Conn.SetWriteDeadline(t)
	}
	return c.Conn.SetDeadline(t)
}

// Close waits for an answer being written.
func (c *wireConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Conn.Close()
}

// CloseWrite and ReadFrom keep what net/http finds on a *net.TCPConn: the
// half-close before closing after an error, and sendfile.
func (c *wireConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *wireConn) ReadFrom(r io.Reader) (int64, error) { return io.Copy(c.Conn, r) }

// appendDate appends t as net/http's Date header value, formatted once a
// second.
func appendDate(b []byte, t time.Time) []byte {
	sec := t.Unix()
	if d := wireDate.Load(); d != nil && d.sec == sec {
		return append(b, d.text...)
	}
	d := &dateText{sec: sec, text: t.UTC().AppendFormat(nil, http.TimeFormat)}
	wireDate.Store(d)
	return append(b, d.text...)
}

type dateText struct {
	sec  int64
	text []byte
}

var wireDate atomic.Pointer[dateText]
