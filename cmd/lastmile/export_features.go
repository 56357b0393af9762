package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/lastmile/lastmile/fieldpkg"
	"github.com/lastmile/lastmile/layer"
)

// cmdExportFeatures is lastmile export features: a GeoPackage field package.
func cmdExportFeatures(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("export features", out)
	var (
		db                         dbFlags
		adminCode, bbox, layers, o string
		jsonOut                    bool
	)
	db.register(fs)
	fs.StringVar(&adminCode, "admin-code", "", "the area: features intersecting the admin area with this 12-digit code")
	fs.StringVar(&bbox, "bbox", "", "the area: features intersecting W,S,E,N (degrees, WGS84)")
	fs.StringVar(&layers, "layers", "", "layers to export, comma-separated (default: all: "+strings.Join(layer.Default().Names(), ", ")+")")
	fs.StringVar(&o, "out", "", "the GeoPackage to write (FILE.gpkg)")
	fs.BoolVar(&jsonOut, "json", false, "print the summary as JSON")
	fs.Usage = func() {
		fmt.Fprintln(out, "usage: lastmile export features (--admin-code CODE | --bbox W,S,E,N) [--layers a,b] --out FILE.gpkg\n\nflags:")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (the file is given with --out)", fs.Arg(0))
	}
	if o == "" {
		return errors.New("--out FILE.gpkg is required")
	}
	if !strings.HasSuffix(strings.ToLower(o), ".gpkg") {
		return fmt.Errorf("--out %s: a GeoPackage file name ends in .gpkg", o)
	}
	opt := fieldpkg.ExportOptions{Out: o, Area: fieldpkg.Area{AdminCode: adminCode}}
	if (adminCode == "") == (bbox == "") {
		return errors.New("give the area with --admin-code CODE or --bbox W,S,E,N (one of them)")
	}
	if bbox != "" {
		b, err := fieldpkg.ParseBBox(bbox)
		if err != nil {
			return err
		}
		opt.Area.BBox = b
	}
	if layers != "" {
		opt.Layers = strings.Split(layers, ",")
	}
	d, err := db.open(ctx, newLogger())
	if err != nil {
		return err
	}
	defer d.Close(context.WithoutCancel(ctx))
	rep, err := fieldpkg.Export(ctx, d.Pool, layer.Default(), opt)
	if err != nil {
		return err
	}
	if jsonOut {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(out, "wrote %s (%.1f MB) in %.1fs: area %s, database %s\n", rep.File, float64(rep.Bytes)/1e6, rep.Seconds, rep.Area, rep.Database)
	fmt.Fprintf(out, "%-26s %-18s %-16s %9s %9s %8s\n", "table", "layer", "geometry", "features", "max id", "max ver")
	total := 0
	for _, t := range rep.Tables {
		fmt.Fprintf(out, "%-26s %-18s %-16s %9d %9d %8d\n", t.Table, t.Layer, t.Geometry, t.Features, t.MaxID, t.MaxVersion)
		total += t.Features
	}
	fmt.Fprintf(out, "%d features; edit in QGIS or QField, then: lastmile import --sync %s\n", total, rep.File)
	return nil
}
