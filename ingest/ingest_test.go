package ingest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const fixtures = "../testdata/ingest"

// importFiles imports files into layer with opt and returns the report.
func importFiles(t *testing.T, pool *pgxpool.Pool, store *postgis.Store, layerName string, ropt ReadOptions, opt Options, files ...string) (*Report, error) {
	t.Helper()
	var jobs []Job
	for _, f := range files {
		r, c, err := OpenFile(f, ropt)
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { c.Close() })
		jobs = append(jobs, Job{Source: f, Layer: layerName, Reader: r})
	}
	if opt.Actor == "" {
		opt.Actor = "test"
	}
	return NewImporter(pool, layer.Default(), store).Import(context.Background(), jobs, opt)
}

func queryInt(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func queryString(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) string {
	t.Helper()
	var s string
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

// tableState is a checksum of every row of a table and of the history.
func tableState(t *testing.T, pool *pgxpool.Pool, table string) string {
	t.Helper()
	return queryString(t, pool, `SELECT count(*) || ':' || coalesce(md5(string_agg(to_jsonb(r)::text, '|' ORDER BY r.id)), '-') ||
		':' || (SELECT count(*) FROM lastmile.feature_history) FROM lastmile.`+table+` r`)
}

func TestImportFormats(t *testing.T) {
	pool := pgtest.New(t)
	tests := []struct {
		name   string
		file   string
		layer  string
		ropt   ReadOptions
		opt    Options
		want   LayerReport
		checks map[string]string // SQL → expected text
	}{
		{
			name: "GeoJSON FeatureCollection with Chinese headers and synonyms", file: "roads.geojson", layer: "roads",
			want: LayerReport{Read: 3, Inserted: 3},
			checks: map[string]string{
				`SELECT surface||','||status||','||road_class||','||tech_grade||','||width_m||','||completed_on||','||funding_yuan FROM roads WHERE ext_id='R-001'`: "cement,completed,county,class4,4.5,2015-10-01,1200000.00",
				`SELECT props->>'养护单位' FROM roads WHERE ext_id='R-001'`:                                                                                             "县交通局",
				`SELECT surface||','||status||','||tech_grade FROM roads WHERE ext_id='R-002'`:                                                                      "asphalt,under_construction,substandard",
				`SELECT ST_NDims(geom)||ST_AsText(geom) FROM roads WHERE ext_id='R-002'`:                                                                            "2LINESTRING(103.92 30.61,103.93 30.62)",
				`SELECT GeometryType(geom) FROM roads WHERE ext_id='3'`:                                                                                             "MULTILINESTRING",
				`SELECT DISTINCT source FROM feature_history WHERE layer='roads'`:                                                                                   "roads.geojson",
			},
		},
		{
			name: "GeoJSONSeq", file: "roads.geojsonl", layer: "roads", want: LayerReport{Read: 2, Inserted: 2},
			checks: map[string]string{`SELECT string_agg(surface||'/'||status, ',' ORDER BY ext_id) FROM roads WHERE ext_id LIKE 'S-%'`: "cement/completed,asphalt/under_construction"},
		},
		{
			name: "CSV in GBK with 经度/纬度", file: "villages_gbk.csv", layer: "villages", want: LayerReport{Read: 3, Inserted: 3},
			checks: map[string]string{
				`SELECT string_agg(name||':'||population||':'||is_poor_village, ',' ORDER BY ext_id) FROM villages`: "石门村:1250:true,白鹤村:860:false,龙泉村:2030:true",
				`SELECT ST_AsText(geom) FROM villages WHERE ext_id='V1'`:                                            "POINT(103.9012 30.6034)",
			},
		},
		{
			name: "CSV with WKT, EWKT (EPSG:3857 transformed by PostGIS) and EWKB hex", file: "roads_wkt.csv", layer: "roads",
			want: LayerReport{Read: 4, Inserted: 4},
			checks: map[string]string{
				`SELECT string_agg(surface||'/'||status, ',' ORDER BY ext_id) FROM roads WHERE ext_id LIKE 'W%'`:                                      "cement/completed,asphalt/completed,earth/under_construction,gravel/planned",
				`SELECT round(ST_X(ST_StartPoint(geom))::numeric, 4)||' '||round(ST_Y(ST_StartPoint(geom))::numeric, 4) FROM roads WHERE ext_id='W3'`: "103.9081 30.6084",
				`SELECT ST_AsText(geom) FROM roads WHERE ext_id='W4'`:                                                                                 "LINESTRING(103.95 30.6,103.96 30.61)",
			},
		},
		{
			name: "KML with ExtendedData and MultiGeometry", file: "roads.kml", layer: "roads", want: LayerReport{Read: 2, Inserted: 2},
			checks: map[string]string{
				`SELECT name||'/'||surface||'/'||status||'/'||GeometryType(geom) FROM roads WHERE ext_id='K1'`: "石门村道/cement/completed/LINESTRING",
				`SELECT name||'/'||surface||'/'||status||'/'||GeometryType(geom) FROM roads WHERE ext_id='K2'`: "白鹤组道/gravel/planned/MULTILINESTRING",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := importFiles(t, pool, nil, tt.layer, tt.ropt, tt.opt, filepath.Join(fixtures, tt.file))
			if err != nil {
				t.Fatalf("import: %v (report %+v)", err, rep)
			}
			if len(rep.Layers) != 1 {
				t.Fatalf("layers = %+v", rep.Layers)
			}
			got := *rep.Layers[0]
			got.Source, got.Layer, got.KM, got.Encoding, got.CRS = "", "", 0, "", "" // encodings and CRSs: bureau_test.go
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("report = %+v, want %+v", got, tt.want)
			}
			if !rep.Committed {
				t.Fatal("not committed")
			}
			for sql, want := range tt.checks {
				if got := queryString(t, pool, sql); got != want {
					t.Errorf("%s = %q, want %q", sql, got, want)
				}
			}
		})
	}
}

func TestFailedImportChangesNothing(t *testing.T) {
	pool := pgtest.New(t)
	if _, err := importFiles(t, pool, nil, "roads", ReadOptions{}, Options{}, filepath.Join(fixtures, "roads.geojson")); err != nil {
		t.Fatal(err)
	}
	before := tableState(t, pool, "roads")
	rep, err := importFiles(t, pool, nil, "roads", ReadOptions{}, Options{}, filepath.Join(fixtures, "roads_bad.geojson"))
	var le *lastmile.Error
	if !errors.As(err, &le) || le.Code != lastmile.EINVALID {
		t.Fatalf("err = %v, want invalid", err)
	}
	if after := tableState(t, pool, "roads"); after != before {
		t.Fatalf("table changed by a failed import: %s → %s", before, after)
	}
	// every bad row is reported, with its reason
	wantRows := map[int]string{
		2: "surface", 3: "longitude 1e+308", 4: `is not allowed in layer roads (allowed: LineString, MultiLineString) (got "Point")`, 5: "needs at least 2 points",
		6: "width_m", 7: "geometry is missing",
	}
	got := map[int]string{}
	for _, p := range le.Details {
		got[p.Row] += p.String() + "; "
	}
	for row, want := range wantRows {
		if !strings.Contains(got[row], want) {
			t.Errorf("row %d problems %q, want mention of %q", row, got[row], want)
		}
	}
	if got[1] != "" {
		t.Errorf("row 1 is good but reported: %s", got[1])
	}
	if rep.Rejected() != 6 || rep.Committed {
		t.Fatalf("report: rejected %d committed %v", rep.Rejected(), rep.Committed)
	}

	// with skip-invalid the good row goes in and the bad ones are reported
	rep, err = importFiles(t, pool, nil, "roads", ReadOptions{}, Options{SkipInvalid: true}, filepath.Join(fixtures, "roads_bad.geojson"))
	if err != nil {
		t.Fatal(err)
	}
	if l := rep.Layers[0]; l.Inserted != 1 || l.Rejected != 6 || len(rep.Problems) < 6 {
		t.Fatalf("skip-invalid report %+v, %d problems", l, len(rep.Problems))
	}
	if n := queryInt(t, pool, `SELECT count(*) FROM roads WHERE ext_id = 'B-1'`); n != 1 {
		t.Fatalf("B-1 rows = %d", n)
	}

	// dry run: counts, but nothing written
	before = tableState(t, pool, "roads")
	rep, err = importFiles(t, pool, nil, "roads", ReadOptions{}, Options{DryRun: true}, filepath.Join(fixtures, "roads.geojsonl"))
	if err != nil || rep.Committed || rep.Layers[0].Inserted != 2 {
		t.Fatalf("dry run: %v %+v", err, rep.Layers)
	}
	if after := tableState(t, pool, "roads"); after != before {
		t.Fatalf("dry run changed the table")
	}
}

func TestReimportChangesNothing(t *testing.T) {
	pool := pgtest.New(t)
	store := postgis.NewStore(pool, layer.Default())
	var changed []string
	store.OnChange(func(l string, b []orb.Bound) { changed = append(changed, l) })
	files := []string{filepath.Join(fixtures, "roads.geojson"), filepath.Join(fixtures, "roads_wkt.csv")}
	rep, err := importFiles(t, pool, store, "roads", ReadOptions{}, Options{}, files...)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Layers[0].Inserted != 3 || rep.Layers[1].Inserted != 4 || rep.Layers[0].KM < 3 || rep.Layers[0].KM > 6 {
		t.Fatalf("first import: %+v %+v", rep.Layers[0], rep.Layers[1])
	}
	if len(changed) != 1 || changed[0] != "roads" {
		t.Fatalf("OnChange calls %v", changed)
	}
	before := tableState(t, pool, "roads")
	rep, err = importFiles(t, pool, store, "roads", ReadOptions{}, Options{}, files...)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range rep.Layers {
		if l.Inserted != 0 || l.Updated != 0 || l.Unchanged != l.Read {
			t.Fatalf("re-import: %+v", l)
		}
	}
	if after := tableState(t, pool, "roads"); after != before {
		t.Fatalf("re-import changed the table or history: %s → %s", before, after)
	}

	// one attribute changed in one feature: one update, one history row
	b, _ := os.ReadFile(filepath.Join(fixtures, "roads.geojsonl"))
	changedFile := filepath.Join(t.TempDir(), "roads.geojsonl")
	os.WriteFile(changedFile, []byte(strings.Replace(string(b), `"surface":"cement"`, `"surface":"asphalt"`, 1)), 0o644)
	if _, err := importFiles(t, pool, store, "roads", ReadOptions{}, Options{}, filepath.Join(fixtures, "roads.geojsonl")); err != nil {
		t.Fatal(err)
	}
	history := queryInt(t, pool, `SELECT count(*) FROM feature_history`)
	rep, err = importFiles(t, pool, store, "roads", ReadOptions{}, Options{}, changedFile)
	if err != nil {
		t.Fatal(err)
	}
	if l := rep.Layers[0]; l.Inserted != 0 || l.Updated != 1 || l.Unchanged != 1 {
		t.Fatalf("changed re-import: %+v", l)
	}
	if n := queryInt(t, pool, `SELECT count(*) FROM feature_history`); n != history+1 {
		t.Fatalf("history rows %d → %d, want one more", history, n)
	}
	if got := queryString(t, pool, `SELECT surface FROM roads WHERE ext_id = 'S-1'`); got != "asphalt" {
		t.Fatalf("S-1 surface = %s", got)
	}
}

func TestBadFiles(t *testing.T) {
	pool := pgtest.New(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name  string
		path  string
		layer string
		ropt  ReadOptions
		want  string // in the error's text or details
	}{
		{"truncated GeoJSON", filepath.Join(fixtures, "roads_truncated.geojson"), "roads", ReadOptions{}, "truncated"},
		{"empty file", write("empty.geojson", ""), "roads", ReadOptions{}, "empty"},
		{"CSV without geometry column", write("nogeom.csv", "name,surface\na,cement\n"), "roads", ReadOptions{}, "no geometry column"},
		{"CSV missing a named column", write("cols.csv", "name,lon,lat\na,1,2\n"), "villages", ReadOptions{CSV: CSVOptions{Lon: "经度", Lat: "纬度"}}, `no column "经度"`},
		{"CSV row with a missing column", write("short.csv", "name,lon,lat\na,103.9,30.6\nb,103.9\n"), "villages", ReadOptions{}, "row 2: has 2 columns, the header has 3"},
		{"CSV NaN coordinate", write("nan.csv", "name,lon,lat\na,NaN,30.6\n"), "villages", ReadOptions{}, "lon: must be a finite number"},
		{"EMPTY WKT", write("emptywkt.csv", "wkt,status\nLINESTRING EMPTY,completed\n"), "roads", ReadOptions{}, "needs at least 2 points"},
		{"self-intersecting polygon", write("bowtie.geojson", `{"type":"Feature","properties":{"kind":"flood"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}}`), "hazard_zones", ReadOptions{}, "Self-intersection"},
		{"mixed geometry kinds", write("mixed.kml", `<kml><Placemark><Point><coordinates>1,2</coordinates></Point><LineString><coordinates>1,2 3,4</coordinates></LineString></Placemark></kml>`), "roads", ReadOptions{}, `geometry: is not allowed in layer roads (allowed: LineString, MultiLineString) (got "GeometryCollection")`},
		{"unknown CRS", filepath.Join(fixtures, "roads.geojsonl"), "roads", ReadOptions{}, "spatial_ref_sys"},
		{"not a zip", write("x.zip", "hello"), "roads", ReadOptions{}, "zip"},
		{"UTF-16 CSV", write("u16.csv", "\xff\xfen\x00,\x00"), "villages", ReadOptions{}, "UTF-16"},
		{"wrong encoding", write("enc.csv", "name,lon,lat\nok,103.9,30.6\n\x81\x30\x81,103.9,30.6\n"), "villages", ReadOptions{}, "row 2: name: is not valid text"},
		{"swapped lat/lon", write("swapped.csv", "name,lon,lat\na,30.6,103.9\n"), "villages", ReadOptions{}, "latitude 103.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tableState(t, pool, tt.layer)
			opt := Options{}
			if tt.name == "unknown CRS" {
				opt.CRS = CRS{Name: "EPSG:999999", SRID: 999999}
			}
			rep, err := importFiles(t, pool, nil, tt.layer, tt.ropt, opt, tt.path)
			if err == nil {
				t.Fatalf("no error; report %+v", rep)
			}
			var le *lastmile.Error
			if !errors.As(err, &le) || le.Code != lastmile.EINVALID {
				t.Fatalf("err = %v (%T), want an invalid *lastmile.Error", err, err)
			}
			text := le.Error()
			for _, p := range le.Details {
				text += " | " + p.String()
			}
			if !strings.Contains(text, tt.want) {
				t.Fatalf("error %q does not mention %q", text, tt.want)
			}
			if after := tableState(t, pool, tt.layer); after != before {
				t.Fatal("the database changed")
			}
		})
	}
}

