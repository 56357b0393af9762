// Command lastmile serves rural-infrastructure layers from PostGIS as vector
// tiles, OGC API Features and coverage statistics. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand: it parses its own flags from args.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, out io.Writer) error
}

func commands() map[string]command {
	cmds := map[string]command{
		"serve":         {"serve the map, tiles, OGC API Features and statistics", cmdServe},
		"demo":          {"load the demo county into the database, then serve", cmdDemo},
		"migrate":       {"apply pending database migrations", cmdMigrate},
		"import":        {"import features from files (GeoJSON, CSV, KML, OSM PBF, any GDAL format); --sync a field package", cmdImport},
		"export":        {"export tiles (PMTiles / MBTiles archives) or features (a GeoPackage field package) of an area", cmdExport},
		"serve-archive": {"serve a PMTiles or MBTiles archive read-only, without a database", cmdServeArchive},
		"stats":         {"coverage, rai, lengths, progress statistics", cmdStats},
		"rank":          {"rank relocation-site candidates", cmdRank},
		"report":        {"write the printable report of a county or township (PDF or HTML)", cmdReport},
		"token":         {"create, list and revoke API tokens", cmdToken},
		"backup":        {"write the lastmile schema to a file (pg_dump custom format)", cmdBackup},
		"restore":       {"replace the lastmile schema with a backup, in one transaction", cmdRestore},
	}
	maps.Copy(cmds, operateCommands()) // version, doctor, install-service (operate.go)
	return cmds
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "lastmile:", err)
		os.Exit(exitCode(err))
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	cmds := commands()
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		args = []string{"version"}
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(out, cmds)
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		return fmt.Errorf("unknown command %q (commands: %s)", args[0], strings.Join(names(cmds), ", "))
	}
	return c.run(ctx, args[1:], out)
}

func names(cmds map[string]command) []string {
	var n []string
	for k := range cmds {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

func usage(out io.Writer, cmds map[string]command) {
	fmt.Fprintln(out, "usage: lastmile COMMAND [flags]\n\ncommands:")
	for _, n := range names(cmds) {
		fmt.Fprintf(out, "  %-15s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(out, "\nRun 'lastmile COMMAND -h' for a command's flags. Every flag has an environment twin LASTMILE_<FLAG> (e.g. --data-dir ↔ LASTMILE_DATA_DIR); DATABASE_URL selects an external PostGIS.")
}
