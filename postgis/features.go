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
func featureJSON(l *layer.Layer) string {
	var props []string
	for _, f := range l.Fields {
		props = append(props, fmt.Sprintf("'%s', %s", f.Name, pgsql.Col("t", f.Name)))
	}
	if l.IsLinear() {
		props = append(props, "'length_m', t.length_m")
	}
	return `json_build_object('type', 'Feature', 'id', t.id,
	'geometry', ST_AsGeoJSON(t.geom, 9)::json,
	'properties', json_build_object(` + strings.Join(props, ", ") + `))::text`
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
	if b := q.BBox; b != nil {
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
	return pgsql.And(conds...)
}

// PageFunc receives a page of features: numberMatched, and the page's
// features in id order, each as the GeoJSON bytes of featureJSON (valid only
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
	ids := fmt.Sprintf(`SELECT id FROM %s WHERE %s ORDER BY id LIMIT %s OFFSET %s`, pgsql.Table(l), where, a.Add(q.Limit), a.Add(q.Offset))
	rows, err := tx.Query(ctx, `SELECT `+featureJSON(l)+` FROM (`+ids+`) p JOIN `+pgsql.Table(l)+` t USING (id) ORDER BY t.id`, a...)
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
