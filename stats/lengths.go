package stats

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
)

// aggregateRequest is the parsed common part of lengths and progress.
type aggregateRequest struct {
	agg    aggregation
	asOf   *time.Time
	series bool
	format Format
	echo   map[string]any
}

// parseAggregate reads layer, group_by, as_of, the filter (filter=spec and
// any field of the layer as field=v1,v2), format and bom.
func parseAggregate(q *statsQuery, c *layer.Catalog, v url.Values, def string, ok func(*layer.Layer) bool, why string, series bool) *aggregateRequest {
	req := &aggregateRequest{}
	l := q.layer(c, "layer", def, ok, why)
	req.asOf = q.date("as_of")
	if series {
		req.series = q.enum("series", "", "year") == "year"
	}
	req.format = readFormat(q)
	spec := q.multi("filter", "")
	if l == nil {
		q.raw("group_by")
		return req
	}
	dims := dimensionsFor(l, req.series)
	var names []string
	for n := range dims {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range q.list("group_by", nil, names...) {
		req.agg.dims = append(req.agg.dims, dims[n])
	}
	if req.series && !containsDim(req.agg.dims, "year") {
		req.agg.dims = append([]aggDimension{dims["year"]}, req.agg.dims...)
	}
	// Field filters given as parameters, in a stable order.
	var terms []string
	for _, f := range l.Fields {
		if _, given := v[f.Name]; given {
			val := q.raw(f.Name)
			terms = append(terms, f.Name+":"+val)
			q.echo[f.Name] = val
		}
	}
	terms = append(terms, spec...)
	f, problems := parseFilter("filter", terms, l, "t", &req.agg.args)
	for i := range problems {
		if name, _, ok := strings.Cut(problems[i].Value, ":"); ok && v.Has(name) {
			problems[i].Field = name
		}
	}
	q.problems.Append(problems...)
	req.agg.layer, req.agg.filter = l, f
	return req
}

func containsDim(ds []aggDimension, name string) bool {
	for _, d := range ds {
		if d.Name == name {
			return true
		}
	}
	return false
}

// Lengths answers GET /api/stats/lengths: km (geodesic, from length_m),
// count and funding of a line layer, grouped.
func Lengths(ctx context.Context, pool *pgxpool.Pool, c *layer.Catalog, v url.Values) (_ *Result, f Format, err error) {
	defer lastmile.Wrap(&err, "stats.Lengths")
	q := newStatsQuery(v)
	req := parseAggregate(q, c, v, "roads", (*layer.Layer).IsLinear, "must be a layer of lines", false)
	if err := q.finish(); err != nil {
		return nil, f, err
	}
	a := &req.agg
	a.dates = "SELECT NULL::date AS as_of"
	a.status = "true"
	if req.asOf != nil {
		a.filter.SQL = append(a.filter.SQL, "t.status = 'completed'", "t.completed_on <= "+a.args.Add(*req.asOf)+"::date")
	}
	a.measures = []aggMeasure{
		{Name: "km", Input: "t.length_m", Agg: "round((coalesce(sum(%s), 0) / 1000)::numeric, 2)::float8"},
		{Name: "count", Agg: "count(*)"},
		{Name: "funding_yuan", Input: "t.funding_yuan", Agg: "sum(%s)::float8"},
	}
	groups, total, err := a.run(ctx, pool)
	if err != nil {
		return nil, f, err
	}
	def := fmt.Sprintf("Length of %s in km: the sum of each feature's geodesic length on the WGS84 ellipsoid (length_m = ST_Length(geom::geography)), rounded to 0.01 km after summing; count of features; sum of funding_yuan.", a.layer.Name)
	if len(a.filter.Terms) > 0 {
		def += " Features: " + strings.Join(a.filter.Terms, "; ") + "."
	}
	for _, d := range a.filter.Definitions {
		def += " " + d.Description + "."
	}
	if req.asOf != nil {
		def += " Only features completed on or before " + req.asOf.Format(time.DateOnly) + "."
	}
	if containsDim(a.dims, "year") {
		def += " year is the year of completed_on."
	}
	def += areaNote(a.dims)
	return &Result{Definition: def, Parameters: q.echo, Columns: a.columns(), Groups: groups, Total: total}, req.format, nil
}

func areaNote(dims []aggDimension) string {
	if containsDim(dims, "county") || containsDim(dims, "township") {
		return " county/township: from the feature's 12-digit admin_code (first 6/9 digits)."
	}
	return ""
}
