package postgis

// Reading features: a page of a layer's items with numberMatched, one
// feature, a layer's extent — and the one GeoJSON rendering of a feature
// (featureJSON) that every response carrying a feature sends.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgsql"
)

// featureJSON renders one row of a layer's table aliased t as a GeoJSON
// Feature, in PostGIS: the properties are the catalog's fields (plus
// length_m on line layers), in catalog order; coordinates have 9 decimals
// (0.1 mm). Columns are named explicitly: to_jsonb(t) would also render both
// geometry columns as JSON only to drop them.
func featureJSON(l *layer.Layer) string { return featureJSONIn(l, Output{}) }

// Output is the CRS features are written in: the stored EPSG:4326 with
// longitude first when SRID is 0 or 4326 and LatLon is false. SRID comes
// from the server's list of served CRSs, never from request text.
type Output struct {
	SRID      int  // PostGIS SRID to ST_Transform to; 0 = stored (4326)
	LatLon    bool // swap the axes (EPSG:4326 and EPSG:4490 are latitude first)
	Projected bool // metres: 3 decimals (1 mm) instead of 9
}

// geometry returns the SQL of t.geom in the output CRS.
func (o Output) geometry() string {
	g := "t.geom"
	if o.SRID != 0 && o.SRID != 4326 {
		g = fmt.Sprintf("ST_Transform(t.geom, %d)", o.SRID)
	}
	if o.LatLon {
		g = "ST_FlipCoordinates(" + g + ")"
	}
	decimals := 9
	if o.Projected {
		decimals = 3
	}
	return fmt.Sprintf("ST_AsGeoJSON(%s, %d)::json", g, decimals)
}

// featureJSONIn is featureJSON with the geometry in the output CRS o.
//
// Values are written so that clients guessing a field's type from the first
// features (QGIS, GDAL) guess the catalog's: a number field is always a JSON
// number with a decimal point (8.0, never 8, which reads as an integer and
// makes every later 7.5 NULL in QGIS); money has its two decimals (numeric);
// an object field (props) is its JSON text, a string, since no desktop
// format has an object type (QGIS cannot export a layer with one).
func featureJSONIn(l *layer.Layer, o Output) string {
	var props []string
	for _, f := range l.Fields {
		col := pgsql.Col("t", f.Name)
		switch f.Type {
		case layer.Number:
			col = realJSON(col)
		case layer.Object:
			col = col + "::text"
		}
		props = append(props, fmt.Sprintf("'%s', %s", f.Name, col))
	}
	if l.IsLinear() {
		props = append(props, "'length_m', "+realJSON("t.length_m"))
	}
	return `json_build_object('type', 'Feature', 'id', t.id,
	'geometry', ` + o.geometry() + `,
	'properties', json_build_object(` + strings.Join(props, ", ") + `))::text`
}

// realJSON is the JSON of a double precision column x with a decimal point
// whatever its value: a whole value below 1e15 as numeric with one decimal
// (8 → 8.0, exact), any other as PostgreSQL writes a float8 (7.25, 1e+15:
// the shortest text that reads back to the same double, never a bare
// integer).
func realJSON(x string) string {
	return fmt.Sprintf("CASE WHEN %[1]s = trunc(%[1]s) AND abs(%[1]s) < 1e15 THEN to_json(%[1]s::numeric + 0.0) ELSE to_json(%[1]s) END", x)
}

// ItemsQuery selects a page of a layer's features: paging, a bounding box,
// a date interval on completed_on and property filters. Its values have
// been checked against the catalog (server.ParseItemsQuery); nothing in it
// is request text meant for SQL.
type ItemsQuery struct {
	Limit   int
	Offset  int
	BBox    []float64 // minx, miny, maxx, maxy (CRS84), or nil
	Time    *Interval // on completed_on, or nil
	Filters []Filter  // ANDed; values within one filter are ORed
	// BBoxSRID is the CRS of BBox when it is not CRS84 (axes already in
	// x, y order): the box is transformed to 4326 by PostGIS.
	BBoxSRID int
	// Filter is a CQL2 filter (OGC API Features Part 3), ANDed with the rest.
	Filter Condition
	// Output is the CRS the features are written in.
	Output Output
	// Kinds keeps only features whose geometry is one of these GeoJSON
	// kinds (a per-kind collection of a mixed layer); nil keeps all.
	Kinds []string
	// SortBy orders the page by catalog fields before id (the tie-break
	// that keeps paging stable); nil orders by id alone.
	SortBy []Sort
}

// Sort is one key of ItemsQuery.SortBy: a catalog field (or id, length_m),
// ascending unless Desc. NULLs come last either way.
type Sort struct {
	Field string
	Desc  bool
}

