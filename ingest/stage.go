package ingest

import (
	"context"
	_ "embed"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/ewkb"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgsql"
)

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
	table          string // the table a direct stage's rows go to
	spool          *spool
	// stagedBad counts staged rows the diagnosis rejected and
	// skip-invalid removed.
	stagedBad int
}

func (s *staging) ident() string { return pgsql.Ident(s.name) }

func (s *staging) create(ctx context.Context, tx pgx.Tx) error {
	// geom is sent as EWKB in COPY's binary format, which PostGIS's
	// geometry receive function parses once, during the COPY.
	defs := []string{"row_no integer NOT NULL", "ext_id text NOT NULL", "props jsonb", "geom geometry NOT NULL"}
	for _, f := range s.cols {
		defs = append(defs, pgsql.Ident(f.Name)+" "+f.Type.PGType())
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
	return cs.run(ctx, tx, pgsql.Ident(s.name), s.copyColumns())
}

//go:embed diagnose.sql
var diagnoseSQL string

var diagnoseTemplate = pgsql.Parse("diagnose.sql", diagnoseSQL)

// diagnose returns a problem for every staged row PostGIS would refuse:
// invalid or empty geometry, coordinates out of range after a transform,
// a geometry kind the layer does not allow, an ext_id used twice.
func (s *staging) diagnose(ctx context.Context, tx pgx.Tx) ([]lastmile.Problem, error) {
	sql := diagnoseTemplate.Fill(pgsql.Slots{"stage": s.ident(), "geom": s.geomExpr()})
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

func keys(m map[int]bool) []int32 {
	out := make([]int32, 0, len(m))
	for k := range m {
		out = append(out, int32(k))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// drySample is how many rows a dry run shows as they would be stored.
const drySample = 5

// sample returns the first n rows of the stage as the layer's table now
// holds them (in the transaction, before the dry run's rollback), as
// JSON objects without their empty columns, the geometry as WKT.
func (s *staging) sample(ctx context.Context, tx pgx.Tx, n int) ([]map[string]any, error) {
	tbl := pgsql.Table(s.layer)
	from := tbl + ` t JOIN ` + s.ident() + ` s USING (ext_id) ORDER BY s.row_no`
	if s.loaded { // copied straight into the table: the rows this transaction wrote
		from = tbl + ` t WHERE t.xmin = pg_current_xact_id()::xid ORDER BY t.id`
	}
	rows, err := tx.Query(ctx, `SELECT jsonb_strip_nulls(to_jsonb(t) - 'id' - 'geom' - 'geom_3857' - 'version' - 'updated_at' - 'updated_by')
		|| jsonb_build_object('geometry', ST_AsText(t.geom, 7)) FROM `+from+` LIMIT $1`, n)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[map[string]any])
}
