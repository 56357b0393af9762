package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile/admit"
	"github.com/lastmile/lastmile/ingest"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/rank"
	"github.com/lastmile/lastmile/report"
	"github.com/lastmile/lastmile/server"
	"github.com/lastmile/lastmile/static"
	"github.com/lastmile/lastmile/stats"
	"github.com/lastmile/lastmile/tiles"
	"github.com/lastmile/lastmile/version"
)

// serveFlags are the flags of serve (and demo, which serves after loading).
type serveFlags struct {
	db           dbFlags
	readURL      string        // a read replica for the stats and the ranking
	statsRefresh time.Duration // how often the stats' precomputed tables are brought up to date
	maxVertices  int           // most vertices of one feature (writes and imports)
	admit        admit.Options // cost control of the expensive questions
	server       server.Options
	tiles        tiles.Options
	page         static.Options
	log          logFlags
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	f.db.register(fs)
	fs.StringVar(&f.readURL, "read-database-url", "", "PostgreSQL URL of a read replica (hot standby) of the database, for /api/stats and /api/sites; empty: the primary")
	fs.DurationVar(&f.statsRefresh, "stats-refresh", 5*time.Second, "how often the stats' precomputed nearest distances and routing graph are brought up to date on the primary (0: only when asked)")
	fs.IntVar(&f.maxVertices, "max-vertices", layer.DefaultMaxVertices, "most vertices of one feature written or imported (more: 400, or an invalid import row)")
	f.admit.RegisterFlags(fs)
	f.server.RegisterFlags(fs)
	f.tiles.RegisterFlags(fs)
	f.page.RegisterFlags(fs)
	f.log.register(fs)
}

func cmdServe(ctx context.Context, args []string, out io.Writer) error {
	// lastmile serve --tiles-archive FILE is serve-archive: an archive,
	// read-only, without a database.
	for _, a := range args {
		if a == "--tiles-archive" || a == "-tiles-archive" || strings.HasPrefix(a, "--tiles-archive=") || strings.HasPrefix(a, "-tiles-archive=") {
			return cmdServeArchive(ctx, args, out)
		}
	}
	fs := newFlagSet("serve", out)
	var f serveFlags
	f.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	log, err := f.log.logger()
	if err != nil {
		return err
	}
	db, err := f.db.open(ctx, log)
	if err != nil {
		return err
	}
	defer db.Close(context.WithoutCancel(ctx))
	return serve(ctx, f, db, log, out)
}

// serve builds the server on an open database and serves until ctx ends.
func serve(ctx context.Context, f serveFlags, db *database, log *slog.Logger, out io.Writer) error {
	catalog := layer.Default()
	catalog.SetMaxVertices(f.maxVertices)
	store := postgis.NewStore(db.Pool, catalog)
	tileService := tiles.New(db.Pool, catalog, log, f.tiles)
	store.OnChange(tileService.Invalidate)
	gate := admit.New(f.admit)
	store.OnChange(func(string, []orb.Bound) { gate.Changed() })
	readPool := db.Pool
	if f.readURL != "" {
		rp, err := postgis.Open(ctx, f.readURL)
		if err != nil {
			return fmt.Errorf("read replica: %w", err)
		}
		defer rp.Close()
		if err := postgis.CheckExtensions(ctx, rp); err != nil {
			return fmt.Errorf("read replica: %w", err)
		}
		readPool = rp
	}
	// In the background: the stats' nearest-road table first (a minute at
	// national scale; built even with --stats-refresh 0 when the low-zoom
	// overviews need their first build, since their covered counts read
	// it), then the overviews, so that no tile waits for their first build,
	// and meanwhile the stats' refresh every --stats-refresh (in this order,
	// as one refresh would: the routing graph after the table).
	{
		rctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() {
			overviews := tileService.OverviewsPending(rctx)
			if overviews || f.statsRefresh > 0 {
				if err := stats.RefreshAccess(rctx, db.Pool); err != nil && rctx.Err() == nil {
					log.Warn("stats refresh failed", "err", err)
				}
			}
			if overviews {
				wg.Go(func() {
					if err := tileService.WarmOverviews(rctx); err != nil && rctx.Err() == nil {
						log.Warn("overview build failed", "err", err)
					}
				})
			}
			if f.statsRefresh > 0 {
				stats.RefreshEvery(rctx, db.Pool, f.statsRefresh, log)
			}
		})
		defer func() { stop(); wg.Wait() }()
	}
	page := static.New(f.page)
	logLibraries(log, page.Libraries())
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go reloadOnHUP(ctx, hup, catalog, tileService, log)
	v := version.Get()
	log.Info("lastmile starting", "version", v.Version, "commit", v.Commit, "built", v.Date)
	srv := server.New(f.server, server.Deps{
		Pool: db.Pool, Catalog: catalog, Store: store, Logger: log,
		Mounts: []server.Mount{
			tileService,
			stats.NewHandler(readPool, catalog, log).WithGate(gate),
			rank.NewHandler(readPool, log).WithGate(gate),
			ingest.NewHandler(db.Pool, catalog, store, log),
			page,
			report.NewHandler(readPool, catalog, tileService, log),
		},
	})
	return srv.ListenAndServe(ctx, func(addr string) {
		fmt.Fprintf(out, "lastmile is serving on %s\n", browsable(addr))
	})
}

// browsable turns a listen address into a URL a person can open.
func browsable(addr string) string {
	host, port, ok := strings.Cut(addr, "]:")
	if ok { // [::]:8080
		host, addr = strings.TrimPrefix(host, "["), port
		if host == "::" {
			return "http://localhost:" + port
		}
		return "http://[" + host + "]:" + port
	}
	h, p, _ := strings.Cut(addr, ":")
	if h == "" || h == "0.0.0.0" {
		h = "localhost"
	}
	return "http://" + h + ":" + p
}

// logLibraries says where the map page's libraries come from, and warns
// when they are missing (the page then says so too).
func logLibraries(log *slog.Logger, libs static.Libraries) {
	if msg := libs.MissingMessage(); msg != "" {
		log.Warn(msg)
		return
	}
	log.Info("map page libraries", "source", libs.Source, "maplibre-gl", libs.Versions["maplibre-gl"], "echarts", libs.Versions["echarts"])
}

// reloadOnHUP answers SIGHUP (systemctl reload): the tile cache is emptied,
// so that tiles reflect data changed outside lastmile (psql, another tool).
// Tokens need no reload: every request looks its token up in the database,
// so a token created or revoked with lastmile token takes effect at once.
func reloadOnHUP(ctx context.Context, hup <-chan os.Signal, catalog *layer.Catalog, tiles *tiles.Service, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			for _, name := range catalog.Names() {
				tiles.Invalidate(name, nil)
			}
			log.Info("SIGHUP: tile cache emptied; tokens are read from the database on every request, nothing else to reload")
		}
	}
}
