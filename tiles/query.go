package tiles

import (
	"embed"
	"math"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgsql"
)

//go:embed sql/*.sql
var templateFiles embed.FS

// templates are layer.sql (one MVT layer of a tile), overview_lines.sql
// (with overview_points.sql) and overview_counts.sql (one MVT layer from an
// overview), overview_line_rows.sql and overview_villages.sql (an
// overview's rows) and extent.sql.
var templates = pgsql.MustParseFS(templateFiles, "sql/*.sql")

// worldWidth is the width of the Web Mercator world in metres.
const worldWidth = 2 * math.Pi * 6378137

// pixelsPerTile is the tile size clients draw vector tiles at (MapLibre:
// 512 CSS pixels); the simplification tolerance is one such pixel.
const pixelsPerTile = 512

// cellsPerTile is the number of point-thinning cells along a tile's side
// (one cell is 8 MapLibre pixels).
const cellsPerTile = 64

// tolerance returns one pixel at zoom z in EPSG:3857 metres.
func tolerance(z int) float64 { return worldWidth / float64(int(1)<<z) / pixelsPerTile }

// cellSize returns the point-thinning cell size at zoom z in metres.
func cellSize(z int) float64 { return worldWidth / float64(int(1)<<z) / cellsPerTile }

// query is a tile's SQL and arguments.
type query struct {
	sql   string
	args  pgsql.Args
	group *tileGroup // the queries of this statement text, when remembered (batch.go)
}

// tileQuery builds the statement returning the MVT of tile z/x/y for the
// layers (each present at z), as the concatenation of one MVT layer per
// catalog layer: from the layer's overview below its overview zoom (when
// the filters can be answered from it), else from its rows that the zoom
// rules admit at z. maxFeatures caps each layer's rows (the longest lines
// are kept); nothing is sampled.
func tileQuery(layers []*layer.Layer, z, x, y int, filters Filters, maxFeatures int) query {
	q := query{args: pgsql.Args{z, x, y}} // $1 $2 $3, numbered by hand in layer.sql
	param := q.args.Add
	shared := make([]string, len(filters)) // filter placeholders, shared by the layers
	var tol, cell, limit string
	capParam := func() string {
		if limit == "" {
			limit = param(maxFeatures)
		}
		return limit
	}
	cellParam := func() string {
		if cell == "" {
			cell = param(cellSize(z))
		}
		return cell
	}
	parts := make([]string, 0, len(layers))
	for _, l := range layers {
		if usesOverview(l, z, filters) {
			parts = append(parts, "("+overviewLayer(l, z, filters, shared, param, capParam, cellParam)+")")
			continue
		}
		if z < l.RowsMinZoom() {
			continue // a counts overview's layer whose filters need the rows: not drawn below them
		}
		slots := pgsql.Slots{
			"name":     param(l.Name),
			"table":    pgsql.Table(l),
			"where":    filters.where(l, "t", shared, param),
			"distinct": "",
		}
		if vis := l.VisibleSQL("t", z); vis != "" {
			slots["where"] += " AND " + vis
		}
		slots["cap"] = capParam()

		var props, cols strings.Builder
		for _, f := range l.TileFields() {
			cols.WriteString(pgsql.Col("t", f.Name) + ", ")
			props.WriteString(propertyExpr(pgsql.Col("c", f.Name), f.Type) + " AS " + pgsql.Ident(f.Name) + ", ")
		}
		slots["columns"] = cols.String()
		slots["properties"] = props.String()

		order := "t.id + 0" // + 0: never walk the primary key for the LIMIT
		if l.IsLinear() {
			order = "t.length_m DESC, t.id"
		}
		geometry := "c.geom_3857"
		if z < l.MaxZoom && hasArea(l) {
			if tol == "" {
				tol = param(tolerance(z))
			}
			geometry = "ST_Simplify(c.geom_3857, " + tol + ")"
			slots["where"] += " AND (ST_Dimension(t.geom_3857) = 0 OR greatest(ST_XMax(t.geom_3857) - ST_XMin(t.geom_3857), " +
				"ST_YMax(t.geom_3857) - ST_YMin(t.geom_3857)) >= " + tol + ")"
		}
		slots["geometry"] = geometry
		if z < l.DetailZoom && l.AllowsGeometry(layer.Point) {
			cell := cellParam()
			keys := "CASE WHEN ST_Dimension(t.geom_3857) = 0 THEN floor(ST_X(t.geom_3857) / " + cell + ") END, " +
				"CASE WHEN ST_Dimension(t.geom_3857) = 0 THEN floor(ST_Y(t.geom_3857) / " + cell + ") END, " +
				"CASE WHEN ST_Dimension(t.geom_3857) = 0 THEN 0 ELSE t.id END"
			slots["distinct"] = "DISTINCT ON (" + keys + ")"
			order = keys + ", " + order
		}
		slots["order"] = order
		parts = append(parts, "("+templates.Fill("layer.sql", slots)+")")
	}
	if len(parts) == 0 {
		return query{} // nothing to draw
	}
	q.sql = "SELECT " + strings.Join(parts, "\n|| ") + serialClause
	return q
}

