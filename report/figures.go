package report

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"time"

	"github.com/lastmile/lastmile/stats"
)

// Source is where one figure comes from: the statistics endpoint, the
// parameters it was called with, and the definition and parameters its
// answer states. URL is the API request that returns the same answer.
type Source struct {
	Key        string         // what the figure is (a key of the strings table)
	Endpoint   string         // coverage, rai, lengths or progress
	Params     url.Values     // as passed to the endpoint
	Definition string         // the answer's definition (English, from stats)
	Echo       map[string]any // the answer's parameters as understood
	Row        string         // which row of the answer the report reads
}

// URL returns the API request answering the same question.
func (s Source) URL() string { return "/api/stats/" + s.Endpoint + "?" + s.Params.Encode() }

// Coverage is one coverage figure of the area.
type Coverage struct {
	Covered, Total, Population, PopulationCovered int64
	PoorHouseholds, PoorHouseholdsCovered         int64
	Pct, PopulationPct                            *float64
	Found                                         bool // the answer has a row for the area
}

// RAI is the area's Rural Access Index.
type RAI struct {
	Population, PopulationCovered int64
	RAI                           *float64
	Found                         bool
}

// Progress is the progress of one kind of work in the area.
type Progress struct {
	Total, Planned, UnderConstruction, Completed, Cancelled int64
	Pct                                                     *float64
	Sums                                                    map[string]float64 // quantity sums (households_completed, …)
	Found                                                   bool
}

// Active returns the works not cancelled (the denominator of Pct).
func (p Progress) Active() int64 { return p.Total - p.Cancelled }

// Snapshot is the headline figures as of one date (nil: the current data).
type Snapshot struct {
	Date                   *time.Time
	Straight, Network      Coverage
	RAI                    RAI
	KmHardened             float64
	RoadsHardened          int64
	WaterKm                float64
	Renovations, Water, Pw Progress
	// Uncovered lists the area's villages not covered along the network
	// (a superset of those not covered in a straight line), by code.
	Uncovered []Village
}

// Village is an uncovered village.
type Village struct {
	ID                int64
	Name, Code        string
	Township          string
	StraightM         *float64 // distance to the nearest graded highway; nil: covered in a straight line
	NetworkM          *float64 // along the network; nil: beyond the search limit or unreachable
	StraightUncovered bool
}

// YearKm is the km of road hardened in one year.
type YearKm struct {
	Year  string // "" when completed_on is unknown
	Km    float64
	Roads int64
}

// TownshipRow is one township of a county report.
type TownshipRow struct {
	Code, Name        string
	Straight, Network Coverage
	RAI               RAI
	KmHardened        float64
	Renovations       Progress
}

// Parameters of the headline questions, in one place.
const (
	coverageWithin = "1000" // villages within 1 km …
	coverageSource = "graded"
	raiWithin      = "2000"
)

// build is one report being built.
type build struct {
	b       *Builder
	ctx     context.Context
	area    Area
	sources []Source
}

// fetch calls the statistics endpoint with p and records the source (the
// first time a question is asked; as_of variants are recorded too).
func (x *build) fetch(key, endpoint string, p url.Values, row string) (*stats.Result, error) {
	fn, ok := stats.Endpoints()[endpoint]
	if !ok {
		return nil, fmt.Errorf("report: no statistics endpoint %q", endpoint)
	}
	res, _, err := fn(x.ctx, x.b.Pool, x.b.Catalog, p)
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", key, "/api/stats/"+endpoint+"?"+p.Encode(), err)
	}
	x.sources = append(x.sources, Source{Key: key, Endpoint: endpoint, Params: p, Definition: res.Definition, Echo: res.Parameters, Row: row})
	return res, nil
}

func withDate(p url.Values, d *time.Time) url.Values {
	if d != nil {
		p.Set("as_of", d.Format(time.DateOnly))
	}
	return p
}

// rowOf returns the group row whose key column equals code.
func rowOf(res *stats.Result, key, code string) stats.Row {
	for _, g := range res.Groups {
		if s, _ := g[key].(string); s == code {
			return g
		}
	}
	return nil
}

func num(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case int32:
		return float64(x)
	case int:
		return float64(x)
	case float64:
		return x
	}
	return 0
}

func count(v any) int64 { return int64(num(v)) }

