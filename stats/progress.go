package stats

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgsql"
)

// Progress answers GET /api/stats/progress: how many works are planned,
// under construction, completed and cancelled, the completion percentage
// and the sums of the layer's quantities, grouped, as of a date or as a
// yearly series.
func Progress(ctx context.Context, pool *pgxpool.Pool, c *layer.Catalog, v url.Values) (_ *Result, f Format, err error) {
	defer lastmile.Wrap(&err, "stats.Progress")
	q := newStatsQuery(v)
	hasStatus := func(l *layer.Layer) bool { _, ok := l.Field("status"); return ok }
	req := parseAggregate(q, c, v, "house_renovations", hasStatus, "must be a layer with a status", true)
	if err := q.finish(); err != nil {
		return nil, f, err
	}
	a := &req.agg
	asOf := "NULL::date"
	if req.asOf != nil {
		asOf = a.args.Add(*req.asOf) + "::date"
	}
	if req.series {
		// One as-of date per year-end from the first start (or completion)
		// to the last completion, or to as_of; never outside the years a
		// feature may carry (layer.EarliestDate … next year), so a stray
		// date stored before those bounds (year 1, 9999) or an as_of of
		// 9999 cannot make millennia of rows.
		t := pgsql.Table(a.layer)
		a.dates = fmt.Sprintf(`SELECT least(make_date(yr, 12, 31), %[1]s) AS as_of
    FROM generate_series(
        greatest(%[3]d, (SELECT min(extract(year FROM coalesce(started_on, completed_on)))::int FROM %[2]s)),
        least(extract(year FROM current_date)::int + 1,
              coalesce(extract(year FROM %[1]s)::int, (SELECT max(extract(year FROM coalesce(completed_on, started_on)))::int FROM %[2]s)))) yr`,
			asOf, t, layer.EarliestDate.Year())
	} else {
		a.dates = "SELECT " + asOf + " AS as_of"
	}
	a.status = "true"
	a.measures = []aggMeasure{
		{Name: "total", Agg: "count(*)"},
		{Name: "planned", Agg: "count(*) FILTER (WHERE st = 'planned')"},
		{Name: "under_construction", Agg: "count(*) FILTER (WHERE st = 'under_construction')"},
		{Name: "completed", Agg: "count(*) FILTER (WHERE st = 'completed')"},
		{Name: "cancelled", Agg: "count(*) FILTER (WHERE st = 'cancelled')"},
		{Name: "pct", Agg: "round(100.0 * count(*) FILTER (WHERE st = 'completed') / nullif(count(*) FILTER (WHERE st <> 'cancelled'), 0), 1)::float8"},
	}
	var quantities []string
	for _, fd := range a.layer.Fields {
		if fd.ReadOnly || (fd.Type != layer.Integer && fd.Type != layer.Money) {
			continue
		}
		in := pgsql.Col("t", fd.Name)
		a.measures = append(a.measures,
			aggMeasure{Name: fd.Name, Input: in, Agg: "sum(%s) FILTER (WHERE st <> 'cancelled')::float8"},
			aggMeasure{Name: fd.Name + "_completed", Input: in, Agg: "sum(%s) FILTER (WHERE st = 'completed')::float8"})
		quantities = append(quantities, fd.Name)
	}
	groups, total, err := a.run(ctx, pool)
	if err != nil {
		return nil, f, err
	}
	if req.series {
		total = nil // a sum over the years of a series means nothing
	}
	def := fmt.Sprintf("Progress of %s: features counted by status (planned, under_construction, completed, cancelled); pct = completed / (total - cancelled) × 100, to 0.1.", a.layer.Name)
	if len(quantities) > 0 {
		def += fmt.Sprintf(" Sums of %s over features not cancelled, and over completed ones (_completed).", strings.Join(quantities, ", "))
	}
	if req.asOf != nil || req.series {
		def += " Status as of a date: completed if completed with completed_on on or before the date; under_construction if started_on is on or before it; planned otherwise; cancelled stays cancelled."
	}
	if req.series {
		def += " series=year: one row per year, as of 31 December of that year"
		if req.asOf != nil {
			def += " (the last year as of " + req.asOf.Format(time.DateOnly) + ")"
		}
		def += "."
	} else if req.asOf != nil {
		def += " As of " + req.asOf.Format(time.DateOnly) + "."
	}
	if len(a.filter.Terms) > 0 {
		def += " Features: " + strings.Join(a.filter.Terms, "; ") + "."
	}
	def += areaNote(a.dims)
	return &Result{Definition: def, Parameters: q.echo, Columns: a.columns(), Groups: groups, Total: total}, req.format, nil
}
