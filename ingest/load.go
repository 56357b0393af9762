package ingest

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/ewkb"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
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

// LayerReport counts what an import did to one layer from one file.
type LayerReport struct {
	Source    string  `json:"source"`
	Layer     string  `json:"layer"`
	Read      int     `json:"read"`
	Inserted  int     `json:"inserted"`
	Updated   int     `json:"updated"`
	Unchanged int     `json:"unchanged"`
	Rejected  int     `json:"rejected"`
	Repaired  int     `json:"repaired"`
	KM        float64 `json:"km,omitempty"` // geodesic km of the imported lines, from PostGIS
}

// Report is the outcome of an import.
type Report struct {
	Committed bool               `json:"committed"`
	DryRun    bool               `json:"dry_run,omitempty"`
	Layers    []*LayerReport     `json:"layers"`
	Problems  []lastmile.Problem `json:"problems,omitempty"` // up to maxProblems
	Omitted   int                `json:"problems_omitted,omitempty"`
	Warnings  []string           `json:"warnings,omitempty"`
	Seconds   float64            `json:"seconds"`
	multi     bool               // several files: problems name theirs
	direct    bool               // a layer was copied straight into its table
}

// Rejected returns the number of rejected rows over all layers.
func (r *Report) Rejected() int {
	n := 0
	for _, l := range r.Layers {
		n += l.Rejected
	}
	return n
}

const maxProblems = 1000

