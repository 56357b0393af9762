package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/lastmile/lastmile/postgis/cluster"
)

// pgTool returns the path of a PostgreSQL client program (pg_dump,
// pg_restore), preferring the server's own version.
func pgTool(name string) (string, error) {
	if dir, err := cluster.FindBinDir(); err == nil {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p, nil
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found: run scripts/setup (it installs PostgreSQL 15)", name)
	}
	return p, nil
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// runTool runs a PostgreSQL client program; its error carries what it printed.
func runTool(ctx context.Context, name string, args ...string) error {
	bin, err := pgTool(name)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s failed: %v: %s", name, err, strings.TrimSpace(strings.ReplaceAll(out.String(), "\n", " | ")))
	}
	return nil
}

func cmdBackup(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("backup", out)
	var db dbFlags
	db.register(fs)
	file := fs.String("out", "", "file to write (pg_dump custom format of the lastmile schema)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("backup needs --out FILE")
	}
	d, err := db.open(ctx, newLogger())
	if err != nil {
		return err
	}
	defer d.Close(context.WithoutCancel(ctx))
	size, err := dump(ctx, d.Pool.Config().ConnString(), *file)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s (%d bytes)\n", *file, size)
	return nil
}

// dump writes the lastmile schema of the database at url to file (pg_dump
// custom format, restorable with lastmile restore) and returns its size.
func dump(ctx context.Context, url, file string) (int64, error) {
	if err := runTool(ctx, "pg_dump", "--format=custom", "--schema=lastmile", "--no-owner", "--file="+file, "--dbname="+url); err != nil {
		return 0, err
	}
	st, err := os.Stat(file)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func cmdRestore(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("restore", out)
	var db dbFlags
	db.register(fs)
	file := fs.String("in", "", "backup file written by lastmile backup")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("restore needs --in FILE")
	}
	if !fileExists(*file) {
		return fmt.Errorf("backup file %s does not exist", *file)
	}
	d, err := db.open(ctx, newLogger())
	if err != nil {
		return err
	}
	defer d.Close(context.WithoutCancel(ctx))
	url := d.Pool.Config().ConnString()
	d.Pool.Close() // nothing of ours may hold the tables being replaced
	// One transaction: a failed restore leaves the database as it was.
	if err := runTool(ctx, "pg_restore", "--clean", "--if-exists", "--single-transaction", "--no-owner", "--exit-on-error", "--dbname="+url, *file); err != nil {
		return err
	}
	fmt.Fprintf(out, "restored %s\n", *file)
	return nil
}
