package stats

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgsql"
)

// groupLevels are the group_by values of coverage and RAI: a 12-digit
// code's county is its first 6 digits, its township its first 9, padded
// with zeros (see groupCode).
var groupLevels = []string{"county", "township", "none"}

// groupCode returns the code of the admin area at level containing code.
func groupCode(code, level string) string {
	if len(code) != 12 {
		return ""
	}
	switch level {
	case "county":
		return code[:6] + "000000"
	case "township":
		return code[:9] + "000"
	}
	return ""
}

// coverageRequest is a parsed coverage question.
type coverageRequest struct {
	target, source *layer.Layer
	roads          *layer.Layer // the network (method=network)
	within         float64
	method         string // straight | network
	metric         string // distance | time (network only)
	withinMin      float64
	speeds         layer.Speeds // metric=time: the catalog's, with the request's overrides
	speedsSpec     string       // the overrides as understood ("" for none)
	sourceFilter   rowFilter
	sourceSpec     []string
	targetFilter   rowFilter
	groupBy        string
	asOf           *time.Time
	list           bool
	precomputed    bool
	args           pgsql.Args
	// targetSQL, when set, replaces the target layer in the network
	// snapping query: a subquery of (id, name, geom) rows (NetworkDistances).
	targetSQL string
	echo      map[string]any
	format    Format
	// noRepair: a kept search of an earlier graph version is searched
	// again, not repaired (netrepair.go)
	noRepair bool
}

// maxWithin bounds within_m: 100 km covers any "access" question.
const maxWithin = 100000

// parseCoverage reads a coverage request; defaults give "villages within
// 1 km of a completed road, by county".
func parseCoverage(c *layer.Catalog, v url.Values, defaults map[string]string) (*coverageRequest, error) {
	def := func(name, fallback string) string {
		if d, ok := defaults[name]; ok {
			return d
		}
		return fallback
	}
	q := newStatsQuery(v)
	req := &coverageRequest{}
	req.target = q.layer(c, "target", def("target", "villages"), func(l *layer.Layer) bool {
		return slices.Contains(l.GeomKinds, layer.Point) || slices.Contains(l.GeomKinds, layer.Polygon)
	}, "must be a layer of points or areas")
	req.source = q.layer(c, "source", def("source", "roads"), nil, "")
	req.roads, _ = c.Layer("roads")
	within := 1000.0
	if d, ok := defaults["within_m"]; ok {
		within, _ = strconv.ParseFloat(d, 64)
	}
	req.within = q.float("within_m", within, 0, maxWithin)
	req.method = q.enum("method", "straight", "straight", "network")
	req.metric = q.enum("metric", "distance", "distance", "time")
	req.speeds = layer.DefaultSpeeds()
	if req.metric == "time" {
		req.withinMin = q.float("within_min", 30, 0, 24*60)
		if req.method != "network" {
			q.problem("metric", "time", "travel time needs method=network")
		}
	}
	if spec := q.raw("speeds"); spec != "" {
		if req.metric != "time" {
			q.problem("speeds", spec, "overrides the speeds of metric=time; give metric=time&method=network")
		} else {
			speeds, norm, problems := parseSpeeds(spec)
			q.problems.Append(problems...)
			req.speeds, req.speedsSpec = speeds, norm
			if norm != "" {
				q.echo["speeds"] = norm
			}
		}
	}
	req.groupBy = q.enum("group_by", def("group_by", "county"), groupLevels...)
	req.asOf = q.date("as_of")
	req.list = q.enum("list", "", "uncovered") == "uncovered"
	req.precomputed = q.boolean("precomputed", true)
	req.format = readFormat(q)
	req.format.List = req.list && req.format.CSV
	req.sourceSpec = q.multi("source_filter", def("source_filter", ""))
	tf := q.multi("target_filter", "")
	if req.source != nil {
		f, problems := parseFilter("source_filter", req.sourceSpec, req.source, "s", &req.args)
		q.problems.Append(problems...)
		req.sourceFilter = f
		if req.method == "network" && req.source.Name != "roads" && !slices.Equal(req.source.GeomKinds, []string{layer.Point}) {
			q.problem("method", "network", "the network method needs source=roads or a layer of points (facilities, villages …)")
		}
	}
	if req.target != nil {
		f, problems := parseFilter("target_filter", tf, req.target, "t", &req.args)
		q.problems.Append(problems...)
		req.targetFilter = f
	}
	if err := q.finish(); err != nil {
		return nil, err
	}
	req.sourceFilter = req.completeSource(req.sourceFilter, &req.args)
	req.echo = q.echo
	return req, nil
}