func optFloat(v any) *float64 {
	switch v.(type) {
	case int64, int32, int, float64:
		f := num(v)
		return &f
	}
	return nil
}

func coverageOf(r stats.Row) Coverage {
	if r == nil {
		return Coverage{}
	}
	return Coverage{Covered: count(r["covered"]), Total: count(r["total"]), Pct: optFloat(r["pct"]),
		Population: count(r["population"]), PopulationCovered: count(r["population_covered"]), PopulationPct: optFloat(r["population_pct"]),
		PoorHouseholds: count(r["poor_households"]), PoorHouseholdsCovered: count(r["poor_households_covered"]), Found: true}
}

func raiOf(r stats.Row) RAI {
	if r == nil {
		return RAI{}
	}
	return RAI{Population: count(r["population"]), PopulationCovered: count(r["population_covered"]), RAI: optFloat(r["rai"]), Found: true}
}

func progressOf(r stats.Row) Progress {
	if r == nil {
		return Progress{Sums: map[string]float64{}}
	}
	p := Progress{Total: count(r["total"]), Planned: count(r["planned"]), UnderConstruction: count(r["under_construction"]),
		Completed: count(r["completed"]), Cancelled: count(r["cancelled"]), Pct: optFloat(r["pct"]), Sums: map[string]float64{}, Found: true}
	for k, v := range r {
		if f := optFloat(v); f != nil {
			p.Sums[k] = *f
		}
	}
	return p
}

func coverageParams(group string, network bool) url.Values {
	p := url.Values{"target": {"villages"}, "source": {"roads"}, "within_m": {coverageWithin}, "source_filter": {coverageSource},
		"group_by": {group}, "list": {"uncovered"}}
	if network {
		p.Set("method", "network")
	}
	return p
}

// snapshot computes the headline figures of the area as of d.
func (x *build) snapshot(d *time.Time) (*Snapshot, error) {
	a := x.area
	s := &Snapshot{Date: d}
	rowKey := "row " + a.Group + " = " + a.Code
	straight, err := x.fetch("straight", "coverage", withDate(coverageParams(a.Group, false), d), rowKey)
	if err != nil {
		return nil, err
	}
	s.Straight = coverageOf(rowOf(straight, "code", a.Code))
	network, err := x.fetch("network", "coverage", withDate(coverageParams(a.Group, true), d), rowKey)
	if err != nil {
		return nil, err
	}
	s.Network = coverageOf(rowOf(network, "code", a.Code))
	s.Uncovered = uncovered(a, straight, network)

	rai, err := x.fetch("rai", "rai", withDate(url.Values{"within_m": {raiWithin}, "group_by": {a.Group}}, d), rowKey)
	if err != nil {
		return nil, err
	}
	s.RAI = raiOf(rowOf(rai, "code", a.Code))

	km, err := x.fetch("km", "lengths", withDate(url.Values{"layer": {"roads"}, "filter": {"hardened"}, "status": {"completed"}, "group_by": {a.Group}}, d), rowKey)
	if err != nil {
		return nil, err
	}
	if r := rowOf(km, a.Group, a.Code); r != nil {
		s.KmHardened, s.RoadsHardened = num(r["km"]), count(r["count"])
	}
	wkm, err := x.fetch("water_km", "lengths", withDate(url.Values{"layer": {"water_pipelines"}, "status": {"completed"}, "group_by": {a.Group}}, d), rowKey)
	if err != nil {
		return nil, err
	}
	if r := rowOf(wkm, a.Group, a.Code); r != nil {
		s.WaterKm = num(r["km"])
	}
	for _, w := range []struct {
		key, layer string
		into       *Progress
	}{{"renovations", "house_renovations", &s.Renovations}, {"water", "water_pipelines", &s.Water}, {"power", "power_upgrades", &s.Pw}} {
		res, err := x.fetch(w.key, "progress", withDate(url.Values{"layer": {w.layer}, "group_by": {a.Group}}, d), rowKey)
		if err != nil {
			return nil, err
		}
		*w.into = progressOf(rowOf(res, a.Group, a.Code))
	}
	return s, nil
}