// orderBy is the ORDER BY list of q over the table aliased alias: the sort
// keys, then id.
func (q ItemsQuery) orderBy(alias string) string {
	var keys []string
	for _, s := range q.SortBy {
		if s.Field == "id" {
			if s.Desc {
				return strings.Join(append(keys, pgsql.Col(alias, "id")+" DESC"), ", ")
			}
			break
		}
		dir := " ASC NULLS LAST"
		if s.Desc {
			dir = " DESC NULLS LAST"
		}
		keys = append(keys, pgsql.Col(alias, s.Field)+dir)
	}
	return strings.Join(append(keys, pgsql.Col(alias, "id")), ", ")
}

// geometryTypes are PostGIS's names of the GeoJSON kinds (ST_GeometryType).
func geometryTypes(kinds []string) []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = "ST_" + k
	}
	return out
}

// Condition is a checked filter that writes its SQL with the statement's
// placeholders (a *cql2.Filter).
type Condition interface {
	SQL(arg func(any) string) string
}

// Interval is a closed date interval; a nil end is open.
type Interval struct {
	Start, End *time.Time
}

// Filter is one property filter: field = any of values. Values are typed
// Go slices ([]string, []int64, []float64, []time.Time, []bool) ready to be
// one $n parameter.
type Filter struct {
	Field  string
	Values any
}

// Where returns the SQL condition of the query over the layer's table,
// adding its values to a. Column names come from the catalog, values are
// parameters; the condition is TRUE when nothing filters.
func (q ItemsQuery) Where(a *pgsql.Args) string {
	var conds []string
	if b := q.BBox; b != nil && q.BBoxSRID != 0 && q.BBoxSRID != 4326 {
		env := fmt.Sprintf("ST_Transform(ST_MakeEnvelope(%s, %s, %s, %s, %d), 4326)", a.Add(b[0]), a.Add(b[1]), a.Add(b[2]), a.Add(b[3]), q.BBoxSRID)
		conds = append(conds, fmt.Sprintf("(geom && %[1]s AND ST_Intersects(geom, %[1]s))", env))
	} else if b != nil {
		if b[0] <= b[2] {
			env := fmt.Sprintf("ST_MakeEnvelope(%s, %s, %s, %s, 4326)", a.Add(b[0]), a.Add(b[1]), a.Add(b[2]), a.Add(b[3]))
			conds = append(conds, fmt.Sprintf("(geom && %[1]s AND ST_Intersects(geom, %[1]s))", env))
		} else { // across the antimeridian: two boxes
			e1 := fmt.Sprintf("ST_MakeEnvelope(%s, %s, 180, %s, 4326)", a.Add(b[0]), a.Add(b[1]), a.Add(b[3]))
			e2 := fmt.Sprintf("ST_MakeEnvelope(-180, %s, %s, %s, 4326)", a.Add(b[1]), a.Add(b[2]), a.Add(b[3]))
			conds = append(conds, fmt.Sprintf("((geom && %[1]s AND ST_Intersects(geom, %[1]s)) OR (geom && %[2]s AND ST_Intersects(geom, %[2]s)))", e1, e2))
		}
	}
	if t := q.Time; t != nil {
		if t.Start != nil {
			conds = append(conds, pgsql.Cond(pgsql.Col("", "completed_on"), ">=", a.Add(*t.Start)))
		}
		if t.End != nil {
			conds = append(conds, pgsql.Cond(pgsql.Col("", "completed_on"), "<=", a.Add(*t.End)))
		}
	}
	for _, f := range q.Filters {
		conds = append(conds, pgsql.Cond(pgsql.Col("", f.Field), "= ANY", a.Add(f.Values)))
	}
	if q.Filter != nil {
		conds = append(conds, q.Filter.SQL(a.Add))
	}
	if q.Kinds != nil {
		conds = append(conds, "ST_GeometryType(geom) = ANY("+a.Add(geometryTypes(q.Kinds))+"::text[])")
	}
	return pgsql.And(conds...)
}

// PageFunc receives a page of features: numberMatched, and the page's
// features in order (ItemsQuery.SortBy, then id), each as the GeoJSON bytes of featureJSON (valid only
// until the next iteration). A read error mid-page is yielded last, with nil
// bytes.
type PageFunc func(matched int, features iter.Seq2[[]byte, error]) error

