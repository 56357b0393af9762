package fieldpkg

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"
	"sync"

	"github.com/paulmach/orb"
	"modernc.org/sqlite"
)

// The R-tree spatial index extension (GeoPackage 1.3 annex F.3): a virtual
// table rtree_<table>_geom of fid and bounds, kept current by triggers that
// QGIS and QField (through GDAL, which provides ST_IsEmpty, ST_MinX, …) fire
// on every edit.

const rtreeExtension = `CREATE TABLE IF NOT EXISTS gpkg_extensions (
	table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL, scope TEXT NOT NULL,
	CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))`

// rtreeTriggers are the six triggers of annex F.3 for table T, column geom
// and primary key fid.
const rtreeTriggers = `
CREATE TRIGGER "rtree_T_geom_insert" AFTER INSERT ON "T"
  WHEN (new.geom NOT NULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN
  INSERT OR REPLACE INTO "rtree_T_geom" VALUES (NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom));
END;
CREATE TRIGGER "rtree_T_geom_update1" AFTER UPDATE OF geom ON "T"
  WHEN OLD.fid = NEW.fid AND (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN
  INSERT OR REPLACE INTO "rtree_T_geom" VALUES (NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom));
END;
CREATE TRIGGER "rtree_T_geom_update2" AFTER UPDATE OF geom ON "T"
  WHEN OLD.fid = NEW.fid AND (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
BEGIN
  DELETE FROM "rtree_T_geom" WHERE id = OLD.fid;
END;
CREATE TRIGGER "rtree_T_geom_update3" AFTER UPDATE ON "T"
  WHEN OLD.fid != NEW.fid AND (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN
  DELETE FROM "rtree_T_geom" WHERE id = OLD.fid;
  INSERT OR REPLACE INTO "rtree_T_geom" VALUES (NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom));
END;
CREATE TRIGGER "rtree_T_geom_update4" AFTER UPDATE ON "T"
  WHEN OLD.fid != NEW.fid AND (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
BEGIN
  DELETE FROM "rtree_T_geom" WHERE id IN (OLD.fid, NEW.fid);
END;
CREATE TRIGGER "rtree_T_geom_delete" AFTER DELETE ON "T"
  WHEN old.geom NOT NULL
BEGIN
  DELETE FROM "rtree_T_geom" WHERE id = OLD.fid;
END;`

// createRTree indexes the rows of table name (fid → bounds) and installs
// the triggers.
func createRTree(ctx context.Context, stx *sql.Tx, name string, bounds map[int64]orb.Bound) error {
	rt := quote("rtree_" + name + "_geom")
	stmts := []string{
		rtreeExtension,
		`CREATE VIRTUAL TABLE ` + rt + ` USING rtree(id, minx, maxx, miny, maxy)`,
	}
	for _, s := range stmts {
		if _, err := stx.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	if _, err := stx.ExecContext(ctx, `INSERT INTO gpkg_extensions VALUES (?, 'geom', 'gpkg_rtree_index', 'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')`, name); err != nil {
		return err
	}
	ins, err := stx.PrepareContext(ctx, `INSERT INTO `+rt+` VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	for fid, b := range bounds {
		if _, err := ins.ExecContext(ctx, fid, b.Min[0], b.Max[0], b.Min[1], b.Max[1]); err != nil {
			return err
		}
	}
	for _, trig := range strings.Split(strings.ReplaceAll(rtreeTriggers, `"T"`, quote(name)), "END;") {
		trig = strings.ReplaceAll(trig, "rtree_T_geom", "rtree_"+strings.ReplaceAll(name, `"`, `""`)+"_geom")
		if strings.TrimSpace(trig) == "" {
			continue
		}
		if _, err := stx.ExecContext(ctx, trig+"END;"); err != nil {
			return err
		}
	}
	return nil
}

var registerOnce sync.Once

// RegisterSQLFunctions registers, for connections that modernc.org/sqlite
// opens from then on, the GeoPackage SQL functions that the R-tree triggers
// call (ST_IsEmpty, ST_MinX, ST_MaxX, ST_MinY, ST_MaxY), as GDAL provides
// them to QGIS: a program (or test) that edits a package with plain SQL
// through this driver needs them. Registering twice is harmless.
func RegisterSQLFunctions() {
	registerOnce.Do(func() {
		bound := func(pick func(orb.Bound) float64) func(*sqlite.FunctionContext, []driver.Value) (driver.Value, error) {
			return func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
				b, ok := args[0].([]byte)
				if !ok {
					return nil, nil
				}
				g, _, err := decodeBlob(b)
				if err != nil {
					return nil, nil
				}
				return pick(g.Bound()), nil
			}
		}
		fns := map[string]func(*sqlite.FunctionContext, []driver.Value) (driver.Value, error){
			"ST_MinX": bound(func(b orb.Bound) float64 { return b.Min[0] }),
			"ST_MaxX": bound(func(b orb.Bound) float64 { return b.Max[0] }),
			"ST_MinY": bound(func(b orb.Bound) float64 { return b.Min[1] }),
			"ST_MaxY": bound(func(b orb.Bound) float64 { return b.Max[1] }),
			"ST_IsEmpty": func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
				b, ok := args[0].([]byte)
				if !ok {
					return nil, nil
				}
				if len(b) >= 4 && b[3]&flagEmpty != 0 {
					return int64(1), nil
				}
				return int64(0), nil
			},
		}
		var errs []error
		for name, f := range fns {
			errs = append(errs, sqlite.RegisterDeterministicScalarFunction(name, 1, f))
		}
		if err := errors.Join(errs...); err != nil {
			panic(err)
		}
	})
}
