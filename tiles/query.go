package tiles

import (
	_ "embed"
	"math"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/lastmile/lastmile/layer"
)

//go:embed sql/layer.sql
var layerSQL string

//go:embed sql/extent.sql
var extentSQL string

//go:embed sql/sample.sql
var estimateSQL string

// layerTemplate is layer.sql without its comment lines.
var layerTemplate = stripComments(layerSQL)

// stripComments drops the lines that are only a -- comment.
func stripComments(sql string) string {
	var out []string
	for _, line := range strings.Split(sql, "\n") {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "--") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

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
	sql  string
	args []any
}

// tileQuery builds the statement returning the MVT of tile z/x/y for the
// layers (each present at z), as the concatenation of one MVT layer per
// catalog layer. maxFeatures caps each layer. sample gives, per layer name,
// the percentage of the table's blocks to read instead of using the index
// (absent: use the index).
func tileQuery(layers []*layer.Layer, z, x, y int, filters Filters, maxFeatures int, sample map[string]float64) query {
	q := query{args: []any{z, x, y}}
	param := func(v any) string {
		q.args = append(q.args, v)
		return "$" + strconv.Itoa(len(q.args))
	}
	shared := make([]string, len(filters)) // filter placeholders, shared by the layers
	var tol, cell, limit string
	parts := make([]string, 0, len(layers))
	for _, l := range layers {
		slots := map[string]string{
			"name":     param(l.Name),
			"table":    pgx.Identifier{"lastmile", l.Table}.Sanitize(),
			"where":    filters.where(l, "t", shared, param),
			"distinct": "",
			"sample":   "",
		}
		if pct, ok := sample[l.Name]; ok {
			// REPEATABLE: the same tile samples the same blocks (stable ETags).
			slots["sample"] = "TABLESAMPLE SYSTEM (" + param(pct) + "::float8) REPEATABLE (0)"
		}
		if limit == "" {
			limit = param(maxFeatures)
		}
		slots["cap"] = limit

		var props, cols strings.Builder
		for _, f := range l.TileFields() {
			id := pgx.Identifier{f.Name}.Sanitize()
			cols.WriteString("t." + id + ", ")
			props.WriteString(propertyExpr("c."+id, f.Type) + " AS " + id + ", ")
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
			if cell == "" {
				cell = param(cellSize(z))
			}
			keys := "CASE WHEN ST_Dimension(t.geom_3857) = 0 THEN floor(ST_X(t.geom_3857) / " + cell + ") END, " +
				"CASE WHEN ST_Dimension(t.geom_3857) = 0 THEN floor(ST_Y(t.geom_3857) / " + cell + ") END, " +
				"CASE WHEN ST_Dimension(t.geom_3857) = 0 THEN 0 ELSE t.id END"
			slots["distinct"] = "DISTINCT ON (" + keys + ")"
			order = keys + ", " + order
		}
		slots["order"] = order
		parts = append(parts, "("+fill(layerTemplate, slots)+")")
	}
	q.sql = "SELECT " + strings.Join(parts, "\n|| ")
	return q
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

// fill replaces each /*slot*/ in sql by its value. Slot values are built
// from catalog identifiers and placeholders only.
func fill(sql string, slots map[string]string) string {
	pairs := make([]string, 0, 2*len(slots))
	for k, v := range slots {
		pairs = append(pairs, "/*"+k+"*/", v)
	}
	return strings.NewReplacer(pairs...).Replace(sql)
}

// extentQuery returns the statement of a layer's data extent.
func extentQuery(l *layer.Layer) string {
	return fill(extentSQL, map[string]string{"table": pgx.Identifier{"lastmile", l.Table}.Sanitize()})
}

// samplePercent decides how to read a layer's rows for a tile: it returns
// the percentage of the table's blocks to sample, and false when the index
// is the better way. est is the estimated rows in the tile, rows the table's.
// Sampling reads pct% of all rows; the index reads the tile's rows. It
// samples when the tile holds more than sampleFactor times the cap and
// sampling reads fewer rows, drawing sampleFactor × cap candidates of which
// the longest cap are kept.
func samplePercent(est, rows float64, maxFeatures int) (float64, bool) {
	want := float64(sampleFactor * maxFeatures)
	if est <= want || rows <= 0 || want*rows/est >= est {
		return 0, false
	}
	return math.Max(0.01, math.Min(100, 100*want/est)), true
}

// sampleFactor is how many candidates per kept feature a sampled tile draws.
const sampleFactor = 4
