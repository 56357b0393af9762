package fieldpkg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/ewkb"
	"github.com/paulmach/orb/encoding/wkb"
	"github.com/paulmach/orb/encoding/wkt"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/geo"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgsql"
)

// SyncOptions control a sync.
type SyncOptions struct {
	DryRun      bool   // do everything, then roll back
	SkipInvalid bool   // write the valid features and report the invalid ones (default: any invalid → nothing written)
	Actor       string // recorded in the history; default "sync FILE"
	// Changed, when set, is told after the commit which layers changed
	// within which bounds (postgis.Store.Changed, for tile caches).
	Changed func(layer string, bounds []orb.Bound)
}

// SyncTable counts what happened to one package table.
type SyncTable struct {
	Table     string `json:"table"`
	Layer     string `json:"layer"`
	Read      int    `json:"read"`
	Unchanged int    `json:"unchanged"`
	Changed   int    `json:"changed"`
	Added     int    `json:"added"`
	Deleted   int    `json:"deleted"`
	Already   int    `json:"already_in_database"` // edited in the package as the database already is
	Conflicts int    `json:"conflicts"`
	Invalid   int    `json:"invalid"`
}

// Conflict is a feature edited in the package whose database version is no
// longer the exported one; it was not written.
type Conflict struct {
	Layer   string          `json:"layer"`
	Table   string          `json:"table"`
	ID      int64           `json:"id"`
	Kind    string          `json:"kind"` // changed_both, deleted_in_package, deleted_in_database
	Version int             `json:"exported_version"`
	Current int             `json:"database_version,omitempty"`
	Fields  []ConflictField `json:"fields"`
}

// ConflictField is one field that differs between package and database.
type ConflictField struct {
	Field     string     `json:"field"`
	Package   string     `json:"package"`  // JSON of the value in the package ("(deleted)" for a deleted feature)
	Database  string     `json:"database"` // JSON of the current value ("(deleted)")
	ChangedBy string     `json:"changed_by,omitempty"`
	ChangedAt *time.Time `json:"changed_at,omitempty"`
	InVersion int        `json:"changed_in_version,omitempty"`
}

// SyncProblem is an invalid feature of the package: where and why.
type SyncProblem struct {
	Table   string `json:"table"`
	FID     int64  `json:"fid"`
	ID      int64  `json:"id,omitempty"`
	Field   string `json:"field,omitempty"`
	Value   string `json:"value,omitempty"`
	Message string `json:"message"`
}

func (p SyncProblem) String() string {
	s := fmt.Sprintf("%s fid %d", p.Table, p.FID)
	if p.ID != 0 {
		s += fmt.Sprintf(" (id %d)", p.ID)
	}
	s += ": "
	if p.Field != "" {
		s += p.Field + ": "
	}
	s += p.Message
	if p.Value != "" {
		s += fmt.Sprintf(" (got %s)", p.Value)
	}
	return s
}

// SyncReport is what a sync did, or would do (DryRun), or refused.
type SyncReport struct {
	File       string        `json:"file"`
	Actor      string        `json:"actor"`
	Area       string        `json:"area"`
	ExportedAt string        `json:"exported_at"`
	DryRun     bool          `json:"dry_run"`
	Committed  bool          `json:"committed"`
	Tables     []SyncTable   `json:"tables"`
	Conflicts  []Conflict    `json:"conflicts"`
	Problems   []SyncProblem `json:"problems"`
	Warnings   []string      `json:"warnings"`
	Seconds    float64       `json:"seconds"`
}

