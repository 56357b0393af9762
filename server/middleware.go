package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/server/respond"
)

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// withRequestID takes X-Request-Id from the client when it is sane, or makes
// one (a random per-process prefix and a counter: unique, and cheap on the
// hot path), and puts it in the context, the response and the logger.
func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID.MatchString(id) {
			id = s.requestID()
		}
		w.Header().Set("X-Request-Id", id)
		ctx := respond.WithRequestID(r.Context(), id)
		ctx = respond.WithLogger(ctx, s.deps.Logger.With("request_id", id))
		ctx = respond.WithLinks(ctx, s.links)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer (Flush).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// routeKey holds, in a request's context, where the router writes the
// matched route's template (recordRoute), so logging and metrics need no
// second route match.
type routeKey struct{}

// withLogging logs each request and records its metrics by route template.
func (s *Server) withLogging(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		route := "unmatched"
		ctx, outcome := respond.WithOutcome(context.WithValue(r.Context(), routeKey{}, &route))
		next.ServeHTTP(sw, r.WithContext(ctx))
		switch {
		case sw.status == 0 && outcome.Status == respond.StatusClientGone:
			sw.status = respond.StatusClientGone // nothing was sent: no one was there to read it
		case sw.status == 0:
			sw.status = http.StatusOK
		}
		elapsed := time.Since(start)
		s.metrics.observe(route, r.Method, sw.status, outcome.Reason, elapsed)
		if !s.opts.AccessLog && sw.status < 500 {
			return
		}
		level := slogLevel(sw.status)
		respond.Logger(r.Context()).Log(r.Context(), level, "request",
			"method", r.Method, "path", r.URL.Path, "route", route, "status", sw.status, "client", respond.ClientAddr(r),
			"bytes", sw.bytes, "ms", float64(elapsed.Microseconds())/1000)
	})
}

// recordRoute is router middleware: it runs after the one route match and
// writes the route's path template (bounded label cardinality for metrics)
// where withLogging reads it.
func recordRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := r.Context().Value(routeKey{}).(*string); ok {
			if t, err := mux.CurrentRoute(r).GetPathTemplate(); err == nil {
				*p = t
			}
		}
		next.ServeHTTP(w, r)
	})
}

// withRecover turns a panic into a logged 500 carrying only the request id.
func (s *Server) withRecover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				respond.Error(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// withTimeout bounds each request with a deadline derived from its context,
// and its body with a size limit; imports have their own, larger, bounds.
func (s *Server) withTimeout(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		timeout, limit := s.opts.RequestTimeout, s.opts.BodyLimit
		if isImport(r) {
			timeout, limit = s.opts.ImportTimeout, s.opts.ImportLimit
		}
		if timeout > 0 {
			ctx, cancel := context.WithTimeout(r.Context(), timeout)
			defer cancel()
			r = r.WithContext(ctx)
			// A client trickling its body cannot hold the connection longer.
			// The read deadline falls a little after the request's: when it
			// passes, net/http's background read fails and cancels the
			// request context, which would then read as a client that went
			// away (context.Canceled) instead of a timeout (503) — at the same
			// instant it won that race about half the time.
			http.NewResponseController(w).SetReadDeadline(time.Now().Add(timeout + readDeadlineGrace))
		}
		if r.Body != nil && limit > 0 {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		next.ServeHTTP(w, r)
	})
}

// withHeaders sets the headers every response carries, and answers CORS
// for the configured origins only (CORS is off by default: browsers then
// refuse cross-origin reads of the API).
func (s *Server) withHeaders(next http.Handler) http.Handler {
	origins := map[string]bool{}
	for _, o := range strings.Split(s.opts.CORSOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins[o] = true
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		origin := r.Header.Get("Origin")
		if origin != "" && (origins["*"] || origins[origin]) {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Expose-Headers", "ETag, Location, X-Request-Id, X-Cache")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, PATCH, DELETE")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match, If-None-Match, X-Request-Id")
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// withSaneInput refuses request paths and query values that no database
// text can hold (a NUL byte, invalid UTF-8) or that do not parse, before any
// handler sees them.
func (s *Server) withSaneInput(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bad := func(field, msg string) {
			respond.Error(w, r, lastmile.Invalid("the request URL is malformed", lastmile.Problem{Field: field, Message: msg}))
		}
		if s.opts.QueryLimit > 0 && len(r.URL.RawQuery) > s.opts.QueryLimit {
			respond.Error(w, r, &lastmile.Error{Code: lastmile.EURITOOLONG,
				Message: fmt.Sprintf("the query string is %d bytes, longer than the limit of %d (--query-limit)", len(r.URL.RawQuery), s.opts.QueryLimit),
				Details: []lastmile.Problem{{Field: "query", Message: fmt.Sprintf("at most %d bytes", s.opts.QueryLimit)}}})
			return
		}
		if !utf8.ValidString(r.URL.Path) || strings.ContainsRune(r.URL.Path, 0) {
			bad("path", "contains a NUL byte or invalid UTF-8")
			return
		}
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			bad("query", err.Error())
			return
		}
		for k := range q {
			if tokenParams[strings.ToLower(k)] {
				respond.Error(w, r, lastmile.Invalid("a token cannot be sent in the URL",
					lastmile.Problem{Field: k, Message: "URLs end up in access logs, proxies and browser histories: send the token in the Authorization header, as Bearer <token> or Basic with the token as the password"}))
				return
			}
		}
		for k, vs := range q {
			for _, v := range append(vs, k) {
				if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
					bad(strings.ToValidUTF8(strings.ReplaceAll(k, "\x00", ""), "?"), "contains a NUL byte or invalid UTF-8")
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// tokenParams are the query parameters that carry a token elsewhere (RFC
// 6750 §2.3's access_token and the usual others); lastmile takes tokens only
// from the Authorization header and refuses them in a URL.
var tokenParams = map[string]bool{"access_token": true, "token": true, "api_key": true, "apikey": true}

// readDeadlineGrace is how long after a request's time limit its
// connection's read deadline falls.
const readDeadlineGrace = time.Second

func isImport(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/import/") }

// notFound answers unknown paths with the JSON error shape.
func notFound(w http.ResponseWriter, r *http.Request) {
	respond.Error(w, r, lastmile.Errorf(lastmile.ENOTFOUND, "no such path: %s", r.URL.Path))
}
