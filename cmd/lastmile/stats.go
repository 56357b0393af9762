package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/stats"
)

// statsParams maps CLI flags to the query parameters of /api/stats/...
var statsParams = []paramFlag{
	{"target", "target", "coverage: layer of the targets (default villages)"},
	{"source", "source", "coverage: layer of the sources (default roads)"},
	{"within-m", "within_m", "coverage/rai: distance in metres (default 1000; rai 2000)"},
	{"method", "method", "coverage/rai: straight (geodesic) or network (along roads)"},
	{"metric", "metric", "coverage --method network: distance (within-m) or time (within-min)"},
	{"within-min", "within_min", "coverage --metric time: minutes (default 30)"},
	{"speeds", "speeds", "coverage --metric time: override the catalog's speeds, e.g. class2:60,gravel:0.6,walking:4 (grade km/h, surface factor, walking km/h; grade.none, surface.none)"},
	{"source-filter", "source_filter", "coverage: hardened, graded, all_season or field:v1,v2 / field>=v; terms separated by ';'"},
	{"target-filter", "target_filter", "coverage: filter on targets, same syntax"},
	{"group-by", "group_by", "coverage/rai: county, township or none; lengths/progress: comma list (county,township,year,status,<enum field>)"},
	{"as-of", "as_of", "YYYY-MM-DD: count only works completed on or before this date"},
	{"list", "list", "coverage: 'uncovered' lists the uncovered targets with their distance"},
	{"layer", "layer", "lengths/progress: the layer (default roads / house_renovations)"},
	{"filter", "filter", "lengths/progress: filter terms, same syntax as source-filter"},
	{"series", "series", "progress: 'year' for a yearly series"},
}

func cmdStats(ctx context.Context, args []string, out io.Writer) error {
	endpoints := stats.Endpoints()
	var names []string
	for n := range endpoints {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("usage: lastmile stats %s [flags] [param=value ...] (see 'lastmile stats coverage -h')", strings.Join(names, "|"))
	}
	name := args[0]
	fn, ok := endpoints[name]
	if !ok {
		return fmt.Errorf("unknown statistic %q (statistics: %s)", name, strings.Join(names, ", "))
	}
	fs := newFlagSet("stats "+name, out)
	var db dbFlags
	db.register(fs)
	params := paramFlags(fs, statsParams)
	asCSV := fs.Bool("csv", false, "print CSV instead of a table")
	asJSON := fs.Bool("json", false, "print the JSON response")
	bom := fs.Bool("bom", false, "with --csv: start with a UTF-8 byte-order mark (for Excel)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: lastmile stats %s [flags] [param=value ...]\n\nAny query parameter of /api/stats/%s may also be given as param=value (e.g. status=completed).\n\nflags:\n", name, name)
		fs.PrintDefaults()
	}
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	q := params()
	for _, a := range fs.Args() {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return fmt.Errorf("argument %q: want param=value", a)
		}
		q.Add(k, v)
	}
	log := newLogger()
	d, err := db.open(ctx, log)
	if err != nil {
		return err
	}
	defer d.Close(context.WithoutCancel(ctx))
	res, _, err := fn(ctx, d.Pool, layer.Default(), q)
	if err != nil {
		return err
	}
	return printStats(out, res, q.Get("list") == "uncovered", *asCSV, *asJSON, *bom)
}

// printStats writes res as JSON, CSV or an aligned table with the
// definition above it.
func printStats(out io.Writer, res *stats.Result, list, asCSV, asJSON, bom bool) error {
	switch {
	case asJSON:
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(res)
	case asCSV:
		header, rows := res.CSVTable(list)
		return stats.WriteCSV(out, header, rows, bom)
	}
	fmt.Fprintln(out, res.Definition)
	fmt.Fprintln(out)
	table := func(header []string, rows [][]string) {
		tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
		for _, r := range rows {
			fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
		}
		tw.Flush()
	}
	table(res.CSVTable(false))
	if list {
		fmt.Fprintf(out, "\nuncovered (%d):\n", len(res.Uncovered))
		table(res.CSVTable(true))
	}
	return nil
}
