package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/rank"
)

// rankParams maps the rank flags to the parameters of /api/sites/rank (the
// query-string form that rank.ParseValues reads).
var rankParams = []paramFlag{
	{"source", "source", "candidates: features, planned (relocation_sites with status planned) or grid"},
	{"admin-code", "admin_code", "grid: 12-digit code of the admin area to cover"},
	{"bbox", "bbox", "grid: min_lon,min_lat,max_lon,max_lat to cover"},
	{"cell-m", "cell_m", "grid: cell size in metres (default 250)"},
	{"limit", "limit", "the most ranked candidates to return (default 100)"},
	{"include-excluded", "include_excluded", "true/false: list excluded candidates too (default true, false for a grid)"},
	{"constraints", "constraints", "hard constraints, e.g. hazard=200,road=2000,water=off,village=on (a number sets the limit in m, m² for min_area)"},
	{"weights", "weights", "factor weights, e.g. road=0.3,water=0.25,power=0.15,school=0.1,clinic=0.1,population=0.1"},
	{"d-max", "d_max_m", "distance (m) where a factor's normalised value reaches 0, e.g. road=5000,water=3000"},
	{"population-radius-m", "population_radius_m", "population factor: villages within this many metres (default 3000)"},
	{"population-max", "population_max", "population factor: population that scores 1 (default 5000)"},
	{"distance", "distance", "straight (default) or network: road, water, school and clinic by road; or per kind, e.g. road=network,clinic=network"},
}

