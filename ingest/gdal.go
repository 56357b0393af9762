package ingest

import (
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

// gdalReader reads the GeoJSONSeq that ogr2ogr writes to its stdout.
type gdalReader struct {
	inner  Reader
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	once   sync.Once
	err    error
	path   string            // the file's base name, for errors
	names  *strings.Replacer // temporary paths in GDAL's messages → the names the user knows
	wgs    bool              // ogr2ogr already transformed an EPSG CRS to 4326
}

// NewGDALReader runs `ogr2ogr -f GeoJSONSeq /vsistdout/ -t_srs EPSG:4326
// path` and reads its output: any vector format GDAL knows (Shapefile,
// GeoPackage, GML, FileGDB folder, …), its .prj honoured. An EPSG crs is
// given to ogr2ogr as the source CRS (-s_srs); GCJ-02 and BD-09 are applied
// afterwards, in Go.
//
// A zip archive (.zip, .kmz, or any file that starts like one) is not handed
// to GDAL: it is extracted into a private temporary directory under
// opt.TempDir, counting the bytes actually decompressed against opt.Zip
// (see extractZip), and its one dataset is opened like a file of its own
// (OpenFile); the directory is removed by the closer, or at once on error.
// The zips GDAL opens itself (.xlsx, .ods) are decompressed and counted the
// same way, without writing, before ogr2ogr reads them.
func NewGDALReader(path string, opt ReadOptions) (Reader, io.Closer, error) {
	switch zipKind(path) {
	case zipArchive:
		return openZip(path, opt)
	case zipContainer:
		if err := extractZip(path, "", opt.Zip); err != nil {
			return nil, nil, err
		}
	}
	name := filepath.Base(path)
	if opt.archive != "" {
		name = opt.archive
	}
	if ext := filepath.Ext(path); strings.EqualFold(ext, ".shp") {
		base := strings.TrimSuffix(path, ext)
		if !exists(base+".dbf") && !exists(base+".DBF") {
			return nil, nil, missingDBF(filepath.Base(path))
		}
	}
	args := []string{"-f", "GeoJSONSeq", "/vsistdout/", "-t_srs", "EPSG:4326", "-dim", "XY", "-skipfailures"}
	wgs := false
	if crs := opt.CRS; crs.toWGS == nil && crs.SRID != 0 && crs.SRID != 4326 {
		args = append(args, "-s_srs", fmt.Sprintf("EPSG:%d", crs.SRID))
		wgs = true
	}
	if strings.EqualFold(filepath.Ext(path), ".gml") {
		args = append(args, "-oo", "WRITE_GFS=NO") // no .gfs left next to the user's file
	}
	args = append(args, path)
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
	// GDAL's messages name the file as the user knows it: a temporary
	// (spooled, extracted) path says nothing to them
	names := strings.NewReplacer(path, filepath.Base(path))
	if opt.archiveRoot != "" {
		names = strings.NewReplacer(opt.archiveRoot+string(filepath.Separator), opt.archive+"/", opt.archiveRoot, opt.archive)
	}
	g := &gdalReader{inner: NewGeoJSONSeqReader(out), cmd: cmd, stderr: stderr, path: name, names: names, wgs: wgs}
	return g, g, nil
}

// Kinds of zip files.
const (
	notZip       = iota
	zipArchive   // extracted, its dataset read
	zipContainer // a format that is a zip (.xlsx, .ods): counted, then read by GDAL
)

// zipKind tells zip archives from other files by extension and first bytes.
func zipKind(path string) int {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".xlsx", ".ods":
		return zipContainer
	case ".zip", ".kmz":
		return zipArchive
	}
	f, err := os.Open(path)
	if err != nil {
		return notZip
	}
	defer f.Close()
	head := make([]byte, 4)
	if _, err := io.ReadFull(f, head); err == nil && (string(head) == "PK\x03\x04" || string(head) == "PK\x05\x06") {
		return zipArchive
	}
	return notZip
}

// openZip extracts the archive at path into a new temporary directory and
// opens its one dataset.
func openZip(path string, opt ReadOptions) (_ Reader, _ io.Closer, err error) {
	name := filepath.Base(path)
	if opt.archive != "" {
		return nil, nil, lastmile.Invalid("the zip archive holds another archive", lastmile.Problem{Field: "file", Value: opt.archive,
			Message: "holds the archive " + strings.TrimPrefix(path, opt.archiveRoot+string(filepath.Separator)) + ": unzip it first"})
	}
	dir, err := os.MkdirTemp(opt.TempDir, "lastmile-unzip-")
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	root := filepath.Join(dir, "archive")
	if err := extractZip(path, root, opt.Zip); err != nil {
		return nil, nil, err
	}
	ds, err := findDataset(root, name)
	if err != nil {
		return nil, nil, err
	}
	inner := opt
	inner.Format, inner.archive, inner.archiveRoot = "", name, root
	r, c, err := OpenFile(ds, inner)
	if err != nil {
		return nil, nil, err
	}
	return r, removeAfter{c, dir}, nil
}

// removeAfter closes c, then removes dir.
type removeAfter struct {
	c   io.Closer
	dir string
}

func (r removeAfter) Close() error {
	err := r.c.Close()
	if rerr := os.RemoveAll(r.dir); err == nil {
		err = rerr
	}
	return err
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
	msg := g.names.Replace(strings.TrimSpace(g.stderr.String()))
	if i := strings.Index(msg, " with the following drivers."); i >= 0 && strings.Contains(msg[:i], "Unable to open datasource") {
		// the list of every driver GDAL tried says nothing useful
		msg = strings.TrimSpace(strings.TrimPrefix(msg[:i], "FAILURE:")) +
			": GDAL finds no vector layer in it (not a vector format GDAL reads, a damaged file, or a dataset without layers such as an empty GeoPackage)"
	}
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

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func missingDBF(shp string) error {
	return lastmile.Invalid("the Shapefile is incomplete", lastmile.Problem{Field: "file", Value: shp,
		Message: "has no .dbf next to it: the attributes are missing (send the .shp, .shx, .dbf and .prj together, e.g. zipped)"})
}
