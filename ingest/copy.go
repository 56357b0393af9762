package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
)

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
func (t *importTx) copyJob(ctx context.Context, ji int, job Job) error {
	opt, rep := t.opt, t.rep
	byLayer := map[string]*staging{}
	get := func(name string) (*staging, error) {
		if s, ok := byLayer[name]; ok {
			return s, nil
		}
		s, err := t.stage(ctx, ji, job, name)
		if err == nil {
			byLayer[name] = s
		}
		return s, err
	}
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
		for _, s := range byLayer {
			t.describe(s, job.Reader)
		}
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
				t.total++
				if opt.Progress != nil && t.total%10000 == 0 {
					opt.Progress(t.total)
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
			n, err = s.copyDirect(ctx, t.tx, src)
			if err == nil {
				err = s.directAdminOK(ctx, t.tx) // a row in the wrong admin area: staged, to name it
			}
			if err == nil {
				err = s.swapIn(ctx, t.tx) // an ext_id twice, or written meanwhile: staged
			}
			if err == nil {
				s.direct, s.loaded, rep.direct = false, true, true
			} else if readErr == nil && (errors.Is(err, errStopDirect) || isPgError(err)) {
				t.tr.phase("copy (direct, fell back)")
				s.direct = false
				if err = t.begin(ctx); err == nil {
					err = s.create(ctx, t.tx)
				}
				if err == nil {
					n, err = s.copyRows(ctx, t.tx, src, s.spool)
				}
			}
			s.spool.close()
			s.spool = nil
		} else {
			n, err = s.copyRows(ctx, t.tx, src, nil)
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

// describe completes the report of a stage with what the reader knows:
// the encoding and coordinate system used and, on a dry run, what each
// column became.
func (t *importTx) describe(s *staging, r Reader) {
	if e, ok := r.(interface{ Encoding() string }); ok {
		s.report.Encoding = e.Encoding()
	}
	s.report.CRS = t.opt.CRS.Name
	if c, ok := r.(interface{ CRS() string }); ok {
		s.report.CRS = c.CRS()
	}
	if !t.opt.DryRun {
		return
	}
	var order []string
	var geom []ColumnReport
	if c, ok := r.(interface{ Columns() []string }); ok {
		order = c.Columns()
	}
	if g, ok := r.(interface{ GeometryColumns() []ColumnReport }); ok {
		geom = g.GeometryColumns()
	}
	s.report.Columns = s.norm.columnReport(order, geom)
}
