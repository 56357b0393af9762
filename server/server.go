// Package server is lastmile's HTTP side: the router, middleware (request
// id, slog logging, recovery, timeouts, body limits, Prometheus), health
// endpoints, the OGC API Features handlers, and the mounting of tiles/,
// stats/, ingest/ and static/.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/server/respond"
)

// Options are the server's own settings, each with a flag.
type Options struct {
	Addr           string
	RequestTimeout time.Duration // per request, derived from the request context
	BodyLimit      int64         // bytes, for JSON bodies
	ImportLimit    int64         // bytes, for POST /api/import bodies
	ImportTimeout  time.Duration // time limit of one import request
	ShutdownGrace  time.Duration
	AccessLog      bool // log every request (false: only failed ones, status ≥ 500)
	Private        bool // reads of /ogc collections and items need a token with scope read
	// RequireIfMatch refuses a feature write without If-Match (428); by
	// default one is applied and recorded in the history as unconditional.
	RequireIfMatch bool
	CORSOrigins    string // comma-separated origins allowed to call the API from a browser; "*" for any; empty: none
	// PublicURL, when set, is the base of every absolute link (checked by
	// respond.ParsePublicURL); empty: links follow the request.
	PublicURL string
	// TrustedProxies are the networks whose X-Forwarded-Proto/-Host and
	// X-Forwarded-For/Forwarded are believed (nil: none; the flag's default
	// is loopback).
	TrustedProxies []netip.Prefix
	// QueryLimit is the longest query string accepted, in bytes (414 above;
	// 0: no limit).
	QueryLimit int
	// MetricsAddr, when set, is a second listener serving only /metrics,
	// without a token (for a scraper on a private network).
	MetricsAddr string
	// Wire answers the cached requests of mounts that have a wire path
	// (cached tiles) on keep-alive connections without net/http (wire.go).
	Wire bool
}

// DefaultQueryLimit is the longest query string accepted by default: 8 KiB,
// the request-line limit nginx (large_client_header_buffers) and Apache
// (LimitRequestLine) apply, so nothing a proxy passes is refused here, and a
// filter echoed into self/next/prev links adds at most three times that.
const DefaultQueryLimit = 8 << 10

// RegisterFlags adds the options' flags to fs.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Addr, "addr", ":8080", "address to listen on")
	fs.DurationVar(&o.RequestTimeout, "request-timeout", 30*time.Second, "time limit of one request")
	fs.Int64Var(&o.BodyLimit, "body-limit", 10<<20, "largest request body in bytes (imports have their own limit)")
	fs.Int64Var(&o.ImportLimit, "import-limit", 2<<30, "largest import upload in bytes (413 above)")
	fs.DurationVar(&o.ImportTimeout, "import-timeout", 30*time.Minute, "time limit of one import request")
	fs.BoolVar(&o.AccessLog, "access-log", true, "log every request; false logs only failed ones (5xx) — about 14 % more cached tiles per second")
	fs.DurationVar(&o.ShutdownGrace, "shutdown-grace", 10*time.Second, "time given to requests in flight on shutdown")
	fs.StringVar(&o.CORSOrigins, "cors-origins", "", "comma-separated origins allowed cross-origin access (\"*\" for any); empty: CORS off")
	fs.BoolVar(&o.Private, "private", false, "make feature reads (/ogc collections and items) need a token with scope read")
	fs.BoolVar(&o.RequireIfMatch, "require-if-match", false, "refuse feature writes (PUT, PATCH, DELETE) without an If-Match header (428); by default they are applied and recorded in the history as unconditional (precondition \"none\"), as QGIS never sends If-Match")
	fs.Func("public-url", "base of every absolute link (TileJSON tiles, OGC links, OpenAPI servers), e.g. https://gis.example.org or https://example.org/lastmile; empty: from the request (Host, and X-Forwarded-* from --trusted-proxies)", func(v string) error {
		u, err := respond.ParsePublicURL(v)
		o.PublicURL = u
		return err
	})
	o.TrustedProxies = respond.DefaultLinks.Trusted
	fs.Var(proxiesFlag{&o.TrustedProxies}, "trusted-proxies", "comma-separated networks (CIDR) or addresses of reverse proxies whose X-Forwarded-Proto and X-Forwarded-Host (links) and X-Forwarded-For or Forwarded (the client address of per-client limits and the access log) are believed; empty: none")
	fs.IntVar(&o.QueryLimit, "query-limit", DefaultQueryLimit, "longest query string accepted, in bytes (414 above)")
	fs.BoolVar(&o.Wire, "wire", true, "answer cached tiles on keep-alive connections with lastmile's own HTTP/1.1 responder instead of net/http (the same bytes; any other request goes to net/http); false: every request through net/http")
	fs.StringVar(&o.MetricsAddr, "metrics-addr", "", "address of a second listener serving only /metrics without a token (e.g. 127.0.0.1:9090); /metrics on --addr always needs a token with scope metrics")
}

