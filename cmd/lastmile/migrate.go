package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/version"
)

// cmdMigrate applies the pending migrations; with --check it only lists
// them (exit status 2 when any is pending); with --backup FILE it first
// writes a backup that lastmile restore takes back. A database migrated by a
// newer lastmile is refused, unchanged.
func cmdMigrate(ctx context.Context, args []string, out io.Writer) error {
	args, err := withEnvFile(args)
	if err != nil {
		return err
	}
	fs := newFlagSet("migrate", out)
	fs.String("env-file", "", "read KEY=VALUE settings from this file first, e.g. the service's /etc/lastmile/lastmile.env (variables already set win)")
	var db dbFlags
	db.register(fs)
	var lf logFlags
	lf.register(fs)
	check := fs.Bool("check", false, "list the migrations that would run and change nothing; exit status 0: none pending, 2: some pending, 1: error (e.g. a schema newer than this binary)")
	backup := fs.String("backup", "", "before applying anything, write a backup of the lastmile schema to this file (pg_dump custom format, as lastmile backup; restore with lastmile restore --in FILE)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *check && *backup != "" {
		return errors.New("--check changes nothing and takes no backup: give one of --check and --backup")
	}
	log, err := lf.logger()
	if err != nil {
		return err
	}
	d, err := db.connect(ctx, log)
	if err != nil {
		return err
	}
	defer d.Close(context.WithoutCancel(ctx))
	st, err := postgis.Status(ctx, d.Pool)
	if err != nil {
		return err
	}
	v := version.Get()
	ms, err := postgis.Migrations()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "lastmile %s (commit %.12s) knows %d migrations, up to %s\n", v.Version, v.Commit, len(ms), st.Latest)
	if n := len(st.Applied); n > 0 {
		last := st.Applied[n-1]
		fmt.Fprintf(out, "the database has %d applied, the latest %s on %s\n", n, last.Name, last.AppliedAt.UTC().Format("2006-01-02 15:04 UTC"))
	} else {
		fmt.Fprintln(out, "the database has no lastmile schema yet")
	}
	if err := st.CheckNotNewer(); err != nil {
		return err
	}
	if len(st.Pending) == 0 {
		fmt.Fprintln(out, "database schema is current: nothing to apply")
		if *backup == "" {
			return nil
		}
	}
	for _, m := range st.Pending {
		verb := "will apply"
		if *check {
			verb = "would apply"
		}
		fmt.Fprintf(out, "%s %s\n", verb, m.Name)
	}
	if *check {
		if len(st.Pending) > 0 {
			return &exitError{code: 2, err: fmt.Errorf("%d migration(s) pending: run lastmile migrate (with --backup FILE to keep a copy first)", len(st.Pending))}
		}
		return nil
	}
	if *backup != "" && len(st.Applied) == 0 {
		fmt.Fprintf(out, "no backup written to %s: the database has no lastmile schema yet, nothing to lose\n", *backup)
	} else if *backup != "" {
		size, err := dump(ctx, d.Pool.Config().ConnString(), *backup)
		if err != nil {
			return fmt.Errorf("backup before migrating failed, nothing was migrated: %w", err)
		}
		fmt.Fprintf(out, "backup written to %s (%d bytes); restore with lastmile restore --in %s\n", *backup, size, *backup)
	}
	applied, err := postgis.Migrate(ctx, d.Pool)
	for _, name := range applied {
		fmt.Fprintf(out, "applied %s\n", name)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "database schema is current")
	return nil
}
