package fieldpkg

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/ewkb"
	"github.com/paulmach/orb/encoding/wkb"
	"github.com/paulmach/orb/encoding/wkt"
	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgsql"
)

// Area selects the features of a package: those whose geometry intersects
// the admin area with code AdminCode, or the box BBox (WGS84 degrees).
type Area struct {
	AdminCode string
	BBox      *orb.Bound
}

func (a Area) String() string {
	if a.AdminCode != "" {
		return "admin_code:" + a.AdminCode
	}
	if a.BBox != nil {
		return fmt.Sprintf("bbox:%g,%g,%g,%g", a.BBox.Min[0], a.BBox.Min[1], a.BBox.Max[0], a.BBox.Max[1])
	}
	return ""
}

// ParseBBox reads "W,S,E,N" in degrees.
func ParseBBox(s string) (*orb.Bound, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return nil, lastmile.Invalid("the bbox is malformed", lastmile.Problem{Field: "bbox", Value: s, Message: "must be W,S,E,N (four numbers in degrees)"})
	}
	var v [4]float64
	for i, p := range parts {
		if _, err := fmt.Sscan(strings.TrimSpace(p), &v[i]); err != nil || math.IsNaN(v[i]) || math.IsInf(v[i], 0) {
			return nil, lastmile.Invalid("the bbox is malformed", lastmile.Problem{Field: "bbox", Value: s, Message: fmt.Sprintf("%q is not a number", p)})
		}
	}
	switch {
	case v[0] < -180 || v[2] > 180 || v[1] < -90 || v[3] > 90:
		return nil, lastmile.Invalid("the bbox is out of range", lastmile.Problem{Field: "bbox", Value: s, Message: "longitudes must be within -180…180 and latitudes within -90…90"})
	case v[0] >= v[2] || v[1] >= v[3]:
		return nil, lastmile.Invalid("the bbox is empty", lastmile.Problem{Field: "bbox", Value: s, Message: "west must be less than east and south less than north"})
	}
	return &orb.Bound{Min: orb.Point{v[0], v[1]}, Max: orb.Point{v[2], v[3]}}, nil
}

// ExportOptions say what to export and where.
type ExportOptions struct {
	Area   Area
	Layers []string // layer names; empty: every layer of the catalog
	Out    string   // the .gpkg file written (replaced atomically)
}

// TableSummary is one package table as exported.
type TableSummary struct {
	Table      string `json:"table"`
	Layer      string `json:"layer"`
	Geometry   string `json:"geometry"`
	Features   int    `json:"features"`
	MaxID      int64  `json:"max_id"`
	MaxVersion int    `json:"max_version"`
}

// ExportReport says what a package holds.
type ExportReport struct {
	File       string         `json:"file"`
	PackageID  string         `json:"package_id"`
	Bytes      int64          `json:"bytes"`
	Area       string         `json:"area"`
	Database   string         `json:"database"`
	ExportedAt time.Time      `json:"exported_at"`
	Tables     []TableSummary `json:"tables"`
	Seconds    float64        `json:"seconds"`
}

