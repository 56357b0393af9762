package ingest

import (
	"archive/zip"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lastmile/lastmile"
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

func TestZipBomb(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bomb.zip")
	f, _ := os.Create(path)
	zw := zip.NewWriter(f)
	w, _ := zw.Create("bomb.shp")
	zeros := make([]byte, 1<<20)
	for range 20 { // 20 MB of zeros compress to ~20 kB
		w.Write(zeros)
	}
	zw.Close()
	f.Close()
	err := checkZip(path)
	if err == nil || !strings.Contains(err.Error(), "zip bomb") {
		t.Fatalf("checkZip = %v, want a zip-bomb refusal", err)
	}
}
