package ingest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgsql"
)

// Options control an import.
type Options struct {
	CRS         CRS               // of the files' coordinates
	Map         map[string]string // field → source column
	SwapXY      bool              // exchange x and y (files with lat, lon)
	SkipInvalid bool              // load the good rows, report the bad ones
	Repair      bool              // ST_MakeValid invalid geometries (counted)
	DryRun      bool              // validate and count, then roll back
	Actor       string            // for history (token name, "cli:<user>")
	RequestID   string
	// Progress, when set, is called now and then with the rows read so far.
	Progress func(rows int)
}

// Job is one file to load into one layer (or, for OSM, several layers:
// records carry their layer).
type Job struct {
	Source string // file name, recorded in history as the source
	Layer  string // target layer ("" when every record names its own)
	Reader Reader
}

// Importer loads jobs into PostGIS.
type Importer struct {
	pool    *pgxpool.Pool
	catalog *layer.Catalog
	store   *postgis.Store // told about changes after the commit; may be nil
}

// NewImporter returns an importer.
func NewImporter(pool *pgxpool.Pool, catalog *layer.Catalog, store *postgis.Store) *Importer {
	return &Importer{pool: pool, catalog: catalog, store: store}
}

// Import reads every job and loads it in one transaction: all or nothing,
// unless opt.SkipInvalid. The error is an invalid error listing the
// problems when anything was rejected (and nothing written); the report is
// returned in every case.
func (im *Importer) Import(ctx context.Context, jobs []Job, opt Options) (rep *Report, err error) {
	start := time.Now()
	rep = &Report{DryRun: opt.DryRun, multi: len(jobs) > 1}
	defer func() { rep.Seconds = time.Since(start).Seconds() }()
	defer lastmile.Wrap(&err, "ingest.Import")

	if opt.CRS.SRID == 0 {
		opt.CRS = CRS{Name: "EPSG:4326", SRID: 4326}
	}
	t := newImportTx(im, jobs, opt, rep)
	defer t.rollback(context.WithoutCancel(ctx))
	if err := t.begin(ctx); err != nil {
		return rep, err
	}
	// One file into an empty layer (a first load) is copied without a
	// staging table (see copyJob).
	if len(jobs) == 1 && !opt.Repair && opt.CRS.SRID == 4326 {
		if l, ok := im.catalog.Layer(jobs[0].Layer); ok {
			if err := t.tx.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM `+pgsql.Table(l)+`)`).Scan(&t.direct); err != nil {
				return rep, err
			}
			// into a table of its own, indexed after the COPY and swapped
			// in for the layer's (migration 0101), or into the layer's
			// table itself when it cannot be swapped (and for a dry run,
			// which would build the indexes for nothing)
			t.directTable = pgsql.Table(l)
			if t.direct && !opt.DryRun {
				var err error
				if t.directTable, err = firstLoadTable(ctx, t.tx, t.directTable); err != nil {
					return rep, err
				}
			}
		}
	}
	for ji, job := range jobs {
		t.tr.phase("start")
		before := t.total
		if err := t.copyJob(ctx, ji, job); err != nil {
			// a file that cannot be read: where and why go in the report too
			var le *lastmile.Error
			if errors.As(err, &le) {
				rep.addProblems(t.source[ji], le.Details)
			}
			return rep, err
		}
		if t.total == before {
			rep.Warnings = append(rep.Warnings, t.source[ji]+": no features were read: is it the right file, layer or format?")
		}
	}
	t.tr.phase("copy")
	bounds, err := t.load(ctx)
	if err != nil {
		return rep, err
	}
	t.tr.phase("upsert")
	if opt.DryRun {
		for _, s := range t.stages {
			if s.report.Sample, err = s.sample(ctx, t.tx, drySample); err != nil {
				return rep, err
			}
		}
		return rep, nil
	}
	if err := t.tx.Commit(ctx); err != nil {
		return rep, postgis.MapError(err)
	}
	rep.Committed = true
	t.tr.phase("commit")
	if im.store != nil {
		names := make([]string, 0, len(bounds))
		for n := range bounds {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			im.store.Changed(n, bounds[n])
		}
	}
	return rep, nil
}

// importTx is one import's transaction and what its steps share: the
// options, the report, the stages of every job, the rows read so far. Its
// transaction is begun again when a direct copy falls back to a stage.
type importTx struct {
	im     *Importer
	opt    Options
	rep    *Report
	tr     *trace
	tx     pgx.Tx
	source []string // the jobs' file base names
	layers []string // the jobs' layers, locked in this (name) order
	direct bool     // the first stage may be copied straight into its empty table
	// directTable is the table a direct stage's rows go to: the layer's,
	// or the new table swapped in for it (lastmile.first_load_begin)
	directTable string
	stages      []*staging
	total       int // records read, over all jobs
}

func newImportTx(im *Importer, jobs []Job, opt Options, rep *Report) *importTx {
	t := &importTx{im: im, opt: opt, rep: rep, tr: newTrace(), source: make([]string, len(jobs))}
	for i, j := range jobs {
		t.source[i] = filepath.Base(j.Source)
		// Imports into one layer take turns (a transaction lock per layer,
		// taken in name order): concurrent imports of overlapping ext_ids
		// then apply one after the other instead of deadlocking on each
		// other's rows.
		if !slices.Contains(t.layers, j.Layer) {
			t.layers = append(t.layers, j.Layer)
		}
	}
	slices.Sort(t.layers)
	return t
}

// begin starts the import's transaction (again, after a direct load fell
// back to staging, rolling back the first): the actor, the layer locks.
func (t *importTx) begin(ctx context.Context) error {
	if t.tx != nil {
		if err := t.tx.Rollback(ctx); err != nil {
			return err
		}
	}
	var err error
	if t.tx, err = t.im.pool.Begin(ctx); err != nil {
		return err
	}
	if err := postgis.SetActor(ctx, t.tx, postgis.Actor{Name: t.opt.Actor, RequestID: t.opt.RequestID, Source: strings.Join(t.source, ",")}); err != nil {
		return err
	}
	for _, l := range t.layers {
		if _, err := t.tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('lastmile.import.' || $1))`, l); err != nil {
			return err
		}
	}
	return checkSRID(ctx, t.tx, t.opt.CRS.SRID)
}

