package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
)

// exportKinds are the subcommands of export: what is exported.
func exportKinds() map[string]command {
	return map[string]command{
		"tiles":    {"write a PMTiles or MBTiles archive of the server's vector tiles", cmdExportTiles},
		"features": {"write a GeoPackage field package of an area (every layer, with ids and versions)", cmdExportFeatures},
	}
}

// cmdExport dispatches lastmile export KIND.
func cmdExport(ctx context.Context, args []string, out io.Writer) error {
	kinds := exportKinds()
	var names []string
	for n := range kinds {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("usage: lastmile export %s [flags] (see 'lastmile export %s -h')", strings.Join(names, "|"), names[0])
	}
	k, ok := kinds[args[0]]
	if !ok {
		return fmt.Errorf("unknown export %q (exports: %s)", args[0], strings.Join(names, ", "))
	}
	return k.run(ctx, args[1:], out)
}