func TestGCJ02AndBD09CSV(t *testing.T) {
	pool := pgtest.New(t)
	for _, tt := range []struct{ file, crs string }{{"facilities_gcj02.csv", "GCJ-02"}, {"facilities_bd09.csv", "BD-09"}} {
		t.Run(tt.crs, func(t *testing.T) {
			crs, err := ParseCRS(tt.crs)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := importFiles(t, pool, nil, "facilities", ReadOptions{}, Options{CRS: crs}, filepath.Join(fixtures, tt.file)); err != nil {
				t.Fatal(err)
			}
			var n int
			var worst float64
			err = pool.QueryRow(context.Background(), `SELECT count(*), max(ST_Distance(geom::geography,
				ST_SetSRID(ST_MakePoint((props->>'wgs_lon')::float8, (props->>'wgs_lat')::float8), 4326)::geography))
				FROM facilities WHERE ext_id LIKE $1`, tt.file+":%").Scan(&n, &worst)
			if err != nil {
				t.Fatal(err)
			}
			if n != 5 || worst > 0.5 {
				t.Fatalf("%d points, worst distance to the known WGS84 position %.3f m, want 5 within 0.5 m", n, worst)
			}
			t.Logf("%s: worst distance %.4f m", tt.crs, worst)
		})
	}
}