// proxiesFlag is --trusted-proxies: a list of networks, checked when set.
type proxiesFlag struct{ p *[]netip.Prefix }

func (f proxiesFlag) String() string {
	if f.p == nil {
		return ""
	}
	var s []string
	for _, p := range *f.p {
		s = append(s, p.String())
	}
	return strings.Join(s, ",")
}

func (f proxiesFlag) Set(v string) error {
	p, err := respond.ParseTrustedProxies(v)
	if err == nil {
		*f.p = p
	}
	return err
}

// Deps are what the server is built from.
type Deps struct {
	Pool    *pgxpool.Pool
	Catalog *layer.Catalog
	// Store reads and writes features for the OGC handlers; nil means
	// postgis.NewStore(Pool, Catalog).
	Store  FeatureStore
	Logger *slog.Logger
	// Tokens resolves bearer tokens; nil means postgis.NewTokens(Pool, Catalog).
	Tokens Authenticator
	// Mounts add the routes of other packages (tiles, stats, import, page).
	Mounts []Mount
}

// Mount is a package's routes: it registers them on the router.
type Mount interface {
	Register(r *mux.Router)
}

// FastPath is a mount that answers some requests under FastPrefix before
// the router and the general middleware (the cached-tile path): ServeFast
// writes the whole response and returns its status and route template, or
// writes nothing and returns ok=false, and the request then takes the
// general path. It is only offered GET and HEAD requests without an
// Authorization, Origin or X-Request-Id header, so what the general
// middleware would do for them is what serveFast does: a request id,
// X-Content-Type-Options, metrics, the access log when on, recovery.
type FastPath interface {
	FastPrefix() string
	ServeFast(w http.ResponseWriter, r *http.Request) (status int, route string, ok bool)
}

// Server is the HTTP server.
type Server struct {
	opts    Options
	deps    Deps
	router  *mux.Router
	metrics *metrics
	links   *respond.Links
	fast    []FastPath

	idPrefix  string        // request ids: a random per-process prefix...
	idCounter atomic.Uint64 // ...and a counter

	wireAnswers atomic.Uint64 // requests answered on the wire path
}

// New returns a server with every route registered.
func New(opts Options, deps Deps) *Server {
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Store == nil && deps.Pool != nil {
		deps.Store = postgis.NewStore(deps.Pool, deps.Catalog)
	}
	s := &Server{opts: opts, deps: deps, router: mux.NewRouter(), metrics: newMetrics(deps.Pool),
		links: &respond.Links{Public: opts.PublicURL, Trusted: opts.TrustedProxies}}
	for _, m := range deps.Mounts {
		if c, ok := m.(prometheus.Collector); ok { // e.g. the tile cache's counters
			s.metrics.registry.MustRegister(c)
		}
		if f, ok := m.(FastPath); ok {
			s.fast = append(s.fast, f)
		}
	}
	s.metrics.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "lastmile_http_wire_answers_total",
		Help: "Requests answered on the wire path (cached tiles without net/http; also counted in lastmile_http_requests_total).",
	}, func() float64 { return float64(s.wireAnswers.Load()) }))
	b := make([]byte, 4)
	rand.Read(b)
	s.idPrefix = hex.EncodeToString(b) + "-"

	s.routes()
	return s
}

// Handler returns the root handler with all middleware applied, and the
// mounts' fast paths tried first.
func (s *Server) Handler() http.Handler {
	general := s.withRequestID(s.withLogging(s.withRecover(s.withHeaders(s.withSaneInput(s.withTimeout(s.withAuth(s.router)))))))
	if len(s.fast) == 0 {
		return general
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.Header["Authorization"] == nil &&
			r.Header["Origin"] == nil && r.Header["X-Request-Id"] == nil {
			for _, f := range s.fast {
				if strings.HasPrefix(r.URL.Path, f.FastPrefix()) && s.serveFast(f, w, r) {
					return
				}
			}
		}
		general.ServeHTTP(w, r)
	})
}

// nosniff is the X-Content-Type-Options value of every response.
var nosniff = []string{"nosniff"}