// completeSource adds to a parsed source filter that only works that exist
// count: completed, and completed on or before as_of when given.
func (req *coverageRequest) completeSource(f rowFilter, a *pgsql.Args) rowFilter {
	f.SQL = slices.Clone(f.SQL)
	if !f.HasStatus || req.asOf != nil {
		f.SQL = append(f.SQL, "s.status = 'completed'")
	}
	if req.asOf != nil {
		f.SQL = append(f.SQL, "s.completed_on <= "+a.Add(*req.asOf)+"::date")
	}
	return f
}

// sourceWhere returns the source predicate with its own parameters (for
// queries that use it alone).
func (req *coverageRequest) sourceWhere() (string, pgsql.Args) {
	var a pgsql.Args
	f, _ := parseFilter("source_filter", req.sourceSpec, req.source, "s", &a)
	return req.completeSource(f, &a).where(), a
}

// definition states in words what the request counts.
func (req *coverageRequest) definition() string {
	var b strings.Builder
	fmt.Fprintf(&b, "A %s feature counts as covered when a %s feature", req.target.Name, req.source.Name)
	var conds []string
	for _, d := range req.sourceFilter.Definitions {
		conds = append(conds, d.Description)
	}
	for _, t := range req.sourceFilter.Terms {
		if _, ok := layer.Definitions()[t]; !ok {
			conds = append(conds, t)
		}
	}
	if !req.sourceFilter.HasStatus || req.asOf != nil {
		conds = append(conds, "status completed")
	}
	if req.asOf != nil {
		conds = append(conds, "completed on or before "+req.asOf.Format(time.DateOnly))
	}
	fmt.Fprintf(&b, " (%s)", strings.Join(conds, "; "))
	if req.placeSources() {
		measure := fmt.Sprintf("%g m (geodesic lengths)", req.within)
		if req.metric == "time" {
			measure = fmt.Sprintf("%g minutes (walking the snap legs at %g km/h, each road at the speed of its technical grade, %s km/h, %s, times its surface factor, %s)",
				req.withinMin, req.speeds.WalkingKmh, speedList(req.speeds.GradeKmh), req.speedSource(), speedList(req.speeds.SurfaceFactor))
		}
		fmt.Fprintf(&b, " is reached within %s along the road network: the target and every source are snapped to the geodesic-nearest point of their nearest completed road, and the least way between them over completed roads is taken (roads noded at every shared vertex; no search cut-off; the nearest source is listed).", measure)
	} else if req.metric == "time" {
		fmt.Fprintf(&b, " is within %g minutes by road: the target is snapped to the geodesic-nearest point of its nearest completed road, walked at %g km/h, then the fastest path over completed roads to a qualifying road is added, each road at the speed of its technical grade (%s km/h; %s) times its surface factor (%s) (roads noded at every shared vertex; no search cut-off; distance_m is the length of that fastest path).",
			req.withinMin, req.speeds.WalkingKmh, speedList(req.speeds.GradeKmh), req.speedSource(), speedList(req.speeds.SurfaceFactor))
	} else if req.method == "network" {
		fmt.Fprintf(&b, " is within %g m along the road network: the target is snapped to the geodesic-nearest point of its nearest completed road (geodesic snap distance), then the shortest path over completed roads to a qualifying road is added (roads noded at every shared vertex, compared at 1e-7°; roads crossing without a shared vertex are not connected; edge cost = geodesic length; no search cut-off: listed distances are the true shortest ones, null only when no path exists).", req.within)
	} else {
		fmt.Fprintf(&b, " lies within %g m, measured geodesically on the WGS84 ellipsoid (PostGIS geography).", req.within)
	}
	if len(req.targetFilter.Terms) > 0 {
		fmt.Fprintf(&b, " Targets: %s.", strings.Join(req.targetFilter.Terms, "; "))
	}
	if req.groupBy != "none" {
		fmt.Fprintf(&b, " Grouped by %s: the first %d digits of the target's 12-digit code.", req.groupBy, map[string]int{"county": 6, "township": 9}[req.groupBy])
	}
	return b.String()
}

