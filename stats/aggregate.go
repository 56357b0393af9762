package stats

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgsql"
)

// aggDimension is a group key over the layer's table aliased t.
type aggDimension struct {
	Name string // column name in the result
	SQL  string // expression over t (and y, the as-of date)
	Area bool   // an admin code: the result also carries <name>_name
}

// aggMeasure is one aggregate over the reduced rows (columns d0…, st, m0…).
type aggMeasure struct {
	Name  string
	Input string // expression over t, reduced to column mN
	Agg   string // aggregate over the reduced column, with %s for it
}

// aggregation is a grouped-totals query over one layer.
type aggregation struct {
	layer    *layer.Layer
	dims     []aggDimension
	measures []aggMeasure
	filter   rowFilter
	dates    string // SQL yielding the as-of dates (column as_of)
	status   string // predicate over st, the status as of the date
	args     pgsql.Args
}

// dimensionsFor returns the group keys allowed for l: county, township,
// year (of completion), status and every enum field.
func dimensionsFor(l *layer.Layer, series bool) map[string]aggDimension {
	code := "t.admin_code"
	if l.Name == "villages" {
		code = "coalesce(t.code, t.admin_code)"
	}
	dims := map[string]aggDimension{
		"county":   {Name: "county", SQL: fmt.Sprintf("CASE WHEN %s ~ '^[0-9]{12}$' THEN substr(%s, 1, 6) || '000000' END", code, code), Area: true},
		"township": {Name: "township", SQL: fmt.Sprintf("CASE WHEN %s ~ '^[0-9]{12}$' THEN substr(%s, 1, 9) || '000' END", code, code), Area: true},
		"year":     {Name: "year", SQL: "extract(year FROM t.completed_on)::int"},
	}
	if series {
		dims["year"] = aggDimension{Name: "year", SQL: "extract(year FROM y.as_of)::int"}
	}
	for _, f := range l.Fields {
		if f.Type == layer.Enum || f.Type == layer.Boolean {
			dims[f.Name] = aggDimension{Name: f.Name, SQL: pgsql.Col("t", f.Name)}
		}
	}
	return dims
}

// run executes the query and returns the groups and the total row.
func (a *aggregation) run(ctx context.Context, pool *pgxpool.Pool) ([]Row, Row, error) {
	var rowCols, sel, groupCols, order []string
	for i, d := range a.dims {
		rowCols = append(rowCols, fmt.Sprintf("%s AS d%d", d.SQL, i))
		sel = append(sel, fmt.Sprintf("d%d", i))
		groupCols = append(groupCols, fmt.Sprintf("d%d", i))
		order = append(order, fmt.Sprintf("d%d NULLS LAST", i))
	}
	for i, m := range a.measures {
		if m.Input != "" {
			rowCols = append(rowCols, fmt.Sprintf("%s AS m%d", m.Input, i))
		}
		sel = append(sel, strings.ReplaceAll(m.Agg, "%s", fmt.Sprintf("m%d", i)))
	}
	if len(rowCols) == 0 {
		rowCols = []string{"1 AS one"}
	}
	parts := map[string]string{
		"dates": a.dates, "row_columns": strings.Join(rowCols, ", "), "table": pgsql.Table(a.layer),
		"filter": a.filter.where(), "select": strings.Join(sel, ", "), "where_status": a.status,
	}
	if len(groupCols) == 0 {
		parts["grouping"], parts["group_by"], parts["order"] = "1", "()", "1"
	} else {
		parts["grouping"] = fmt.Sprintf("GROUPING(%s)", strings.Join(groupCols, ", "))
		parts["group_by"] = fmt.Sprintf("GROUPING SETS ((%s), ())", strings.Join(groupCols, ", "))
		parts["order"] = strings.Join(order, ", ")
	}
	sql := statsSQL.Fill("aggregate.sql", parts)
	rows, err := pool.Query(ctx, sql, a.args...)
	if err != nil {
		return nil, nil, err
	}
	values, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
	if err != nil {
		return nil, nil, err
	}
	var groups []Row
	var total Row
	codes := map[string]bool{}
	for _, v := range values {
		row := Row{}
		for i, d := range a.dims {
			row[d.Name] = plain(v[1+i])
			if s, ok := row[d.Name].(string); ok && d.Area {
				codes[s] = true
			}
		}
		for i, m := range a.measures {
			row[m.Name] = plain(v[1+len(a.dims)+i])
		}
		if isTotal, _ := v[0].(int32); isTotal != 0 || len(a.dims) == 0 {
			for _, d := range a.dims {
				row[d.Name] = nil
			}
			total = row
			continue
		}
		groups = append(groups, row)
	}
	var list []string
	for c := range codes {
		list = append(list, c)
	}
	names, err := areaNames(ctx, pool, list)
	if err != nil {
		return nil, nil, err
	}
	for _, g := range groups {
		for _, d := range a.dims {
			if d.Area {
				g[d.Name+"_name"] = nil
				if s, ok := g[d.Name].(string); ok {
					g[d.Name+"_name"] = names[s]
				}
			}
		}
	}
	if groups == nil {
		groups = []Row{}
	}
	if total == nil { // no rows at all
		total = Row{}
		for _, m := range a.measures {
			total[m.Name] = nil
		}
	}
	return groups, total, nil
}

// columns returns the result columns: the dimensions (with area names),
// then the measures.
func (a *aggregation) columns() []string {
	var cols []string
	for _, d := range a.dims {
		cols = append(cols, d.Name)
		if d.Area {
			cols = append(cols, d.Name+"_name")
		}
	}
	for _, m := range a.measures {
		cols = append(cols, m.Name)
	}
	return cols
}

// plain converts database values to JSON-friendly ones.
func plain(v any) any {
	switch x := v.(type) {
	case int32:
		return int64(x)
	case int16:
		return int64(x)
	case float32:
		return float64(x)
	case time.Time:
		return x.Format(time.DateOnly)
	}
	return v
}
