package ingest

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"github.com/paulmach/orb"
	orbwkb "github.com/paulmach/orb/encoding/wkb"
	"github.com/paulmach/orb/geojson"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/auth"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// zipDir writes the files of dir matching glob into a zip archive.
func zipDir(t *testing.T, dir, glob, out string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	matches, _ := filepath.Glob(filepath.Join(dir, glob))
	for _, m := range matches {
		w, err := zw.Create(filepath.Base(m))
		if err != nil {
			t.Fatal(err)
		}
		src, err := os.Open(m)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(w, src)
		src.Close()
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestGDALZippedShapefile(t *testing.T) {
	pool := pgtest.New(t)
	dir := t.TempDir()
	// A Shapefile in Web Mercator: its .prj must be honoured.
	shp := filepath.Join(dir, "shp")
	os.Mkdir(shp, 0o755)
	out, err := exec.Command("ogr2ogr", "-f", "ESRI Shapefile", "-t_srs", "EPSG:3857", "-lco", "ENCODING=UTF-8",
		filepath.Join(shp, "roads.shp"), filepath.Join(fixtures, "roads.geojsonl")).CombinedOutput()
	if err != nil {
		t.Fatalf("ogr2ogr: %v\n%s", err, out)
	}
	zipPath := filepath.Join(dir, "roads.zip")
	zipDir(t, shp, "roads.*", zipPath)
	rep, err := importFiles(t, pool, nil, "roads", ReadOptions{}, Options{}, zipPath)
	if err != nil {
		t.Fatalf("%v %+v", err, rep)
	}
	if l := rep.Layers[0]; l.Inserted != 2 {
		t.Fatalf("report %+v", l)
	}
	if got := queryString(t, pool, `SELECT string_agg(surface||'/'||status||'/'||ST_AsText(geom, 6), ',' ORDER BY name) FROM roads`); got !=
		"cement/completed/LINESTRING(103.9 30.6,103.91 30.6),asphalt/under_construction/LINESTRING(103.91 30.6,103.92 30.6)" {
		t.Fatalf("imported %s", got)
	}

	// the same Shapefile without its .dbf
	os.Remove(filepath.Join(shp, "roads.dbf"))
	noDBF := filepath.Join(dir, "nodbf.zip")
	zipDir(t, shp, "roads.*", noDBF)
	_, err = importFiles(t, pool, nil, "roads", ReadOptions{}, Options{}, noDBF)
	var le *lastmile.Error
	if !errors.As(err, &le) || le.Code != lastmile.EINVALID || !strings.Contains(le.Details[0].Message, "has no .dbf") {
		t.Fatalf("without .dbf: err = %v, want invalid naming the .dbf", err)
	}
	t.Logf("without .dbf: %v", le)
}

// runOGR2OGR runs ogr2ogr with args.
func runOGR2OGR(args ...string) ([]byte, error) {
	return exec.Command("ogr2ogr", args...).CombinedOutput()
}

// runOGRInfo runs ogrinfo with args.
func runOGRInfo(args ...string) ([]byte, error) {
	return exec.Command("ogrinfo", args...).CombinedOutput()
}

// zipTree writes every file under dir into a zip archive, named prefix +
// its path below dir.
func zipTree(t *testing.T, dir, prefix, out string) string {
	t.Helper()
	var entries []zipEntry
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		entries = append(entries, zipEntry{name: prefix + filepath.ToSlash(rel), data: b})
		return nil
	})
	if len(entries) == 0 {
		t.Fatalf("nothing to zip in %s", dir)
	}
	return writeZip(t, out, entries...)
}

// gdalSource is the GeoJSON the GDAL fixtures are made from: roads near
// Wuhan (114.3° E) with Chinese headers and values.
const gdalSource = `{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"编号":"G-1","道路名称":"石门村道","路面类型":"水泥","建设状态":"已完工","宽度":4.5},
 "geometry":{"type":"LineString","coordinates":[[114.30,30.60],[114.31,30.605],[114.3213,30.6101]]}},
{"type":"Feature","properties":{"编号":"G-2","道路名称":"白鹤组道","路面类型":"砂石","建设状态":"在建","宽度":3.5},
 "geometry":{"type":"LineString","coordinates":[[114.3213,30.6101],[114.33,30.62],[114.345678,30.623456]]}}
]}`

