package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/lastmile/lastmile/ingest"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/server"
	"github.com/lastmile/lastmile/static"
	"github.com/lastmile/lastmile/stats"
	"github.com/lastmile/lastmile/tiles"
)

// serveFlags are the flags of serve (and demo, which serves after loading).
type serveFlags struct {
	db     dbFlags
	server server.Options
	tiles  tiles.Options
	page   static.Options
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	f.db.register(fs)
	f.server.RegisterFlags(fs)
	f.tiles.RegisterFlags(fs)
	f.page.RegisterFlags(fs)
}

func cmdServe(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("serve", out)
	var f serveFlags
	f.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	log := newLogger()
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
	store := postgis.NewStore(db.Pool, catalog)
	tileService := tiles.New(db.Pool, catalog, log, f.tiles)
	store.OnChange(tileService.Invalidate)
	srv := server.New(f.server, server.Deps{
		Pool: db.Pool, Catalog: catalog, Store: store, Logger: log,
		Mounts: []server.Mount{
			tileService,
			stats.NewHandler(db.Pool, catalog, log),
			ingest.NewHandler(db.Pool, catalog, store, log),
			static.New(f.page),
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