// rollback ends the transaction unless it was committed.
func (t *importTx) rollback(ctx context.Context) {
	if t.tx != nil {
		t.tx.Rollback(ctx)
	}
}

// stage returns a new stage for the rows of layer name from job ji: the
// first load's direct stage, or a temporary table created now.
func (t *importTx) stage(ctx context.Context, ji int, job Job, name string) (*staging, error) {
	l, ok := t.im.catalog.Layer(name)
	if !ok {
		return nil, lastmile.Errorf(lastmile.ENOTFOUND, "no layer %q (layers: %s)", name, strings.Join(t.im.catalog.Names(), ", "))
	}
	s := &staging{
		name: fmt.Sprintf("ingest_stage_%d_%d", ji, len(t.stages)), layer: l,
		norm:   newNormaliser(l, t.opt.CRS, t.opt.Map, t.source[ji], t.opt.SwapXY),
		report: &LayerReport{Source: t.source[ji], Layer: name},
		bad:    map[int]bool{}, srids: map[int]bool{},
	}
	for _, f := range l.Fields {
		if !f.ReadOnly && f.Name != "ext_id" && f.Name != "props" {
			s.cols = append(s.cols, f)
		}
	}
	if t.direct && name == job.Layer && len(t.stages) == 0 {
		s.direct, s.table = true, t.directTable
	} else if err := s.create(ctx, t.tx); err != nil {
		return nil, err
	}
	t.stages = append(t.stages, s)
	t.rep.Layers = append(t.rep.Layers, s.report)
	return s, nil
}