// serialClause ends every tile query: serial_plan() is PARALLEL UNSAFE
// (migration 0100), so the whole statement is planned without parallel
// workers — small tile queries are several times slower with parallel
// plans, and SET LOCAL would need a transaction around the statement.
const serialClause = "\nWHERE lastmile.serial_plan()"

// overviewLayer is the MVT layer of l at zoom z from its overview. A lines
// overview of a layer that also holds points (power: transformers) draws
// them from the rows beside its lines, as tiles of rows do: the rules of z,
// the filters, one per grid cell below the detail zoom, the feature cap.
func overviewLayer(l *layer.Layer, z int, filters Filters, shared []string, param func(any) string, capParam, cellParam func() string) string {
	o := l.Overview
	switch o.Kind {
	case layer.OverviewLines:
		first, _, _ := o.Band(z)
		var lines, rows, props strings.Builder
		for _, c := range overviewColumns(l) {
			props.WriteString("u." + pgsql.Ident(c.name) + ", ")
			if c.line {
				lines.WriteString(pgsql.Col("t", c.name) + ", ")
			} else {
				lines.WriteString("NULL::" + c.typ + " AS " + pgsql.Ident(c.name) + ", ")
			}
			if c.row {
				rows.WriteString(propertyExpr(pgsql.Col("t", c.name), c.ftype) + " AS " + pgsql.Ident(c.name) + ", ")
			} else {
				rows.WriteString("NULL::" + c.typ + " AS " + pgsql.Ident(c.name) + ", ")
			}
		}
		points := ""
		if l.AllowsGeometry(layer.Point) {
			where := filters.where(l, "t", shared, param)
			if vis := l.VisibleSQL("t", z); vis != "" {
				where += " AND " + vis
			}
			slots := pgsql.Slots{"table": pgsql.Table(l), "columns": rows.String(), "where": where,
				"distinct": "", "order": "t.id", "cap": capParam()}
			if z < l.DetailZoom {
				cell := cellParam()
				keys := "floor(ST_X(t.geom_3857) / " + cell + "), floor(ST_Y(t.geom_3857) / " + cell + ")"
				slots["distinct"] = "DISTINCT ON (" + keys + ")"
				slots["order"] = keys + ", t.id"
			}
			points = templates.Fill("overview_points.sql", slots)
		}
		return templates.Fill("overview_lines.sql", pgsql.Slots{
			"name": param(l.Name), "table": pgx.Identifier{pgsql.Schema, o.Table}.Sanitize(), "band": itoa(first),
			"lines": lines.String(), "properties": props.String(), "points": points,
			"where": filters.where(l, "t", shared, param),
		})
	case layer.OverviewCounts:
		lv, _ := o.Level(z)
		return templates.Fill("overview_counts.sql", pgsql.Slots{"name": param(l.Name), "level": param(lv.Level)})
	}
	panic("tiles: overview kind " + o.Kind)
}

// overviewColumn is one property of a tile drawn from a lines overview:
// a kept column of the overview (line), a tile field of the rows (row:
// the layer's points), or both.
type overviewColumn struct {
	name      string
	line, row bool
	typ       string          // its SQL type, for the NULLs of the other side
	ftype     layer.FieldType // the field's type (row)
}

// overviewColumns lists the properties of a tile drawn from l's lines
// overview: its kept columns and count, and, when l holds points (drawn
// from the rows), their tile fields first.
func overviewColumns(l *layer.Layer) []overviewColumn {
	o := l.Overview
	var out []overviewColumn
	index := map[string]int{}
	if l.AllowsGeometry(layer.Point) {
		for _, f := range l.TileFields() {
			index[f.Name] = len(out)
			out = append(out, overviewColumn{name: f.Name, row: true, typ: sqlType(f.Type), ftype: f.Type})
		}
	}
	add := func(name, typ string) {
		if i, ok := index[name]; ok {
			out[i].line = true
			return
		}
		out = append(out, overviewColumn{name: name, line: true, typ: typ})
	}
	for _, k := range o.Keys {
		f, _ := l.Field(k)
		add(k, sqlType(f.Type))
	}
	if o.Class != nil {
		f, _ := l.Field(o.Class.Field)
		add(o.Class.Column, sqlType(f.Type))
	}
	add(o.Count, "integer")
	return out
}

// sqlType is the SQL type of a field's tile property (propertyExpr's).
func sqlType(t layer.FieldType) string {
	switch t {
	case layer.Integer:
		return "integer"
	case layer.Number, layer.Money:
		return "double precision"
	case layer.Boolean:
		return "boolean"
	}
	return "text"
}

// hasArea reports whether the layer holds lines or polygons.
func hasArea(l *layer.Layer) bool {
	for _, k := range l.GeomKinds {
		if k != layer.Point {
			return true
		}
	}
	return false
}

// propertyExpr returns the MVT property expression of a column: dates as
// YYYY-MM-DD text, money as a number, objects as JSON text.
func propertyExpr(col string, t layer.FieldType) string {
	switch t {
	case layer.Date, layer.Object:
		return col + "::text"
	case layer.Money:
		return col + "::float8"
	}
	return col
}

// extentQuery returns the statement of a layer's data extent.
func extentQuery(l *layer.Layer) string {
	return templates.Fill("extent.sql", pgsql.Slots{"table": pgsql.Table(l)})
}
