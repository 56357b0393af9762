package ingest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile/postgis/pgsql"
)

// errStopDirect stops a direct copy: the rows go to a stage instead.
var errStopDirect = errors.New("the rows need the staged path")

func isPgError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr)
}

// copyDirect copies the rows of src into s.table (the first load's own
// table, or the layer's), and to the stage's spool (created here) in case
// they must be staged after all. It fails with errStopDirect when src
// asked for the staged path.
func (s *staging) copyDirect(ctx context.Context, tx pgx.Tx, src func() ([]any, error)) (int64, error) {
	var err error
	if s.spool, err = newSpool(); err != nil {
		return 0, err
	}
	cs, err := s.newCopyStream(ctx, tx, src)
	if err != nil {
		return 0, err
	}
	cs.spool, cs.table = s.spool, true
	return cs.run(ctx, tx, s.table, s.copyColumns()[1:])
}

// firstLoadTable creates the table a first load of table copies into
// (lastmile.first_load_begin) and returns its name, or table when the load
// goes into table itself: when the swap cannot carry table over, and when
// creating it fails (e.g. a table of that name is left in lastmile_load),
// in a savepoint, so that the swap is only ever a way to load faster.
func firstLoadTable(ctx context.Context, tx pgx.Tx, table string) (string, error) {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return "", err
	}
	var shadow *string
	if err := sp.QueryRow(ctx, `SELECT lastmile.first_load_begin($1::regclass)::text`, table).Scan(&shadow); err != nil {
		if !isPgError(err) {
			return "", err
		}
		return table, sp.Rollback(ctx)
	}
	if err := sp.Commit(ctx); err != nil || shadow == nil {
		return table, err
	}
	return *shadow, nil
}

// swapIn puts the table of a first load in place of the layer's (when it
// is not the layer's): its indexes and constraints are built now, over its
// rows. It fails with errStopDirect when another writer wrote to the layer
// meanwhile, and with PostgreSQL's error when a constraint fails (an
// ext_id twice): the staged path then names the rows.
func (s *staging) swapIn(ctx context.Context, tx pgx.Tx) error {
	layerTable := pgsql.Table(s.layer)
	if s.table == layerTable {
		return nil
	}
	var swapped bool
	if err := tx.QueryRow(ctx, `SELECT lastmile.first_load_finish($1::regclass, $2::regclass)`, layerTable, s.table).Scan(&swapped); err != nil {
		return err
	}
	if !swapped {
		return errStopDirect
	}
	s.table = layerTable
	return nil
}

// finishDirect completes the report of a stage copied straight into the
// table and returns the bounds of its rows.
func (s *staging) finishDirect(ctx context.Context, tx pgx.Tx) ([]orb.Bound, error) {
	s.report.Inserted, s.report.Updated, s.report.Unchanged = s.rows, 0, 0
	if s.layer.IsLinear() {
		// the rows this transaction wrote (the table was empty)
		var km float64
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(length_m), 0) / 1000 FROM `+s.table+`
			WHERE xmin = pg_current_xact_id()::xid`).Scan(&km); err != nil {
			return nil, err
		}
		s.report.KM = math.Round(km*1000) / 1000
	}
	if s.rows == 0 || !s.bounded {
		return nil, nil
	}
	return []orb.Bound{s.bound}, nil
}

// spool is a temporary file of the rows of a direct copy, as binary COPY
// rows of the stage, in case they must be staged after all.
type spool struct {
	f *os.File
	w *bufio.Writer
}

func newSpool() (*spool, error) {
	f, err := os.CreateTemp("", "lastmile-import-*.copy")
	if err != nil {
		return nil, err
	}
	// Unlinked at once where the system allows it: nothing is left behind
	// by a process that is killed (the open file stays readable).
	os.Remove(f.Name())
	return &spool{f: f, w: bufio.NewWriterSize(f, 1<<20)}, nil
}

// reader returns the spooled rows from the start.
func (sp *spool) reader() (io.Reader, error) {
	if err := sp.w.Flush(); err != nil {
		return nil, err
	}
	if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return bufio.NewReaderSize(sp.f, 1<<20), nil
}

func (sp *spool) close() {
	if sp != nil {
		sp.f.Close()
		os.Remove(sp.f.Name())
	}
}