// load checks the stages and moves their rows into the layers' tables.
// It returns the bounds touched per layer.
func (t *importTx) load(ctx context.Context) (map[string][]orb.Bound, error) {
	tx, opt, rep := t.tx, t.opt, t.rep
	for _, s := range t.stages {
		if s.direct { // a first load that read no row: nothing to load
			s.direct, s.loaded = false, true
		}
	}
	// Geometry checks PostGIS makes per row (validity, range after a
	// transform, duplicate ids) run only when needed: when rows were
	// already rejected (to list every problem) or when the upsert fails.
	failed := false
	for _, s := range t.stages {
		s.report.Rejected = len(s.bad)
		if s.loaded {
			continue
		}
		for srid := range s.srids {
			if err := checkSRID(ctx, tx, srid); err != nil {
				return nil, err
			}
		}
		if opt.Repair {
			n, err := s.repair(ctx, tx)
			if err != nil {
				return nil, err
			}
			s.report.Repaired = n
		}
		if err := s.checkAdmin(ctx, tx, rep, opt.SkipInvalid); err != nil {
			return nil, err
		}
		if len(s.bad) > 0 && !opt.SkipInvalid {
			failed = true
		}
	}
	if failed {
		return nil, t.rejectAll(ctx, nil)
	}
	bounds := map[string][]orb.Bound{}
	for _, s := range t.stages {
		if s.loaded {
			b, err := s.finishDirect(ctx, tx)
			if err != nil {
				return nil, err
			}
			bounds[s.layer.Name] = append(bounds[s.layer.Name], b...)
			continue
		}
		b, err := s.upsertChecked(ctx, tx, rep, opt.SkipInvalid)
		if err != nil {
			if lastmile.ErrorCode(err) == lastmile.EINVALID && len(rep.Problems) > 0 && !opt.SkipInvalid {
				// list the problems of the other layers too
				return nil, t.rejectAll(ctx, s)
			}
			return nil, postgis.MapError(err)
		}
		if len(b) > 0 {
			bounds[s.layer.Name] = append(bounds[s.layer.Name], b...)
		}
	}
	return bounds, nil
}

// rejectAll diagnoses every stage but checked (already diagnosed) to list
// all problems, and returns the error of an import that wrote nothing.
func (t *importTx) rejectAll(ctx context.Context, checked *staging) error {
	for _, s := range t.stages {
		if s != checked {
			if err := s.check(ctx, t.tx, t.rep, false); err != nil {
				return err
			}
		}
	}
	for _, s := range t.stages {
		s.report.Inserted, s.report.Updated, s.report.Unchanged = 0, 0, 0
	}
	return &lastmile.Error{Code: lastmile.EINVALID,
		Message: fmt.Sprintf("%d rows are invalid; nothing was imported (use skip-invalid to import the good rows)", t.rep.Rejected()),
		Details: t.rep.Problems}
}

func checkSRID(ctx context.Context, tx pgx.Tx, srid int) error {
	if srid == 4326 || srid == 0 {
		return nil
	}
	var ok bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM spatial_ref_sys WHERE srid = $1)`, srid).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return lastmile.Invalid("unknown coordinate system",
			lastmile.Problem{Field: "crs", Value: fmt.Sprintf("EPSG:%d", srid), Message: "is not in PostGIS's spatial_ref_sys"})
	}
	return nil
}

// trace prints the time of each phase of an import to stderr when
// $LASTMILE_INGEST_TRACE is set.
type trace struct {
	on   bool
	last time.Time
}

func newTrace() *trace {
	return &trace{on: os.Getenv("LASTMILE_INGEST_TRACE") != "", last: time.Now()}
}

func (t *trace) phase(name string) {
	if t.on {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, time.Since(t.last))
	}
	t.last = time.Now()
}