// Items reads the page of layer l's features that q selects and hands it to
// page. numberMatched and the page come from one snapshot. Rows are streamed:
// nothing is held but one row. The first row (or the query's error) is read
// before page is called, so a failing query returns its error with nothing
// written.
func (s *Store) Items(ctx context.Context, l *layer.Layer, q ItemsQuery, page PageFunc) (err error) {
	defer lastmile.Wrap(&err, "store.Items(%s)", l.Name)
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var a pgsql.Args
	where := q.Where(&a)
	matched, err := countItems(ctx, tx, l, where, a)
	if err != nil {
		return err
	}
	// The page's ids first, then their JSON: rows skipped by OFFSET are
	// never rendered.
	ids := fmt.Sprintf(`SELECT id FROM %s WHERE %s ORDER BY %s LIMIT %s OFFSET %s`, pgsql.Table(l), where, q.orderBy(""), a.Add(q.Limit), a.Add(q.Offset))
	rows, err := tx.Query(ctx, `SELECT `+featureJSONIn(l, q.Output)+` FROM (`+ids+`) p JOIN `+pgsql.Table(l)+` t USING (id) ORDER BY `+q.orderBy("t"), a...)
	if err != nil {
		return err
	}
	defer rows.Close()
	more := rows.Next()
	if !more {
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return page(matched, func(yield func([]byte, error) bool) {
		for ; more; more = rows.Next() {
			if !yield(rows.RawValues()[0], nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(nil, err)
		}
	})
}

// countItems counts the rows of l matching where (the condition of
// ItemsQuery.Where, with its arguments a).
func countItems(ctx context.Context, q querier, l *layer.Layer, where string, a pgsql.Args) (int, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT count(*) FROM `+pgsql.Table(l)+` t WHERE `+where, a...).Scan(&n)
	return n, err
}

// Extent is the data extent of a layer: the bounds of its geometries and
// the range of its completed_on dates.
type Extent struct {
	Bound      *orb.Bound // nil when the layer has no rows
	Start, End *time.Time // earliest and latest completed_on; nil when none
}

// Extent returns the data extent of layer l.
func (s *Store) Extent(ctx context.Context, l *layer.Layer) (_ Extent, err error) {
	defer lastmile.Wrap(&err, "store.Extent(%s)", l.Name)
	var (
		minx, miny, maxx, maxy *float64
		e                      Extent
	)
	err = s.pool.QueryRow(ctx, `SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b), lo, hi
		FROM (SELECT ST_Extent(geom) AS b, min(completed_on) AS lo, max(completed_on) AS hi FROM `+pgsql.Table(l)+`) s`).
		Scan(&minx, &miny, &maxx, &maxy, &e.Start, &e.End)
	if err != nil {
		return Extent{}, err
	}
	if minx != nil {
		e.Bound = &orb.Bound{Min: orb.Point{*minx, *miny}, Max: orb.Point{*maxx, *maxy}}
	}
	return e, nil
}

// Get returns the feature id of layer.
func (s *Store) Get(ctx context.Context, layerName string, id int64) (_ *Feature, err error) {
	defer lastmile.Wrap(&err, "store.Get(%s, %d)", layerName, id)
	l, err := s.Layer(layerName)
	if err != nil {
		return nil, err
	}
	return getFeature(ctx, s.pool, l, id)
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// getFeature reads feature id of l: its version, its geometry (exact, from
// WKB) and its GeoJSON (featureJSON), whose properties it decodes.
func getFeature(ctx context.Context, q querier, l *layer.Layer, id int64) (*Feature, error) {
	var (
		f    = &Feature{ID: id, Layer: l.Name}
		geom []byte
	)
	err := q.QueryRow(ctx, `SELECT t.version, ST_AsBinary(t.geom), `+featureJSON(l)+`
		FROM `+pgsql.Table(l)+` t WHERE t.id = $1`, id).Scan(&f.Version, &geom, &f.JSON)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, lastmile.Errorf(lastmile.ENOTFOUND, "%s feature %d does not exist", l.Name, id)
	}
	if err != nil {
		return nil, err
	}
	var doc struct {
		Properties map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(f.JSON, &doc); err != nil {
		return nil, err
	}
	f.Properties = doc.Properties
	if f.Geometry, err = wkb.Unmarshal(geom); err != nil {
		return nil, err
	}
	return f, nil
}

// ToStorage transforms a geometry from srid (one of the served CRSs; with
// latitude first when latLon) to the stored EPSG:4326, longitude first, by
// PostGIS.
func (s *Store) ToStorage(ctx context.Context, g orb.Geometry, srid int, latLon bool) (_ orb.Geometry, err error) {
	defer lastmile.Wrap(&err, "store.ToStorage(%d)", srid)
	b, err := wkb.Marshal(g)
	if err != nil {
		return nil, lastmile.Invalid("the geometry cannot be encoded")
	}
	expr := "ST_GeomFromWKB($1::bytea)"
	if latLon {
		expr = "ST_FlipCoordinates(" + expr + ")"
	}
	var out []byte
	err = s.pool.QueryRow(ctx, `SELECT ST_AsBinary(ST_Transform(ST_SetSRID(`+expr+`, $2::int), 4326))`, b, srid).Scan(&out)
	var pgErr *pgconn.PgError
	// PROJ refusing the coordinates is an internal_error or a data
	// exception; anything else (a timeout, a lost connection) stays what it is.
	if errors.As(err, &pgErr) && (pgErr.Code == "XX000" || strings.HasPrefix(pgErr.Code, "22")) {
		return nil, lastmile.Invalid("the geometry cannot be transformed",
			lastmile.Problem{Field: "geometry", Message: fmt.Sprintf("its coordinates are not valid in EPSG:%d", srid)})
	}
	if err != nil {
		return nil, err
	}
	return wkb.Unmarshal(out)
}
