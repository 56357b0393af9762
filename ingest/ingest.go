// Package ingest reads features from outside files (GeoJSON, GeoJSONSeq,
// CSV, KML, OSM PBF, any GDAL format through ogr2ogr), normalises them (CRS,
// attribute mapping, validation) and loads them in one transaction with a
// per-row report.
//
// Readers yield records one at a time (streaming: a file is never held in
// memory); a normaliser maps attributes to the layer's fields, converts
// values and coordinates and validates; the loader COPYs the good rows into
// a temporary staging table and moves them with one INSERT … ON CONFLICT
// (ext_id) DO UPDATE, so a re-import changes nothing.
//
// The load, by concern: import.go (Import and importTx, the transaction
// and what its steps share), copy.go (records → normaliser → COPY),
// stage.go (the staging table, its checks), direct.go (a first load
// copied into a table of its own swapped in for the layer's, or straight
// into the layer's, with its spool), copyproto.go (the
// binary COPY encoder), upsert.go (stage → table), report.go.
package ingest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/lastmile/lastmile"
)

// Formats the importer reads.
const (
	FormatGeoJSON    = "geojson"
	FormatGeoJSONSeq = "geojsonseq"
	FormatCSV        = "csv"
	FormatKML        = "kml"
	FormatOSM        = "osm"
	FormatGDAL       = "gdal"
)

// Formats lists the format names accepted by --format.
var Formats = []string{FormatGeoJSON, FormatGeoJSONSeq, FormatCSV, FormatKML, FormatOSM, FormatGDAL}

// gdalExtensions are handed to ogr2ogr.
var gdalExtensions = map[string]bool{
	".shp": true, ".zip": true, ".gpkg": true, ".gml": true, ".gdb": true, ".tab": true, ".mif": true,
	".dxf": true, ".fgb": true, ".sqlite": true, ".gpx": true, ".kmz": true, ".xlsx": true, ".xlsm": true, ".ods": true, ".xls": true,
}

// DetectFormat returns the format of a file from its name and first bytes.
func DetectFormat(name string, head []byte) (string, error) {
	lower := strings.ToLower(name)
	ext := filepath.Ext(lower)
	switch {
	case strings.HasSuffix(lower, ".osm.pbf") || ext == ".pbf":
		return FormatOSM, nil
	case ext == ".geojsonl" || ext == ".geojsons" || ext == ".geojsonseq" || ext == ".ndjson" || ext == ".jsonl":
		return FormatGeoJSONSeq, nil
	case ext == ".geojson" || ext == ".json":
		return sniffJSON(head), nil
	case ext == ".csv" || ext == ".txt" || ext == ".tsv":
		return FormatCSV, nil
	case ext == ".kml":
		return FormatKML, nil
	case gdalExtensions[ext]:
		return FormatGDAL, nil
	}
	h := bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf")
	switch {
	case len(h) == 0:
		return "", lastmile.Invalid("the file is empty", lastmile.Problem{Field: "file", Value: name, Message: "has no content"})
	case h[0] == 0x1e:
		return FormatGeoJSONSeq, nil
	case h[0] == '{':
		return sniffJSON(head), nil
	case h[0] == '<' && bytes.Contains(head, []byte("<kml")):
		return FormatKML, nil
	case bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte("PK\x05\x06")): // a zip, or an empty one
		return FormatGDAL, nil
	case bytes.HasPrefix(head, []byte("SQLite format 3\x00")): // GeoPackage, SpatiaLite
		return FormatGDAL, nil
	case bytes.HasPrefix(head, oleMagic): // an Excel 97–2003 workbook
		return FormatGDAL, nil
	case h[0] == '<' && bytes.Contains(head, []byte("http://www.opengis.net/gml")):
		return FormatGDAL, nil
	case len(head) > 8 && bytes.Contains(head[:min(len(head), 64)], []byte("OSMHeader")):
		return FormatOSM, nil
	}
	if bytes.ContainsAny(h[:min(len(h), 4096)], ",\t") && bytes.IndexByte(h, '\n') > 0 {
		return FormatCSV, nil
	}
	return "", lastmile.Invalid("the file format is not recognised",
		lastmile.Problem{Field: "format", Value: name, Message: "give it with format (" + strings.Join(Formats, ", ") + ")"})
}

