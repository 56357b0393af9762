package ingest

import (
	"context"
	"errors"
	"math"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/postgis/pgsql"
)

// upsertChecked upserts in a savepoint; when PostGIS refuses a row, it
// diagnoses the stage and, with skipInvalid, removes the bad rows and
// upserts again, or else returns an invalid error.
func (s *staging) upsertChecked(ctx context.Context, tx pgx.Tx, rep *Report, skipInvalid bool) ([]orb.Bound, error) {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return nil, err
	}
	b, err := s.upsert(ctx, sp)
	if err == nil {
		return b, sp.Commit(ctx)
	}
	if rerr := sp.Rollback(ctx); rerr != nil {
		return nil, err
	}
	before := len(rep.Problems) + rep.Omitted
	if cerr := s.check(ctx, tx, rep, skipInvalid); cerr != nil {
		return nil, cerr
	}
	if len(rep.Problems)+rep.Omitted == before {
		return nil, err // not a row's fault
	}
	if !skipInvalid {
		return nil, lastmile.Invalid("rows are invalid")
	}
	return s.upsert(ctx, tx)
}

// upsert moves the staged rows into the layer's table and returns the
// bounds touched. When none of the staged ext_ids is in the table yet (a
// first load), it is a plain INSERT; otherwise, or when that INSERT meets
// an ext_id after all (a feature created meanwhile by the API, or an
// ext_id twice in the file), one INSERT … ON CONFLICT (ext_id) DO UPDATE
// of the columns the file has. Imports into a layer take turns (the
// advisory lock in Import), so only writers outside imports can add
// ext_ids between the check and the INSERT.
func (s *staging) upsert(ctx context.Context, tx pgx.Tx) ([]orb.Bound, error) {
	tbl := pgsql.Table(s.layer)
	// bounds of the features about to be replaced, for tile invalidation
	var (
		old      [4]*float64
		existing int
	)
	if err := tx.QueryRow(ctx, `SELECT n, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
		FROM (SELECT count(*) AS n, ST_Extent(t.geom) AS e FROM `+tbl+` t JOIN `+s.ident()+` s USING (ext_id)) x`).
		Scan(&existing, &old[0], &old[1], &old[2], &old[3]); err != nil {
		return nil, err
	}
	var out []orb.Bound
	if old[0] != nil {
		out = append(out, orb.Bound{Min: orb.Point{*old[0], *old[1]}, Max: orb.Point{*old[2], *old[3]}})
	}
	if existing == 0 {
		b, ok, err := s.insert(ctx, tx, tbl)
		if err != nil {
			return nil, err
		}
		if ok {
			return append(out, b...), nil
		}
	}
	b, err := s.upsertConflict(ctx, tx, tbl)
	if err != nil {
		return nil, err
	}
	if s.report.Updated == 0 {
		out = nil // no feature was replaced
	}
	return append(out, b...), nil
}

// columns returns the table's columns the stage fills, the staged
// expressions for them, and the columns the file has (those an update
// sets).
func (s *staging) columns() (ins, sel, file []string) {
	ins = []string{"ext_id", "props", "geom"}
	sel = []string{"s.ext_id", `coalesce(s.props, '{}'::jsonb)`, s.geomExpr()}
	file = []string{"geom"}
	if s.norm.fields["props"] {
		file = append(file, "props")
	}
	for _, f := range s.cols {
		id := pgsql.Ident(f.Name)
		ins = append(ins, id)
		if f.Name == "status" {
			sel = append(sel, "coalesce(s.status, '"+defaultStatus+"')")
		} else {
			sel = append(sel, "s."+id)
		}
		if s.norm.fields[f.Name] {
			file = append(file, id)
		}
	}
	return ins, sel, file
}

