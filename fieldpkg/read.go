package fieldpkg

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
)

// row is one feature read from a package table.
type row struct {
	fid      int64
	id       int64 // 0: a new feature (no id)
	version  int   // the version column (the exported version, in a base table)
	geom     orb.Geometry
	values   map[string]any // writable fields, as JSON values (layer.Validate's input)
	problems []lastmile.Problem
}

// pkg is a field package read whole: what was exported and what it holds now.
type pkg struct {
	meta   map[string]string
	tables []pkgTable
}

type pkgTable struct {
	table
	exported int              // features at export (lastmile_export_layers)
	base     map[int64]*row   // as exported, by id
	rows     []*row           // as now
	byID     map[int64][]*row // rows with an id
	warnings []string
}

// damaged is the error for a package that cannot be synced at all.
func damaged(file, format string, args ...any) error {
	return lastmile.Invalid("the field package is damaged; nothing was changed",
		lastmile.Problem{Field: "file", Value: file, Message: fmt.Sprintf(format, args...)})
}

// readPackage opens the GeoPackage at path read-only, checks it and reads
// every table of it. Any damage (not a GeoPackage, a truncated or corrupt
// file, a missing table or column, a bad geometry blob) is an error.
func readPackage(ctx context.Context, path string, catalog *layer.Catalog) (*pkg, error) {
	name := baseName(path)
	st, err := os.Stat(path)
	if err != nil {
		return nil, lastmile.Errorf(lastmile.EINVALID, "%s cannot be read: %v", name, strings.TrimPrefix(err.Error(), "stat "))
	}
	if st.Size() < 1024 {
		return nil, damaged(name, "has %d bytes: too short for a GeoPackage", st.Size())
	}
	head := make([]byte, 100)
	if f, err := os.Open(path); err == nil {
		_, err = f.Read(head)
		f.Close()
		if err != nil {
			return nil, damaged(name, "cannot be read: %v", err)
		}
	}
	if string(head[:16]) != "SQLite format 3\x00" {
		return nil, damaged(name, "is not a GeoPackage (not an SQLite database)")
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return nil, damaged(name, "cannot be opened: %v", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, damaged(name, "cannot be opened: %v", err)
	}
	defer conn.Close()
	var check []string
	rows, err := conn.QueryContext(ctx, `PRAGMA integrity_check(20)`)
	if err != nil {
		return nil, damaged(name, "fails SQLite's integrity check: %v", err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		check = append(check, s)
	}
	if err := rows.Err(); err != nil {
		return nil, damaged(name, "fails SQLite's integrity check: %v", err)
	}
	rows.Close()
	if len(check) != 1 || check[0] != "ok" {
		return nil, damaged(name, "fails SQLite's integrity check (a truncated or corrupt file): %s", strings.Join(check, "; "))
	}
	var appID int64
	if err := conn.QueryRowContext(ctx, `PRAGMA application_id`).Scan(&appID); err != nil || appID != applicationID {
		return nil, damaged(name, "is an SQLite database but not a GeoPackage (application_id %#x)", appID)
	}
	for _, tbl := range []string{"gpkg_contents", "gpkg_geometry_columns", "lastmile_export", "lastmile_export_layers"} {
		var n int
		if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, tbl).Scan(&n); err != nil || n == 0 {
			if strings.HasPrefix(tbl, "lastmile") {
				return nil, damaged(name, "has no table %s: it is not a lastmile field package (make one with lastmile export features)", tbl)
			}
			return nil, damaged(name, "has no table %s", tbl)
		}
	}
	p := &pkg{meta: map[string]string{}}
	mr, err := conn.QueryContext(ctx, `SELECT key, value FROM lastmile_export`)
	if err != nil {
		return nil, damaged(name, "lastmile_export cannot be read: %v", err)
	}
	for mr.Next() {
		var k, v string
		if err := mr.Scan(&k, &v); err != nil {
			return nil, damaged(name, "lastmile_export cannot be read: %v", err)
		}
		p.meta[k] = v
	}
	mr.Close()
	if p.meta["format"] != Format {
		return nil, damaged(name, "lastmile_export says format %q, not %q", p.meta["format"], Format)
	}
	lr, err := conn.QueryContext(ctx, `SELECT table_name, layer, geometry_type, features FROM lastmile_export_layers ORDER BY rowid`)
	if err != nil {
		return nil, damaged(name, "lastmile_export_layers cannot be read: %v", err)
	}
	type entry struct {
		table, layer, geom string
		n                  int
	}
	var entries []entry
	for lr.Next() {
		var e entry
		if err := lr.Scan(&e.table, &e.layer, &e.geom, &e.n); err != nil {
			return nil, damaged(name, "lastmile_export_layers cannot be read: %v", err)
		}
		entries = append(entries, e)
	}
	lr.Close()
	for _, e := range entries {
		l, ok := catalog.Layer(e.layer)
		if !ok {
			return nil, damaged(name, "lastmile_export_layers names the layer %q, which this lastmile does not have", e.layer)
		}
		var t *table
		for _, c := range tables(l) {
			if c.Name == e.table {
				t = &c
			}
		}
		if t == nil {
			return nil, damaged(name, "lastmile_export_layers names the table %q, which is not a table of layer %s", e.table, e.layer)
		}
		pt := pkgTable{table: *t, exported: e.n, base: map[int64]*row{}, byID: map[int64][]*row{}}
		base, _, err := readTable(ctx, conn, name, baseTable(*t), *t)
		if err != nil {
			return nil, err
		}
		for _, r := range base {
			pt.base[r.id] = r
		}
		if len(pt.base) != e.n {
			return nil, damaged(name, "%s holds %d features, the export recorded %d", baseTable(*t), len(pt.base), e.n)
		}
		if pt.rows, pt.warnings, err = readTable(ctx, conn, name, t.Name, *t); err != nil {
			return nil, err
		}
		for _, r := range pt.rows {
			if r.id != 0 {
				pt.byID[r.id] = append(pt.byID[r.id], r)
			}
		}
		p.tables = append(p.tables, pt)
	}
	return p, nil
}

// readTable reads every row of the package table tbl laid out as t.
// Structural damage is an error; a value that does not fit its field is a
// problem of its row.
func readTable(ctx context.Context, conn *sql.Conn, file, tbl string, t table) ([]*row, []string, error) {
	cols := map[string]bool{}
	ti, err := conn.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, tbl)
	if err != nil {
		return nil, nil, damaged(file, "table %s cannot be read: %v", tbl, err)
	}
	for ti.Next() {
		var c string
		ti.Scan(&c)
		cols[c] = true
	}
	ti.Close()
	if len(cols) == 0 {
		return nil, nil, damaged(file, "has no table %s (the export wrote it)", tbl)
	}
	want := []string{"fid", "geom", "id", "version"}
	var read []layer.Field
	for _, f := range t.Layer.Fields {
		if !f.ReadOnly {
			want = append(want, f.Name)
			read = append(read, f)
		}
	}
	for _, c := range want {
		if !cols[c] {
			return nil, nil, damaged(file, "table %s has no column %s", tbl, c)
		}
	}
	var warnings []string
	known := map[string]bool{"fid": true, "geom": true, "id": true}
	for _, f := range t.Layer.Fields {
		known[f.Name] = true
	}
	for c := range cols {
		if !known[c] {
			warnings = append(warnings, fmt.Sprintf("%s: column %s is not a field of layer %s and is ignored (put extra attributes in props)", tbl, c, t.Layer.Name))
		}
	}
	sel := make([]string, len(want))
	for i, c := range want {
		sel[i] = quote(c)
	}
	rs, err := conn.QueryContext(ctx, `SELECT `+strings.Join(sel, ", ")+` FROM `+quote(tbl)+` ORDER BY fid`)
	if err != nil {
		return nil, nil, damaged(file, "table %s cannot be read: %v", tbl, err)
	}
	defer rs.Close()
	var out []*row
	for rs.Next() {
		vals := make([]any, len(want))
		ptrs := make([]any, len(want))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, nil, damaged(file, "table %s cannot be read: %v", tbl, err)
		}
		r := &row{values: map[string]any{}}
		r.fid, _ = vals[0].(int64)
		switch id := vals[2].(type) {
		case nil:
		case int64:
			r.id = id
		case float64:
			if id == math.Trunc(id) {
				r.id = int64(id)
				break
			}
			r.problems = append(r.problems, lastmile.Problem{Field: "id", Value: fmt.Sprint(id), Message: "must be an integer (the feature's id in lastmile) or empty for a new feature"})
		default:
			r.problems = append(r.problems, lastmile.Problem{Field: "id", Value: short(id), Message: "must be an integer (the feature's id in lastmile) or empty for a new feature"})
		}
		blob, ok := vals[1].([]byte)
		if vals[1] == nil {
			r.problems = append(r.problems, lastmile.Problem{Field: "geometry", Message: "is missing (every feature needs a geometry)"})
		} else if !ok {
			return nil, nil, damaged(file, "table %s, fid %d: the geometry is not a GeoPackage blob (a %T)", tbl, r.fid, vals[1])
		} else {
			g, srs, err := decodeBlob(blob)
			if err != nil {
				return nil, nil, damaged(file, "table %s, fid %d: %v", tbl, r.fid, err)
			}
			if srs != 4326 {
				return nil, nil, damaged(file, "table %s, fid %d: the geometry has srs_id %d, the package's tables are EPSG:4326", tbl, r.fid, srs)
			}
			r.geom = g
		}
		if v, ok := vals[3].(int64); ok {
			r.version = int(v)
		}
		for i, f := range read {
			v, msg := fromColumn(f, vals[4+i])
			if msg != "" {
				r.problems = append(r.problems, lastmile.Problem{Field: f.Name, Value: short(vals[4+i]), Message: msg})
				continue
			}
			r.values[f.Name] = v
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, nil, damaged(file, "table %s cannot be read: %v", tbl, err)
	}
	return out, warnings, nil
}

