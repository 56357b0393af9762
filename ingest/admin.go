package ingest

import (
	"context"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgsql"
)

// checkAdmin applies the feature API's admin_code check
// (postgis.AdminMismatches) to the staged rows as they will be stored: a
// row whose admin_code names an admin area farther than
// postgis.AdminToleranceM from its geometry is a problem of that row and
// field, an error like the API's (the code decides where the kilometres are
// counted). The code checked is the file's when it has the column, else the
// stored feature's (a re-import that only moves geometries). The areas are
// those stored before the import. With remove (skip-invalid) the bad rows
// leave the stage.
func (s *staging) checkAdmin(ctx context.Context, tx pgx.Tx, rep *Report, remove bool) error {
	if s.loaded || !postgis.ChecksAdminCode(s.layer) {
		return nil
	}
	staged := `(SELECT row_no AS key, ext_id, admin_code AS code, ` + s.geomExpr() + ` AS g FROM ` + s.ident() + `)`
	rows := staged
	if !s.norm.fields["admin_code"] {
		rows = `(SELECT s.key, o.admin_code AS code, s.g FROM ` + staged + ` s JOIN ` + pgsql.Table(s.layer) + ` o USING (ext_id))`
	}
	m, err := postgis.AdminMismatches(ctx, tx, rows, math.MaxInt32)
	if err != nil || len(m) == 0 {
		return err
	}
	bad := make(map[int]bool, len(m))
	problems := make([]lastmile.Problem, len(m))
	for i, m := range m {
		problems[i] = m.Problem()
		problems[i].Row = int(m.Key)
		bad[int(m.Key)], s.bad[int(m.Key)] = true, true
	}
	rep.addProblems(s.report.Source, problems)
	s.report.Rejected = len(s.bad)
	if remove {
		tag, err := tx.Exec(ctx, `DELETE FROM `+s.ident()+` WHERE row_no = ANY($1)`, keys(bad))
		if err != nil {
			return err
		}
		s.stagedBad += int(tag.RowsAffected())
	}
	return nil
}

// directAdminOK checks the rows a direct load copied into the (before
// empty) table: when one fails the admin_code check, it returns
// errStopDirect, so that the rows go to a stage, which names them.
func (s *staging) directAdminOK(ctx context.Context, tx pgx.Tx) error {
	if !postgis.ChecksAdminCode(s.layer) {
		return nil
	}
	m, err := postgis.AdminMismatches(ctx, tx, `(SELECT id AS key, admin_code AS code, geom AS g FROM `+s.table+`)`, 1)
	if err != nil {
		return err
	}
	if len(m) > 0 {
		return errStopDirect
	}
	return nil
}
