package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/ingest"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
)

// importFlags are the flags of lastmile import.
type importFlags struct {
	db          dbFlags
	maxVertices int
	maxColumns  int
	layer       string
	osm         string
	format      string
	crs         string
	mapping     string
	geomCol     string
	lonCol      string
	latCol      string
	encoding    string
	sheet       string
	skipInvalid bool
	repair      bool
	dryRun      bool
	swapXY      bool
	jsonOut     bool
	sync        string
}

func cmdImport(ctx context.Context, args []string, out io.Writer) error {
	// A streamed import keeps little alive (tens of MB for a million
	// features) but allocates per feature: collecting less often spends
	// 10 % less CPU on the Go side of a first load for a few more MB.
	// $GOGC, when set, wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	fs := newFlagSet("import", out)
	var f importFlags
	f.db.register(fs)
	fs.IntVar(&f.maxColumns, "max-columns", ingest.DefaultMaxColumns, "most columns of a CSV file or sheet (more: the file is refused)")
	fs.IntVar(&f.maxVertices, "max-vertices", layer.DefaultMaxVertices, "most vertices of one feature (a row with more is invalid)")
	fs.StringVar(&f.layer, "layer", "", "target layer ("+strings.Join(layer.Default().Names(), ", ")+")")
	fs.StringVar(&f.osm, "osm", "", "an OpenStreetMap .osm.pbf file: roads, power, water pipelines, villages and facilities by tag (see README)")
	fs.StringVar(&f.format, "format", "", "file format ("+strings.Join(ingest.Formats, ", ")+"); default: from the extension and content")
	fs.StringVar(&f.crs, "crs", "EPSG:4326", "coordinate system of the files: EPSG:4326, EPSG:4490, GCJ-02, BD-09 or EPSG:<code> (e.g. EPSG:4527, CGCS2000 Gauss–Krüger zone 39); a file's own (.prj) is used unless given")
	fs.StringVar(&f.encoding, "encoding", "", "text encoding of CSV files and Shapefile attributes: UTF-8, GBK, GB18030, BIG5, …; default: the .cpg, the DBF's language driver, or detected")
	fs.StringVar(&f.sheet, "sheet", "", "spreadsheets (.xlsx, .ods, .xls): the sheet to read (default: the first)")
	fs.StringVar(&f.mapping, "map", "", "attribute mapping field=column,… e.g. 'surface=路面类型,completed_on=完工日期', or @FILE with one field=column per line")
	fs.StringVar(&f.geomCol, "geometry", "", "CSV: the WKT/EWKT/EWKB-hex column (default: wkt, geom, geometry, …)")
	fs.StringVar(&f.lonCol, "lon", "", "CSV: the longitude column (default: lon, lng, x, 经度, …)")
	fs.StringVar(&f.latCol, "lat", "", "CSV: the latitude column (default: lat, y, 纬度, …)")
	fs.BoolVar(&f.skipInvalid, "skip-invalid", false, "import the valid rows and report the invalid ones (default: any invalid row → nothing imported)")
	fs.BoolVar(&f.repair, "repair", false, "repair invalid geometries (self-intersections) with ST_MakeValid")
	fs.BoolVar(&f.dryRun, "dry-run", false, "validate and count, write nothing; shows what each column becomes and the first rows as they would be stored")
	fs.BoolVar(&f.swapXY, "swap-xy", false, "the files have latitude, longitude: exchange them")
	fs.BoolVar(&f.jsonOut, "json", false, "print the report as JSON")
	fs.StringVar(&f.sync, "sync", "", "a field package (FILE.gpkg from lastmile export features) edited in QGIS/QField: apply its edits where the database has not changed since, list the conflicts")
	fs.Usage = func() {
		fmt.Fprintln(out, "usage: lastmile import --layer LAYER [flags] FILE...\n       lastmile import --osm FILE.osm.pbf [flags]\n       lastmile import --sync FILE.gpkg [--dry-run] [--skip-invalid]\n\nflags:")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	files := fs.Args()
	if f.sync != "" {
		if len(files) > 0 || f.layer != "" || f.osm != "" {
			return errors.New("--sync takes one field package and no --layer, --osm or other files")
		}
		return runSync(ctx, f.db, f.sync, f.dryRun, f.skipInvalid, f.jsonOut, out)
	}
	if f.osm != "" {
		files = append([]string{f.osm}, files...)
		if f.format == "" {
			f.format = ingest.FormatOSM
		}
	}
	catalog := layer.Default()
	catalog.SetMaxVertices(f.maxVertices)
	if len(files) == 0 {
		fs.Usage()
		return errors.New("no file to import")
	}
	var l *layer.Layer
	if f.layer != "" {
		var ok bool
		if l, ok = catalog.Layer(f.layer); !ok {
			return fmt.Errorf("unknown layer %q (layers: %s)", f.layer, strings.Join(catalog.Names(), ", "))
		}
	} else if f.format != ingest.FormatOSM {
		return errors.New("--layer is required (or --osm FILE.osm.pbf)")
	}
	crs, err := ingest.ParseCRS(f.crs)
	if err != nil {
		return err
	}
	opt := ingest.Options{CRS: crs, SkipInvalid: f.skipInvalid, Repair: f.repair, DryRun: f.dryRun, SwapXY: f.swapXY, Actor: actorName()}
	if f.mapping != "" {
		if l == nil {
			return errors.New("--map needs --layer")
		}
		if name, ok := strings.CutPrefix(f.mapping, "@"); ok { // a mapping file: field=column per line
			b, err := os.ReadFile(name)
			if err != nil {
				return fmt.Errorf("--map: %w", err)
			}
			f.mapping = strings.NewReplacer("\r\n", ",", "\n", ",").Replace(strings.TrimPrefix(string(b), "\ufeff"))
		}
		if opt.Map, err = ingest.ParseMapping(l, f.mapping); err != nil {
			return err
		}
	}
	enc, err := ingest.ParseEncoding(f.encoding)
	if err != nil {
		return err
	}
	ropt := ingest.ReadOptions{Format: f.format, CRS: crs, Encoding: enc, Sheet: f.sheet,
		CSV: ingest.CSVOptions{Geom: f.geomCol, Lon: f.lonCol, Lat: f.latCol, MaxColumns: f.maxColumns}}
	if l != nil {
		ropt.OSMLayers = []string{l.Name}
	}

	log := newLogger()
	db, err := f.db.open(ctx, log)
	if err != nil {
		return err
	}
	defer db.Close(context.WithoutCancel(ctx))

	var jobs []ingest.Job
	var openFiles []*os.File
	var total int64
	for _, path := range files {
		r, c, err := ingest.OpenFile(path, ropt)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		defer c.Close()
		if fh, ok := c.(*os.File); ok {
			openFiles = append(openFiles, fh)
			if st, err := fh.Stat(); err == nil {
				total += st.Size()
			}
		}
		name := ""
		if l != nil {
			name = l.Name
		}
		jobs = append(jobs, ingest.Job{Source: path, Layer: name, Reader: r})
	}
	stop := func() {}
	if term.IsTerminal(int(os.Stderr.Fd())) && !f.jsonOut {
		opt.Progress, stop = progress(openFiles, total)
	}
	store := postgis.NewStore(db.Pool, catalog)
	rep, err := ingest.NewImporter(db.Pool, catalog, store).Import(ctx, jobs, opt)
	stop()
	if f.jsonOut {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else if rep != nil {
		printReport(out, rep)
	}
	if err != nil {
		var le *lastmile.Error
		if errors.As(err, &le) && rep != nil {
			return errors.New(le.Message) // the problems are in the report above
		}
		return err
	}
	return nil
}

func actorName() string {
	if u, err := user.Current(); err == nil {
		return "cli:" + u.Username
	}
	return "cli"
}

// progress shows rows, rows/s and (for plain files) an ETA on stderr.
func progress(files []*os.File, total int64) (func(int), func()) {
	start := time.Now()
	var mu sync.Mutex
	last := time.Time{}
	shown := false
	update := func(rows int) {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		if now.Sub(last) < 200*time.Millisecond {
			return
		}
		last = now
		el := now.Sub(start).Seconds()
		rate := float64(rows) / max(el, 1e-9)
		line := fmt.Sprintf("\r%d rows  %.0f rows/s", rows, rate)
		if total > 0 {
			var pos int64
			for _, f := range files {
				if p, err := f.Seek(0, io.SeekCurrent); err == nil {
					pos += p
				}
			}
			if pos > 0 && pos <= total {
				eta := time.Duration(el * float64(total-pos) / float64(pos) * float64(time.Second))
				line += fmt.Sprintf("  %3.0f%%  ETA %s", 100*float64(pos)/float64(total), eta.Round(time.Second))
			}
		}
		fmt.Fprint(os.Stderr, line+"   ")
		shown = true
	}
	return update, func() {
		if shown {
			fmt.Fprintln(os.Stderr)
		}
	}
}

// printReport writes the summary: per file and layer, then problems and
// warnings.
func printReport(out io.Writer, rep *ingest.Report) {
	verb := "imported"
	switch {
	case rep.DryRun:
		verb = "dry run (nothing written)"
	case !rep.Committed:
		verb = "NOT imported (nothing written)"
	}
	fmt.Fprintf(out, "%s in %.1fs\n", verb, rep.Seconds)
	fmt.Fprintf(out, "%-28s %-18s %9s %9s %9s %9s %9s %9s %10s\n", "file", "layer", "read", "inserted", "updated", "unchanged", "rejected", "repaired", "km")
	for _, l := range rep.Layers {
		km := ""
		if l.KM > 0 {
			km = fmt.Sprintf("%.2f", l.KM)
		}
		fmt.Fprintf(out, "%-28s %-18s %9d %9d %9d %9d %9d %9d %10s\n", trimName(l.Source), l.Layer, l.Read, l.Inserted, l.Updated, l.Unchanged, l.Rejected, l.Repaired, km)
	}
	for _, l := range rep.Layers {
		printDetails(out, l, len(rep.Layers) > 1)
	}
	for i, p := range rep.Problems {
		if i == 50 {
			fmt.Fprintf(out, "… %d more problems (use --json for all)\n", len(rep.Problems)-50+rep.Omitted)
			break
		}
		fmt.Fprintln(out, "problem:", p)
	}
	for _, w := range rep.Warnings {
		fmt.Fprintln(out, "warning:", w)
	}
}

// printDetails writes the encoding and coordinate system of a layer's
// file and, on a dry run, what each column became and the first rows as
// they would be stored.
func printDetails(out io.Writer, l *ingest.LayerReport, named bool) {
	indent := ""
	if named {
		fmt.Fprintf(out, "%s → %s:\n", l.Source, l.Layer)
		indent = "  "
	}
	if l.Encoding != "" {
		fmt.Fprintf(out, "%sencoding: %s\n", indent, l.Encoding)
	}
	if l.CRS != "" {
		fmt.Fprintf(out, "%scoordinates: %s\n", indent, l.CRS)
	}
	if len(l.Columns) > 0 {
		fmt.Fprintf(out, "%scolumns:\n", indent)
		w := 0
		for _, c := range l.Columns {
			w = max(w, displayWidth(c.Column))
		}
		for _, c := range l.Columns {
			fmt.Fprintf(out, "%s  %s%s → %s\n", indent, c.Column, strings.Repeat(" ", w-displayWidth(c.Column)), c.Field)
		}
	}
	if len(l.Sample) > 0 {
		fmt.Fprintf(out, "%sfirst rows as they would be stored:\n", indent)
		for _, row := range l.Sample {
			b, _ := json.Marshal(row)
			fmt.Fprintf(out, "%s  %s\n", indent, b)
		}
	}
}

// displayWidth counts East Asian wide characters as two columns.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x1100 && (r <= 0x115f || r >= 0x2e80 && r <= 0xa4cf || r >= 0xac00 && r <= 0xd7a3 || r >= 0xf900 && r <= 0xfaff || r >= 0xff00 && r <= 0xff60 || r >= 0xffe0 && r <= 0xffe6) {
			n += 2
		} else {
			n++
		}
	}
	return n
}

func trimName(s string) string {
	if r := []rune(s); len(r) > 28 {
		return "…" + string(r[len(r)-27:])
	}
	return s
}
