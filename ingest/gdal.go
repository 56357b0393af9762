package ingest

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/lastmile/lastmile"
)

// Limits on zip archives handed to GDAL (a zip bomb is refused before
// anything is extracted).
const (
	maxZipBytes = 4 << 30 // total uncompressed size
	maxZipRatio = 200     // uncompressed / compressed
)

// gdalReader reads the GeoJSONSeq that ogr2ogr writes to its stdout.
type gdalReader struct {
	inner  Reader
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	once   sync.Once
	err    error
	path   string
	wgs    bool // ogr2ogr already transformed an EPSG CRS to 4326
}

// NewGDALReader runs `ogr2ogr -f GeoJSONSeq /vsistdout/ -t_srs EPSG:4326
// path` and reads its output: any vector format GDAL knows (Shapefile,
// zipped Shapefile, GeoPackage, GML, FileGDB, …), its .prj honoured. An
// EPSG crs is given to ogr2ogr as the source CRS (-s_srs); GCJ-02 and BD-09
// are applied afterwards, in Go.
func NewGDALReader(path string, crs CRS) (Reader, io.Closer, error) {
	src := path
	if strings.EqualFold(filepath.Ext(path), ".shp") {
		base := strings.TrimSuffix(path, filepath.Ext(path))
		if !exists(base+".dbf") && !exists(base+".DBF") {
			return nil, nil, missingDBF(filepath.Base(path))
		}
	}
	if strings.EqualFold(filepath.Ext(path), ".zip") {
		if err := checkZip(path); err != nil {
			return nil, nil, err
		}
		src = "/vsizip/" + path
	}
	args := []string{"-f", "GeoJSONSeq", "/vsistdout/", "-t_srs", "EPSG:4326", "-dim", "XY", "-skipfailures"}
	wgs := false
	if crs.toWGS == nil && crs.SRID != 0 && crs.SRID != 4326 {
		args = append(args, "-s_srs", fmt.Sprintf("EPSG:%d", crs.SRID))
		wgs = true
	}
	args = append(args, src)
	cmd := exec.CommandContext(context.Background(), "ogr2ogr", args...)
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, lastmile.Errorf(lastmile.EUNAVAILABLE, "ogr2ogr cannot be run (install GDAL with scripts/setup): %v", err)
	}
	g := &gdalReader{inner: NewGeoJSONSeqReader(out), cmd: cmd, stderr: stderr, path: filepath.Base(path), wgs: wgs}
	return g, g, nil
}

func (g *gdalReader) Next() (*Record, error) {
	rec, err := g.inner.Next()
	if err == io.EOF {
		if werr := g.wait(); werr != nil {
			return nil, werr
		}
		if rec == nil && g.stderr.Len() > 0 && strings.Contains(g.stderr.String(), "ERROR") {
			return nil, g.failure()
		}
		return nil, io.EOF
	}
	if err != nil {
		return nil, err
	}
	if g.wgs {
		rec.SRID = 4326
	}
	return rec, nil
}

func (g *gdalReader) wait() error {
	g.once.Do(func() {
		if err := g.cmd.Wait(); err != nil {
			g.err = g.failure()
		}
	})
	return g.err
}

func (g *gdalReader) failure() error {
	msg := strings.TrimSpace(g.stderr.String())
	if len(msg) > 500 {
		msg = msg[:500] + "…"
	}
	if msg == "" {
		msg = "ogr2ogr failed"
	}
	return lastmile.Invalid("GDAL cannot read the file", lastmile.Problem{Field: "file", Value: g.path, Message: msg})
}

// Close stops ogr2ogr if it still runs.
func (g *gdalReader) Close() error {
	if g.cmd.ProcessState == nil && g.cmd.Process != nil {
		g.cmd.Process.Kill()
	}
	g.wait()
	return nil
}

// checkZip refuses archives that expand to more than maxZipBytes or by a
// ratio above maxZipRatio.
func checkZip(path string) error {
	z, err := zip.OpenReader(path)
	if err != nil {
		return lastmile.Invalid("the zip archive cannot be read", lastmile.Problem{Field: "file", Value: filepath.Base(path), Message: err.Error()})
	}
	defer z.Close()
	var total, packed uint64
	names := map[string]bool{}
	for _, f := range z.File {
		total += f.UncompressedSize64
		packed += f.CompressedSize64
		names[strings.ToLower(f.Name)] = true
	}
	if total > maxZipBytes || (packed > 0 && total/packed > maxZipRatio && total > 1<<20) {
		return lastmile.Invalid("the zip archive is refused", lastmile.Problem{Field: "file", Value: filepath.Base(path),
			Message: fmt.Sprintf("it expands %d bytes to %d (limits: %d bytes, ratio %d): a zip bomb?", packed, total, uint64(maxZipBytes), maxZipRatio)})
	}
	for n := range names {
		if strings.HasSuffix(n, ".shp") && !names[strings.TrimSuffix(n, ".shp")+".dbf"] {
			return missingDBF(n)
		}
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func missingDBF(shp string) error {
	return lastmile.Invalid("the Shapefile is incomplete", lastmile.Problem{Field: "file", Value: shp,
		Message: "has no .dbf next to it: the attributes are missing (send the .shp, .shx, .dbf and .prj together, e.g. zipped)"})
}