// oleMagic starts an OLE compound file (.xls).
var oleMagic = []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")

// sniffJSON tells newline-delimited GeoJSON from a GeoJSON document: in a
// sequence the first line is a complete object.
func sniffJSON(head []byte) string {
	h := bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf")
	if len(h) > 0 && h[0] == 0x1e {
		return FormatGeoJSONSeq
	}
	line, _, ok := bytes.Cut(h, []byte("\n"))
	if ok && bytes.HasPrefix(bytes.TrimSpace(line), []byte("{")) && bytes.HasSuffix(bytes.TrimSpace(line), []byte("}")) &&
		!bytes.Contains(line, []byte(`"FeatureCollection"`)) {
		return FormatGeoJSONSeq
	}
	return FormatGeoJSON
}

// ReadOptions configure the readers.
type ReadOptions struct {
	Format string     // "" = detect
	CSV    CSVOptions //
	CRS    CRS        // GDAL: EPSG codes are handed to ogr2ogr as -s_srs
	// OSMLayers restricts an OSM import to these layers (nil = all).
	OSMLayers []string
	// Zip limits what a zip archive may expand to (zero = the defaults).
	Zip ZipLimits
	// TempDir is where zip archives are extracted ("" = os.TempDir()).
	TempDir string
	// Encoding overrides the detected text encoding of CSV files and
	// Shapefile attributes (see ParseEncoding).
	Encoding string
	// Sheet is the sheet of a spreadsheet to read ("" = the first).
	Sheet string

	archive, archiveRoot string // reading a dataset extracted from this archive, into this directory
}

// OpenFile opens path as a reader of its format. The closer releases the
// file (and the ogr2ogr process).
func OpenFile(path string, opt ReadOptions) (Reader, io.Closer, error) {
	path = filepath.Clean(path) // survey.gdb/ is survey.gdb
	format := opt.Format
	if st, err := os.Stat(path); format == "" && err == nil && st.IsDir() {
		// a folder: a FileGDB (anything else needs --format gdal)
		if !strings.EqualFold(filepath.Ext(path), ".gdb") {
			return nil, nil, lastmile.Invalid("the file is a folder", lastmile.Problem{Field: "file", Value: filepath.Base(path),
				Message: "is a folder: only FileGDB folders (name.gdb) are read as one dataset; give a file, or format gdal for a folder GDAL reads"})
		}
		format = FormatGDAL
	}
	if format == "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, lastmile.Invalid("the file cannot be opened", lastmile.Problem{Field: "file", Value: path, Message: err.Error()})
		}
		head := make([]byte, 4096)
		n, _ := io.ReadFull(f, head)
		f.Close()
		if format, err = DetectFormat(path, head[:n]); err != nil {
			return nil, nil, err
		}
	}
	switch format {
	case FormatOSM:
		r, err := NewOSMReader(path, opt.OSMLayers)
		return r, io.NopCloser(nil), err
	case FormatGDAL:
		return NewGDALReader(path, opt)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, lastmile.Invalid("the file cannot be opened", lastmile.Problem{Field: "file", Value: path, Message: err.Error()})
	}
	r, err := NewReader(format, f, opt)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return r, f, nil
}

// NewReader returns a reader of a stream in a streaming format (GeoJSON,
// GeoJSONSeq, CSV, KML).
func NewReader(format string, r io.Reader, opt ReadOptions) (Reader, error) {
	switch format {
	case FormatGeoJSON:
		return NewGeoJSONReader(r), nil
	case FormatGeoJSONSeq:
		return NewGeoJSONSeqReader(r), nil
	case FormatCSV:
		csv := opt.CSV
		if csv.Encoding == "" {
			csv.Encoding = opt.Encoding
		}
		return NewCSVReader(r, csv)
	case FormatKML:
		return NewKMLReader(r), nil
	case FormatOSM, FormatGDAL:
		return nil, fmt.Errorf("format %s needs a file", format)
	}
	return nil, lastmile.Invalid("unknown format", lastmile.Problem{Field: "format", Value: format,
		Message: "must be one of " + strings.Join(Formats, ", ")})
}

// peek returns r's first bytes without consuming them.
func peek(r io.Reader, n int) (*bufio.Reader, []byte) {
	br := bufio.NewReaderSize(r, max(n, 4096))
	head, _ := br.Peek(n)
	return br, head
}
