package demo

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb/encoding/ewkb"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
)

// ExtIDPrefix starts the ext_id of every demo row.
const ExtIDPrefix = "demo:"

// Counts is what a load left in the database, measured there.
type Counts struct {
	Features map[string]int // rows per layer
	// RoadKm is the length of completed roads by surface (geodesic, from
	// length_m); PendingRoadKm that of planned and under-construction roads.
	RoadKm        map[string]float64
	PendingRoadKm float64
	Renovations   RenovationCounts
	Elapsed       time.Duration // time the load took
}

// RenovationCounts splits the dilapidated-house renovations by status.
type RenovationCounts struct {
	Total             int
	Planned           int // status planned
	UnderConstruction int
	Completed         int // status completed, any date
	CompletedBy2015   int // completed with completed_on <= 2015-12-31
}

//go:embed counts.sql
var countsSQL string

// Load replaces the previous demo load with county in one transaction: it
// deletes every row whose ext_id starts with "demo:" from every layer's
// table, copies the county in, and returns the counts measured in the
// database. The history records the actor "demo" with source "demo".
func Load(ctx context.Context, pool *pgxpool.Pool, county *County) (counts Counts, err error) {
	defer lastmile.Wrap(&err, "demo.Load(seed %d)", county.Seed)
	start := time.Now()
	catalog := layer.Default()
	tx, err := pool.Begin(ctx)
	if err != nil {
		return counts, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := postgis.SetActor(ctx, tx, postgis.Actor{Name: "demo", Source: "demo"}); err != nil {
		return counts, err
	}
	for _, l := range catalog.Layers() {
		table := pgx.Identifier{"lastmile", l.Table}.Sanitize()
		if _, err := tx.Exec(ctx, "DELETE FROM "+table+" WHERE ext_id LIKE $1", ExtIDPrefix+"%"); err != nil {
			return counts, fmt.Errorf("deleting the previous demo %s: %w", l.Name, err)
		}
	}
	for _, dl := range county.Layers {
		l, ok := catalog.Layer(dl.Name)
		if !ok {
			return counts, fmt.Errorf("layer %q is not in the catalog", dl.Name)
		}
		if err := copyLayer(ctx, tx, l, dl.Features); err != nil {
			return counts, fmt.Errorf("loading %s: %w", l.Name, postgis.MapError(err))
		}
	}
	counts, err = measure(ctx, tx)
	if err != nil {
		return counts, err
	}
	if err := tx.Commit(ctx); err != nil {
		return counts, err
	}
	counts.Elapsed = time.Since(start)
	return counts, nil
}

// copyLayer copies features into the layer's table with COPY: the common
// columns, the layer's own columns that the features use, and geom as EWKB
// (PostGIS's binary input accepts it).
func copyLayer(ctx context.Context, tx pgx.Tx, l *layer.Layer, features []Feature) error {
	var own []string
	for _, f := range features {
		for k := range f.Attrs {
			if !slices.Contains(own, k) {
				if _, ok := l.Field(k); !ok {
					return fmt.Errorf("%s: unknown field %q", f.ExtID, k)
				}
				own = append(own, k)
			}
		}
	}
	slices.Sort(own)
	cols := append([]string{"ext_id", "name", "admin_code", "status", "started_on", "completed_on",
		"funding_yuan", "props"}, own...)
	cols = append(cols, "geom")
	rows := make([][]any, len(features))
	for i, f := range features {
		geom, err := ewkb.Marshal(f.Geom, 4326)
		if err != nil {
			return fmt.Errorf("%s: %w", f.ExtID, err)
		}
		row := []any{f.ExtID, nullString(f.Name), nullString(f.AdminCode), f.Status,
			nullDate(f.StartedOn), nullDate(f.CompletedOn), nullFunding(f.FundingYuan), f.Props}
		for _, k := range own {
			row = append(row, f.Attrs[k])
		}
		rows[i] = append(row, geom)
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"lastmile", l.Table}, cols, pgx.CopyFromRows(rows))
	return err
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullDate(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func nullFunding(v float64) any {
	if v == 0 {
		return nil
	}
	return v
}

// measure counts the demo rows in the database.
func measure(ctx context.Context, q pgx.Tx) (Counts, error) {
	c := Counts{Features: map[string]int{}, RoadKm: map[string]float64{}}
	rows, err := q.Query(ctx, countsSQL, ExtIDPrefix+"%")
	if err != nil {
		return c, err
	}
	defer rows.Close()
	for rows.Next() {
		var kind, key string
		var n float64
		if err := rows.Scan(&kind, &key, &n); err != nil {
			return c, err
		}
		switch kind {
		case "layer":
			c.Features[key] = int(n)
		case "road_km":
			c.RoadKm[key] = n
		case "pending_road_km":
			c.PendingRoadKm = n
		case "renovations":
			switch key {
			case "total":
				c.Renovations.Total = int(n)
			case "planned":
				c.Renovations.Planned = int(n)
			case "under_construction":
				c.Renovations.UnderConstruction = int(n)
			case "completed":
				c.Renovations.Completed = int(n)
			case "completed_by_2015":
				c.Renovations.CompletedBy2015 = int(n)
			}
		}
	}
	return c, rows.Err()
}

// WriteSummary prints the counts for a person.
func (c Counts) WriteSummary(w io.Writer) {
	fmt.Fprintln(w, "demo county loaded:")
	for _, name := range layerOrder {
		fmt.Fprintf(w, "  %-18s %5d\n", name, c.Features[name])
	}
	fmt.Fprint(w, "  completed roads by surface:")
	var total float64
	for _, s := range layer.Surfaces {
		fmt.Fprintf(w, " %s %.1f km,", s, c.RoadKm[s])
		total += c.RoadKm[s]
	}
	fmt.Fprintf(w, " total %.1f km; planned or under construction %.1f km\n", total, c.PendingRoadKm)
	r := c.Renovations
	pct := 0.0
	if r.Total > 0 {
		pct = 100 * float64(r.CompletedBy2015) / float64(r.Total)
	}
	fmt.Fprintf(w, "  house renovations: %d planned in all; completed by end-2015 %d/%d = %.1f %%; completed %d, under construction %d, planned %d\n",
		r.Total, r.CompletedBy2015, r.Total, pct, r.Completed, r.UnderConstruction, r.Planned)
	fmt.Fprintf(w, "  loaded in %s\n", c.Elapsed.Round(time.Millisecond))
}