// fromColumn converts a GeoPackage column value of field f to the JSON
// value layer.Validate reads. A value of the wrong type is a message.
func fromColumn(f layer.Field, v any) (any, string) {
	if b, ok := v.([]byte); ok && f.Type != layer.Object {
		v = string(b)
	}
	if v == nil {
		if f.Type == layer.Object {
			return map[string]any{}, ""
		}
		return nil, ""
	}
	switch f.Type {
	case layer.Integer:
		switch n := v.(type) {
		case int64:
			return n, ""
		case float64:
			if n == math.Trunc(n) {
				return int64(n), ""
			}
		}
		return nil, "must be an integer"
	case layer.Number, layer.Money:
		switch n := v.(type) {
		case int64:
			return float64(n), ""
		case float64:
			return n, ""
		}
		return nil, "must be a number"
	case layer.Boolean:
		if n, ok := v.(int64); ok && (n == 0 || n == 1) {
			return n == 1, ""
		}
		return nil, "must be true or false (1 or 0)"
	case layer.Object:
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case []byte:
			s = string(x)
		default:
			return nil, "must be a JSON object"
		}
		if strings.TrimSpace(s) == "" {
			return map[string]any{}, ""
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil || m == nil {
			return nil, "must be a JSON object"
		}
		return m, ""
	case layer.Date:
		if t, ok := v.(time.Time); ok { // the driver parses DATE columns
			if t.Hour() != 0 || t.Minute() != 0 || t.Second() != 0 || t.Nanosecond() != 0 {
				return nil, "must be a date YYYY-MM-DD (without a time of day)"
			}
			return t.Format(time.DateOnly), ""
		}
		s, ok := v.(string)
		if !ok {
			return nil, "must be a date YYYY-MM-DD"
		}
		// QGIS writes dates as YYYY-MM-DD; a datetime at midnight is the same day
		s = strings.TrimSuffix(strings.TrimSuffix(s, "T00:00:00Z"), "T00:00:00")
		return s, ""
	}
	s, ok := v.(string)
	if !ok {
		return nil, "must be text"
	}
	return s, ""
}

// canonical returns v as comparable text (JSON with sorted keys).
func canonical(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func short(v any) string {
	s := canonical(v)
	if b, ok := v.([]byte); ok {
		s = fmt.Sprintf("%d bytes", len(b))
	}
	return lastmile.Clip(s)
}

func baseName(path string) string {
	if i := strings.LastIndexAny(path, `/\`); i >= 0 {
		return path[i+1:]
	}
	return path
}
