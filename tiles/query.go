package tiles

import (
	"embed"
	"math"
	"strings"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgsql"
)

//go:embed sql/layer.sql sql/extent.sql
var templateFiles embed.FS

//go:embed sql/sample.sql
var estimateSQL string

// templates are layer.sql (one MVT layer of a tile) and extent.sql.
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
	sql  string
	args pgsql.Args
}

// tileQuery builds the statement returning the MVT of tile z/x/y for the
// layers (each present at z), as the concatenation of one MVT layer per
// catalog layer. maxFeatures caps each layer. sample gives, per layer name,
// the percentage of the table's blocks to read instead of using the index
// (absent: use the index).
func tileQuery(layers []*layer.Layer, z, x, y int, filters Filters, maxFeatures int, sample map[string]float64) query {
	q := query{args: pgsql.Args{z, x, y}} // $1 $2 $3, numbered by hand in layer.sql
	param := q.args.Add
	shared := make([]string, len(filters)) // filter placeholders, shared by the layers
	var tol, cell, limit string
	parts := make([]string, 0, len(layers))
	for _, l := range layers {
		slots := pgsql.Slots{
			"name":     param(l.Name),
			"table":    pgsql.Table(l),
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
		parts = append(parts, "("+templates.Fill("layer.sql", slots)+")")
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

// extentQuery returns the statement of a layer's data extent.
func extentQuery(l *layer.Layer) string {
	return templates.Fill("extent.sql", pgsql.Slots{"table": pgsql.Table(l)})
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