// uncovered joins the two coverage answers' uncovered lists for the
// area's villages.
func uncovered(a Area, straight, network *stats.Result) []Village {
	byID := map[int64]*Village{}
	var out []*Village
	str := func(v any) string { s, _ := v.(string); return s }
	add := func(u stats.Row) *Village {
		id := count(u["id"])
		if v, ok := byID[id]; ok {
			return v
		}
		v := &Village{ID: id, Name: str(u["name"]), Code: str(u["code"])}
		byID[id] = v
		out = append(out, v)
		return v
	}
	for _, u := range network.Uncovered {
		if a.Contains(str(u["code"])) {
			add(u).NetworkM = optFloat(u["distance_m"])
		}
	}
	for _, u := range straight.Uncovered {
		if a.Contains(str(u["code"])) {
			v := add(u)
			v.StraightM, v.StraightUncovered = optFloat(u["distance_m"]), true
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Code != out[j].Code {
			return out[i].Code < out[j].Code
		}
		return out[i].ID < out[j].ID
	})
	vs := make([]Village, len(out))
	for i, v := range out {
		vs[i] = *v
	}
	return vs
}

// byYear returns the km of road hardened per year of completion.
func (x *build) byYear(d *time.Time) ([]YearKm, error) {
	a := x.area
	res, err := x.fetch("km_year", "lengths", withDate(url.Values{"layer": {"roads"}, "filter": {"hardened"}, "status": {"completed"}, "group_by": {a.Group + ",year"}}, d),
		"rows "+a.Group+" = "+a.Code)
	if err != nil {
		return nil, err
	}
	var out []YearKm
	for _, g := range res.Groups {
		if s, _ := g[a.Group].(string); s != a.Code {
			continue
		}
		y := ""
		if g["year"] != nil {
			y = fmt.Sprint(g["year"])
		}
		out = append(out, YearKm{Year: y, Km: num(g["km"]), Roads: count(g["count"])})
	}
	return out, nil
}

// townships returns the figures of each township of a county.
func (x *build) townships(d *time.Time) ([]TownshipRow, error) {
	a := x.area
	rows := map[string]*TownshipRow{}
	var order []string
	get := func(code string, name any) *TownshipRow {
		if r, ok := rows[code]; ok {
			return r
		}
		r := &TownshipRow{Code: code}
		r.Name, _ = name.(string)
		rows[code] = r
		order = append(order, code)
		return r
	}
	key := "rows township within " + a.Code
	straight, err := x.fetch("straight", "coverage", withDate(coverageParams("township", false), d), key)
	if err != nil {
		return nil, err
	}
	for _, g := range straight.Groups {
		if c, _ := g["code"].(string); a.Contains(c) {
			get(c, g["name"]).Straight = coverageOf(g)
		}
	}
	network, err := x.fetch("network", "coverage", withDate(coverageParams("township", true), d), key)
	if err != nil {
		return nil, err
	}
	for _, g := range network.Groups {
		if c, _ := g["code"].(string); a.Contains(c) {
			get(c, g["name"]).Network = coverageOf(g)
		}
	}
	rai, err := x.fetch("rai", "rai", withDate(url.Values{"within_m": {raiWithin}, "group_by": {"township"}}, d), key)
	if err != nil {
		return nil, err
	}
	for _, g := range rai.Groups {
		if c, _ := g["code"].(string); a.Contains(c) {
			get(c, g["name"]).RAI = raiOf(g)
		}
	}
	km, err := x.fetch("km", "lengths", withDate(url.Values{"layer": {"roads"}, "filter": {"hardened"}, "status": {"completed"}, "group_by": {"township"}}, d), key)
	if err != nil {
		return nil, err
	}
	for _, g := range km.Groups {
		if c, _ := g["township"].(string); a.Contains(c) {
			get(c, g["township_name"]).KmHardened = num(g["km"])
		}
	}
	ren, err := x.fetch("renovations", "progress", withDate(url.Values{"layer": {"house_renovations"}, "group_by": {"township"}}, d), key)
	if err != nil {
		return nil, err
	}
	for _, g := range ren.Groups {
		if c, _ := g["township"].(string); a.Contains(c) {
			get(c, g["township_name"]).Renovations = progressOf(g)
		}
	}
	sort.Strings(order)
	out := make([]TownshipRow, 0, len(order))
	for _, c := range order {
		if rows[c].Name == "" {
			rows[c].Name = c
		}
		out = append(out, *rows[c])
	}
	return out, nil
}