// speedSource says where the speeds of a metric=time answer come from.
func (req *coverageRequest) speedSource() string {
	const catalog = "JTG B01-2014 design speeds for hilly terrain"
	if req.speedsSpec == "" {
		return catalog
	}
	return "the catalog's " + catalog + ", overridden by this request: " + req.speedsSpec
}

// methodBlock describes how distances were measured, for the answer's
// "method" block: the method, the metric and, for travel time, the speeds
// in force (the catalog's with the request's overrides).
func (req *coverageRequest) methodBlock() map[string]any {
	m := map[string]any{"method": req.method, "metric": req.metric}
	if req.metric == "time" {
		m["within_min"] = req.withinMin
		m["speeds_kmh"] = speedTable(req.speeds.GradeKmh)
		m["surface_factors"] = speedTable(req.speeds.SurfaceFactor)
		m["walking_kmh"] = req.speeds.WalkingKmh
		m["speeds_source"] = "layer/definitions.go (JTG B01-2014, hilly terrain)"
		if req.speedsSpec != "" {
			m["overrides"] = req.speedsSpec
		}
	} else {
		m["within_m"] = req.within
	}
	return m
}

// targetRow is one target with its coverage.
type targetRow struct {
	ID             int64
	Name           *string
	Code           *string
	Population     *int64
	PoorHouseholds *int64
	Lon, Lat       float64
	Covered        bool
	DistanceM      *float64
	SnapM          *float64
	TimeMin        *float64 // metric=time
	// the nearest source (network method with a layer of points as sources)
	SourceID   *int64
	SourceName *string
}

// layerHasField reports whether l has the field.
func layerHasField(l *layer.Layer, name string) bool { _, ok := l.Field(name); return ok }

// sqlParts returns the common template parts of a coverage request.
func (req *coverageRequest) sqlParts() map[string]string {
	if req.targetSQL != "" { // points given by the caller: no codes or counts
		return map[string]string{
			"code": "NULL::text", "population": "NULL::bigint", "poor": "NULL::bigint", "list": "true",
			"source": pgsql.Table(req.source), "target": req.targetSQL,
			"source_filter": req.sourceFilter.where(), "target_filter": req.targetFilter.where(),
		}
	}
	code := "t.admin_code"
	if layerHasField(req.target, "code") && req.target.Name != "admin_areas" {
		code = "coalesce(t.code, t.admin_code)"
	} else if req.target.Name == "admin_areas" {
		code = "t.code"
	}
	pop, poor := "NULL::bigint", "NULL::bigint"
	if layerHasField(req.target, "population") {
		pop = "t.population::bigint"
	}
	if layerHasField(req.target, "poor_households") {
		poor = "t.poor_households::bigint"
	}
	list := "false"
	if req.list {
		list = "true"
	}
	return map[string]string{
		"code": code, "population": pop, "poor": poor, "list": list,
		"source": pgsql.Table(req.source), "target": pgsql.Table(req.target),
		"source_filter": req.sourceFilter.where(), "target_filter": req.targetFilter.where(),
	}
}