func (r *Report) addProblems(source string, ps []lastmile.Problem) {
	for _, p := range ps {
		if len(r.Problems) >= maxProblems {
			r.Omitted++
			continue
		}
		if r.multi && source != "" {
			p.Message = source + ": " + p.Message
		}
		r.Problems = append(r.Problems, p)
	}
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

// staging is one temporary table: the rows of one layer from one job.
type staging struct {
	name    string
	layer   *layer.Layer
	cols    []layer.Field // writable fields besides ext_id and props
	norm    *normaliser
	report  *LayerReport
	rows    int
	bad     map[int]bool // rows rejected in Go
	srids   map[int]bool // SRIDs other than 4326 among the staged rows
	bound   orb.Bound    // of the staged EPSG:4326 geometries
	bounded bool         // bound is set
	// direct: the rows go straight into the layer's table (copyDirect),
	// also to spool; loaded: they are there, nothing is staged.
	direct, loaded bool
	spool          *spool
	// stagedBad counts staged rows the diagnosis rejected and
	// skip-invalid removed.
	stagedBad int
}

// Import reads every job and loads it in one transaction: all or nothing,
// unless opt.SkipInvalid. The error is an invalid error listing the
// problems when anything was rejected (and nothing written); the report is
// returned in every case.
func (im *Importer) Import(ctx context.Context, jobs []Job, opt Options) (rep *Report, err error) {
	start := time.Now()
	tr := newTrace()
	rep = &Report{DryRun: opt.DryRun, multi: len(jobs) > 1}
	defer func() { rep.Seconds = time.Since(start).Seconds() }()
	defer lastmile.Wrap(&err, "ingest.Import")

	source := make([]string, len(jobs))
	for i, j := range jobs {
		source[i] = filepath.Base(j.Source)
	}
	// Imports into one layer take turns (a transaction lock per layer, taken
	// in name order): concurrent imports of overlapping ext_ids then apply
	// one after the other instead of deadlocking on each other's rows.
	layers := make([]string, 0, len(jobs))
	for _, j := range jobs {
		if !slices.Contains(layers, j.Layer) {
			layers = append(layers, j.Layer)
		}
	}
	slices.Sort(layers)
	if opt.CRS.SRID == 0 {
		opt.CRS = CRS{Name: "EPSG:4326", SRID: 4326}
	}
	// begin starts the import's transaction (again, after a direct load
	// fell back to staging): the actor, the layer locks.
	var tx pgx.Tx
	defer func() {
		if tx != nil {
			tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	begin := func() error {
		if tx != nil {
			if err := tx.Rollback(ctx); err != nil {
				return err
			}
		}
		var err error
		if tx, err = im.pool.Begin(ctx); err != nil {
			return err
		}
		if err := postgis.SetActor(ctx, tx, postgis.Actor{Name: opt.Actor, RequestID: opt.RequestID, Source: strings.Join(source, ",")}); err != nil {
			return err
		}
		for _, l := range layers {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('lastmile.import.' || $1))`, l); err != nil {
				return err
			}
		}
		return checkSRID(ctx, tx, opt.CRS.SRID)
	}
	if err := begin(); err != nil {
		return rep, err
	}
	// One file into an empty layer (a first load) is copied straight into
	// the layer's table (see copyDirect).
	direct := false
	if len(jobs) == 1 && !opt.Repair && opt.CRS.SRID == 4326 {
		if l, ok := im.catalog.Layer(jobs[0].Layer); ok {
			if err := tx.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM `+pgx.Identifier{"lastmile", l.Table}.Sanitize()+`)`).Scan(&direct); err != nil {
				return rep, err
			}
		}
	}
	var stages []*staging
	total := 0
	for ji, job := range jobs {
		byLayer := map[string]*staging{}
		get := func(name string) (*staging, error) {
			if s, ok := byLayer[name]; ok {
				return s, nil
			}
			l, ok := im.catalog.Layer(name)
			if !ok {
				return nil, lastmile.Errorf(lastmile.ENOTFOUND, "no layer %q (layers: %s)", name, strings.Join(im.catalog.Names(), ", "))
			}
			s := &staging{
				name: fmt.Sprintf("ingest_stage_%d_%d", ji, len(stages)), layer: l,
				norm:   newNormaliser(l, opt.CRS, opt.Map, source[ji], opt.SwapXY),
				report: &LayerReport{Source: source[ji], Layer: name},
				bad:    map[int]bool{}, srids: map[int]bool{},
			}
			for _, f := range l.Fields {
				if !f.ReadOnly && f.Name != "ext_id" && f.Name != "props" {
					s.cols = append(s.cols, f)
				}
			}
			if direct && name == job.Layer && len(stages) == 0 {
				s.direct = true
			} else if err := s.create(ctx, tx); err != nil {
				return nil, err
			}
			byLayer[name] = s
			stages = append(stages, s)
			rep.Layers = append(rep.Layers, s.report)
			return s, nil
		}
		tr.phase("start")
		before := total
		if err := im.copyJob(ctx, &tx, begin, job, get, opt, rep, &total, tr); err != nil {
			// a file that cannot be read: where and why go in the report too
			var le *lastmile.Error
			if errors.As(err, &le) {
				rep.addProblems(source[ji], le.Details)
			}
			return rep, err
		}
		if total == before {
			rep.Warnings = append(rep.Warnings, source[ji]+": no features were read: is it the right file, layer or format?")
		}
	}
	for _, s := range stages {
		if s.direct { // a first load that read no row: nothing to load
			s.direct, s.loaded = false, true
		}
	}
	// Geometry checks PostGIS makes per row (validity, range after a
	// transform, duplicate ids) run only when needed: when rows were
	// already rejected (to list every problem) or when the upsert fails.
	var bounds = map[string][]orb.Bound{}
	tr.phase("copy")
	failed := false
	for _, s := range stages {
		s.report.Rejected = len(s.bad)
		if s.loaded {
			continue
		}
		for srid := range s.srids {
			if err := checkSRID(ctx, tx, srid); err != nil {
				return rep, err
			}
		}
		if opt.Repair {
			n, err := s.repair(ctx, tx)
			if err != nil {
				return rep, err
			}
			s.report.Repaired = n
		}
		if len(s.bad) > 0 && !opt.SkipInvalid {
			failed = true
		}
	}
	if failed {
		for _, s := range stages {
			if err := s.check(ctx, tx, rep, false); err != nil {
				return rep, err
			}
		}
		return rep, rejectAll(rep, stages)
	}
	for _, s := range stages {
		if s.loaded {
			b, err := s.finishDirect(ctx, tx)
			if err != nil {
				return rep, err
			}
			bounds[s.layer.Name] = append(bounds[s.layer.Name], b...)
			continue
		}
		b, err := s.upsertChecked(ctx, tx, rep, opt.SkipInvalid)
		if err != nil {
			if lastmile.ErrorCode(err) == lastmile.EINVALID && len(rep.Problems) > 0 && !opt.SkipInvalid {
				// list the problems of the other layers too
				for _, o := range stages {
					if o != s {
						if err := o.check(ctx, tx, rep, false); err != nil {
							return rep, err
						}
					}
				}
				return rep, rejectAll(rep, stages)
			}
			return rep, postgis.MapError(err)
		}
		if len(b) > 0 {
			bounds[s.layer.Name] = append(bounds[s.layer.Name], b...)
		}
	}
	tr.phase("upsert")
	if opt.DryRun {
		return rep, nil
	}
	if err := tx.Commit(ctx); err != nil {
		return rep, postgis.MapError(err)
	}
	rep.Committed = true
	tr.phase("commit")
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

// rejectAll is the error of an import that wrote nothing.
func rejectAll(rep *Report, stages []*staging) error {
	for _, s := range stages {
		s.report.Inserted, s.report.Updated, s.report.Unchanged = 0, 0, 0
	}
	return &lastmile.Error{Code: lastmile.EINVALID,
		Message: fmt.Sprintf("%d rows are invalid; nothing was imported (use skip-invalid to import the good rows)", rep.Rejected()),
		Details: rep.Problems}
}

// check diagnoses the staged rows, adds their problems to the report and,
// with remove, deletes the bad rows from the stage. It returns the
// number of problems found.
func (s *staging) check(ctx context.Context, tx pgx.Tx, rep *Report, remove bool) error {
	if s.loaded {
		return nil
	}
	problems, err := s.diagnose(ctx, tx)
	if err != nil {
		return err
	}
	if len(problems) == 0 {
		return nil
	}
	rep.addProblems(s.report.Source, problems)
	rows := map[int]bool{}
	for _, p := range problems {
		rows[p.Row] = true
		s.bad[p.Row] = true
	}
	s.report.Rejected = len(s.bad)
	if remove {
		tag, err := tx.Exec(ctx, `DELETE FROM `+s.ident()+` WHERE row_no = ANY($1)`, keys(rows))
		if err != nil {
			return err
		}
		s.stagedBad += int(tag.RowsAffected())
	}
	return nil
}

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

func keys(m map[int]bool) []int32 {
	out := make([]int32, 0, len(m))
	for k := range m {
		out = append(out, int32(k))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
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

// copyJob streams the job's records through the normaliser into the
// staging tables with COPY. Records of one layer are copied as they come;
// a multi-layer reader (OSM) is expected to yield its layers in runs.
//
// A direct stage (one file into an empty layer) is copied straight into
// the layer's table instead, in one COPY that PostgreSQL works through
// while the file is still being read and parsed — the INSERT … SELECT
// from a stage can only start once the whole file is staged. Every row
// sent is also written to a spool file. When PostgreSQL refuses a row (an
// invalid geometry, an ext_id twice in the file or created meanwhile), or
// a row needs the staged path (a rejected row without skip-invalid, a
// coordinate system for PostGIS to transform, a second layer), the
// transaction is rolled back, begun again, and the spool and the rest of
// the file go to a stage as usual: the outcome is the staged path's.
func (im *Importer) copyJob(ctx context.Context, txp *pgx.Tx, begin func() error, job Job, get func(string) (*staging, error), opt Options, rep *Report, total *int, tr *trace) error {
	var (
		pending *Record // the first record of the next layer run
		readErr error
		eof     bool
		warned  = map[string][]int{}
	)
	next := func() (*Record, error) {
		if pending != nil {
			r := pending
			pending = nil
			return r, nil
		}
		return job.Reader.Next()
	}
	defer func() {
		if wr, ok := job.Reader.(interface{ Warnings() []string }); ok {
			for _, w := range wr.Warnings() {
				rep.Warnings = append(rep.Warnings, filepath.Base(job.Source)+": "+w)
			}
		}
		for w, rows := range warned {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s: %s (%s)", filepath.Base(job.Source), w, rowList(rows)))
		}
		sort.Strings(rep.Warnings)
	}()
	if job.Layer != "" {
		if _, err := get(job.Layer); err != nil {
			return err
		}
	}
	for {
		rec, err := next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := rec.Layer
		if name == "" {
			name = job.Layer
		}
		s, err := get(name)
		if err != nil {
			return err
		}
		pending = rec
		var carry []any // a row read but not sent when a direct copy stopped
		src := func() ([]any, error) {
			if carry != nil {
				v := carry
				carry = nil
				return v, nil
			}
			for !eof {
				rec, err := next()
				if err == io.EOF {
					eof = true
					return nil, nil
				}
				if err != nil {
					readErr = err
					return nil, err
				}
				if rec.Layer != "" && rec.Layer != s.layer.Name {
					pending = rec
					if s.direct {
						return nil, errStopDirect
					}
					return nil, nil
				}
				*total++
				if opt.Progress != nil && *total%10000 == 0 {
					opt.Progress(*total)
				}
				s.report.Read++
				for _, w := range rec.Warnings {
					warned[w] = append(warned[w], rec.Row)
				}
				r, problems := s.norm.normalise(rec)
				if len(problems) > 0 {
					s.bad[rec.Row] = true
					rep.addProblems(s.report.Source, problems)
					if s.direct && !opt.SkipInvalid {
						return nil, errStopDirect // the stage lists every problem
					}
					continue
				}
				v, err := s.values(r)
				if err != nil {
					return nil, err
				}
				if s.direct && r.srid != 4326 {
					carry = v
					return nil, errStopDirect
				}
				return v, nil
			}
			return nil, nil
		}
		var n int64
		if s.direct {
			n, err = s.copyDirect(ctx, *txp, src)
			if err == nil {
				s.direct, s.loaded, rep.direct = false, true, true
			} else if readErr == nil && (errors.Is(err, errStopDirect) || isPgError(err)) {
				tr.phase("copy (direct, fell back)")
				s.direct = false
				if err = begin(); err == nil {
					err = s.create(ctx, *txp)
				}
				if err == nil {
					n, err = s.copyRows(ctx, *txp, src, s.spool)
				}
			}
			s.spool.close()
			s.spool = nil
		} else {
			n, err = s.copyRows(ctx, *txp, src, nil)
		}
		if readErr != nil {
			return readErr
		}
		if err != nil {
			return err
		}
		s.rows += int(n)
		if len(s.norm.swapped) > 0 {
			warned["coordinates look like latitude, longitude rather than longitude, latitude: check the column order or use swap-xy"] = s.norm.swapped
			s.norm.swapped = nil
		}
		if eof {
			return nil
		}
	}
}

// errStopDirect stops a direct copy: the rows go to a stage instead.
var errStopDirect = errors.New("the rows need the staged path")

func isPgError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr)
}

// copyColumns are the stage's columns, in the order of values.
func (s *staging) copyColumns() []string {
	cols := []string{"row_no", "ext_id", "props", "geom"}
	for _, f := range s.cols {
		cols = append(cols, f.Name)
	}
	return cols
}

// copyRows copies the rows of src (after those of spool, when given) into
// the stage.
func (s *staging) copyRows(ctx context.Context, tx pgx.Tx, src func() ([]any, error), spool *spool) (int64, error) {
	cs, err := s.newCopyStream(ctx, tx, src)
	if err != nil {
		return 0, err
	}
	if spool != nil {
		if cs.replay, err = spool.reader(); err != nil {
			return 0, err
		}
	}
	return cs.run(ctx, tx, pgx.Identifier{s.name}.Sanitize(), s.copyColumns())
}

// copyDirect copies the rows of src into the layer's table, and to the
// stage's spool (created here) in case they must be staged after all. It
// fails with errStopDirect when src asked for the staged path.
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
	return cs.run(ctx, tx, pgx.Identifier{"lastmile", s.layer.Table}.Sanitize(), s.copyColumns()[1:])
}

// finishDirect completes the report of a stage copied straight into the
// table and returns the bounds of its rows.
func (s *staging) finishDirect(ctx context.Context, tx pgx.Tx) ([]orb.Bound, error) {
	s.report.Inserted, s.report.Updated, s.report.Unchanged = s.rows, 0, 0
	if s.layer.IsLinear() {
		// the rows this transaction wrote (the table was empty)
		var km float64
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(length_m), 0) / 1000 FROM `+pgx.Identifier{"lastmile", s.layer.Table}.Sanitize()+`
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

// copyStream is the binary COPY data of rows: the stage's columns, or,
// for the layer's table, the same but row_no. Its Read runs src (in
// pgconn's sending goroutine, while the caller waits for the COPY).
type copyStream struct {
	m      *pgtype.Map
	oids   []uint32 // of the stage's columns
	src    func() ([]any, error)
	table  bool      // leave out row_no
	spool  *spool    // gets every row as the stage's, when set
	replay io.Reader // stage rows to send first, when set
	buf    []byte    // encoded, not yet read
	pos    int       // read up to here
	state  int       // 0 header, 1 replay, 2 rows, 3 done
	err    error     // src's or an encoding error
}

// newCopyStream returns a stream of src's rows for s, typed as the
// layer's table's columns.
func (s *staging) newCopyStream(ctx context.Context, tx pgx.Tx, src func() ([]any, error)) (*copyStream, error) {
	cols := s.copyColumns()[1:]
	for i, c := range cols {
		cols[i] = pgx.Identifier{c}.Sanitize()
	}
	sd, err := tx.Conn().PgConn().Prepare(ctx, "", `SELECT `+strings.Join(cols, ", ")+` FROM `+pgx.Identifier{"lastmile", s.layer.Table}.Sanitize(), nil)
	if err != nil {
		return nil, err
	}
	oids := []uint32{pgtype.Int4OID}
	for _, f := range sd.Fields {
		oids = append(oids, f.DataTypeOID)
	}
	return &copyStream{m: tx.Conn().TypeMap(), oids: oids, src: src}, nil
}

// run copies the stream into table's cols. Its error is src's when src
// failed (PostgreSQL reports only that the COPY was aborted).
func (c *copyStream) run(ctx context.Context, tx pgx.Tx, table string, cols []string) (int64, error) {
	for i, col := range cols {
		cols[i] = pgx.Identifier{col}.Sanitize()
	}
	tag, err := tx.Conn().PgConn().CopyFrom(ctx, c, `COPY `+table+` (`+strings.Join(cols, ", ")+`) FROM STDIN (FORMAT binary)`)
	if c.err != nil {
		return 0, c.err
	}
	return tag.RowsAffected(), err
}

func (c *copyStream) Read(p []byte) (int, error) {
	for c.pos == len(c.buf) {
		c.buf, c.pos = c.buf[:0], 0
		switch c.state {
		case 0:
			c.buf = append(c.buf, "PGCOPY\n\377\r\n\000\000\000\000\000\000\000\000\000"...)
			c.state = 1
		case 1:
			if c.replay == nil {
				c.state = 2
				continue
			}
			n, err := c.replay.Read(p)
			if err == io.EOF {
				c.state = 2
			} else if err != nil {
				c.err = err
				return n, err
			}
			if n > 0 {
				return n, nil
			}
		case 2:
			if err := c.fill(); err != nil {
				c.err = err
				return 0, err
			}
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, c.buf[c.pos:])
	c.pos += n
	return n, nil
}

// fill encodes rows into buf, about 64 KB, or up to the trailer.
func (c *copyStream) fill() error {
	for len(c.buf) < 60000 {
		vals, err := c.src()
		if err != nil {
			return err
		}
		if vals == nil {
			c.buf = binary.BigEndian.AppendUint16(c.buf, 0xffff) // the trailer (-1)
			c.state = 3
			return nil
		}
		start := len(c.buf)
		c.buf = binary.BigEndian.AppendUint16(c.buf, uint16(len(vals)))
		for i, v := range vals {
			if c.buf, err = encodeCopyValue(c.m, c.buf, c.oids[i], v); err != nil {
				return err
			}
		}
		if c.spool != nil {
			if _, err := c.spool.w.Write(c.buf[start:]); err != nil {
				return err
			}
		}
		if c.table {
			// drop row_no (its 4-byte length and 4-byte value)
			binary.BigEndian.PutUint16(c.buf[start:], uint16(len(vals)-1))
			c.buf = append(c.buf[:start+2], c.buf[start+10:]...)
		}
	}
	return nil
}

// encodeCopyValue appends v as a field of binary COPY data (what
// pgx.CopyFrom does): length and bytes, or -1 for NULL. A string for a
// type whose binary encoder takes no string (a date as text) is parsed as
// the type's text first.
func encodeCopyValue(m *pgtype.Map, buf []byte, oid uint32, v any) ([]byte, error) {
	sp := len(buf)
	buf = binary.BigEndian.AppendUint32(buf, 0xffffffff)
	out, err := m.Encode(oid, pgtype.BinaryFormatCode, v, buf)
	if err != nil {
		s, ok := v.(string)
		if !ok {
			text, terr := m.Encode(oid, pgtype.TextFormatCode, v, nil)
			if terr != nil {
				return nil, err
			}
			s = string(text)
		}
		var parsed any
		if serr := m.Scan(oid, pgtype.TextFormatCode, []byte(s), &parsed); serr != nil {
			return nil, err
		}
		if out, err = m.Encode(oid, pgtype.BinaryFormatCode, parsed, buf); err != nil {
			return nil, err
		}
	}
	if out == nil {
		return buf, nil // NULL
	}
	binary.BigEndian.PutUint32(out[sp:], uint32(len(out)-sp-4))
	return out, nil
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

// rowList shows up to 10 row numbers.
func rowList(rows []int) string {
	var b strings.Builder
	b.WriteString("row")
	if len(rows) > 1 {
		b.WriteString("s")
	}
	for i, r := range rows {
		if i == 10 {
			fmt.Fprintf(&b, " … %d in all", len(rows))
			break
		}
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " %d", r)
	}
	return b.String()
}

func (s *staging) ident() string { return pgx.Identifier{s.name}.Sanitize() }

func (s *staging) create(ctx context.Context, tx pgx.Tx) error {
	// geom is sent as EWKB in COPY's binary format, which PostGIS's
	// geometry receive function parses once, during the COPY.
	defs := []string{"row_no integer NOT NULL", "ext_id text NOT NULL", "props jsonb", "geom geometry NOT NULL"}
	for _, f := range s.cols {
		defs = append(defs, pgx.Identifier{f.Name}.Sanitize()+" "+f.Type.PGType())
	}
	_, err := tx.Exec(ctx, `CREATE TEMP TABLE `+s.ident()+` (`+strings.Join(defs, ", ")+`) ON COMMIT DROP`)
	return err
}

func (s *staging) values(r *row) ([]any, error) {
	switch {
	case r.srid != 4326:
		s.srids[r.srid] = true
	case s.bounded:
		s.bound = s.bound.Union(r.geom.Bound())
	default:
		s.bound, s.bounded = r.geom.Bound(), true
	}
	g, err := ewkb.Marshal(r.geom, r.srid)
	if err != nil {
		return nil, lastmile.Invalid("a geometry cannot be encoded", lastmile.Problem{Row: r.num, Field: "geometry", Message: err.Error()})
	}
	// An absent props or status gets the column's default here (the
	// upsert's coalesce): COPY into the table would store NULL.
	props := r.values["props"]
	if props == nil {
		props = map[string]any{}
	}
	vals := make([]any, 0, 4+len(s.cols))
	vals = append(vals, int32(r.num), r.extID, props, g)
	for _, f := range s.cols {
		v := r.values[f.Name]
		if v == nil && f.Name == "status" {
			v = defaultStatus
		}
		vals = append(vals, v)
	}
	return vals, nil
}

// defaultStatus is the status column's default.
const defaultStatus = "completed"

// geomExpr is the staged geometry in EPSG:4326: the column itself when
// every staged row is in EPSG:4326, else transformed where needed.
func (s *staging) geomExpr() string {
	if len(s.srids) == 0 {
		return "geom"
	}
	return `CASE WHEN ST_SRID(geom) IN (0, 4326, 4490) THEN ST_SetSRID(geom, 4326) ELSE ST_Transform(geom, 4326) END`
}

//go:embed diagnose.sql
var diagnoseSQL string

// diagnose returns a problem for every staged row PostGIS would refuse:
// invalid or empty geometry, coordinates out of range after a transform,
// a geometry kind the layer does not allow, an ext_id used twice.
func (s *staging) diagnose(ctx context.Context, tx pgx.Tx) ([]lastmile.Problem, error) {
	sql := strings.NewReplacer("{{stage}}", s.ident(), "{{geom}}", s.geomExpr()).Replace(diagnoseSQL)
	kinds := make([]string, len(s.layer.GeomKinds))
	for i, k := range s.layer.GeomKinds {
		kinds[i] = strings.ToUpper(k)
	}
	rows, err := tx.Query(ctx, sql, kinds)
	if err != nil {
		return nil, err
	}
	var out []lastmile.Problem
	for rows.Next() {
		var p lastmile.Problem
		var r int32
		if err := rows.Scan(&r, &p.Field, &p.Value, &p.Message); err != nil {
			return nil, err
		}
		p.Row = int(r)
		out = append(out, p)
	}
	return out, rows.Err()
}

// repair replaces invalid staged geometries by ST_MakeValid's, keeping the
// original dimension, and returns how many it repaired.
func (s *staging) repair(ctx context.Context, tx pgx.Tx) (int, error) {
	multi := "g"
	if !s.layer.AllowsGeometry(layer.Polygon) && !s.layer.AllowsGeometry(layer.LineString) {
		multi = "ST_Multi(g)"
	}
	g := s.geomExpr()
	tag, err := tx.Exec(ctx, `UPDATE `+s.ident()+` SET geom = `+strings.ReplaceAll(multi, "g",
		`ST_CollectionExtract(ST_MakeValid(`+g+`), ST_Dimension(`+g+`) + 1)`)+`
		WHERE NOT ST_IsValid(`+g+`)`)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
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
	tbl := pgx.Identifier{"lastmile", s.layer.Table}.Sanitize()
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
		id := pgx.Identifier{f.Name}.Sanitize()
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