// serveFast offers the request to f with what the general middleware adds
// to every response, and records it as withLogging would. The fast path's
// answers are never 5xx (those come from the general path).
func (s *Server) serveFast(f FastPath, w http.ResponseWriter, r *http.Request) (served bool) {
	start := time.Now()
	h := w.Header()
	id := s.requestID()
	h["X-Request-Id"] = []string{id}
	h["X-Content-Type-Options"] = nosniff
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			served = true
			ctx := respond.WithRequestID(r.Context(), id)
			ctx = respond.WithLogger(ctx, s.deps.Logger.With("request_id", id))
			ctx, outcome := respond.WithOutcome(ctx)
			respond.Error(w, r.WithContext(ctx), fmt.Errorf("panic: %v", v))
			s.metrics.observe(f.FastPrefix()+"*", r.Method, http.StatusInternalServerError, outcome.Reason, time.Since(start))
		}
	}()
	status, route, ok := f.ServeFast(w, r)
	if !ok {
		return false
	}
	elapsed := time.Since(start)
	s.metrics.observeFast(route, r.Method, status, elapsed)
	if s.opts.AccessLog && s.deps.Logger.Enabled(r.Context(), slog.LevelInfo) {
		var bytes int64
		if status == http.StatusOK && r.Method != http.MethodHead {
			bytes, _ = strconv.ParseInt(h.Get("Content-Length"), 10, 64)
		}
		s.deps.Logger.LogAttrs(r.Context(), slog.LevelInfo, "request", slog.String("request_id", id),
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("route", route),
			slog.Int("status", status), slog.String("client", s.links.Client(r)),
			slog.Int64("bytes", bytes), slog.Float64("ms", float64(elapsed.Microseconds())/1000))
	}
	return true
}

// wireListener wraps ln in the wire path (wire.go) when it is on and a
// mount has one; nil otherwise.
func (s *Server) wireListener(ln net.Listener, srv *http.Server) net.Listener {
	if !s.opts.Wire {
		return nil
	}
	var paths []WirePath
	prefix := ""
	for _, f := range s.fast {
		if w, ok := f.(WirePath); ok {
			paths = append(paths, w)
			if prefix == "" {
				prefix = w.FastPrefix()
			}
			for !strings.HasPrefix(w.FastPrefix(), prefix) {
				prefix = prefix[:len(prefix)-1]
			}
		}
	}
	if len(paths) == 0 {
		return nil
	}
	return &wireListener{Listener: ln, s: s, paths: paths, prefix: prefix,
		headTimeout: srv.ReadHeaderTimeout, idleTimeout: srv.IdleTimeout, writeTimeout: s.opts.RequestTimeout}
}

// requestID returns a new request id.
func (s *Server) requestID() string {
	return s.idPrefix + strconv.FormatUint(s.idCounter.Add(1), 36)
}

// ListenAndServe serves until ctx is cancelled, then shuts down gracefully.
// ready, when not nil, receives the listening address.
func (s *Server) ListenAndServe(ctx context.Context, ready func(addr string)) error {
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %v (choose another --addr / LASTMILE_ADDR)", s.opts.Addr, rootCause(err))
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// No server-wide ReadTimeout: each request gets a read deadline of
		// its own time limit (imports stream large bodies for longer).
		IdleTimeout: 2 * time.Minute,
		ErrorLog:    slog.NewLogLogger(s.deps.Logger.Handler(), slog.LevelWarn),
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if wl := s.wireListener(ln, srv); wl != nil {
		ln = wl
	}
	errc := make(chan error, 2)
	var msrv *http.Server
	if s.opts.MetricsAddr != "" {
		mln, err := net.Listen("tcp", s.opts.MetricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("cannot listen on %s: %v (choose another --metrics-addr / LASTMILE_METRICS_ADDR)", s.opts.MetricsAddr, rootCause(err))
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", s.metricsHandler(false))
		msrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
			ErrorLog: srv.ErrorLog, BaseContext: srv.BaseContext}
		s.deps.Logger.Info("metrics listener", "addr", mln.Addr().String())
		go func() { errc <- msrv.Serve(mln) }()
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.deps.Logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownGrace)
	defer cancel()
	if msrv != nil {
		msrv.Shutdown(sctx)
	}
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// rootCause returns the innermost error of err's chain ("address already in
// use" rather than "listen tcp 127.0.0.1:80: bind: address already in use").
func rootCause(err error) error {
	for {
		inner := errors.Unwrap(err)
		if inner == nil {
			return err
		}
		err = inner
	}
}