// run computes the per-target coverage; measured true (no rows) when a
// network question's kept village measures were repaired instead, for
// fastNetwork to answer from.
func (req *coverageRequest) run(ctx context.Context, pool *pgxpool.Pool) (rows []targetRow, measured bool, err error) {
	if req.method == "network" {
		return req.runNetwork(ctx, pool)
	}
	parts := req.sqlParts()
	parts["within"] = req.args.Add(req.within) + "::float8"
	sql := statsSQL.Fill("coverage.sql", parts)
	r, err := pool.Query(ctx, sql, req.args...)
	if err != nil {
		return nil, false, err
	}
	rows, err = pgx.CollectRows(r, scanTarget)
	return rows, false, err
}

func scanTarget(r pgx.CollectableRow) (targetRow, error) {
	var t targetRow
	err := r.Scan(&t.ID, &t.Name, &t.Code, &t.Population, &t.PoorHouseholds, &t.Lon, &t.Lat, &t.Covered, &t.DistanceM, &t.SnapM)
	return t, err
}

// coverageTally adds up targets.
type coverageTally struct {
	total, covered                   int64
	population, populationCovered    int64
	poorHouseholds, poorHouseholdsCv int64
}

func (t *coverageTally) add(r targetRow) {
	t.total++
	var pop, poor int64
	if r.Population != nil {
		pop = *r.Population
	}
	if r.PoorHouseholds != nil {
		poor = *r.PoorHouseholds
	}
	t.population += pop
	t.poorHouseholds += poor
	if r.Covered {
		t.covered++
		t.populationCovered += pop
		t.poorHouseholdsCv += poor
	}
}

func (t *coverageTally) merge(o *coverageTally) {
	t.total += o.total
	t.covered += o.covered
	t.population += o.population
	t.populationCovered += o.populationCovered
	t.poorHouseholds += o.poorHouseholds
	t.poorHouseholdsCv += o.poorHouseholdsCv
}

func (t *coverageTally) row(withPop bool) Row {
	r := Row{"total": t.total, "covered": t.covered, "uncovered": t.total - t.covered,
		"pct": percent(float64(t.covered), float64(t.total))}
	if withPop {
		r["population"] = t.population
		r["population_covered"] = t.populationCovered
		r["population_pct"] = percent(float64(t.populationCovered), float64(t.population))
		r["poor_households"] = t.poorHouseholds
		r["poor_households_covered"] = t.poorHouseholdsCv
	}
	return r
}

// Coverage answers a coverage request given as URL query parameters.
func Coverage(ctx context.Context, pool *pgxpool.Pool, c *layer.Catalog, v url.Values) (_ *Result, f Format, err error) {
	defer lastmile.Wrap(&err, "stats.Coverage")
	req, err := parseCoverage(c, v, nil)
	if err != nil {
		return nil, f, err
	}
	res, err := req.result(ctx, pool)
	return res, req.format, err
}

// tally runs the request: tallies per group code ("" for targets without
// a code) and the uncovered targets when listed. Villages by roads in a
// straight line come from the precomputed nearest distances when possible.
func (req *coverageRequest) tally(ctx context.Context, pool *pgxpool.Pool) (map[string]*coverageTally, []targetRow, error) {
	if def := req.precomputedDefinition(); def != "" {
		ok, err := accessReady(ctx, pool)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			return req.fastCoverage(ctx, pool, def)
		}
	}
	if groups, ok, err := req.fastNetwork(ctx, pool); err != nil || ok {
		return groups, nil, err
	}
	rows, measured, err := req.run(ctx, pool)
	if err != nil {
		return nil, nil, err
	}
	if measured { // repaired: answered from the kept measures, else (moved on meanwhile) the long way
		if groups, ok, err := req.fastNetwork(ctx, pool); err != nil || ok {
			return groups, nil, err
		}
		req.noRepair = true
		if rows, _, err = req.run(ctx, pool); err != nil {
			return nil, nil, err
		}
	}
	groups := map[string]*coverageTally{}
	var list []targetRow
	for _, r := range rows {
		code := ""
		if r.Code != nil {
			code = groupCode(*r.Code, req.groupBy)
		}
		g, ok := groups[code]
		if !ok {
			g = &coverageTally{}
			groups[code] = g
		}
		g.add(r)
		if req.list && !r.Covered {
			list = append(list, r)
		}
	}
	return groups, list, nil
}

