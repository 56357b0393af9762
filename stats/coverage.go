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
	within         float64
	method         string // straight | network
	sourceFilter   rowFilter
	sourceSpec     []string
	targetFilter   rowFilter
	groupBy        string
	asOf           *time.Time
	list           bool
	precomputed    bool
	args           sqlArgs
	echo           map[string]any
	format         Format
}

// maxNetworkEdges bounds the routing graph a network question may search.
// pgr_drivingDistance grows faster than linearly and does not stop when the
// query is cancelled. Measured here (graded roads, 1 km, whole question):
// 1.6 s at 100 000 edges, 8.7 s at 280 000; the search alone 80 s at 1 M;
// at 10 M a question ran past 20 minutes and 7 GB and ignored cancel and
// terminate. 300 000 keeps a question inside the request time limit.
const maxNetworkEdges = 300000

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
	within := 1000.0
	if d, ok := defaults["within_m"]; ok {
		within, _ = strconv.ParseFloat(d, 64)
	}
	req.within = q.float("within_m", within, 0, maxWithin)
	req.method = q.enum("method", "straight", "straight", "network")
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
		q.problems = append(q.problems, problems...)
		req.sourceFilter = f
		if req.method == "network" && req.source.Name != "roads" {
			q.problem("method", "network", "the network method needs source=roads")
		}
	}
	if req.target != nil {
		f, problems := parseFilter("target_filter", tf, req.target, "t", &req.args)
		q.problems = append(q.problems, problems...)
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
func (req *coverageRequest) completeSource(f rowFilter, a *sqlArgs) rowFilter {
	f.SQL = slices.Clone(f.SQL)
	if !f.HasStatus || req.asOf != nil {
		f.SQL = append(f.SQL, "s.status = 'completed'")
	}
	if req.asOf != nil {
		f.SQL = append(f.SQL, "s.completed_on <= "+a.arg(*req.asOf)+"::date")
	}
	return f
}

// sourceWhere returns the source predicate with its own parameters (for
// queries that use it alone).
func (req *coverageRequest) sourceWhere() (string, sqlArgs) {
	var a sqlArgs
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
	if req.method == "network" {
		fmt.Fprintf(&b, " is within %g m along the road network: the target is snapped to its nearest completed road (geodesic snap distance), then the shortest path over completed roads (noded at shared endpoints, edge cost = geodesic length) to a qualifying road is added.", req.within)
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
}

// layerHasField reports whether l has the field.
func layerHasField(l *layer.Layer, name string) bool { _, ok := l.Field(name); return ok }

// sqlParts returns the common template parts of a coverage request.
func (req *coverageRequest) sqlParts() map[string]string {
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
		"source": layerTable(req.source), "target": layerTable(req.target),
		"source_filter": req.sourceFilter.where(), "target_filter": req.targetFilter.where(),
		"within": req.args.arg(req.within) + "::float8",
	}
}

// run computes the per-target coverage.
func (req *coverageRequest) run(ctx context.Context, pool *pgxpool.Pool) ([]targetRow, error) {
	parts := req.sqlParts()
	var sql string
	if req.method == "network" {
		if err := graphReady(ctx, pool); err != nil {
			return nil, err
		}
		var edges int64
		if err := pool.QueryRow(ctx, `SELECT edges FROM lastmile.route_graph_state`).Scan(&edges); err != nil {
			return nil, err
		}
		if edges > maxNetworkEdges {
			return nil, lastmile.Invalid("the road network is too large for the network method", lastmile.Problem{Field: "method", Value: "network",
				Message: fmt.Sprintf("the routing graph has %d edges; the network method answers up to %d (a county or a small province); use method=straight, or a database per region", edges, maxNetworkEdges)})
		}
		var starts []int64
		where, startArgs := req.sourceWhere()
		startSQL := renderSQL("network_starts.sql", map[string]string{"source_filter": where})
		if err := pool.QueryRow(ctx, startSQL, startArgs...).Scan(&starts); err != nil {
			return nil, fmt.Errorf("network starts: %w", err)
		}
		asOf := "NULL::date"
		if req.asOf != nil {
			asOf = req.args.arg(*req.asOf) + "::date"
		}
		parts["traversable"] = fmt.Sprintf("e.status = 'completed' AND (%s IS NULL OR e.completed_on <= %s)", asOf, asOf)
		if len(starts) == 0 {
			parts["driving_distance"] = "SELECT NULL::bigint AS node, NULL::float8 AS agg WHERE false"
		} else {
			// One search from a virtual vertex 0 joined to every start by
			// an edge of cost 0 gives each vertex its distance to the
			// nearest start (a search per start would cost starts × graph).
			parts["driving_distance"] = fmt.Sprintf(`SELECT node, agg_cost AS agg
    FROM pgr_drivingDistance(
        format('SELECT e.id, e.source, e.target, e.cost, e.cost AS reverse_cost FROM lastmile.route_edges e WHERE e.status = ''completed'' AND (%%L::date IS NULL OR e.completed_on <= %%L::date)
                UNION ALL SELECT -s.i, 0, s.v, 0, 0 FROM unnest(%%L::bigint[]) WITH ORDINALITY s(v, i)', %s, %s, %s::bigint[]),
        0, %s, directed => false)
    WHERE node <> 0`, asOf, asOf, req.args.arg(starts), parts["within"])
		}
		sql = renderSQL("coverage_network.sql", parts)
	} else {
		sql = renderSQL("coverage.sql", parts)
	}
	rows, err := pool.Query(ctx, sql, req.args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanTarget)
}

func scanTarget(r pgx.CollectableRow) (targetRow, error) {
	var t targetRow
	err := r.Scan(&t.ID, &t.Name, &t.Code, &t.Population, &t.PoorHouseholds, &t.Lon, &t.Lat, &t.Covered, &t.DistanceM, &t.SnapM)
	return t, err
}

// ensureGraph rebuilds the routing graph when roads changed since it was
// built (lastmile.route_graph_state counts road writes).
func ensureGraph(ctx context.Context, pool *pgxpool.Pool) error {
	var stale bool
	if err := pool.QueryRow(ctx, `SELECT generation > built_generation FROM lastmile.route_graph_state`).Scan(&stale); err != nil {
		return fmt.Errorf("routing graph state: %w", err)
	}
	if !stale {
		return nil
	}
	if _, err := pool.Exec(ctx, `SELECT lastmile.route_graph_rebuild()`); err != nil {
		return fmt.Errorf("rebuilding the routing graph: %w", err)
	}
	return nil
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
	rows, err := req.run(ctx, pool)
	if err != nil {
		return nil, nil, err
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
	res := &Result{Definition: req.definition(), Parameters: req.echo}
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