// Export writes the features of opt.Area in opt.Layers to the GeoPackage
// opt.Out, read in one snapshot of the database. The file appears only when
// complete (written beside it, then renamed).
func Export(ctx context.Context, pool *pgxpool.Pool, catalog *layer.Catalog, opt ExportOptions) (rep *ExportReport, err error) {
	defer lastmile.Wrap(&err, "fieldpkg.Export(%s)", opt.Area)
	start := time.Now()
	if (opt.Area.AdminCode == "") == (opt.Area.BBox == nil) {
		return nil, lastmile.Errorf(lastmile.EINVALID, "give the area as an admin code or a bbox (one of them)")
	}
	layers, err := selectLayers(catalog, opt.Layers)
	if err != nil {
		return nil, err
	}
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	area, err := areaGeometry(ctx, tx, opt.Area)
	if err != nil {
		return nil, err
	}
	rep = &ExportReport{File: opt.Out, Area: opt.Area.String(), ExportedAt: time.Now().UTC()}
	if rep.Database, err = identity(ctx, tx); err != nil {
		return nil, err
	}

	dir := filepath.Dir(opt.Out)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(opt.Out)+".*.tmp")
	if err != nil {
		return nil, err
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer func() {
		if err != nil {
			os.Remove(tmpName)
			os.Remove(tmpName + "-journal")
		}
	}()
	db, err := sql.Open("sqlite", tmpName)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := createPackage(ctx, db); err != nil {
		return nil, err
	}
	stx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer stx.Rollback()
	for _, l := range layers {
		for _, t := range tables(l) {
			sum, err := exportTable(ctx, tx, stx, t, area, rep.ExportedAt)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", t.Name, err)
			}
			rep.Tables = append(rep.Tables, sum)
		}
	}
	id := make([]byte, 8)
	rand.Read(id)
	rep.PackageID = hex.EncodeToString(id)
	meta := [][2]string{
		{"format", Format},
		{"package_id", rep.PackageID},
		{"database", rep.Database},
		{"exported_at", rep.ExportedAt.Format(time.RFC3339Nano)},
		{"area", rep.Area},
		{"area_wkt", wktOf(area)},
		{"layers", strings.Join(layerNames(layers), ",")},
	}
	for _, kv := range meta {
		if _, err := stx.ExecContext(ctx, `INSERT INTO lastmile_export (key, value) VALUES (?, ?)`, kv[0], kv[1]); err != nil {
			return nil, err
		}
	}
	for _, s := range rep.Tables {
		if _, err := stx.ExecContext(ctx, `INSERT INTO lastmile_export_layers (table_name, layer, geometry_type, features, max_id, max_version)
			VALUES (?, ?, ?, ?, ?, ?)`, s.Table, s.Layer, s.Geometry, s.Features, s.MaxID, s.MaxVersion); err != nil {
			return nil, err
		}
	}
	if err := stx.Commit(); err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, `VACUUM`); err != nil {
		return nil, err
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	if err := syncFile(tmpName); err != nil {
		return nil, err
	}
	if err := os.Rename(tmpName, opt.Out); err != nil {
		return nil, err
	}
	if st, err := os.Stat(opt.Out); err == nil {
		rep.Bytes = st.Size()
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

func syncFile(name string) error {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func selectLayers(catalog *layer.Catalog, names []string) ([]*layer.Layer, error) {
	if len(names) == 0 {
		return catalog.Layers(), nil
	}
	var out []*layer.Layer
	for _, n := range names {
		l, ok := catalog.Layer(strings.TrimSpace(n))
		if !ok {
			return nil, lastmile.Errorf(lastmile.EINVALID, "unknown layer %q (layers: %s)", n, strings.Join(catalog.Names(), ", "))
		}
		out = append(out, l)
	}
	return out, nil
}

func layerNames(ls []*layer.Layer) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Name)
	}
	return out
}

// areaGeometry returns the area as EWKB (SRID 4326).
func areaGeometry(ctx context.Context, tx pgx.Tx, a Area) ([]byte, error) {
	if a.BBox != nil {
		b := *a.BBox
		return ewkb.Marshal(orb.Polygon{{{b.Min[0], b.Min[1]}, {b.Max[0], b.Min[1]}, {b.Max[0], b.Max[1]}, {b.Min[0], b.Max[1]}, {b.Min[0], b.Min[1]}}}, 4326)
	}
	if !layer.AdminCodePattern.MatchString(a.AdminCode) {
		return nil, lastmile.Invalid("the admin code is malformed", lastmile.Problem{Field: "admin_code", Value: a.AdminCode, Message: "must be 12 digits"})
	}
	var g []byte
	err := tx.QueryRow(ctx, `SELECT ST_AsEWKB(geom) FROM lastmile.admin_areas WHERE code = $1`, a.AdminCode).Scan(&g)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, lastmile.Errorf(lastmile.ENOTFOUND, "no admin area has the code %s", a.AdminCode)
	}
	return g, err
}

func wktOf(ewkbArea []byte) string {
	g, _, err := ewkb.Unmarshal(ewkbArea)
	if err != nil {
		return ""
	}
	return wkt.MarshalString(g)
}

// identity names the database: its cluster's system identifier (when the
// role may read it) and its name.
func identity(ctx context.Context, q pgx.Tx) (string, error) {
	var name string
	if err := q.QueryRow(ctx, `SELECT current_database()`).Scan(&name); err != nil {
		return "", err
	}
	var sys string
	if _, err := q.Exec(ctx, `SAVEPOINT ident`); err != nil {
		return "", err
	}
	if err := q.QueryRow(ctx, `SELECT system_identifier::text FROM pg_control_system()`).Scan(&sys); err != nil {
		if _, err := q.Exec(ctx, `ROLLBACK TO SAVEPOINT ident`); err != nil {
			return "", err
		}
		return name, nil
	}
	return sys + "/" + name, nil
}