func cmdRank(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("rank", out)
	var db dbFlags
	db.register(fs)
	params := paramFlags(fs, rankParams)
	requestFile := fs.String("request", "", "JSON request body as for POST /api/sites/rank ('-' for stdin); flags override its fields")
	featuresFile := fs.String("features", "", "GeoJSON FeatureCollection of candidate points/polygons (sets --source features)")
	asCSV := fs.Bool("csv", false, "print CSV instead of a table")
	asGeoJSON := fs.Bool("geojson", false, "print the ranked GeoJSON FeatureCollection")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: lastmile rank [flags]

Ranks relocation-site candidates: hard constraints exclude, a weighted sum of
normalised geodesic distances scores. Same parameters as POST /api/sites/rank.

examples:
  lastmile rank                                    # the planned relocation sites
  lastmile rank --admin-code 522731000000 --cell-m 250 --limit 10
  lastmile rank --features sites.geojson --weights water=0.5 --csv
  lastmile rank --request body.json --geojson > ranked.geojson

flags:
`)
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (parameters are flags, see 'lastmile rank -h')", fs.Arg(0))
	}
	if *asCSV && *asGeoJSON {
		return fmt.Errorf("give at most one of --csv and --geojson")
	}
	base, err := rankBase(*requestFile, *featuresFile)
	if err != nil {
		return err
	}
	req, err := rank.ParseValues(base, params())
	if err != nil {
		return oneLine(err)
	}
	log := newLogger()
	d, err := db.open(ctx, log)
	if err != nil {
		return err
	}
	defer d.Close(context.WithoutCancel(ctx))
	res, err := rank.Run(ctx, d.Pool, req)
	if err != nil {
		return oneLine(err)
	}
	switch {
	case *asCSV:
		return res.WriteCSV(out)
	case *asGeoJSON:
		return res.WriteGeoJSON(out)
	}
	return printRankTable(out, res)
}

// rankBase reads the --request body and puts the --features collection
// into it.
func rankBase(requestFile, featuresFile string) ([]byte, error) {
	read := func(name string) ([]byte, error) {
		if name == "-" {
			return io.ReadAll(os.Stdin)
		}
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %v", name, err)
		}
		return b, nil
	}
	var base []byte
	if requestFile != "" {
		b, err := read(requestFile)
		if err != nil {
			return nil, err
		}
		base = b
	}
	if featuresFile == "" {
		return base, nil
	}
	fc, err := read(featuresFile)
	if err != nil {
		return nil, err
	}
	body := map[string]json.RawMessage{}
	if len(strings.TrimSpace(string(base))) > 0 {
		if err := json.Unmarshal(base, &body); err != nil {
			return nil, fmt.Errorf("%s: not a JSON object: %v", requestFile, err)
		}
	}
	cand := map[string]json.RawMessage{}
	if c, ok := body["candidates"]; ok {
		if err := json.Unmarshal(c, &cand); err != nil {
			return nil, fmt.Errorf("%s: candidates is not an object", requestFile)
		}
	}
	cand["source"] = json.RawMessage(`"features"`)
	cand["features"] = fc
	body["candidates"], _ = json.Marshal(cand)
	return json.Marshal(body)
}

// oneLine renders an invalid-request error with its problems on one line.
func oneLine(err error) error {
	e, ok := err.(*lastmile.Error)
	if !ok || len(e.Details) == 0 {
		return err
	}
	parts := make([]string, len(e.Details))
	for i, p := range e.Details {
		parts[i] = p.String()
	}
	return fmt.Errorf("%s: %s", e.Message, strings.Join(parts, "; "))
}

// printRankTable prints the parameters, the ranked candidates with their
// factor breakdown (raw distance → contribution) and the excluded ones
// with the constraints they failed.
func printRankTable(out io.Writer, res *rank.Result) error {
	p := res.Parameters
	var ws, cs []string
	for _, f := range []string{rank.FactorRoad, rank.FactorWater, rank.FactorPower, rank.FactorSchool, rank.FactorClinic, rank.FactorPopulation} {
		ws = append(ws, fmt.Sprintf("%s %g", f, p.Weights.Get(f)))
	}
	for _, c := range []string{rank.ConstraintHazard, rank.ConstraintRoad, rank.ConstraintWater, rank.ConstraintPower, rank.ConstraintMinArea, rank.ConstraintVillage} {
		if con := p.Constraint(c); con.Enabled {
			cs = append(cs, fmt.Sprintf("%s %g", c, con.Limit))
		} else {
			cs = append(cs, c+" off")
		}
	}
	s := res.Summary
	fmt.Fprintf(out, "candidates: %s — %d, %d ranked, %d excluded, in %.1f s\n", describeSource(p.Candidates), s.Candidates, s.Ranked, s.Excluded, s.ElapsedMS/1000)
	fmt.Fprintf(out, "weights: %s\nconstraints: %s\n", strings.Join(ws, ", "), strings.Join(cs, ", "))
	var byRoad []string
	for _, f := range []string{rank.FactorRoad, rank.FactorWater, rank.FactorSchool, rank.FactorClinic} {
		if p.ByRoad(f) {
			byRoad = append(byRoad, f)
		}
	}
	if len(byRoad) > 0 {
		fmt.Fprintf(out, "by road (along the road network): %s\n", strings.Join(byRoad, ", "))
	}
	fmt.Fprintf(out, "score: normalised = max(0, 1 - d/d_max) per distance factor, min(1, P/%g) for population; cells show raw → contribution\n\n", p.Population.Max)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	// The name goes last: tabwriter counts a CJK character as one column.
	head := []string{"rank", "id", "total"}
	for _, f := range []string{rank.FactorRoad, rank.FactorWater, rank.FactorPower, rank.FactorSchool, rank.FactorClinic} {
		h := f + " m"
		if p.ByRoad(f) {
			h += " by road"
		}
		head = append(head, h)
	}
	fmt.Fprintln(tw, strings.Join(append(head, "population", "lon, lat", "name"), "\t"))
	for _, f := range res.Features {
		pr := f.Properties
		if pr.Rank == nil {
			continue
		}
		row := []string{strconv.Itoa(*pr.Rank), f.ID, fmt.Sprintf("%.4f", pr.Total)}
		for _, fs := range pr.Factors {
			raw := "-"
			if fs.Raw != nil {
				raw = strconv.FormatFloat(*fs.Raw, 'f', 0, 64)
			}
			row = append(row, fmt.Sprintf("%s → %.3f", raw, fs.Contribution))
		}
		row = append(row, rankPoint(f), pr.Name)
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if s.Excluded == 0 {
		return nil
	}
	var by []string
	for _, c := range []string{rank.ConstraintHazard, rank.ConstraintRoad, rank.ConstraintWater, rank.ConstraintPower, rank.ConstraintMinArea, rank.ConstraintVillage} {
		if n := s.ExcludedBy.Get(c); n > 0 {
			by = append(by, fmt.Sprintf("%s %d", c, n))
		}
	}
	fmt.Fprintf(out, "\nexcluded: %d (failing %s)\n", s.Excluded, strings.Join(by, ", "))
	tw = tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	listed := false
	for _, f := range res.Features {
		pr := f.Properties
		if pr.Rank != nil {
			continue
		}
		if !listed {
			fmt.Fprintln(tw, "id\tfailed constraints (measured)\tname")
			listed = true
		}
		var why []string
		for _, c := range pr.Constraints {
			if c.Passed {
				continue
			}
			v := "none found"
			if c.Measured != nil {
				v = strconv.FormatFloat(*c.Measured, 'f', -1, 64) + " " + c.Unit
			}
			why = append(why, fmt.Sprintf("%s: %s (needs %s)", c.Constraint, v, c.Test))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", f.ID, strings.Join(why, "; "), pr.Name)
	}
	return tw.Flush()
}

func describeSource(c rank.Candidates) string {
	switch {
	case c.Source == rank.SourceGrid && c.AdminCode != "":
		return fmt.Sprintf("%g m grid over admin area %s", c.CellM, c.AdminCode)
	case c.Source == rank.SourceGrid:
		return fmt.Sprintf("%g m grid over bbox %v", c.CellM, c.BBox)
	case c.Source == rank.SourceFeatures:
		return "features given"
	}
	return "planned relocation sites"
}

func rankPoint(f rank.Feature) string {
	g := f.Geometry.Geometry()
	p, ok := g.(orb.Point)
	if !ok {
		p = g.Bound().Center()
	}
	return fmt.Sprintf("%.5f, %.5f", p[0], p[1])
}