// gdalSourceLines are gdalSource's lines by ext_id.
var gdalSourceLines = map[string]orb.LineString{
	"G-1": {{114.30, 30.60}, {114.31, 30.605}, {114.3213, 30.6101}},
	"G-2": {{114.3213, 30.6101}, {114.33, 30.62}, {114.345678, 30.623456}},
}

// TestGDALFormats imports GeoPackage, GML and FileGDB fixtures that ogr2ogr
// makes from gdalSource in a projected CRS (plain, in folders and zipped)
// and checks the fields, the lengths and every vertex against the source.
func TestGDALFormats(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.geojson")
	if err := os.WriteFile(src, []byte(gdalSource), 0o644); err != nil {
		t.Fatal(err)
	}
	// mk runs ogr2ogr from the source into dir/name/file and returns its path.
	mk := func(t *testing.T, name, driver, crs, file string, lco ...string) string {
		t.Helper()
		d := filepath.Join(dir, name)
		os.MkdirAll(d, 0o755)
		out := filepath.Join(d, file)
		args := append([]string{"-f", driver, "-t_srs", crs, "-nln", "roads"}, lco...)
		if b, err := runOGR2OGR(append(args, out, src)...); err != nil {
			t.Fatalf("ogr2ogr %v: %v\n%s", args, err, b)
		}
		// the fixture really is in crs
		if b, _ := runOGRInfo("-ro", "-so", "-al", out); !strings.Contains(string(b), `ID["EPSG",`+strings.TrimPrefix(crs, "EPSG:")+`]`) {
			t.Fatalf("%s is not in %s:\n%s", out, crs, b)
		}
		return out
	}
	tests := []struct {
		name    string
		fixture func(t *testing.T) string
		after   func(t *testing.T) // more checks
	}{
		{"GeoPackage, EPSG:4547", func(t *testing.T) string { return mk(t, "gpkg", "GPKG", "EPSG:4547", "roads.gpkg") }, nil},
		{"GeoPackage zipped, EPSG:32650", func(t *testing.T) string {
			mk(t, "gpkgzip", "GPKG", "EPSG:32650", "roads.gpkg")
			return zipTree(t, filepath.Join(dir, "gpkgzip"), "", filepath.Join(dir, "gpkg.zip"))
		}, nil},
		{"GML 3.2 with .xsd, EPSG:4547 (northing first)", func(t *testing.T) string {
			return mk(t, "gml", "GML", "EPSG:4547", "roads.gml", "-dsco", "FORMAT=GML3.2")
		}, nil},
		{"GML 2 without .xsd, EPSG:32650: no .gfs left behind", func(t *testing.T) string {
			p := mk(t, "gml2", "GML", "EPSG:32650", "roads.gml", "-dsco", "FORMAT=GML2")
			os.Remove(filepath.Join(dir, "gml2", "roads.xsd"))
			return p
		}, func(t *testing.T) {
			if names, _ := filepath.Glob(filepath.Join(dir, "gml2", "*")); len(names) != 1 {
				t.Errorf("after the import gml2/ holds %v, want roads.gml alone", names)
			}
		}},
		{"GML zipped with its .xsd, EPSG:4547", func(t *testing.T) string {
			mk(t, "gmlzip", "GML", "EPSG:4547", "roads.gml")
			return zipTree(t, filepath.Join(dir, "gmlzip"), "", filepath.Join(dir, "gml.zip"))
		}, nil},
		{"FileGDB folder, EPSG:32650", func(t *testing.T) string { return mk(t, "gdb", "OpenFileGDB", "EPSG:32650", "roads.gdb") }, nil},
		{"FileGDB folder with a trailing slash, EPSG:4547", func(t *testing.T) string {
			return mk(t, "gdbslash", "OpenFileGDB", "EPSG:4547", "roads.gdb") + string(filepath.Separator)
		}, nil},
		{"FileGDB zipped with its folder, EPSG:4547", func(t *testing.T) string {
			mk(t, "gdbzip", "OpenFileGDB", "EPSG:4547", "survey.gdb")
			return zipTree(t, filepath.Join(dir, "gdbzip"), "", filepath.Join(dir, "gdb.zip"))
		}, nil},
		{"FileGDB zipped without its folder, EPSG:32650", func(t *testing.T) string {
			p := mk(t, "gdbflat", "OpenFileGDB", "EPSG:32650", "survey.gdb")
			return zipTree(t, p, "", filepath.Join(dir, "gdbflat.zip"))
		}, nil},
		{"GeoPackage in a zip folder, with macOS litter and a readme", func(t *testing.T) string {
			p := mk(t, "gpkglitter", "GPKG", "EPSG:4547", "roads.gpkg")
			b, _ := os.ReadFile(p)
			return writeZip(t, filepath.Join(dir, "litter.zip"), zipEntry{name: "交付/roads.gpkg", data: b},
				zipEntry{name: "__MACOSX/交付/._roads.gpkg", data: []byte("junk")}, zipEntry{name: "交付/说明.txt", data: []byte("readme")})
		}, nil},
		{"GeoJSON zipped (read by lastmile's reader)", func(t *testing.T) string {
			return writeZip(t, filepath.Join(dir, "geojson.zip"), zipEntry{name: "data/roads.geojson", data: []byte(gdalSource)})
		}, nil},
		{"KMZ (its doc.kml read by lastmile's reader)", func(t *testing.T) string {
			kml := filepath.Join(dir, "doc.kml")
			if b, err := runOGR2OGR("-f", "KML", kml, src); err != nil {
				t.Fatalf("ogr2ogr: %v\n%s", err, b)
			}
			b, _ := os.ReadFile(kml)
			return writeZip(t, filepath.Join(dir, "roads.kmz"), zipEntry{name: "doc.kml", data: b}, zipEntry{name: "files/icon.png", data: []byte("png")})
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := pgtest.New(t)
			path := tt.fixture(t)
			tmp := t.TempDir()
			rep, err := importClosed(t, pool, "roads", ReadOptions{TempDir: tmp}, path)
			if err != nil {
				t.Fatalf("import: %v (report %+v)", err, rep)
			}
			if left, _ := os.ReadDir(tmp); len(left) > 0 {
				t.Errorf("left in the temporary directory: %v", left)
			}
			if l := rep.Layers[0]; l.Read != 2 || l.Inserted != 2 || l.Rejected != 0 || !rep.Committed {
				t.Fatalf("report %+v, warnings %v", l, rep.Warnings)
			}
			if got := queryString(t, pool, `SELECT string_agg(concat_ws('/', ext_id, name, surface, status, width_m), ',' ORDER BY ext_id) FROM roads`); got !=
				"G-1/石门村道/cement/completed/4.5,G-2/白鹤组道/gravel/under_construction/3.5" {
				t.Errorf("fields %s", got)
			}
			// lengths: the imported lines', geodesic, within 1 m of the source's
			var srcM, gotM float64
			geoms := []string{}
			for _, l := range gdalSourceLines {
				b, _ := geojson.NewGeometry(l).MarshalJSON()
				geoms = append(geoms, string(b))
			}
			pool.QueryRow(context.Background(), `SELECT sum(ST_Length(ST_GeomFromGeoJSON(g)::geography)) FROM unnest($1::text[]) g`, geoms).Scan(&srcM)
			pool.QueryRow(context.Background(), `SELECT sum(length_m) FROM roads`).Scan(&gotM)
			if math.Abs(gotM-srcM) > 1 || math.Abs(rep.Layers[0].KM*1000-srcM) > 1 || srcM < 4000 {
				t.Errorf("length %.3f m, report %.3f km, source %.3f m", gotM, rep.Layers[0].KM, srcM)
			}
			// every vertex within 1 cm of the source's
			for id, want := range gdalSourceLines {
				var wkb []byte
				if err := pool.QueryRow(context.Background(), `SELECT ST_AsBinary(ST_LineMerge(geom)) FROM roads WHERE ext_id = $1`, id).Scan(&wkb); err != nil {
					t.Fatal(err)
				}
				g, err := orbwkb.Unmarshal(wkb)
				got, ok := g.(orb.LineString)
				if err != nil || !ok || len(got) != len(want) {
					t.Fatalf("%s: %v %v, want %d points", id, g, err, len(want))
				}
				for i := range want {
					dx := (got[i][0] - want[i][0]) * 111320 * math.Cos(want[i][1]*math.Pi/180)
					dy := (got[i][1] - want[i][1]) * 110574
					if d := math.Hypot(dx, dy); d > 0.01 {
						t.Errorf("%s point %d: %v is %.4f m from %v", id, i, got[i], d, want[i])
					}
				}
			}
			if tt.after != nil {
				tt.after(t)
			}
		})
	}
}