// createPackage writes the GeoPackage's own tables and the lastmile ones.
func createPackage(ctx context.Context, db *sql.DB) error {
	stmts := []string{
		fmt.Sprintf(`PRAGMA application_id = %d`, applicationID),
		fmt.Sprintf(`PRAGMA user_version = %d`, userVersion),
		`PRAGMA journal_mode = DELETE`,
		`CREATE TABLE gpkg_spatial_ref_sys (
			srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
			organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT)`,
		`INSERT INTO gpkg_spatial_ref_sys VALUES
			('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'),
			('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system'),
			('WGS 84 geodetic', 4326, 'EPSG', 4326, '` + wgs84WKT + `', 'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid')`,
		`CREATE TABLE gpkg_contents (
			table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
			description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
			min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
			CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))`,
		`CREATE TABLE gpkg_geometry_columns (
			table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
			srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
			CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
			CONSTRAINT uk_gc_table_name UNIQUE (table_name),
			CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
			CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))`,
		// What was exported, for sync: registered as an attributes table so
		// that GDAL and QGIS list only the registered tables (not the
		// lastmile_base_* copies below).
		`CREATE TABLE lastmile_export (key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL)`,
		`INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
			VALUES ('lastmile_export', 'attributes', 'lastmile_export', 'what this lastmile field package holds; do not edit')`,
		`CREATE TABLE lastmile_export_layers (table_name TEXT NOT NULL PRIMARY KEY, layer TEXT NOT NULL,
			geometry_type TEXT NOT NULL, features INTEGER NOT NULL, max_id INTEGER, max_version INTEGER)`,
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("creating the GeoPackage: %w", err)
		}
	}
	return nil
}

// wgs84WKT is EPSG:4326 as OGC WKT 1 (what GDAL writes into
// gpkg_spatial_ref_sys).
const wgs84WKT = `GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]`

// quote quotes a SQLite identifier.
func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// baseTable is the hidden copy of a table's rows as exported.
func baseTable(t table) string { return "lastmile_base_" + t.Name }

// createTable creates t (and its hidden base copy): fid, geom, id, then
// every catalog field of the layer.
func createTable(ctx context.Context, stx *sql.Tx, t table) error {
	cols := []string{`fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL`, `geom ` + t.geomType, `id INTEGER`}
	for _, f := range t.Layer.Fields {
		cols = append(cols, quote(f.Name)+" "+columnType(f))
	}
	for _, name := range []string{t.Name, baseTable(t)} {
		if _, err := stx.ExecContext(ctx, `CREATE TABLE `+quote(name)+` (`+strings.Join(cols, ", ")+`)`); err != nil {
			return err
		}
	}
	if _, err := stx.ExecContext(ctx, `CREATE UNIQUE INDEX `+quote(t.Name+"_id")+` ON `+quote(t.Name)+` (id)`); err != nil {
		return err
	}
	return nil
}

