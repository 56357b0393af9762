package ingest

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/auth"
	"github.com/lastmile/lastmile/geo"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// The files county offices send (issue 20), made here with ogr2ogr and
// imported into PostGIS.

// bureauRoads is the source of the Shapefiles: Chinese field names and
// values, in degrees.
const bureauRoads = `{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"名称":"张家村道","状态":"已完工","路面":"水泥","长度":1.5},"geometry":{"type":"LineString","coordinates":[[117.2,31.8],[117.21,31.81]]}},
{"type":"Feature","properties":{"名称":"李家组道","状态":"在建","路面":"沥青","长度":2.25},"geometry":{"type":"LineString","coordinates":[[117.22,31.82],[117.23,31.83],[117.24,31.83]]}}]}`

func ogr(t *testing.T, args ...string) {
	t.Helper()
	if b, err := runOGR2OGR(args...); err != nil {
		t.Fatalf("ogr2ogr %v: %v\n%s (install GDAL with scripts/setup)", args, err, b)
	}
}

// setLDID writes the DBF's language-driver byte.
func setLDID(t *testing.T, dbf string, b byte) {
	t.Helper()
	f, err := os.OpenFile(dbf, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte{b}, 29); err != nil {
		t.Fatal(err)
	}
}

func TestGBKShapefile(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "roads.geojson")
	os.WriteFile(src, []byte(bureauRoads), 0o644)
	shp := func(name, enc string, cpg bool, ldid int) string {
		d := filepath.Join(dir, name)
		os.Mkdir(d, 0o755)
		p := filepath.Join(d, "roads.shp")
		ogr(t, "-f", "ESRI Shapefile", "-lco", "ENCODING="+enc, p, src)
		if !cpg {
			if err := os.Remove(filepath.Join(d, "roads.cpg")); err != nil {
				t.Fatal(err)
			}
		}
		if ldid >= 0 {
			setLDID(t, filepath.Join(d, "roads.dbf"), byte(ldid))
		}
		return p
	}
	// the DBF really is GBK: 张 is 0xD5C5
	gbk := shp("gbk-cpg", "GBK", true, -1)
	if b, _ := os.ReadFile(strings.TrimSuffix(gbk, ".shp") + ".dbf"); !strings.Contains(string(b), "\xd5\xc5") {
		t.Fatal("the fixture is not GBK")
	}
	tests := []struct {
		name, path, given, encoding string
	}{
		{"GBK with .cpg", gbk, "", "GBK (from the .cpg)"},
		{"GBK without .cpg", shp("gbk", "GBK", false, 0), "", "GB18030 (detected: no .cpg and the text is not UTF-8; GB18030 includes GBK; give encoding if it is another)"},
		{"GBK without .cpg, ArcGIS's ANSI driver", shp("gbk-ansi", "GBK", false, 0x57), "", "GB18030 (detected: no .cpg and the text is not UTF-8; GB18030 includes GBK; give encoding if it is another)"},
		{"GBK without .cpg, language driver 0x4D", shp("gbk-ldid", "GBK", false, 0x4D), "", "GBK (from the DBF language driver 0x4D)"},
		{"GBK without .cpg, given", shp("gbk-given", "GBK", false, 0), "GBK", "GBK (given)"},
		{"UTF-8 without .cpg", shp("utf8", "UTF-8", false, 0), "", "UTF-8 (detected: no .cpg, the text is valid UTF-8)"},
	}
	const want = `张家村道|completed|cement|{"长度": 1.5}|LINESTRING(117.2 31.8,117.21 31.81);` +
		`李家组道|under_construction|asphalt|{"长度": 2.25}|LINESTRING(117.22 31.82,117.23 31.83,117.24 31.83)`
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := pgtest.New(t)
			rep, err := importFiles(t, pool, nil, "roads", ReadOptions{Encoding: tt.given}, Options{}, tt.path)
			if err != nil {
				t.Fatalf("import: %v %+v", err, rep.Problems)
			}
			l := rep.Layers[0]
			if l.Encoding != tt.encoding || l.Inserted != 2 || l.CRS != "from the .prj" {
				t.Errorf("report: encoding %q, inserted %d, crs %q; want %q, 2", l.Encoding, l.Inserted, l.CRS, tt.encoding)
			}
			got := queryString(t, pool, `SELECT string_agg(name||'|'||status||'|'||surface||'|'||props::text||'|'||ST_AsText(geom), ';' ORDER BY ext_id) FROM lastmile.roads`)
			if got != want {
				t.Errorf("roads:\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// villageSheet is a village list as a county office keeps it: a title row
// above the header, 经度/纬度 in the forms people type, a date stored as
// its serial number, an empty row at the end.
var villageSheet = [][]cell{
	{txt("某某县2016年通村项目村庄名单")},
	{},
	{txt("村名"), txt("经度"), txt("纬度"), txt("人口"), txt("完工时间"), txt("备注")},
	{txt("张家村"), num("117.2083"), num("31.8"), num("1200"), num("42185"), txt("山区")},
	{txt("李家村"), txt("117°15′30″E"), txt("北纬31度51分"), num("800"), txt("2016/1/2")},
	{txt("王家村"), txt("１１７．２５"), txt("３１．９"), num("650")},
	{},
}

func TestSpreadsheets(t *testing.T) {
	dir := t.TempDir()
	other := sheet{"其他", [][]cell{{txt("名称"), txt("lon"), txt("lat")}, {txt("赵家村"), num("118"), num("32")}}}
	xlsx, ods := filepath.Join(dir, "villages.xlsx"), filepath.Join(dir, "villages.ods")
	writeXLSX(t, xlsx, sheet{"村庄", villageSheet}, other)
	writeODS(t, ods, sheet{"村庄", villageSheet}, other)
	const want = `张家村|117.2083 31.8|1200|2015-06-30|{"备注": "山区"};` +
		`李家村|117.258333333 31.85|800|2016-01-02|{};` +
		`王家村|117.25 31.9|650||{}`
	for _, path := range []string{xlsx, ods} {
		t.Run(filepath.Ext(path), func(t *testing.T) {
			pool := pgtest.New(t)
			rep, err := importFiles(t, pool, nil, "villages", ReadOptions{}, Options{}, path)
			if err != nil {
				t.Fatalf("import: %v %+v", err, rep.Problems)
			}
			got := queryString(t, pool, `SELECT string_agg(name||'|'||round(ST_X(geom)::numeric, 9)::float8||' '||round(ST_Y(geom)::numeric, 9)::float8||'|'||population||'|'||coalesce(completed_on::text, '')||'|'||props::text, ';' ORDER BY ext_id)
				FROM lastmile.villages`)
			if got != want {
				t.Errorf("villages:\n%s\nwant\n%s", got, want)
			}
			// rows numbered as the spreadsheet numbers them
			if ids := queryString(t, pool, `SELECT string_agg(ext_id, ',' ORDER BY ext_id) FROM lastmile.villages`); ids != fmt.Sprintf("%[1]s:4,%[1]s:5,%[1]s:6", filepath.Base(path)) {
				t.Errorf("ext_ids %s", ids)
			}
			warnings := strings.Join(rep.Warnings, "\n")
			for _, w := range []string{"row 1 above the header (row 3) skipped as a title", "the workbook has 2 sheets (村庄, 其他): the first, 村庄, was read; choose another with sheet"} {
				if !strings.Contains(warnings, w) {
					t.Errorf("warnings %q lack %q", warnings, w)
				}
			}

			// another sheet
			rep, err = importFiles(t, pool, nil, "villages", ReadOptions{Sheet: "其他"}, Options{}, path)
			if err != nil || rep.Layers[0].Inserted != 1 {
				t.Fatalf("sheet 其他: %v %+v", err, rep)
			}
			if got := queryString(t, pool, `SELECT name||' '||ST_AsText(geom) FROM lastmile.villages WHERE name = '赵家村'`); got != "赵家村 POINT(118 32)" {
				t.Errorf("sheet 其他: %s", got)
			}
			_, err = importFiles(t, pool, nil, "villages", ReadOptions{Sheet: "乡镇"}, Options{}, path)
			if err == nil || !strings.Contains(fmt.Sprint(details(err)), "is not a sheet of villages") || !strings.Contains(fmt.Sprint(details(err)), "村庄, 其他") {
				t.Errorf("unknown sheet: %v %v", err, details(err))
			}
		})
	}
}

// TestCoordinateForms imports a CSV with every accepted form of a
// coordinate, and reports each rejected one with its row and value.
func TestCoordinateForms(t *testing.T) {
	lon := 117 + 12.0/60 + 30.0/3600
	lat := 31 + 48.0/60 + 15.5/3600
	good := []struct{ lon, lat string }{
		{"117.208333333", "31.804305556"},
		{"117°12′30″", "31°48′15.5″"},
		{`117°12'30"`, `31°48'15.5"`},
		{"117°12'30''", "31°48'15.5''"},
		{"117º12’30”", "31º48’15.5”"},
		{"117° 12′ 30″ E", "31° 48′ 15.5″ N"},
		{"117度12分30秒", "31度48分15.5秒"},
		{"东经117度12分30秒", "北纬31度48分15.5秒"},
		{"117:12:30", "31:48:15.5"},
		{"117:12:30E", "31:48:15.5N"},
		{"E117 12 30", "N31 48 15.5"},
		{"１１７°１２′３０″", "３１°４８′１５．５″"},
		{"１１７：１２：３０", "３１：４８：１５．５"},
	}
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Write([]string{"名称", "经度", "纬度"})
	for i, g := range good {
		w.Write([]string{fmt.Sprintf("g%d", i+1), g.lon, g.lat})
	}
	bad := []struct{ lon, lat, field, value, msg string }{
		{"117°75′", "31.8", "经度", "117°75′", "has 75 minutes: must be below 60"},
		{"117.2", "31°48′N", "", "", ""}, // accepted: a latitude with N
		{"31°48′N", "117.2", "经度", "31°48′N", "is a latitude (N) in the longitude column: are the columns swapped?"},
		{"117,2", "31.8", "经度", "117,2", "is not a coordinate"},
		{"117.2", "95°", "纬度", "95°", "is beyond 90 degrees"},
	}
	for i, x := range bad {
		w.Write([]string{fmt.Sprintf("b%d", i+1), x.lon, x.lat})
	}
	w.Flush()
	pool := pgtest.New(t)
	rep, err := importCSV(t, pool, "villages", "dms.csv", b.String(), Options{SkipInvalid: true})
	if err != nil {
		t.Fatalf("import: %v %+v", err, rep)
	}
	if got := rep.Layers[0].Inserted; got != len(good)+1 {
		t.Errorf("inserted %d, want %d", got, len(good)+1)
	}
	for i := range good {
		var x, y float64
		if err := pool.QueryRow(context.Background(), `SELECT ST_X(geom), ST_Y(geom) FROM lastmile.villages WHERE name = $1`, fmt.Sprintf("g%d", i+1)).Scan(&x, &y); err != nil {
			t.Fatalf("g%d (%s, %s): %v", i+1, good[i].lon, good[i].lat, err)
		}
		tol := 1e-9
		if i == 0 {
			tol = 1e-8 // given to 9 decimals
		}
		if math.Abs(x-lon) > tol || math.Abs(y-lat) > tol {
			t.Errorf("g%d (%s, %s) stored as %.10f %.10f, want %.10f %.10f", i+1, good[i].lon, good[i].lat, x, y, lon, lat)
		}
	}
	var problems []string
	for _, p := range rep.Problems {
		problems = append(problems, p.String())
	}
	for i, x := range bad {
		if x.msg == "" {
			continue
		}
		row, found := len(good)+i+1, false
		for _, p := range rep.Problems {
			found = found || p.Row == row && p.Field == x.field && p.Value == x.value && strings.Contains(p.Message, x.msg)
		}
		if !found {
			t.Errorf("no problem at row %d, %s, %q: %q in %q", row, x.field, x.value, x.msg, problems)
		}
	}
	if len(rep.Problems) != 4 {
		t.Errorf("problems %q, want 4", problems)
	}
}

// gkSource is a road in degrees, near 117°E (3-degree zone 39, 6-degree
// zone 20).
const gkSource = `{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"name":"gk road","status":"completed"},"geometry":{"type":"LineString","coordinates":[[117.01,31.8],[117.0234567,31.8123456],[117.05,31.83]]}}]}`

func TestGaussKrugerWithoutPrj(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.geojson")
	os.WriteFile(src, []byte(gkSource), 0o644)
	tests := []struct {
		name  string
		srid  int    // the file's
		guess string // in the error without crs
	}{
		{"3-degree zone 39", 4527, "CGCS2000 / 3-degree Gauss–Krüger zone 39 (central meridian 117°E; the easting starts with the zone number 39): give crs EPSG:4527"},
		{"6-degree zone 20", 4498, "CGCS2000 / 6-degree Gauss–Krüger zone 20 (central meridian 117°E; the easting starts with the zone number 20): give crs EPSG:4498"},
		{"3-degree CM 117°E", 4549, "without the zone number in the easting, so the central meridian is not in the values: give it with crs, e.g. EPSG:4548 for CGCS2000 / 3-degree Gauss–Krüger CM 117°E (3-degree zones: EPSG:4534–4554 for CM 75°E–135°E; 6-degree zones: EPSG:4502–4512)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := filepath.Join(dir, fmt.Sprint(tt.srid))
			os.Mkdir(d, 0o755)
			shp := filepath.Join(d, "gk.shp")
			ogr(t, "-f", "ESRI Shapefile", "-t_srs", fmt.Sprintf("EPSG:%d", tt.srid), shp, src)
			if err := os.Remove(filepath.Join(d, "gk.prj")); err != nil {
				t.Fatal(err)
			}
			pool := pgtest.New(t)
			rep, err := importFiles(t, pool, nil, "roads", ReadOptions{}, Options{}, shp)
			if err == nil {
				t.Fatalf("imported without a CRS: %+v", rep.Layers[0])
			}
			msg := fmt.Sprint(details(err))
			if !strings.Contains(msg, "names no coordinate system (no .prj): coordinates (") || !strings.Contains(msg, tt.guess) || strings.Contains(msg, "s_srs") {
				t.Fatalf("error %v: %s\nwant it to propose %q", err, msg, tt.guess)
			}
			if n := queryInt(t, pool, `SELECT count(*) FROM lastmile.roads`); n != 0 {
				t.Fatalf("%d roads written", n)
			}
			crs, _ := ParseCRS(fmt.Sprintf("EPSG:%d", tt.srid))
			rep, err = importFiles(t, pool, nil, "roads", ReadOptions{CRS: crs}, Options{CRS: crs}, shp)
			if err != nil {
				t.Fatalf("with crs: %v %+v", err, rep.Problems)
			}
			if rep.Layers[0].CRS != crs.Name+" (given)" {
				t.Errorf("crs %q", rep.Layers[0].CRS)
			}
			// every vertex within 1 cm of the source, on the ellipsoid
			var src [][]float64
			var fc struct {
				Features []struct {
					Geometry struct{ Coordinates [][]float64 }
				}
			}
			json.Unmarshal([]byte(gkSource), &fc)
			src = fc.Features[0].Geometry.Coordinates
			for i, p := range src {
				var cm float64
				if err := pool.QueryRow(context.Background(), `SELECT 100 * ST_Distance(ST_PointN(geom, $1)::geography, ST_SetSRID(ST_MakePoint($2, $3), 4326)::geography)
					FROM lastmile.roads`, i+1, p[0], p[1]).Scan(&cm); err != nil {
					t.Fatal(err)
				}
				if cm > 1 {
					t.Errorf("vertex %d is %.3f cm from the source", i+1, cm)
				}
			}
		})
	}

	// degrees without a .prj: read as EPSG:4326, with a warning
	d := filepath.Join(dir, "deg")
	os.Mkdir(d, 0o755)
	shp := filepath.Join(d, "deg.shp")
	ogr(t, "-f", "ESRI Shapefile", shp, src)
	os.Remove(filepath.Join(d, "deg.prj"))
	pool := pgtest.New(t)
	rep, err := importFiles(t, pool, nil, "roads", ReadOptions{}, Options{}, shp)
	if err != nil {
		t.Fatalf("degrees without .prj: %v %+v", err, rep.Problems)
	}
	if rep.Layers[0].CRS != "EPSG:4326 (assumed: the file names none and its coordinates are degrees)" || !strings.Contains(strings.Join(rep.Warnings, "|"), "names no coordinate system: its coordinates are degrees") {
		t.Errorf("crs %q, warnings %q", rep.Layers[0].CRS, rep.Warnings)
	}
	if got := queryString(t, pool, `SELECT ST_AsText(geom) FROM lastmile.roads`); got != "LINESTRING(117.01 31.8,117.0234567 31.8123456,117.05 31.83)" {
		t.Errorf("geometry %s", got)
	}
	// GCJ-02 degrees without a .prj: still converted
	gcj, _ := ParseCRS("GCJ-02")
	pool = pgtest.New(t)
	rep, err = importFiles(t, pool, nil, "roads", ReadOptions{CRS: gcj}, Options{CRS: gcj}, shp)
	if err != nil {
		t.Fatalf("GCJ-02 without .prj: %v %+v", err, rep.Problems)
	}
	w := geo.GCJ02ToWGS84(orb.Point{117.01, 31.8})
	var x, y float64
	pool.QueryRow(context.Background(), `SELECT ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom)) FROM lastmile.roads`).Scan(&x, &y)
	if math.Abs(x-w[0]) > 1e-9 || math.Abs(y-w[1]) > 1e-9 || math.Abs(x-117.01) < 1e-4 || rep.Layers[0].CRS != "GCJ-02 (given; converted after GDAL)" {
		t.Errorf("GCJ-02: first vertex %v %v, want %v; crs %q", x, y, w, rep.Layers[0].CRS)
	}
}

// TestGaussKrugerCSV: projected metres in a CSV without crs name the zone.
func TestGaussKrugerCSV(t *testing.T) {
	pool := pgtest.New(t)
	rep, err := importCSV(t, pool, "villages", "gk.csv", "name,x,y\na,39500000.5,3540000.25\nb,39500100,3540100\n", Options{})
	if err == nil {
		t.Fatalf("imported: %+v", rep.Layers[0])
	}
	want := []string{
		"row 1: geometry: coordinates (39500000.50, 3540000.25) are not degrees (longitude −180…180, latitude −90…90): they look like metres in CGCS2000 / 3-degree Gauss–Krüger zone 39 (central meridian 117°E; the easting starts with the zone number 39): give crs EPSG:4527",
		"row 2: geometry: coordinates (39500100.00, 3540100.00) are not degrees: see row 1",
	}
	if len(rep.Problems) != 2 || rep.Problems[0].String() != want[0] || rep.Problems[1].String() != want[1] {
		t.Fatalf("problems %q\nwant %q", rep.Problems, want)
	}
	// surveyors' order: X north, Y east
	_, err = importCSV(t, pool, "villages", "gk.csv", "name,x,y\na,3540000.25,39500000.5\n", Options{})
	if msg := fmt.Sprint(details(err)); !strings.Contains(msg, "give crs EPSG:4527 with swap-xy") {
		t.Fatalf("swapped: %s", msg)
	}
	crs, _ := ParseCRS("EPSG:4527")
	rep, err = importCSV(t, pool, "villages", "gk.csv", "name,x,y\na,39500000.5,3540000.25\n", Options{CRS: crs})
	if err != nil {
		t.Fatalf("with crs: %v %+v", err, rep)
	}
	// the central meridian: easting 500 000 is 117°E
	if x := queryString(t, pool, `SELECT round(ST_X(geom)::numeric, 6)::text FROM lastmile.villages`); x != "117.000005" {
		t.Errorf("x = %s", x)
	}
}

// TestGaussKrugerCodes checks the EPSG codes guessCRS proposes against
// PostGIS's spatial_ref_sys: name, central meridian and false easting.
func TestGaussKrugerCodes(t *testing.T) {
	pool := pgtest.New(t)
	check := func(code int, name string, lon0, x0 int) {
		t.Helper()
		var srtext, proj string
		if err := pool.QueryRow(context.Background(), `SELECT srtext, proj4text FROM spatial_ref_sys WHERE srid = $1`, code).Scan(&srtext, &proj); err != nil {
			t.Fatalf("EPSG:%d: %v", code, err)
		}
		if !strings.Contains(srtext, `"`+name+`"`) || !strings.Contains(proj, fmt.Sprintf("+lon_0=%d ", lon0)) || !strings.Contains(proj, fmt.Sprintf("+x_0=%d ", x0)) {
			t.Errorf("EPSG:%d: %s / %s; want %q, lon_0 %d, x_0 %d", code, srtext[:min(80, len(srtext))], proj, name, lon0, x0)
		}
	}
	for z := 25; z <= 45; z++ {
		g := guessCRS([2]float64{float64(z)*1e6 + 500000, 3.5e6})
		check(g.SRID, fmt.Sprintf("CGCS2000 / 3-degree Gauss-Kruger zone %d", z), 3*z, z*1000000+500000)
	}
	for z := 13; z <= 23; z++ {
		g := guessCRS([2]float64{float64(z)*1e6 + 500000, 3.5e6})
		check(g.SRID, fmt.Sprintf("CGCS2000 / Gauss-Kruger zone %d", z), 6*z-3, z*1000000+500000)
	}
	for cm := 75; cm <= 135; cm += 3 {
		check(gk3CMEPSG+(cm-75)/3, fmt.Sprintf("CGCS2000 / 3-degree Gauss-Kruger CM %dE", cm), cm, 500000)
	}
	for cm := 75; cm <= 135; cm += 6 {
		check(gk6CMEPSG+(cm-75)/6, fmt.Sprintf("CGCS2000 / Gauss-Kruger CM %dE", cm), cm, 500000)
	}
	if g := guessCRS([2]float64{24500000, 3.5e6}); g.SRID != 0 {
		t.Errorf("zone 24 (no CGCS2000 zone): %+v", g)
	}
}

// TestDryRunReport: what a clerk sees before importing.
func TestDryRunReport(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "roads.geojson")
	os.WriteFile(src, []byte(bureauRoads), 0o644)
	shp := filepath.Join(dir, "roads.shp")
	ogr(t, "-f", "ESRI Shapefile", "-lco", "ENCODING=GBK", shp, src)
	os.Remove(filepath.Join(dir, "roads.cpg"))
	pool := pgtest.New(t)
	for _, seed := range []bool{false, true} { // the direct path (empty table), then the staged one
		if seed {
			if _, err := importString(t, pool, "roads", "seed.geojsonl", `{"type":"Feature","id":"seed","properties":{"status":"completed"},"geometry":{"type":"LineString","coordinates":[[100,30],[100.1,30]]}}`+"\n", Options{}); err != nil {
				t.Fatal(err)
			}
		}
		before := tableState(t, pool, "roads")
		rep, err := importFiles(t, pool, nil, "roads", ReadOptions{}, Options{DryRun: true}, shp)
		if err != nil {
			t.Fatalf("dry run: %v %+v", err, rep.Problems)
		}
		if tableState(t, pool, "roads") != before || rep.Committed {
			t.Fatal("the dry run wrote")
		}
		l := rep.Layers[0]
		cols, _ := json.Marshal(l.Columns)
		if string(cols) != `[{"column":"名称","field":"name"},{"column":"状态","field":"status"},{"column":"路面","field":"surface"},{"column":"长度","field":"props"}]` {
			t.Errorf("columns %s", cols)
		}
		if !strings.HasPrefix(l.Encoding, "GB18030 (detected") || l.CRS != "from the .prj" {
			t.Errorf("encoding %q crs %q", l.Encoding, l.CRS)
		}
		sample, _ := json.Marshal(l.Sample)
		want := `[{"ext_id":"roads.shp:1","geometry":"LINESTRING(117.2 31.8,117.21 31.81)","length_m":1458.1431265255937,"name":"张家村道","props":{"长度":1.5},"status":"completed","surface":"cement"},` +
			`{"ext_id":"roads.shp:2","geometry":"LINESTRING(117.22 31.82,117.23 31.83,117.24 31.83)","length_m":2404.6840066782165,"name":"李家组道","props":{"长度":2.25},"status":"under_construction","surface":"asphalt"}]`
		if string(sample) != want {
			t.Errorf("seed %v: sample\n%s\nwant\n%s", seed, sample, want)
		}
	}
}