// TestGDALUpload posts a zipped FileGDB and a GeoPackage to the import
// handler, raw and as multipart parts.
func TestGDALUpload(t *testing.T) {
	pool := pgtest.New(t)
	catalog := layer.Default()
	h := NewHandler(pool, catalog, postgis.NewStore(pool, catalog), nil)
	h.TempDir = t.TempDir()
	r := mux.NewRouter()
	h.Register(r)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		req = req.WithContext(auth.With(req.Context(), &auth.Principal{Name: "bureau", Scopes: []string{"write:roads"}}))
		r.ServeHTTP(w, req)
	}))
	defer srv.Close()

	dir := t.TempDir()
	src := filepath.Join(dir, "src.geojson")
	os.WriteFile(src, []byte(gdalSource), 0o644)
	ogr := func(args ...string) {
		if b, err := runOGR2OGR(args...); err != nil {
			t.Fatalf("ogr2ogr: %v\n%s", err, b)
		}
	}
	os.Mkdir(filepath.Join(dir, "gdb"), 0o755)
	ogr("-f", "OpenFileGDB", "-t_srs", "EPSG:4547", filepath.Join(dir, "gdb", "survey.gdb"), src)
	gdbZip, _ := os.ReadFile(zipTree(t, filepath.Join(dir, "gdb"), "", filepath.Join(dir, "survey.gdb.zip")))
	ogr("-f", "GPKG", "-t_srs", "EPSG:32650", filepath.Join(dir, "roads.gpkg"), src)
	gpkg, _ := os.ReadFile(filepath.Join(dir, "roads.gpkg"))
	multipartBody := func(name string, b []byte) (string, []byte) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("file", name)
		fw.Write(b)
		mw.Close()
		return mw.FormDataContentType(), buf.Bytes()
	}
	mpType, mpBody := multipartBody("survey.gdb.zip", gdbZip)
	bomb := writeZip(t, filepath.Join(dir, "lies.zip"), lyingEntry(t, "roads.shp", 100<<20, 1000), zipEntry{name: "roads.dbf", data: []byte("x")})
	bombBody, _ := os.ReadFile(bomb)

	tests := []struct {
		name, query, contentType string
		body                     []byte
		status                   int
		want                     string
	}{
		{"zipped FileGDB, no file name", "", "application/zip", gdbZip, 200, `"inserted":2`},
		{"zipped FileGDB, multipart", "", mpType, mpBody, 200, `"source":"survey.gdb.zip","layer":"roads","read":2,"inserted":0,"updated":0,"unchanged":2`},
		{"zipped FileGDB, Windows media type", "?filename=survey.zip", "application/x-zip-compressed", gdbZip, 200, `"unchanged":2`},
		{"GeoPackage, media type only", "", "application/geopackage+sqlite3", gpkg, 200, `"read":2,"inserted":0,`},
		{"GeoPackage, sniffed", "", "application/octet-stream", gpkg, 200, `"read":2,"inserted":0,"updated":0,"unchanged":2`},
		{"lying zip", "?filename=lies.zip", "application/zip", bombBody, 400, `a zip bomb?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+"/api/import/roads"+tt.query, tt.contentType, bytes.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.want) {
				t.Fatalf("status %d body %s, want %d with %s", resp.StatusCode, b, tt.status, tt.want)
			}
			if left, _ := os.ReadDir(h.TempDir); len(left) > 0 {
				t.Fatalf("left in the temporary directory: %v", left)
			}
		})
	}
	if got := queryString(t, pool, `SELECT string_agg(ext_id||'/'||surface, ',' ORDER BY ext_id) FROM roads`); got != "G-1/cement,G-2/gravel" {
		t.Fatalf("roads %s", got)
	}
}