// Sync applies the field edits of the package at path to the database in
// one transaction: features changed, added or deleted in the package whose
// database version is still the exported one. Features edited in the
// package whose version moved on are conflicts: listed (with who changed
// what since the export, from the history) and not written. Nothing else is
// touched: only features of the export can be changed or deleted, and a
// feature is deleted only when it was exported and is gone from the package.
//
// Writes are validated as the feature store validates them (layer.Validate,
// geo.Validate, ST_IsValid, the tables' constraints) and go through the
// tables' triggers, which bump versions and record the history with the
// actor "sync FILE". A damaged package is an error and changes nothing.
func Sync(ctx context.Context, pool *pgxpool.Pool, catalog *layer.Catalog, path string, opt SyncOptions) (rep *SyncReport, err error) {
	start := time.Now()
	name := baseName(path)
	if opt.Actor == "" {
		opt.Actor = "sync " + name
	}
	p, err := readPackage(ctx, path, catalog)
	if err != nil {
		return nil, err
	}
	rep = &SyncReport{File: path, Actor: opt.Actor, Area: p.meta["area"], ExportedAt: p.meta["exported_at"], DryRun: opt.DryRun,
		Conflicts: []Conflict{}, Problems: []SyncProblem{}, Warnings: []string{}}
	defer func() { rep.Seconds = time.Since(start).Seconds() }()

	tx, err := pool.Begin(ctx)
	if err != nil {
		return rep, postgis.MapError(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	db, err := identity(ctx, tx)
	if err != nil {
		return rep, postgis.MapError(err)
	}
	if want := p.meta["database"]; want != db {
		return rep, lastmile.Errorf(lastmile.EINVALID, "%s was exported from database %s, this is %s: nothing was changed (sync it into the database it came from)", name, want, db)
	}
	if err := postgis.SetActor(ctx, tx, postgis.Actor{Name: opt.Actor, Source: name}); err != nil {
		return rep, postgis.MapError(err)
	}
	pkgID := p.meta["package_id"]
	if pkgID == "" {
		return rep, damaged(name, "lastmile_export has no package_id")
	}
	// syncs of one package take turns, so that two at once cannot both add
	// its new features
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('lastmile fieldpkg ' || $1, 0))`, pkgID); err != nil {
		return rep, postgis.MapError(err)
	}
	prior, err := addedBefore(ctx, tx, pkgID)
	if err != nil {
		return rep, err
	}
	changed := map[string][]orb.Bound{}
	for _, t := range p.tables {
		st := SyncTable{Table: t.Name, Layer: t.Layer.Name, Read: len(t.rows)}
		rep.Warnings = append(rep.Warnings, t.warnings...)
		s := &syncer{tx: tx, t: t, rep: rep, st: &st, changed: changed, pkgID: pkgID, actor: opt.Actor, source: name, prior: prior}
		if err := s.run(ctx); err != nil {
			return rep, err
		}
		rep.Tables = append(rep.Tables, st)
	}
	if len(rep.Problems) > 0 && !opt.SkipInvalid {
		return rep, lastmile.Errorf(lastmile.EINVALID, "%d problems in the package; nothing was written (fix them in the package, or --skip-invalid)", len(rep.Problems))
	}
	if opt.DryRun {
		return rep, nil
	}
	if err := tx.Commit(ctx); err != nil {
		return rep, postgis.MapError(err)
	}
	rep.Committed = true
	if opt.Changed != nil {
		for l, b := range changed {
			opt.Changed(l, b)
		}
	}
	return rep, nil
}

// syncer syncs one package table.
type syncer struct {
	tx      pgx.Tx
	t       pkgTable
	rep     *SyncReport
	st      *SyncTable
	changed map[string][]orb.Bound
	pkgID   string           // the package's package_id
	actor   string           // recorded in the history
	source  string           // the package's file name
	prior   map[string]int64 // request ids of features added by earlier syncs → their ids
}

// requestID names the write of package row r in the history: a later sync
// of the same package recognises its own writes by it.
func (s *syncer) requestID(r *row) string {
	return fmt.Sprintf("fieldpkg %s %s fid %d", s.pkgID, s.t.Name, r.fid)
}

// ours reports whether every change since the export was made by a sync of
// this package (so the package is not in conflict with it).
func (s *syncer) ours(h changes) bool {
	for _, e := range h.entries {
		if !strings.HasPrefix(e.requestID, "fieldpkg "+s.pkgID+" ") {
			return false
		}
	}
	return true
}

// addedBefore returns the features that earlier syncs of package pkgID
// added, by request id.
func addedBefore(ctx context.Context, tx pgx.Tx, pkgID string) (map[string]int64, error) {
	rows, err := tx.Query(ctx, `SELECT request_id, feature_id FROM lastmile.feature_history
		WHERE op = 'insert' AND request_id LIKE $1`, "fieldpkg "+pkgID+" %")
	if err != nil {
		return nil, postgis.MapError(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var rid string
		var id int64
		if err := rows.Scan(&rid, &id); err != nil {
			return nil, postgis.MapError(err)
		}
		out[rid] = id
	}
	return out, postgis.MapError(rows.Err())
}

func (s *syncer) problem(r *row, p lastmile.Problem) {
	s.rep.Problems = append(s.rep.Problems, SyncProblem{Table: s.t.Name, FID: r.fid, ID: r.id, Field: p.Field, Value: p.Value, Message: p.Message})
}

func (s *syncer) sqlTable() string { return pgsql.Table(s.t.Layer) }

func (s *syncer) run(ctx context.Context) error {
	invalid := map[*row]bool{}
	fail := func(r *row, p lastmile.Problem) {
		s.problem(r, p)
		invalid[r] = true
	}
	for _, r := range s.t.rows {
		for _, p := range r.problems {
			fail(r, p)
		}
		if len(r.problems) > 0 { // say everything wrong with the row at once
			bad := map[string]bool{}
			for _, p := range r.problems {
				bad[p.Field] = true
			}
			vals := r.values
			if base, ok := s.t.base[r.id]; ok && r.id != 0 {
				fields, _ := diff(s.t.Layer, base, r)
				vals = map[string]any{}
				for _, f := range fields {
					vals[f] = r.values[f]
				}
			}
			_, ps := s.t.Layer.Validate(vals, r.id != 0)
			for _, p := range ps {
				if !bad[p.Field] {
					fail(r, p)
				}
			}
		}
		if r.id == 0 {
			continue
		}
		if _, ok := s.t.base[r.id]; !ok {
			fail(r, lastmile.Problem{Field: "id", Value: fmt.Sprint(r.id),
				Message: "is not a feature of this package's export: leave id empty to add a new feature"})
		} else if dup := s.t.byID[r.id]; len(dup) > 1 && dup[0] != r {
			fail(r, lastmile.Problem{Field: "id", Value: fmt.Sprint(r.id),
				Message: fmt.Sprintf("is also the id of fid %d (a copied feature keeps the id): clear the copy's id to add it as a new feature", dup[0].fid)})
		}
	}
	// exported features: unchanged, changed or deleted in the package
	ids := make([]int64, 0, len(s.t.base))
	for id := range s.t.base {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		base := s.t.base[id]
		rows := s.t.byID[id]
		if len(rows) == 0 {
			if err := s.deleted(ctx, base); err != nil {
				return err
			}
			continue
		}
		r := rows[0]
		if invalid[r] {
			s.st.Invalid++
			continue
		}
		fields, geomChanged := diff(s.t.Layer, base, r)
		if len(fields) == 0 && !geomChanged {
			s.st.Unchanged++
			continue
		}
		if err := s.changedRow(ctx, base, r, fields, geomChanged); err != nil {
			return err
		}
	}
	for _, r := range s.t.rows {
		if invalid[r] {
			if r.id == 0 || len(s.t.byID[r.id]) > 1 && s.t.byID[r.id][0] != r {
				s.st.Invalid++
			}
			continue
		}
		if r.id == 0 {
			if err := s.added(ctx, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// diff lists the writable fields, and whether the geometry, differ between
// the exported row and the row now.
func diff(l *layer.Layer, base, r *row) ([]string, bool) {
	var fields []string
	for _, f := range l.Fields {
		if f.ReadOnly {
			continue
		}
		if canonical(base.values[f.Name]) != canonical(r.values[f.Name]) {
			fields = append(fields, f.Name)
		}
	}
	return fields, !orb.Equal(base.geom, r.geom)
}

// current is a feature as the database holds it now, in package terms.
type current struct {
	version int
	values  map[string]any
	geom    orb.Geometry // as stored
}

// lock reads and locks feature id; nil when it no longer exists.
func (s *syncer) lock(ctx context.Context, id int64) (*current, error) {
	var (
		props, g []byte
		c        = &current{}
	)
	err := s.tx.QueryRow(ctx, `SELECT version, to_jsonb(t) - 'geom' - 'geom_3857' - 'id', ST_AsBinary(geom)
		FROM `+s.sqlTable()+` t WHERE id = $1 FOR UPDATE`, id).Scan(&c.version, &props, &g)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, postgis.MapError(err)
	}
	vals, _, err := packageValues(s.t.Layer, props)
	if err != nil {
		return nil, err
	}
	c.values = map[string]any{}
	for i, f := range s.t.Layer.Fields {
		if f.ReadOnly {
			continue
		}
		v, _ := fromColumn(f, vals[i])
		c.values[f.Name] = v
	}
	if c.geom, err = wkb.Unmarshal(g); err != nil {
		return nil, err
	}
	return c, nil
}

func (s *syncer) changedRow(ctx context.Context, base, r *row, fields []string, geomChanged bool) error {
	cur, err := s.lock(ctx, base.id)
	if err != nil {
		return err
	}
	if cur == nil {
		s.st.Conflicts++
		c := Conflict{Layer: s.t.Layer.Name, Table: s.t.Name, ID: base.id, Kind: "deleted_in_database", Version: base.version}
		hist, err := s.history(ctx, base.id, base.version)
		if err != nil {
			return err
		}
		by, at, ver := hist.deletion()
		if geomChanged {
			fields = append(fields, "geometry")
		}
		for _, f := range fields {
			c.Fields = append(c.Fields, ConflictField{Field: f, Package: s.show(r, f), Database: "(deleted)", ChangedBy: by, ChangedAt: at, InVersion: ver})
		}
		s.rep.Conflicts = append(s.rep.Conflicts, c)
		return nil
	}
	if cur.version != base.version {
		if s.same(cur, r) {
			s.st.Already++
			return nil
		}
		hist, err := s.history(ctx, base.id, base.version)
		if err != nil {
			return err
		}
		if !s.ours(hist) {
			return s.conflict(ctx, "changed_both", base, r, cur, fields, geomChanged)
		}
		// only earlier syncs of this package changed it: apply the
		// package's fields that differ from the database now
		fields = fields[:0]
		for _, f := range s.t.Layer.Fields {
			if !f.ReadOnly && canonical(cur.values[f.Name]) != canonical(r.values[f.Name]) {
				fields = append(fields, f.Name)
			}
		}
		geomChanged = !orb.Equal(s.t.promote(cur.geom), r.geom)
	}
	props := map[string]any{}
	for _, f := range fields {
		props[f] = r.values[f]
	}
	values, problems := s.t.Layer.Validate(props, true)
	var g orb.Geometry
	if geomChanged {
		g = s.t.demote(r.geom, cur.geom)
		problems = append(problems, s.checkGeometry(ctx, g)...)
	}
	if len(problems) > 0 {
		for _, p := range problems {
			s.problem(r, p)
		}
		s.st.Invalid++
		return nil
	}
	var sets []string
	var args []any
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, n := range names {
		args = append(args, values[n])
		sets = append(sets, fmt.Sprintf("%s = $%d", pgsql.Ident(n), len(args)))
	}
	if g != nil {
		eg, err := ewkb.Marshal(g, 4326)
		if err != nil {
			return err
		}
		args = append(args, eg)
		sets = append(sets, fmt.Sprintf("geom = ST_GeomFromEWKB($%d)", len(args)))
	}
	args = append(args, base.id)
	ok, err := s.write(ctx, r, `UPDATE `+s.sqlTable()+` SET `+strings.Join(sets, ", ")+fmt.Sprintf(` WHERE id = $%d`, len(args)), args...)
	if err != nil || !ok {
		return err
	}
	s.st.Changed++
	s.touch(cur.geom, g)
	return nil
}

// same reports whether the database already holds the package's row.
func (s *syncer) same(cur *current, r *row) bool {
	for _, f := range s.t.Layer.Fields {
		if !f.ReadOnly && canonical(cur.values[f.Name]) != canonical(r.values[f.Name]) {
			return false
		}
	}
	return orb.Equal(s.t.promote(cur.geom), r.geom)
}

func (s *syncer) deleted(ctx context.Context, base *row) error {
	cur, err := s.lock(ctx, base.id)
	if err != nil {
		return err
	}
	if cur == nil {
		s.st.Already++ // deleted on both sides
		return nil
	}
	if cur.version != base.version {
		hist, err := s.history(ctx, base.id, base.version)
		if err != nil {
			return err
		}
		if !s.ours(hist) {
			return s.conflict(ctx, "deleted_in_package", base, nil, cur, nil, false)
		}
	}
	ok, err := s.write(ctx, base, `DELETE FROM `+s.sqlTable()+` WHERE id = $1`, base.id)
	if err != nil || !ok {
		return err
	}
	s.st.Deleted++
	s.touch(cur.geom, nil)
	return nil
}

func (s *syncer) added(ctx context.Context, r *row) error {
	if id, ok := s.prior[s.requestID(r)]; ok {
		s.st.Already++
		s.rep.Warnings = append(s.rep.Warnings, fmt.Sprintf("%s fid %d was added by an earlier sync of this package as %s %d; it is not added again (export a new package to edit it)", s.t.Name, r.fid, s.t.Layer.Name, id))
		return nil
	}
	// an empty column of a new feature is an absent value: the table's
	// default applies (status 'completed' on reference layers), as in the API
	props := map[string]any{}
	for k, v := range r.values {
		if v != nil {
			props[k] = v
		}
	}
	values, problems := s.t.Layer.Validate(props, false)
	var g orb.Geometry
	if r.geom != nil {
		g = s.t.demote(r.geom, nil)
		problems = append(problems, s.checkGeometry(ctx, g)...)
	}
	if len(problems) > 0 {
		for _, p := range problems {
			s.problem(r, p)
		}
		s.st.Invalid++
		return nil
	}
	eg, err := ewkb.Marshal(g, 4326)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	var cols, marks []string
	var args []any
	for _, n := range names {
		args = append(args, values[n])
		cols = append(cols, pgsql.Ident(n))
		marks = append(marks, fmt.Sprintf("$%d", len(args)))
	}
	args = append(args, eg)
	cols = append(cols, "geom")
	marks = append(marks, fmt.Sprintf("ST_GeomFromEWKB($%d)", len(args)))
	ok, err := s.write(ctx, r, `INSERT INTO `+s.sqlTable()+` (`+strings.Join(cols, ", ")+`) VALUES (`+strings.Join(marks, ", ")+`)`, args...)
	if err != nil || !ok {
		return err
	}
	s.st.Added++
	s.touch(nil, g)
	return nil
}

// write runs one statement in a savepoint: a constraint violation is a
// problem of row r (and rolls back only the statement), other errors end
// the sync.
func (s *syncer) write(ctx context.Context, r *row, sql string, args ...any) (bool, error) {
	sp, err := s.tx.Begin(ctx)
	if err != nil {
		return false, postgis.MapError(err)
	}
	if err := postgis.SetActor(ctx, sp, postgis.Actor{Name: s.actor, Source: s.source, RequestID: s.requestID(r)}); err != nil {
		sp.Rollback(ctx)
		return false, postgis.MapError(err)
	}
	if _, err := sp.Exec(ctx, sql, args...); err != nil {
		sp.Rollback(ctx)
		var le *lastmile.Error
		if errors.As(postgis.MapError(err), &le) && (le.Code == lastmile.EINVALID || le.Code == lastmile.ECONFLICT) {
			msg := le.Message
			for _, d := range le.Details {
				s.problem(r, lastmile.Problem{Field: d.Field, Message: msg + ": " + d.Message})
			}
			if len(le.Details) == 0 {
				s.problem(r, lastmile.Problem{Message: msg})
			}
			s.st.Invalid++
			return false, nil
		}
		return false, postgis.MapError(err)
	}
	return true, postgis.MapError(sp.Commit(ctx))
}

// checkGeometry validates g as the feature store does: a kind the layer
// allows, geo.Validate, and PostGIS's ST_IsValid with its reason.
func (s *syncer) checkGeometry(ctx context.Context, g orb.Geometry) []lastmile.Problem {
	l := s.t.Layer
	if kind := geo.Kind(g); !l.AllowsGeometry(kind) {
		return []lastmile.Problem{{Field: "geometry", Message: fmt.Sprintf("%s is not allowed in layer %s (allowed: %s)", kind, l.Name, strings.Join(l.GeomKinds, ", "))}}
	}
	var out []lastmile.Problem
	for _, msg := range geo.Validate(g) {
		out = append(out, lastmile.Problem{Field: "geometry", Message: msg})
	}
	if len(out) > 0 {
		return out
	}
	eg, err := ewkb.Marshal(g, 4326)
	if err != nil {
		return []lastmile.Problem{{Field: "geometry", Message: "cannot be encoded: " + err.Error()}}
	}
	var reason string
	if err := s.tx.QueryRow(ctx, `SELECT CASE WHEN ST_IsValid(g) THEN '' ELSE ST_IsValidReason(g) END
		FROM (SELECT ST_GeomFromEWKB($1) AS g) s`, eg).Scan(&reason); err != nil {
		return []lastmile.Problem{{Field: "geometry", Message: "PostGIS cannot read it"}}
	}
	if reason != "" {
		return []lastmile.Problem{{Field: "geometry", Message: "invalid geometry: " + reason}}
	}
	return nil
}

func (s *syncer) touch(before, after orb.Geometry) {
	for _, g := range []orb.Geometry{before, after} {
		if g != nil {
			s.changed[s.t.Layer.Name] = append(s.changed[s.t.Layer.Name], g.Bound())
		}
	}
}

// show renders field f of row r for a report.
func (s *syncer) show(r *row, f string) string {
	if f == "geometry" {
		return shortWKT(r.geom)
	}
	return canonical(r.values[f])
}

func shortWKT(g orb.Geometry) string {
	if g == nil {
		return "null"
	}
	return lastmile.ClipTo(wkt.MarshalString(g), 60)
}

// conflict records a conflict: the fields edited on either side since the
// export whose package value differs from the database's, with who changed
// each in the database and when.
func (s *syncer) conflict(ctx context.Context, kind string, base, r *row, cur *current, fields []string, geomChanged bool) error {
	s.st.Conflicts++
	hist, err := s.history(ctx, base.id, base.version)
	if err != nil {
		return err
	}
	c := Conflict{Layer: s.t.Layer.Name, Table: s.t.Name, ID: base.id, Kind: kind, Version: base.version, Current: cur.version}
	set := map[string]bool{}
	for _, f := range fields {
		set[f] = true
	}
	if geomChanged {
		set["geometry"] = true
	}
	for f := range hist.last {
		set[f] = true
	}
	var names []string
	for _, f := range s.t.Layer.Fields { // catalog order, geometry last
		if set[f.Name] {
			names = append(names, f.Name)
		}
	}
	if set["geometry"] {
		names = append(names, "geometry")
	}
	for _, f := range names {
		cf := ConflictField{Field: f}
		if r == nil {
			cf.Package = "(deleted)"
		} else {
			cf.Package = s.show(r, f)
		}
		if f == "geometry" {
			cf.Database = shortWKT(s.t.promote(cur.geom))
			if r != nil && orb.Equal(s.t.promote(cur.geom), r.geom) {
				continue
			}
		} else {
			cf.Database = canonical(cur.values[f])
			if r != nil && cf.Database == cf.Package {
				continue
			}
		}
		if h, ok := hist.last[f]; ok {
			at := h.at
			cf.ChangedBy, cf.ChangedAt, cf.InVersion = h.actor, &at, h.version
		}
		c.Fields = append(c.Fields, cf)
	}
	s.rep.Conflicts = append(s.rep.Conflicts, c)
	return nil
}

type change struct {
	requestID string
	actor     string
	at        time.Time
	version   int
	op        string
}

// changes is the history of a feature since the exported version: for each
// field (and "geometry") its last change.
type changes struct {
	last    map[string]change
	entries []change
}

func (c changes) deletion() (string, *time.Time, int) {
	for i := len(c.entries) - 1; i >= 0; i-- {
		if e := c.entries[i]; e.op == "delete" {
			return e.actor, &e.at, e.version
		}
	}
	return "", nil, 0
}

// history reads feature_history for id after the write that made version.
func (s *syncer) history(ctx context.Context, id int64, version int) (changes, error) {
	out := changes{last: map[string]change{}}
	rows, err := s.tx.Query(ctx, `SELECT op, version, actor, at, coalesce(request_id, ''), old_row, new_row,
			coalesce(old_geom IS DISTINCT FROM new_geom AND NOT (old_geom IS NOT NULL AND new_geom IS NOT NULL AND ST_Equals(old_geom, new_geom)), false)
		FROM lastmile.feature_history_full WHERE layer = $1 AND feature_id = $2 ORDER BY id`, s.t.Layer.Table, id)
	if err != nil {
		return out, postgis.MapError(err)
	}
	defer rows.Close()
	type entry struct {
		change
		old, new map[string]any
		geom     bool
	}
	var all []entry
	for rows.Next() {
		var (
			e        entry
			old, new []byte
		)
		if err := rows.Scan(&e.op, &e.version, &e.actor, &e.at, &e.requestID, &old, &new, &e.geom); err != nil {
			return out, postgis.MapError(err)
		}
		if old != nil {
			json.Unmarshal(old, &e.old)
		}
		if new != nil {
			json.Unmarshal(new, &e.new)
		}
		all = append(all, e)
	}
	if err := rows.Err(); err != nil {
		return out, postgis.MapError(err)
	}
	from := 0
	for i, e := range all {
		if e.op != "delete" && e.version == version {
			from = i + 1
		}
	}
	for _, e := range all[from:] {
		out.entries = append(out.entries, e.change)
		if e.op == "delete" {
			continue
		}
		for _, f := range s.t.Layer.Fields {
			if f.ReadOnly {
				continue
			}
			if canonical(e.old[f.Name]) != canonical(e.new[f.Name]) {
				out.last[f.Name] = e.change
			}
		}
		if e.geom {
			out.last["geometry"] = e.change
		}
	}
	return out, nil
}
