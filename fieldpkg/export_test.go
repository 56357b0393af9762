package fieldpkg

import (
	"context"
	"crypto/md5"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile/demo"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

func TestMain(m *testing.M) {
	RegisterSQLFunctions() // the tests edit packages with SQL, firing the R-tree triggers
	pgtest.Main(m)
}

// county loads the demo county into a fresh database and returns the pool
// and the county's admin code.
func county(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	pool := pgtest.New(t)
	if _, err := demo.Load(context.Background(), pool, demo.Generate(1)); err != nil {
		t.Fatalf("demo.Load: %v", err)
	}
	var code string
	if err := pool.QueryRow(context.Background(), `SELECT code FROM lastmile.admin_areas WHERE level = 'county' ORDER BY code LIMIT 1`).Scan(&code); err != nil {
		t.Fatal(err)
	}
	return pool, code
}

func export(t *testing.T, pool *pgxpool.Pool, area Area, layers ...string) (string, *ExportReport) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "field.gpkg")
	rep, err := Export(context.Background(), pool, layer.Default(), ExportOptions{Area: area, Layers: layers, Out: out})
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	return out, rep
}

func openPkg(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestExport checks a package of the demo county against the database,
// computed independently: per table the features intersecting the county,
// their ids, versions and values; the GeoPackage's own tables; the column
// types; the export record. A bbox and a layer subset select what they say.
func TestExport(t *testing.T) {
	ctx := context.Background()
	pool, code := county(t)
	out, rep := export(t, pool, Area{AdminCode: code})
	db := openPkg(t, out)

	var appID, userVersion int
	db.QueryRow(`PRAGMA application_id`).Scan(&appID)
	db.QueryRow(`PRAGMA user_version`).Scan(&userVersion)
	if appID != 0x47504B47 || userVersion != 10300 {
		t.Errorf("application_id %#x user_version %d, want GPKG 10300", appID, userVersion)
	}
	var srs int
	db.QueryRow(`SELECT count(*) FROM gpkg_spatial_ref_sys WHERE srs_id IN (-1, 0, 4326)`).Scan(&srs)
	if srs != 3 {
		t.Errorf("%d of the three required spatial reference systems", srs)
	}

	total := 0
	for _, l := range layer.Default().Layers() {
		for _, tb := range tables(l) {
			kinds := []string{}
			for _, k := range tb.family.kinds {
				kinds = append(kinds, "ST_"+k)
			}
			// the database: ids, versions and a checksum of the values
			var n int
			var maxID, maxVersion *int64
			var sum string
			if err := pool.QueryRow(ctx, `SELECT count(*), max(t.id), max(t.version),
					coalesce(md5(string_agg(t.id || ':' || t.version || ':' || coalesce(t.name, '') || ':' || coalesce(t.completed_on::text, '') || ':' || t.status, ',' ORDER BY t.id)), '')
				FROM lastmile.`+l.Table+` t, lastmile.admin_areas a
				WHERE a.code = $1 AND ST_Intersects(t.geom, a.geom) AND ST_GeometryType(t.geom) = ANY($2)`, code, kinds).Scan(&n, &maxID, &maxVersion, &sum); err != nil {
				t.Fatal(err)
			}
			var pn int
			var psum string
			if err := db.QueryRow(`SELECT count(*), coalesce(group_concat(id || ':' || version || ':' || coalesce(name, '') || ':' || coalesce(completed_on, '') || ':' || status, ','), '')
				FROM (SELECT * FROM `+quote(tb.Name)+` ORDER BY id)`).Scan(&pn, &psum); err != nil {
				t.Fatalf("%s: %v", tb.Name, err)
			}
			if psum != "" {
				psum = md5hex(psum)
			}
			if pn != n || psum != sum {
				t.Errorf("%s: %d features (values %s), database %d (%s)", tb.Name, pn, psum, n, sum)
			}
			var s TableSummary
			for _, x := range rep.Tables {
				if x.Table == tb.Name {
					s = x
				}
			}
			var rec struct {
				n          int
				id, ver    *int64
				layer, typ string
			}
			if err := db.QueryRow(`SELECT features, max_id, max_version, layer, geometry_type FROM lastmile_export_layers WHERE table_name = ?`, tb.Name).
				Scan(&rec.n, &rec.id, &rec.ver, &rec.layer, &rec.typ); err != nil {
				t.Fatalf("%s: lastmile_export_layers: %v", tb.Name, err)
			}
			if rec.n != n || s.Features != n || rec.layer != l.Name || rec.typ != tb.geomType || n > 0 && (*rec.id != *maxID || *rec.ver != *maxVersion) {
				t.Errorf("%s: export record %+v (report %+v), database %d features, max id %v, max version %v", tb.Name, rec, s, n, maxID, maxVersion)
			}
			var gtype string
			var contents int
			db.QueryRow(`SELECT geometry_type_name FROM gpkg_geometry_columns WHERE table_name = ? AND column_name = 'geom' AND srs_id = 4326`, tb.Name).Scan(&gtype)
			db.QueryRow(`SELECT count(*) FROM gpkg_contents WHERE table_name = ? AND data_type = 'features' AND srs_id = 4326`, tb.Name).Scan(&contents)
			if gtype != tb.geomType || contents != 1 {
				t.Errorf("%s: gpkg_geometry_columns %q, gpkg_contents %d", tb.Name, gtype, contents)
			}
			// the R-tree: one entry per feature, with its bounds
			var rn, bad int
			db.QueryRow(`SELECT count(*) FROM ` + quote("rtree_"+tb.Name+"_geom")).Scan(&rn)
			db.QueryRow(`SELECT count(*) FROM ` + quote(tb.Name) + ` t JOIN ` + quote("rtree_"+tb.Name+"_geom") + ` r ON r.id = t.fid
				WHERE NOT (r.minx <= ST_MinX(t.geom) AND r.minx > ST_MinX(t.geom) - 1e-4 AND r.maxy >= ST_MaxY(t.geom) AND r.maxy < ST_MaxY(t.geom) + 1e-4)`).Scan(&bad)
			if rn != n || bad != 0 {
				t.Errorf("%s: %d R-tree entries for %d features, %d with other bounds", tb.Name, rn, n, bad)
			}
			total += n
		}
	}
	// GDAL sees the spatial index (and uses it for -spat)
	if b, err := osexec.Command("ogrinfo", "-ro", "-q", out, "-sql", "SELECT HasSpatialIndex('roads', 'geom')").CombinedOutput(); err != nil || !strings.Contains(string(b), "HasSpatialIndex (Integer) = 1") {
		t.Errorf("ogrinfo HasSpatialIndex: %v\n%s", err, b)
	}
	if total < 3000 {
		t.Errorf("%d features in the county's package", total)
	}
	t.Logf("demo county package: %d features, %d bytes, %.2fs", total, rep.Bytes, rep.Seconds)

	// column types (GeoPackage 1.3 table 1)
	types := map[string]string{}
	rows, _ := db.Query(`SELECT name, type FROM pragma_table_info('villages')`)
	for rows.Next() {
		var n, ty string
		rows.Scan(&n, &ty)
		types[n] = ty
	}
	rows.Close()
	want := map[string]string{"fid": "INTEGER", "geom": "POINT", "id": "INTEGER", "version": "INTEGER", "population": "INTEGER",
		"funding_yuan": "REAL", "started_on": "DATE", "updated_at": "DATETIME", "is_poor_village": "BOOLEAN", "props": "TEXT", "code": "TEXT"}
	for k, v := range want {
		if types[k] != v {
			t.Errorf("villages.%s is %q, want %s", k, types[k], v)
		}
	}
	// a value of each type, as stored
	var props, started, storage string
	if err := db.QueryRow(`SELECT props, started_on || '', typeof(started_on) || typeof(funding_yuan) || typeof(width_m) || typeof(version) || typeof(props)
		FROM roads WHERE funding_yuan IS NOT NULL AND started_on IS NOT NULL AND width_m IS NOT NULL ORDER BY id LIMIT 1`).Scan(&props, &started, &storage); err != nil {
		t.Fatal(err)
	}
	if _, err := time.Parse(time.DateOnly, started); err != nil || !json.Valid([]byte(props)) || !strings.HasPrefix(props, "{") || storage != "textrealrealintegertext" {
		t.Errorf("started_on %q, props %q, storage classes %s", started, props, storage)
	}

	meta := map[string]string{}
	rows, _ = db.Query(`SELECT key, value FROM lastmile_export`)
	for rows.Next() {
		var k, v string
		rows.Scan(&k, &v)
		meta[k] = v
	}
	rows.Close()
	var dbName string
	pool.QueryRow(ctx, `SELECT current_database()`).Scan(&dbName)
	if meta["format"] != Format || meta["area"] != "admin_code:"+code || !strings.HasSuffix(meta["database"], "/"+dbName) ||
		meta["exported_at"] == "" || !strings.HasPrefix(meta["area_wkt"], "MULTIPOLYGON") || len(meta["package_id"]) != 16 {
		t.Errorf("lastmile_export = %v", meta)
	}

	t.Run("bbox and layers", func(t *testing.T) {
		bbox := &orb.Bound{Min: orb.Point{117.1, 37.2}, Max: orb.Point{117.2, 37.3}}
		out, rep := export(t, pool, Area{BBox: bbox}, "roads", "facilities")
		if len(rep.Tables) != 2 || rep.Tables[0].Table != "roads" || rep.Tables[1].Table != "facilities" {
			t.Fatalf("tables %+v", rep.Tables)
		}
		for _, s := range rep.Tables {
			var n int
			pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.`+s.Layer+` WHERE ST_Intersects(geom, ST_MakeEnvelope(117.1, 37.2, 117.2, 37.3, 4326))`).Scan(&n)
			var pn int
			openPkg(t, out).QueryRow(`SELECT count(*) FROM ` + s.Table).Scan(&pn)
			if n == 0 || pn != n || s.Features != n {
				t.Errorf("%s: package %d, report %d, database %d", s.Table, pn, s.Features, n)
			}
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		for _, tt := range []struct {
			opt  ExportOptions
			want string
		}{
			{ExportOptions{Area: Area{AdminCode: "999999999999"}, Out: filepath.Join(t.TempDir(), "x.gpkg")}, "no admin area has the code 999999999999"},
			{ExportOptions{Area: Area{AdminCode: "12"}, Out: filepath.Join(t.TempDir(), "x.gpkg")}, "12 digits"},
			{ExportOptions{Area: Area{AdminCode: code}, Layers: []string{"bridges"}, Out: filepath.Join(t.TempDir(), "x.gpkg")}, `unknown layer "bridges"`},
			{ExportOptions{Out: filepath.Join(t.TempDir(), "x.gpkg")}, "admin code or a bbox"},
		} {
			_, err := Export(ctx, pool, layer.Default(), tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
			if _, serr := os.Stat(tt.opt.Out); serr == nil {
				t.Errorf("%s written despite %v", tt.opt.Out, err)
			}
			entries, _ := os.ReadDir(filepath.Dir(tt.opt.Out))
			if len(entries) != 0 {
				t.Errorf("left behind: %v", entries)
			}
		}
	})
}

func TestParseBBox(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"117.1,37.2,117.2,37.3", ""},
		{" 117.1, 37.2 ,117.2,37.3", ""},
		{"117.1,37.2,117.2", "W,S,E,N"},
		{"117.1,37.2,x,37.3", `"x" is not a number`},
		{"117.2,37.2,117.1,37.3", "west must be less than east"},
		{"-181,37.2,117.1,37.3", "within -180"},
		{"NaN,37.2,117.1,37.3", "not a number"},
	} {
		b, err := ParseBBox(tt.in)
		if tt.want == "" && (err != nil || b.Min[0] != 117.1 || b.Max[1] != 37.3) || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("ParseBBox(%q) = %v, %v; want %q", tt.in, b, err, tt.want)
		}
	}
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}
