package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/lastmile/lastmile/demo"
)

// cmdDemo opens (or starts) the database, replaces the previous demo load
// with the demo county of --seed, prints what was loaded, then serves.
func cmdDemo(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("demo", out)
	var f serveFlags
	f.register(fs)
	seed := fs.Int64("seed", 1, "seed of the demo county (same seed, same county)")
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
	start := time.Now()
	county := demo.Generate(*seed)
	generated := time.Since(start)
	counts, err := demo.Load(ctx, db.Pool, county)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "demo county seed %d (checksum %.12s…), generated in %s\n",
		*seed, county.Checksum(), generated.Round(time.Millisecond))
	counts.WriteSummary(out)
	return serve(ctx, f, db, log, out)
}