// result runs the request and renders it.
func (req *coverageRequest) result(ctx context.Context, pool *pgxpool.Pool) (*Result, error) {
	groups, list, err := req.tally(ctx, pool)
	if err != nil {
		return nil, err
	}
	withPop := layerHasField(req.target, "population")
	res := &Result{Definition: req.definition(), Parameters: req.echo, Method: req.methodBlock()}
	res.Columns = []string{"code", "name", "total", "covered", "uncovered", "pct"}
	if withPop {
		res.Columns = append(res.Columns, "population", "population_covered", "population_pct", "poor_households", "poor_households_covered")
	}
	var total coverageTally
	var order []string
	for code, g := range groups {
		total.merge(g)
		order = append(order, code)
	}
	if req.groupBy == "none" {
		order = nil
	}
	sort.Strings(order)
	if len(order) > 0 && order[0] == "" { // targets without a code last
		order = append(order[1:], "")
	}
	names, err := areaNames(ctx, pool, order)
	if err != nil {
		return nil, err
	}
	res.Groups = []Row{}
	for _, code := range order {
		r := groups[code].row(withPop)
		r["code"], r["name"] = nilIfEmpty(code), names[code]
		res.Groups = append(res.Groups, r)
	}
	res.Total = total.row(withPop)
	res.Total["code"], res.Total["name"] = nil, "total"
	if req.list {
		res.UncoveredColumns = []string{"id", "name", "code", "lon", "lat", "distance_m"}
		if req.method == "network" {
			res.UncoveredColumns = append(res.UncoveredColumns, "snap_m")
		}
		if req.metric == "time" {
			res.UncoveredColumns = append(res.UncoveredColumns, "time_min")
		}
		if req.placeSources() {
			res.UncoveredColumns = append(res.UncoveredColumns, "nearest_id", "nearest_name")
		}
		if withPop {
			res.UncoveredColumns = append(res.UncoveredColumns, "population", "poor_households")
		}
		res.Uncovered = []Row{}
		for _, r := range list {
			u := Row{"id": r.ID, "name": derefStr(r.Name), "code": derefStr(r.Code), "lon": r.Lon, "lat": r.Lat,
				"distance_m": roundPtr(r.DistanceM)}
			if req.method == "network" {
				u["snap_m"] = roundPtr(r.SnapM)
			}
			if req.metric == "time" {
				u["time_min"] = roundPtr(r.TimeMin)
			}
			if req.placeSources() {
				u["nearest_id"], u["nearest_name"] = derefInt(r.SourceID), derefStr(r.SourceName)
			}
			if withPop {
				u["population"] = derefInt(r.Population)
				u["poor_households"] = derefInt(r.PoorHouseholds)
			}
			res.Uncovered = append(res.Uncovered, u)
		}
	}
	return res, nil
}

// areaNames returns the names of the admin areas with the given codes.
func areaNames(ctx context.Context, pool *pgxpool.Pool, codes []string) (map[string]any, error) {
	out := map[string]any{}
	if len(codes) == 0 {
		return out, nil
	}
	rows, err := pool.Query(ctx, `SELECT code, name FROM lastmile.admin_areas WHERE code = ANY($1)`, codes)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var code string
		var name *string
		if err := rows.Scan(&code, &name); err != nil {
			return nil, err
		}
		if name != nil {
			out[code] = *name
		}
	}
	return out, rows.Err()
}

func derefStr(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func derefInt(n *int64) any {
	if n == nil {
		return nil
	}
	return *n
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func roundPtr(f *float64) any {
	if f == nil {
		return nil
	}
	return roundTo2(*f)
}

// speedList renders a speed table as "key value, ..." in key order ("none"
// for the empty key).
func speedList(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		name := k
		if name == "" {
			name = "none"
		}
		out = append(out, fmt.Sprintf("%s %g", name, m[k]))
	}
	return strings.Join(out, ", ")
}
