package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/lastmile/lastmile/archive"
)

// cmdServeArchive serves a PMTiles or MBTiles archive read-only at the tile
// server's URLs, without a database (also lastmile serve --tiles-archive),
// and a PMTiles file as it is at /archive.pmtiles (Range requests).
func cmdServeArchive(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("serve-archive", out)
	file := fs.String("tiles-archive", "", "the archive to serve: FILE.pmtiles or FILE.mbtiles")
	addr := fs.String("addr", ":8080", "address to listen on")
	cacheControl := fs.String("tile-cache-control", "public, max-age=3600", "Cache-Control header sent with tiles")
	cors := fs.String("cors-origins", "*", "Access-Control-Allow-Origin for tiles and TileJSON (empty: none)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *file == "" && fs.NArg() == 1 {
		*file = fs.Arg(0)
	}
	if *file == "" {
		return errors.New("usage: lastmile serve-archive --tiles-archive FILE.pmtiles|FILE.mbtiles [--addr :8080]")
	}
	r, err := archive.Open(*file)
	if err != nil {
		return err
	}
	defer r.Close()
	router := mux.NewRouter()
	archive.NewHandler(r, *cacheControl).Register(router)
	if strings.EqualFold(filepath.Ext(*file), ".pmtiles") {
		// The file itself, with Range support: what the map page's
		// ?pmtiles= reads, as from any static server.
		router.HandleFunc("/archive.pmtiles", func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("Cache-Control", *cacheControl)
			http.ServeFile(w, req, *file)
		}).Methods(http.MethodGet, http.MethodHead)
	}
	var h http.Handler = router
	if *cors != "" {
		h = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("Access-Control-Allow-Origin", *cors)
			router.ServeHTTP(w, req)
		})
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %v (choose another --addr)", *addr, err)
	}
	log := newLogger()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	fmt.Fprintf(out, "lastmile is serving %s (layers %s) on %s\n", *file, r.Metadata().Source.Layers, browsable(ln.Addr().String()))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