// exportTable copies the features of t intersecting area into the package.
func exportTable(ctx context.Context, tx pgx.Tx, stx *sql.Tx, t table, area []byte, at time.Time) (TableSummary, error) {
	sum := TableSummary{Table: t.Name, Layer: t.Layer.Name, Geometry: t.geomType}
	if err := createTable(ctx, stx, t); err != nil {
		return sum, err
	}
	kinds := make([]string, len(t.family.kinds))
	for i, k := range t.family.kinds {
		kinds[i] = "ST_" + k
	}
	rows, err := tx.Query(ctx, `SELECT id, to_jsonb(t) - 'geom' - 'geom_3857' - 'id', ST_AsBinary(geom)
		FROM `+pgsql.Table(t.Layer)+` t
		WHERE ST_Intersects(geom, ST_GeomFromEWKB($1)) AND ST_GeometryType(geom) = ANY($2)
		ORDER BY id`, area, kinds)
	if err != nil {
		return sum, err
	}
	defer rows.Close()
	names := []string{"geom", "id"}
	for _, f := range t.Layer.Fields {
		names = append(names, quote(f.Name))
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(names)), ", ")
	insert := func(tbl string) (*sql.Stmt, error) {
		return stx.PrepareContext(ctx, `INSERT INTO `+quote(tbl)+` (`+strings.Join(names, ", ")+`) VALUES (`+marks+`)`)
	}
	ins, err := insert(t.Name)
	if err != nil {
		return sum, err
	}
	defer ins.Close()
	base, err := insert(baseTable(t))
	if err != nil {
		return sum, err
	}
	defer base.Close()
	bound := orb.Bound{}
	bounds := map[int64]orb.Bound{} // fid → bounds, for the R-tree
	for rows.Next() {
		var (
			id         int64
			props, raw []byte
		)
		if err := rows.Scan(&id, &props, &raw); err != nil {
			return sum, err
		}
		g, err := wkb.Unmarshal(raw)
		if err != nil {
			return sum, err
		}
		g = t.promote(g)
		blob, err := encodeBlob(g, 4326)
		if err != nil {
			return sum, err
		}
		values, version, err := packageValues(t.Layer, props)
		if err != nil {
			return sum, fmt.Errorf("feature %d: %w", id, err)
		}
		args := append([]any{blob, id}, values...)
		res, err := ins.ExecContext(ctx, args...)
		if err != nil {
			return sum, err
		}
		fid, err := res.LastInsertId()
		if err != nil {
			return sum, err
		}
		bounds[fid] = g.Bound()
		if _, err := base.ExecContext(ctx, args...); err != nil {
			return sum, err
		}
		if sum.Features == 0 {
			bound = g.Bound()
		} else {
			bound = bound.Union(g.Bound())
		}
		sum.Features++
		sum.MaxID = max(sum.MaxID, id)
		sum.MaxVersion = max(sum.MaxVersion, version)
	}
	if err := rows.Err(); err != nil {
		return sum, err
	}
	if err := createRTree(ctx, stx, t.Name, bounds); err != nil {
		return sum, fmt.Errorf("spatial index: %w", err)
	}
	var extent []any
	if sum.Features > 0 {
		extent = []any{bound.Min[0], bound.Min[1], bound.Max[0], bound.Max[1]}
	} else {
		extent = []any{nil, nil, nil, nil}
	}
	title := t.Layer.Title
	if t.Name != t.Layer.Name {
		title += " (" + t.family.name + ")"
	}
	if _, err := stx.ExecContext(ctx, `INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change, min_x, min_y, max_x, max_y, srs_id)
		VALUES (?, 'features', ?, ?, ?, ?, ?, ?, ?, 4326)`,
		append([]any{t.Name, t.Name, title + " / " + t.Layer.TitleZH, at.Format("2006-01-02T15:04:05.000Z")}, extent...)...); err != nil {
		return sum, err
	}
	if _, err := stx.ExecContext(ctx, `INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, 4326, 0, 0)`, t.Name, t.geomType); err != nil {
		return sum, err
	}
	return sum, nil
}

// packageValues turns a row's JSON (to_jsonb, as the store reads it) into
// the column values of the layer's fields, in catalog order.
func packageValues(l *layer.Layer, props []byte) ([]any, int, error) {
	dec := json.NewDecoder(bytes.NewReader(props))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, 0, err
	}
	out := make([]any, len(l.Fields))
	version := 0
	for i, f := range l.Fields {
		v, err := toColumn(f, m[f.Name])
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", f.Name, err)
		}
		out[i] = v
		if f.Name == "version" {
			if n, ok := v.(int64); ok {
				version = int(n)
			}
		}
	}
	return out, version, nil
}

// toColumn converts one JSON value of field f to its GeoPackage column value.
func toColumn(f layer.Field, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch {
	case f.Name == "updated_at":
		s, _ := v.(string)
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, err
		}
		return t.UTC().Format("2006-01-02T15:04:05.000Z"), nil
	case f.Type == layer.Integer:
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("not a number: %v", v)
		}
		return n.Int64()
	case f.Type == layer.Number || f.Type == layer.Money:
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("not a number: %v", v)
		}
		return n.Float64()
	case f.Type == layer.Boolean:
		if b, _ := v.(bool); b {
			return int64(1), nil
		}
		return int64(0), nil
	case f.Type == layer.Object:
		b, err := json.Marshal(v)
		return string(b), err
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("not a string: %v", v)
	}
	return s, nil
}