// insert is the upsert of rows none of which is in the table: a plain
// INSERT in a savepoint. It returns false, having written nothing, when
// an ext_id turns out to be taken after all.
func (s *staging) insert(ctx context.Context, tx pgx.Tx, tbl string) ([]orb.Bound, bool, error) {
	ins, sel, _ := s.columns()
	length := "0::float8"
	if s.layer.IsLinear() {
		length = "length_m"
	}
	// The bounds come from the staged geometries (computed in Go) unless
	// PostGIS transformed some.
	geom := "NULL::geometry"
	if len(s.srids) > 0 {
		geom = "geom"
	}
	sql := `WITH ins AS (
		INSERT INTO ` + tbl + ` (` + strings.Join(ins, ", ") + `)
		SELECT ` + strings.Join(sel, ", ") + ` FROM ` + s.ident() + ` s
		RETURNING ` + length + ` AS length, ` + geom + ` AS geom)
	SELECT count(*), coalesce(sum(length), 0) / 1000,
		ST_XMin(ST_Extent(geom)), ST_YMin(ST_Extent(geom)), ST_XMax(ST_Extent(geom)), ST_YMax(ST_Extent(geom))
	FROM ins`
	sp, err := tx.Begin(ctx)
	if err != nil {
		return nil, false, err
	}
	var (
		n  int
		km float64
		nb [4]*float64
	)
	if err := sp.QueryRow(ctx, sql).Scan(&n, &km, &nb[0], &nb[1], &nb[2], &nb[3]); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation
			return nil, false, sp.Rollback(ctx)
		}
		return nil, false, err
	}
	if err := sp.Commit(ctx); err != nil {
		return nil, false, err
	}
	s.report.Inserted, s.report.Updated = n, 0
	s.report.Unchanged = s.rows - s.stagedBad - n
	if s.layer.IsLinear() {
		s.report.KM = math.Round(km*1000) / 1000
	}
	var out []orb.Bound
	switch {
	case nb[0] != nil:
		out = append(out, orb.Bound{Min: orb.Point{*nb[0], *nb[1]}, Max: orb.Point{*nb[2], *nb[3]}})
	case n > 0 && len(s.srids) == 0:
		out = append(out, s.bound)
	}
	return out, true, nil
}

// upsertConflict is the upsert of rows some of which may be in the table:
// one INSERT … ON CONFLICT (ext_id) DO UPDATE of the columns the file
// has. The BEFORE trigger skips updates that change nothing, so those rows
// are not returned and count as unchanged.
func (s *staging) upsertConflict(ctx context.Context, tx pgx.Tx, tbl string) ([]orb.Bound, error) {
	ins, sel, file := s.columns()
	sets := make([]string, len(file))
	for i, c := range file {
		sets[i] = c + " = EXCLUDED." + c
	}
	// An ext_id twice in the file is refused before anything is written
	// (the ON CONFLICT below would catch only some: a copy that changes
	// nothing does not make the other one affect the row a second time).
	var dup bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM `+s.ident()+` GROUP BY ext_id HAVING count(*) > 1)`).Scan(&dup); err != nil {
		return nil, err
	}
	if dup {
		return nil, lastmile.Invalid("the same ext_id appears twice in the file", lastmile.Problem{Field: "ext_id", Message: "appears twice"})
	}
	// Rows whose columns are all equal are not updated at all (the BEFORE
	// trigger would skip them too, but only after the work of an update):
	// they are left out before the INSERT, by an anti-join with the table,
	// so that they are not even locked or run through the insert's
	// triggers, generated columns and checks; the WHERE of the ON CONFLICT
	// skips those a concurrent writer made equal meanwhile.
	named := make([]string, len(sel))
	for i := range sel {
		named[i] = sel[i] + " AS " + ins[i]
	}
	from := `x.* FROM (SELECT ` + strings.Join(named, ", ") + ` FROM ` + s.ident() + ` s) x
		WHERE NOT EXISTS (SELECT FROM ` + tbl + ` o WHERE o.ext_id = x.ext_id
			AND (o.` + strings.Join(file, ", o.") + `) IS NOT DISTINCT FROM (x.` + strings.Join(file, ", x.") + `))`
	sql := `WITH ins AS (
		INSERT INTO ` + tbl + ` AS t (` + strings.Join(ins, ", ") + `)
		SELECT ` + from + `
		ON CONFLICT (ext_id) DO UPDATE SET ` + strings.Join(sets, ", ") + `
		WHERE (t.` + strings.Join(file, ", t.") + `) IS DISTINCT FROM (EXCLUDED.` + strings.Join(file, ", EXCLUDED.") + `)
		RETURNING (xmax = 0) AS inserted, geom)
	SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
		ST_XMin(ST_Extent(geom)), ST_YMin(ST_Extent(geom)), ST_XMax(ST_Extent(geom)), ST_YMax(ST_Extent(geom))
	FROM ins`
	var nb [4]*float64
	var n, upd int
	if err := tx.QueryRow(ctx, sql).Scan(&n, &upd, &nb[0], &nb[1], &nb[2], &nb[3]); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "21000" {
			return nil, lastmile.Invalid("the same ext_id appears twice in the file", lastmile.Problem{Field: "ext_id", Message: pgErr.Message})
		}
		return nil, err
	}
	s.report.Inserted, s.report.Updated = n, upd
	s.report.Unchanged = s.rows - s.stagedBad - n - upd
	if s.layer.IsLinear() {
		var km float64
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(length_m), 0) / 1000 FROM `+tbl+` t JOIN `+s.ident()+` s USING (ext_id)`).Scan(&km); err != nil {
			return nil, err
		}
		s.report.KM = math.Round(km*1000) / 1000
	}
	if nb[0] == nil {
		return nil, nil
	}
	return []orb.Bound{{Min: orb.Point{*nb[0], *nb[1]}, Max: orb.Point{*nb[2], *nb[3]}}}, nil
}
