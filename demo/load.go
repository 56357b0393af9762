package demo

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb/encoding/ewkb"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgsql"
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
	Changes       Changes       // rows the load inserted, updated, deleted or left unchanged
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

// Load replaces the previous demo load with county in one transaction and
// returns the counts measured in the database. Per table, the county is
// copied (COPY) into a temporary staging table, demo rows (ext_id
// "demo:…") that the county no longer has are deleted, and the rest is
// upserted on ext_id: rows that differ are updated, new ones inserted,
// identical ones left alone (the schema's trigger skips an update that
// changes nothing), so reloading the same seed keeps every id and writes
// no history. Edits made to demo rows are reverted. Rows without a demo
// ext_id are never touched. The history records the actor "demo" with
// source "demo".
func Load(ctx context.Context, pool *pgxpool.Pool, county *County) (counts Counts, err error) {
	defer lastmile.Wrap(&err, "demo.Load(seed %d)", county.Seed)
	start := time.Now()
	catalog := layer.Default()
	// The rules every entry applies (feature API, import): a county that
	// breaks one is not loaded at all.
	if err := county.Check(catalog).Err("the demo county breaks the rules every feature must follow; nothing was loaded"); err != nil {
		return counts, err
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return counts, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := postgis.SetActor(ctx, tx, postgis.Actor{Name: "demo", Source: "demo"}); err != nil {
		return counts, err
	}
	var changes Changes
	for _, l := range catalog.Layers() {
		c, err := loadLayer(ctx, tx, l, county.Features(l.Name))
		if err != nil {
			return counts, fmt.Errorf("loading %s: %w", l.Name, postgis.MapError(err))
		}
		changes.Inserted += c.Inserted
		changes.Updated += c.Updated
		changes.Deleted += c.Deleted
	}
	problems, err := checkAdmin(ctx, tx, catalog, county)
	if err != nil {
		return counts, err
	}
	if err := problems.Err("the demo county has features outside the admin area their admin_code names; nothing was loaded"); err != nil {
		return counts, err
	}
	counts, err = measure(ctx, tx)
	if err != nil {
		return counts, err
	}
	if err := tx.Commit(ctx); err != nil {
		return counts, err
	}
	// Fresh statistics, so the first queries after a load get index plans.
	for _, l := range catalog.Layers() {
		if _, err := pool.Exec(ctx, "ANALYZE "+pgsql.Table(l)); err != nil {
			return counts, err
		}
	}
	counts.Changes = changes
	counts.Changes.Unchanged = 0
	for _, n := range counts.Features {
		counts.Changes.Unchanged += n
	}
	counts.Changes.Unchanged -= changes.Inserted + changes.Updated
	counts.Elapsed = time.Since(start)
	return counts, nil
}

// Changes counts the rows a load wrote.
type Changes struct {
	Inserted, Updated, Deleted, Unchanged int
}

// commonColumns are the columns every table has that a demo feature sets.
var commonColumns = []string{"ext_id", "name", "admin_code", "status", "started_on", "completed_on", "funding_yuan", "props"}

// loadLayer stages features with COPY (geom as EWKB, which PostGIS's binary
// input accepts) and upserts them into the layer's table, setting every
// writable column of the layer (a column no feature uses becomes NULL).
func loadLayer(ctx context.Context, tx pgx.Tx, l *layer.Layer, features []Feature) (Changes, error) {
	var ch Changes
	cols := slices.Clone(commonColumns)
	for _, f := range l.Fields {
		if !f.ReadOnly && !slices.Contains(cols, f.Name) {
			cols = append(cols, f.Name)
		}
	}
	own := cols[len(commonColumns):]
	cols = append(cols, "geom")
	rows := make([][]any, len(features))
	for i, f := range features {
		for k := range f.Attrs {
			if !slices.Contains(own, k) {
				return ch, fmt.Errorf("%s: %q is not a field of %s", f.ExtID, k, l.Name)
			}
		}
		geom, err := ewkb.Marshal(f.Geom, 4326)
		if err != nil {
			return ch, fmt.Errorf("%s: %w", f.ExtID, err)
		}
		row := []any{f.ExtID, nullString(f.Name), nullString(f.AdminCode), f.Status,
			nullDate(f.StartedOn), nullDate(f.CompletedOn), nullFunding(f.FundingYuan), f.Props}
		for _, k := range own {
			row = append(row, f.Attrs[k])
		}
		rows[i] = append(row, geom)
	}

	table := pgsql.Table(l)
	stageName := "demo_stage_" + l.Table
	stage := pgx.Identifier{stageName}.Sanitize()
	quoted := make([]string, len(cols))
	set := make([]string, 0, len(cols))
	for i, c := range cols {
		quoted[i] = pgx.Identifier{c}.Sanitize()
		if c != "ext_id" {
			set = append(set, quoted[i]+" = EXCLUDED."+quoted[i])
		}
	}
	list := strings.Join(quoted, ", ")
	if _, err := tx.Exec(ctx, "CREATE TEMP TABLE "+stage+" ON COMMIT DROP AS SELECT "+list+" FROM "+table+" WITH NO DATA"); err != nil {
		return ch, err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{stageName}, cols, pgx.CopyFromRows(rows)); err != nil {
		return ch, err
	}
	tag, err := tx.Exec(ctx, "DELETE FROM "+table+" t WHERE t.ext_id LIKE $1 AND NOT EXISTS (SELECT 1 FROM "+stage+" s WHERE s.ext_id = t.ext_id)", ExtIDPrefix+"%")
	if err != nil {
		return ch, err
	}
	ch.Deleted = int(tag.RowsAffected())
	err = tx.QueryRow(ctx, "WITH up AS (INSERT INTO "+table+" ("+list+") SELECT "+list+" FROM "+stage+
		" ON CONFLICT (ext_id) DO UPDATE SET "+strings.Join(set, ", ")+
		" RETURNING (xmax = 0) AS inserted) SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up").
		Scan(&ch.Inserted, &ch.Updated)
	return ch, err
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
	fmt.Fprintf(w, "  loaded in %s: %d rows inserted, %d updated, %d deleted, %d unchanged\n", c.Elapsed.Round(time.Millisecond),
		c.Changes.Inserted, c.Changes.Updated, c.Changes.Deleted, c.Changes.Unchanged)
}