const osmExtract = "../../shared/data/osm/liechtenstein-2013-08-03.osm.pbf"

func TestOSMExtract(t *testing.T) {
	pool := pgtest.New(t)
	r, err := NewOSMReader(osmExtract, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := NewImporter(pool, layer.Default(), nil).Import(context.Background(), []Job{{Source: osmExtract, Reader: r}}, Options{Actor: "test"})
	if err != nil {
		t.Fatalf("%v %+v", err, rep)
	}
	counts := map[string]int{}
	rows, err := pool.Query(context.Background(), `
		SELECT 'roads/' || coalesce(props->>'highway', 'none'), count(*) FROM roads GROUP BY 1
		UNION ALL SELECT 'villages/' || coalesce(props->>'place', 'none'), count(*) FROM villages GROUP BY 1
		UNION ALL SELECT 'villages/distinct positions', count(DISTINCT geom) FROM villages WHERE props->>'place' = 'village'
		UNION ALL SELECT 'power_upgrades/' || kind, count(*) FROM power_upgrades GROUP BY 1
		UNION ALL SELECT 'facilities/' || kind, count(*) FROM facilities GROUP BY 1
		UNION ALL SELECT 'water_pipelines', count(*) FROM water_pipelines
		UNION ALL SELECT 'roads/surface=' || coalesce(surface, 'none'), count(*) FROM roads GROUP BY 1
		UNION ALL SELECT 'roads/ext_id osm:way/', count(*) FROM roads WHERE ext_id LIKE 'osm:way/%'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		counts[k] = n
	}
	want := map[string]int{
		"villages/village": 14, "villages/distinct positions": 13,
		"roads/primary": 81, "roads/secondary": 90, "roads/tertiary": 33, "roads/unclassified": 164,
		// GDAL's OSM driver (the README of the extract) counts 841
		// residential lines: it reads one closed residential way as an area.
		"roads/residential": 842, "roads/track": 597, "roads/service": 352,
		"roads/ext_id osm:way/": 2181, "power_upgrades/line": 3, "facilities/school": 16, "facilities/hospital": 1,
	}
	if l := rep.Layers[1]; l.Layer != "power_upgrades" || l.KM < 86 || l.KM > 86.3 {
		t.Errorf("power lines: %+v, want 86.1 km", l)
	}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("%s = %d, want %d", k, counts[k], n)
		}
	}
	t.Logf("counts: %v", counts)
	t.Logf("report: %+v %+v %+v %+v warnings %v", *rep.Layers[0], *rep.Layers[1], *rep.Layers[2], *rep.Layers[3], rep.Warnings)
}
