package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/fieldpkg"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
)

// runSync is lastmile import --sync FILE.gpkg: a field package's edits back
// into the database.
func runSync(ctx context.Context, db dbFlags, file string, dryRun, skipInvalid, jsonOut bool, out io.Writer) error {
	d, err := db.open(ctx, newLogger())
	if err != nil {
		return err
	}
	defer d.Close(context.WithoutCancel(ctx))
	catalog := layer.Default()
	store := postgis.NewStore(d.Pool, catalog)
	rep, err := fieldpkg.Sync(ctx, d.Pool, catalog, file, fieldpkg.SyncOptions{DryRun: dryRun, SkipInvalid: skipInvalid, Changed: store.Changed})
	if jsonOut && rep != nil {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else if rep != nil {
		printSyncReport(out, rep)
	}
	if err != nil {
		var le *lastmile.Error
		if errors.As(err, &le) && rep != nil {
			return errors.New(le.Message)
		}
		return err
	}
	verb := "synced"
	if rep.DryRun {
		verb = "dry run"
	}
	if n := len(rep.Conflicts); n > 0 {
		return fmt.Errorf("%s; %d features in conflict were not written (listed above)", verb, n)
	}
	if n := len(rep.Problems); n > 0 {
		return fmt.Errorf("%s; %d problems: those features were not written (listed above)", verb, n)
	}
	return nil
}

// printSyncReport writes a sync report: counts per table, then conflicts,
// problems and warnings.
func printSyncReport(out io.Writer, rep *fieldpkg.SyncReport) {
	verb := "synced in one transaction"
	switch {
	case rep.DryRun:
		verb = "dry run (nothing written)"
	case !rep.Committed:
		verb = "NOT synced (nothing written)"
	}
	exported := rep.ExportedAt
	if t, err := time.Parse(time.RFC3339Nano, exported); err == nil {
		exported = t.UTC().Format("2006-01-02 15:04:05Z")
	}
	fmt.Fprintf(out, "%s: %s in %.1fs as %q (exported %s, area %s)\n", trimName(rep.File), verb, rep.Seconds, rep.Actor, exported, rep.Area)
	fmt.Fprintf(out, "%-26s %7s %9s %8s %6s %8s %8s %9s %8s\n", "table", "read", "unchanged", "changed", "added", "deleted", "already", "conflicts", "invalid")
	for _, t := range rep.Tables {
		fmt.Fprintf(out, "%-26s %7d %9d %8d %6d %8d %8d %9d %8d\n", t.Table, t.Read, t.Unchanged, t.Changed, t.Added, t.Deleted, t.Already, t.Conflicts, t.Invalid)
	}
	for _, c := range rep.Conflicts {
		what := map[string]string{
			"changed_both":        fmt.Sprintf("changed in the package and in the database (exported at version %d, now %d)", c.Version, c.Current),
			"deleted_in_package":  fmt.Sprintf("deleted in the package, changed in the database (exported at version %d, now %d)", c.Version, c.Current),
			"deleted_in_database": fmt.Sprintf("changed in the package, deleted in the database (exported at version %d)", c.Version),
		}[c.Kind]
		fmt.Fprintf(out, "conflict: %s %d: %s; not written\n", c.Layer, c.ID, what)
		for _, f := range c.Fields {
			line := fmt.Sprintf("  %-14s package %s, database %s", f.Field+":", f.Package, f.Database)
			if f.ChangedBy != "" {
				line += fmt.Sprintf(" (changed by %s at %s, version %d)", f.ChangedBy, f.ChangedAt.UTC().Format("2006-01-02 15:04:05Z"), f.InVersion)
			} else if f.Database != "(deleted)" {
				line += " (not changed in the database since the export)"
			}
			fmt.Fprintln(out, strings.TrimRight(line, " "))
		}
	}
	for i, p := range rep.Problems {
		if i == 50 {
			fmt.Fprintf(out, "… %d more problems (use --json for all)\n", len(rep.Problems)-50)
			break
		}
		fmt.Fprintln(out, "problem:", p)
	}
	for _, w := range rep.Warnings {
		fmt.Fprintln(out, "warning:", w)
	}
}
