package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/lastmile/lastmile/archive"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/tiles"
)

// cmdExportTiles runs lastmile export tiles: a new archive of an area, or
// (--update, --since) an existing one brought up to date.
func cmdExportTiles(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("export tiles", out)
	var db dbFlags
	db.register(fs)
	var topts tiles.Options
	topts.RegisterFlags(fs)
	adminCode := fs.String("admin-code", "", "export the admin area with this 12-digit code (its geometry from admin_areas)")
	bbox := fs.String("bbox", "", "export this box: west,south,east,north in degrees")
	minZoom := fs.Int("minzoom", -1, "lowest zoom (default: the layers' lowest)")
	maxZoom := fs.Int("maxzoom", -1, "highest zoom (default: the layers' highest)")
	layers := fs.String("layers", "", "comma-separated layers, one MVT layer each (default: every layer)")
	outFile := fs.String("out", "", "the archive to write: FILE.pmtiles or FILE.mbtiles")
	updateFile := fs.String("update", "", "bring this archive up to date: re-render only the tiles touched by edits since it was made")
	since := fs.String("since", "", "with --update (or --out of an existing archive): edits since this time (RFC 3339 or YYYY-MM-DD) instead of the archive's")
	workers := fs.Int("workers", 0, "concurrent tile queries (default: one per CPU, at least 2)")
	quiet := fs.Bool("quiet", false, "no progress lines")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: lastmile export tiles (--admin-code CODE | --bbox W,S,E,N) [--minzoom N] [--maxzoom N] [--layers a,b] [filter=value ...] --out FILE.pmtiles|FILE.mbtiles\n"+
			"       lastmile export tiles --update FILE [--since TIME]\n\n"+
			"Filters are the tile URLs' query parameters (status=completed surface=cement,asphalt completed_before=2016-01-01).\n\nflags:\n")
		fs.PrintDefaults()
	}
	// Filters may stand between flags: parse up to each, set it aside, go on.
	var positional []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional, rest = append(positional, fs.Arg(0)), fs.Args()[1:]
	}
	if err := parse(fs, nil); err != nil { // the flags' environment twins
		return err
	}
	q := url.Values{}
	for _, a := range positional {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return fmt.Errorf("argument %q: want filter=value (e.g. status=completed)", a)
		}
		q.Add(k, v)
	}
	var sinceTime time.Time
	if *since != "" {
		t, err := parseSince(*since)
		if err != nil {
			return err
		}
		sinceTime = t
	}
	path, update := *outFile, false
	switch {
	case *updateFile != "" && *outFile != "":
		return errors.New("give --out (a new archive) or --update (an existing one), not both")
	case *updateFile != "":
		path, update = *updateFile, true
	case path == "":
		return errors.New("--out FILE.pmtiles|FILE.mbtiles is required (or --update FILE)")
	case *since != "":
		update = true
	}
	if _, err := archive.FormatOf(path); err != nil {
		return err
	}
	if update {
		if *adminCode != "" || *bbox != "" || *layers != "" || *minZoom >= 0 || *maxZoom >= 0 || len(q) > 0 {
			return errors.New("an update takes the area, layers, zooms and filters from the archive: drop --admin-code, --bbox, --layers, --minzoom, --maxzoom and filters")
		}
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("cannot update %s: %w", path, err)
		}
	}
	o := archive.Options{AdminCode: *adminCode, MinZoom: *minZoom, MaxZoom: *maxZoom, Workers: *workers}
	if *bbox != "" {
		b, err := archive.ParseBBox(*bbox)
		if err != nil {
			return err
		}
		o.BBox = &b
	}
	if !*quiet {
		o.Progress = os.Stderr
		o.Terminal = term.IsTerminal(int(os.Stderr.Fd()))
	}
	catalog := layer.Default()
	log := newLogger()
	d, err := db.open(ctx, log)
	if err != nil {
		return err
	}
	defer d.Close(context.WithoutCancel(ctx))
	topts.CacheBytes = 0
	svc := tiles.New(d.Pool, catalog, log, topts)
	if !update {
		o.Layers = catalog.Layers()
		if *layers != "" {
			if o.Layers, err = svc.Layers(*layers); err != nil {
				return err
			}
		}
		if o.Filters, err = tiles.ParseFilters(o.Layers, q); err != nil {
			return err
		}
	}
	ex := archive.NewExporter(d.Pool, svc)
	var rep *archive.Report
	if update {
		rep, err = ex.Update(ctx, path, sinceTime, o)
	} else {
		rep, err = ex.Export(ctx, path, o)
	}
	if err != nil {
		return err
	}
	printExportReport(out, rep, update)
	return nil
}

// parseSince reads an RFC 3339 time or a date (UTC midnight).
func parseSince(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want an RFC 3339 time (2026-01-02T15:04:05Z) or a date YYYY-MM-DD", s)
}

func printExportReport(out io.Writer, r *archive.Report, update bool) {
	rate := float64(r.Rendered) / max(r.Duration.Seconds(), 1e-9)
	verb := "wrote"
	if update {
		verb = "updated"
	}
	fmt.Fprintf(out, "%s %s: %d tiles (%d distinct contents), %d bytes, %d tiles rendered of %d covered in %s (%.0f tiles/s)\n",
		verb, r.Path, r.Tiles, r.Contents, r.Bytes, r.Rendered, r.Covered, r.Duration.Round(time.Millisecond), rate)
	if update {
		if r.Full {
			fmt.Fprintln(out, "the admin area itself changed: every tile was rendered again")
		} else {
			fmt.Fprintf(out, "%d edited geometries since the archive was made; %d tiles changed\n", r.Edits, r.Changed)
		}
	}
	fmt.Fprintf(out, "data as of %s (the next --update starts there)\n", r.Generated.Format(time.RFC3339))
}
