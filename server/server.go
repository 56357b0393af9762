// Package server is lastmile's HTTP side: the router, middleware (request
// id, slog logging, recovery, timeouts, body limits, Prometheus), health
// endpoints, the OGC API Features handlers, and the mounting of tiles/,
// stats/, ingest/ and static/.
package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
)

// Options are the server's own settings, each with a flag.
type Options struct {
	Addr           string
	RequestTimeout time.Duration // per request, derived from the request context
	BodyLimit      int64         // bytes, for JSON bodies
	ImportLimit    int64         // bytes, for POST /api/import bodies
	ImportTimeout  time.Duration // time limit of one import request
	ShutdownGrace  time.Duration
	AccessLog      bool   // log every request (false: only failed ones, status ≥ 500)
	Private        bool   // reads of /ogc collections and items need a token with scope read
	CORSOrigins    string // comma-separated origins allowed to call the API from a browser; "*" for any; empty: none
}

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

// Server is the HTTP server.
type Server struct {
	opts    Options
	deps    Deps
	router  *mux.Router
	metrics *metrics
}

// New returns a server with every route registered.
func New(opts Options, deps Deps) *Server {
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Store == nil && deps.Pool != nil {
		deps.Store = postgis.NewStore(deps.Pool, deps.Catalog)
	}
	s := &Server{opts: opts, deps: deps, router: mux.NewRouter(), metrics: newMetrics(deps.Pool)}
	s.routes()
	return s
}

// Handler returns the root handler with all middleware applied.
func (s *Server) Handler() http.Handler {
	return s.withRequestID(s.withLogging(s.withRecover(s.withHeaders(s.withSaneInput(s.withTimeout(s.withAuth(s.router)))))))
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
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.deps.Logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownGrace)
	defer cancel()
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
