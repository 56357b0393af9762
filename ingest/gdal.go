package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile"
)

// gdalReader reads the GeoJSONSeq that ogr2ogr writes to its stdout.
type gdalReader struct {
	inner    Reader
	cmd      *exec.Cmd
	stderr   *bytes.Buffer
	once     *sync.Once
	err      error
	args     []string          // ogr2ogr's, but the file
	file     string            // the file ogr2ogr reads
	layer    string            // the layer of file it reads ("" = all)
	path     string            // the file's base name, for errors
	names    *strings.Replacer // temporary paths in GDAL's messages → the names the user knows
	wgs      bool              // ogr2ogr already transformed an EPSG CRS to 4326
	read     int               // records read
	encoding string            // the attributes' encoding and how it was chosen ("" = GDAL's)
	crs      string            // the coordinate system and where it came from
	warnings []string
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
	if isSpreadsheet(path) {
		return newSheetReader(path, name, opt)
	}
	args := []string{"-f", "GeoJSONSeq", "/vsistdout/", "-t_srs", "EPSG:4326", "-dim", "XY", "-skipfailures"}
	g := &gdalReader{path: name, crs: "from the file"}
	if strings.EqualFold(filepath.Ext(path), ".shp") {
		g.crs = "from the .prj"
		if !exists(strings.TrimSuffix(path, filepath.Ext(path))+".prj") && !exists(strings.TrimSuffix(path, filepath.Ext(path))+".PRJ") {
			g.crs = "none in the file (no .prj)"
		}
		oo, how, err := dbfEncoding(path, opt.Encoding)
		if err != nil {
			return nil, nil, err
		}
		if oo != "" {
			args = append(args, "-oo", "ENCODING="+oo)
		}
		g.encoding = how
	}
	file, tmp := path, ""
	if ext := strings.ToLower(filepath.Ext(path)); ext == ".tab" || ext == ".mif" {
		dir, err := os.MkdirTemp(opt.TempDir, "lastmile-mapinfo-")
		if err != nil {
			return nil, nil, err
		}
		if file, g.encoding, err = mapinfoEncoding(path, opt.Encoding, dir); err != nil || file == path {
			os.RemoveAll(dir)
		} else {
			tmp = dir
		}
		if err != nil {
			return nil, nil, err
		}
	}
	if crs := opt.CRS; crs.toWGS == nil && crs.SRID != 0 && crs.SRID != 4326 {
		args = append(args, "-s_srs", fmt.Sprintf("EPSG:%d", crs.SRID))
		g.wgs, g.crs = true, crs.Name+" (given)"
	} else if crs.toWGS != nil {
		g.crs = crs.Name + " (given; converted after GDAL)"
	}
	if strings.EqualFold(filepath.Ext(path), ".gml") {
		args = append(args, "-oo", "WRITE_GFS=NO") // no .gfs left next to the user's file
	}
	// GDAL's messages name the file as the user knows it: a temporary
	// (spooled, extracted) path says nothing to them
	g.names = strings.NewReplacer(file, filepath.Base(path), path, filepath.Base(path))
	if opt.archiveRoot != "" {
		g.names = strings.NewReplacer(file, opt.archive+"/"+filepath.Base(path), opt.archiveRoot+string(filepath.Separator), opt.archive+"/", opt.archiveRoot, opt.archive)
	}
	g.args, g.file = args, file
	if err := g.start(); err != nil {
		if tmp != "" {
			os.RemoveAll(tmp)
		}
		return nil, nil, err
	}
	if tmp != "" {
		return g, removeAfter{g, tmp}, nil
	}
	return g, g, nil
}

// start runs ogr2ogr with g's arguments on g's file.
func (g *gdalReader) start() error {
	argv := append(slices.Clone(g.args), g.file)
	if g.layer != "" {
		argv = append(argv, g.layer)
	}
	cmd := exec.CommandContext(context.Background(), "ogr2ogr", argv...)
	g.stderr = &bytes.Buffer{}
	cmd.Stderr = g.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return lastmile.Errorf(lastmile.EUNAVAILABLE, "ogr2ogr cannot be run (install GDAL with scripts/setup): %v", err)
	}
	g.cmd, g.inner, g.once, g.err = cmd, NewGeoJSONSeqReader(out), &sync.Once{}, nil
	return nil
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
	case ".xlsx", ".xlsm", ".ods":
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
		werr := g.wait()
		if g.read == 0 && strings.Contains(strings.Join(strings.Fields(g.stderr.String()), " "), "source layer has no coordinate system") {
			if err := g.noCRS(); err != nil {
				return nil, err
			}
			return g.Next()
		}
		if werr != nil {
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
	g.read++
	return rec, nil
}

// noCRS handles a file that names no coordinate system: coordinates in
// degrees are read as EPSG:4326 (CGCS2000 is the same within a metre),
// with a warning; anything else is refused with the coordinate system
// the values suggest (guessCRS).
func (g *gdalReader) noCRS() error {
	ext, err := gdalExtent(g.file)
	if err != nil {
		return lastmile.Invalid("the file names no coordinate system", lastmile.Problem{Field: "crs", Value: g.path,
			Message: "has no coordinate system (for a Shapefile: no .prj): give it with crs"})
	}
	if isDegrees(ext.Min) && isDegrees(ext.Max) {
		// the coordinates pass unchanged; GCJ-02 and BD-09 are still
		// converted after GDAL (the records keep SRID 0)
		g.args = append(g.args, "-s_srs", "EPSG:4326")
		if !strings.HasSuffix(g.crs, "after GDAL)") {
			g.crs = "EPSG:4326 (assumed: the file names none and its coordinates are degrees)"
			g.warnings = append(g.warnings, "the file names no coordinate system: its coordinates are degrees, read as EPSG:4326 (CGCS2000 and WGS84 agree within a metre); give crs if they are GCJ-02 or BD-09")
		}
		return g.start()
	}
	noPrj := ""
	if strings.EqualFold(filepath.Ext(g.file), ".shp") {
		noPrj = " (no .prj)"
	}
	return lastmile.Invalid("the coordinates are not longitude and latitude and the file names no coordinate system",
		lastmile.Problem{Field: "crs", Value: g.path, Message: "names no coordinate system" + noPrj + ": " + guessCRS(ext.Min).Text})
}

// Encoding returns the attributes' encoding and how it was chosen.
func (g *gdalReader) Encoding() string { return g.encoding }

// CRS returns the coordinate system read and where it came from.
func (g *gdalReader) CRS() string { return g.crs }

// Warnings are the reader's notes for the report.
func (g *gdalReader) Warnings() []string { return g.warnings }

// gdalExtent returns the extent of the first layer of the dataset at
// path, from ogrinfo.
func gdalExtent(path string) (orb.Bound, error) {
	out, err := exec.Command("ogrinfo", "-ro", "-so", "-al", path).Output()
	if err != nil {
		return orb.Bound{}, err
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "Extent: ")
		if !ok {
			continue
		}
		var b orb.Bound
		if _, err := fmt.Sscanf(rest, "(%g, %g) - (%g, %g)", &b.Min[0], &b.Min[1], &b.Max[0], &b.Max[1]); err != nil {
			return orb.Bound{}, err
		}
		return b, nil
	}
	return orb.Bound{}, errors.New("ogrinfo gives no extent")
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
	msg = lastmile.ClipTo(msg, 500)
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
