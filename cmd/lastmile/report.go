package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/report"
	"github.com/lastmile/lastmile/tiles"
)

// cmdReport writes the report of a county or township as PDF (printed by
// headless Chromium) or as one self-contained HTML file, by the extension
// of --out.
func cmdReport(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("report", out)
	var db dbFlags
	db.register(fs)
	code := fs.String("admin-code", "", "12-digit code of the county or township (required)")
	asOf := fs.String("as-of", "", "YYYY-MM-DD: the figures as of this date (default: the current data)")
	compare := fs.String("compare", "", "YYYY-MM-DD: a second date, for the \"then and now\" table")
	lang := fs.String("lang", "en", "language of the report: en or zh")
	outFile := fs.String("out", "", "file to write: name.pdf (printed by headless Chromium) or name.html (self-contained) (required)")
	chromium := fs.String("chromium", "", "Chromium binary for PDF (default $LASTMILE_CHROMIUM, else chromium on the PATH)")
	timeout := fs.Duration("print-timeout", 2*time.Minute, "time limit of the PDF printing")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (usage: lastmile report --admin-code CODE [--as-of D] [--compare D] [--lang zh] --out report.pdf)", fs.Args())
	}
	if *code == "" || *outFile == "" {
		return fmt.Errorf("--admin-code and --out are required (usage: lastmile report --admin-code CODE [--as-of D] [--compare D] [--lang zh] --out report.pdf)")
	}
	ext := strings.ToLower(filepath.Ext(*outFile))
	if ext != ".pdf" && ext != ".html" && ext != ".htm" {
		return fmt.Errorf("--out %s: the file name must end in .pdf or .html", *outFile)
	}
	v := url.Values{}
	for k, s := range map[string]string{"as_of": *asOf, "compare": *compare, "lang": *lang} {
		if s != "" {
			v.Set(k, s)
		}
	}
	req, err := report.ParseRequest(*code, v)
	if err != nil {
		return cliError(err, map[string]string{"admin_code": "--admin-code", "as_of": "--as-of", "compare": "--compare", "lang": "--lang"})
	}
	var bin string
	if ext == ".pdf" {
		if bin, err = report.FindChromium(*chromium); err != nil {
			return err
		}
	}
	start := time.Now()
	log := newLogger()
	database, err := db.open(ctx, log)
	if err != nil {
		return err
	}
	defer database.Close(context.WithoutCancel(ctx))
	catalog := layer.Default()
	b := &report.Builder{
		Pool: database.Pool, Catalog: catalog, Log: log,
		Tiles: report.TileHandler(tiles.New(database.Pool, catalog, log, tiles.Options{})),
		Progress: func(step string, d time.Duration) {
			fmt.Fprintf(out, "report: %s in %s\n", step, d.Round(time.Millisecond))
		},
	}
	fmt.Fprintf(out, "report: %s (/reports/%s?%s)\n", *code, *code, req.Query().Encode())
	rep, err := b.Build(ctx, req)
	if err != nil {
		return cliError(err, map[string]string{"admin_code": "--admin-code"})
	}
	html, err := rep.HTML()
	if err != nil {
		return err
	}
	t := time.Now()
	if ext == ".pdf" {
		fmt.Fprintf(out, "report: printing %s with %s …\n", rep.Title(), bin)
		if err := report.PDF(ctx, html, *outFile, report.PDFOptions{Chromium: bin, Timeout: *timeout}); err != nil {
			return err
		}
		fmt.Fprintf(out, "report: printed in %s\n", time.Since(t).Round(time.Millisecond))
	} else if err := writeFileAtomic(*outFile, html); err != nil {
		return err
	}
	st, err := os.Stat(*outFile)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "report: wrote %s (%d kB) in %s\n", *outFile, (st.Size()+1023)/1024, time.Since(start).Round(time.Millisecond))
	return nil
}

// writeFileAtomic writes data to a temporary file next to name and renames
// it into place.
func writeFileAtomic(name string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}

// cliError renders an application error on one line, naming the flags
// instead of the query parameters.
func cliError(err error, flags map[string]string) error {
	var e *lastmile.Error
	if !errors.As(err, &e) {
		return err
	}
	if len(e.Details) == 0 {
		return errors.New(e.Message)
	}
	parts := make([]string, len(e.Details))
	for i, p := range e.Details {
		if f, ok := flags[p.Field]; ok {
			p.Field = f
		}
		parts[i] = p.String()
	}
	return fmt.Errorf("%s: %s", e.Message, strings.Join(parts, "; "))
}