// details is the problems of an *lastmile.Error, as text.
func details(err error) string {
	var le *lastmile.Error
	if !errors.As(err, &le) {
		return fmt.Sprint(err)
	}
	return fmt.Sprint(le.Details)
}

// importCSV imports body as a CSV file.
func importCSV(t *testing.T, pool *pgxpool.Pool, layerName, name, body string, opt Options) (*Report, error) {
	t.Helper()
	r, err := NewCSVReader(strings.NewReader(body), CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return importReader(t, pool, layerName, name, r, opt)
}

// TestHandlerBureauParameters: encoding, sheet, crs and dry_run over HTTP.
func TestHandlerBureauParameters(t *testing.T) {
	pool := pgtest.New(t)
	catalog := layer.Default()
	h := NewHandler(pool, catalog, postgis.NewStore(pool, catalog), nil)
	h.TempDir = t.TempDir()
	r := mux.NewRouter()
	h.Register(r)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		req = req.WithContext(auth.With(req.Context(), &auth.Principal{Name: "bureau", Scopes: []string{"write:villages"}}))
		r.ServeHTTP(w, req)
	}))
	defer srv.Close()
	dir := t.TempDir()
	xlsx := filepath.Join(dir, "v.xlsx")
	writeXLSX(t, xlsx, sheet{"村庄", villageSheet}, sheet{"其他", [][]cell{{txt("名称"), txt("lon"), txt("lat")}, {txt("赵家村"), num("118"), num("32")}}})
	book, _ := os.ReadFile(xlsx)
	gbkCSV := []byte("\xc3\xfb\xb3\xc6,lon,lat\n\xd5\xc5\xbc\xd2\xb4\xe5,39500000,3540000\n") // 名称,lon,lat / 张家村 in GBK
	tests := []struct {
		name, query, contentType string
		body                     []byte
		status                   int
		want                     []string
	}{
		{"xlsx, no file name, dry run, other sheet", "?dry_run=true&sheet=其他", "application/octet-stream", book, 200,
			[]string{`"dry_run":true`, `"columns":[{"column":"lon","field":"geometry (longitude, x)"},{"column":"lat","field":"geometry (latitude, y)"},{"column":"名称","field":"name"}]`, `"sample":[{"ext_id":"upload:2","geometry":"POINT(118 32)","name":"赵家村","props":{},"status":"completed"}]`}},
		{"unknown sheet", "?sheet=乡镇&filename=v.xlsx", "", book, 400, []string{`"field":"sheet"`, `(sheets: 村庄, 其他)`}},
		{"GBK CSV in Gauss–Krüger, no crs", "?filename=v.csv&encoding=GBK", "text/csv", gbkCSV, 400, []string{`give crs EPSG:4527`}},
		{"GBK CSV with crs", "?filename=v.csv&encoding=GBK&crs=EPSG:4527", "text/csv", gbkCSV, 200, []string{`"inserted":1`, `"encoding":"GBK (given)"`, `"crs":"EPSG:4527"`}},
		{"bad encoding", "?filename=v.csv&encoding=klingon", "text/csv", gbkCSV, 400, []string{`"field":"encoding"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+"/api/import/villages"+tt.query, tt.contentType, bytes.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d body %s, want %d", resp.StatusCode, b, tt.status)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("body %s\nlacks %s", b, w)
				}
			}
		})
	}
	if got := queryString(t, pool, `SELECT string_agg(name, ',') FROM lastmile.villages`); got != "张家村" {
		t.Fatalf("villages: %s", got)
	}
}

// TestMapInfoEncoding: a .tab whose header says Neutral (no recoding)
// over GBK text is read as GB18030; one that names its charset is read by
// it; nothing is left in the temporary directory.
func TestMapInfoEncoding(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "roads.geojson")
	// GDAL's MapInfo writer cannot keep Chinese field names: ASCII names, Chinese values
	os.WriteFile(src, []byte(strings.NewReplacer(`"名称"`, `"name"`, `"状态"`, `"status"`, `"路面"`, `"surface"`, `"长度"`, `"len"`).Replace(bureauRoads)), 0o644)
	named := filepath.Join(dir, "named.tab")
	ogr(t, "-f", "MapInfo File", "-lco", "ENCODING=CP936", named, src)
	neutral := filepath.Join(dir, "neutral.tab")
	ogr(t, "-f", "MapInfo File", "-lco", "ENCODING=CP936", neutral, src)
	b, _ := os.ReadFile(neutral)
	os.WriteFile(neutral, []byte(strings.ReplaceAll(string(b), "WindowsSimpChinese", "Neutral")), 0o644)
	tests := []struct{ name, path, given, encoding string }{
		{"charset named", named, "", "WindowsSimpChinese (from the .tab)"},
		{"Neutral, detected", neutral, "", "GB18030 (detected: the .tab's charset is Neutral and the text is not UTF-8; GB18030 includes GBK; give encoding if it is another)"},
		{"Neutral, given", neutral, "GBK", "GBK (given)"},
	}
	const want = "张家村道|completed|cement;李家组道|under_construction|asphalt"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			pool := pgtest.New(t)
			rep, err := importFiles(t, pool, nil, "roads", ReadOptions{Encoding: tt.given, TempDir: tmp}, Options{}, tt.path)
			if err != nil {
				t.Fatalf("import: %v %+v", err, rep.Problems)
			}
			if rep.Layers[0].Encoding != tt.encoding {
				t.Errorf("encoding %q, want %q", rep.Layers[0].Encoding, tt.encoding)
			}
			if got := queryString(t, pool, `SELECT string_agg(name||'|'||status||'|'||surface, ';' ORDER BY ext_id) FROM lastmile.roads`); got != want {
				t.Errorf("roads %s, want %s", got, want)
			}
		})
	}
}

// TestSpreadsheetWithoutCoordinates: the error names the fullest row as
// the header, not the title above it.
func TestSpreadsheetWithoutCoordinates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.xlsx")
	writeXLSX(t, path, sheet{"村庄", [][]cell{{txt("村庄名单")}, {txt("村名"), txt("人口"), txt("位置")}, {txt("张家村"), num("1200"), txt("山里")}}})
	_, _, err := OpenFile(path, ReadOptions{})
	if msg := details(err); !strings.Contains(msg, "the header row of sheet 村庄 (村名, 人口, 位置) has no geometry column") {
		t.Fatalf("error %v: %s", err, msg)
	}
}
