package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lastmile/lastmile/postgis/pgsql"
)

// LayerExtent is what a layer holds inside the area.
type LayerExtent struct {
	Layer, Title, TitleZH    string
	Features                 int64
	FirstDone, LastDone      *time.Time // completed_on range
	LastEdit                 *time.Time // max(updated_at)
	West, South, East, North *float64
}

// LastEdit is the last write to any layer.
type LastEdit struct {
	At    *time.Time
	Actor string
}

// extents counts each layer's features inside the area (by the first 6 or
// 9 digits of admin_code), with their completion dates, last edit and
// bounds. One statement; table and column names come from the catalog.
func (x *build) extents() ([]LayerExtent, error) {
	var parts []string
	var out []LayerExtent
	for _, l := range x.b.Catalog.Layers() {
		if _, ok := l.Field("admin_code"); !ok {
			continue
		}
		done := "NULL::date, NULL::date"
		if _, ok := l.Field("completed_on"); ok {
			done = "min(completed_on), max(completed_on)"
		}
		parts = append(parts, fmt.Sprintf(`SELECT %d, count(*), %s, max(updated_at), ST_XMin(ST_Extent(geom)), ST_YMin(ST_Extent(geom)), ST_XMax(ST_Extent(geom)), ST_YMax(ST_Extent(geom))
FROM %s WHERE left(admin_code, $2) = $1`, len(out), done, pgsql.Table(l)))
		out = append(out, LayerExtent{Layer: l.Name, Title: l.Title, TitleZH: l.TitleZH})
	}
	rows, err := x.b.Pool.Query(x.ctx, strings.Join(parts, "\nUNION ALL\n"), x.area.Prefix, len(x.area.Prefix))
	if err != nil {
		return nil, fmt.Errorf("data extent: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var i int
		var e LayerExtent
		if err := rows.Scan(&i, &e.Features, &e.FirstDone, &e.LastDone, &e.LastEdit, &e.West, &e.South, &e.East, &e.North); err != nil {
			return nil, fmt.Errorf("data extent: %w", err)
		}
		e.Layer, e.Title, e.TitleZH = out[i].Layer, out[i].Title, out[i].TitleZH
		out[i] = e
	}
	return out, rows.Err()
}

func (x *build) lastEdit() (LastEdit, error) {
	var e LastEdit
	var at time.Time
	err := x.b.Pool.QueryRow(x.ctx, lastEditSQL).Scan(&at, &e.Actor)
	if err == pgx.ErrNoRows {
		return e, nil
	}
	if err != nil {
		return e, fmt.Errorf("last edit: %w", err)
	}
	e.At = &at
	return e, nil
}
