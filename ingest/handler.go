package ingest

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/auth"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/server/respond"
)

// Handler serves POST /api/import/{layer}.
type Handler struct {
	importer *Importer
	catalog  *layer.Catalog
	log      *slog.Logger
	// TempDir holds uploads of formats that need a file (OSM, GDAL,
	// multipart parts); "" = os.TempDir().
	TempDir string
}

// NewHandler returns the import handler.
func NewHandler(pool *pgxpool.Pool, catalog *layer.Catalog, store *postgis.Store, log *slog.Logger) *Handler {
	return &Handler{importer: NewImporter(pool, catalog, store), catalog: catalog, log: log}
}

// Register adds the import route.
func (h *Handler) Register(r *mux.Router) {
	r.Handle("/api/import/{layer}", respond.HandlerFunc(h.serveImport)).Methods(http.MethodPost)
}

// contentFormats maps media types to formats.
var contentFormats = map[string]string{
	"application/geo+json": FormatGeoJSON, "application/json": FormatGeoJSON,
	"application/geo+json-seq": FormatGeoJSONSeq, "application/x-ndjson": FormatGeoJSONSeq,
	"text/csv": FormatCSV, "application/vnd.google-earth.kml+xml": FormatKML,
	"application/vnd.openstreetmap.data+pbf": FormatOSM, "application/zip": FormatGDAL,
	"application/x-zip-compressed": FormatGDAL, "application/geopackage+sqlite3": FormatGDAL,
	"application/gml+xml": FormatGDAL,
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": FormatGDAL,
	"application/vnd.oasis.opendocument.spreadsheet":                    FormatGDAL, "application/vnd.ms-excel": FormatGDAL,
}

// serveImport imports the request body (one file) or every file part of a
// multipart/form-data body into the layer. Query parameters mirror the CLI
// flags: format, crs, encoding, sheet, map, geometry, lon, lat,
// skip_invalid, repair, dry_run, swap_xy, filename.
func (h *Handler) serveImport(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := mux.Vars(r)["layer"]
	l, ok := h.catalog.Layer(name)
	if !ok {
		return lastmile.Errorf(lastmile.ENOTFOUND, "no layer %q (layers: %s)", name, strings.Join(h.catalog.Names(), ", "))
	}
	if err := auth.Require(ctx, l.WriteScope()); err != nil {
		return err
	}
	q := r.URL.Query()
	var problems lastmile.Problems
	flag := func(k string) bool {
		v := q.Get(k)
		if v == "" {
			return false
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			problems.Add(k, v, "must be true or false")
		}
		return b
	}
	opt := Options{SkipInvalid: flag("skip_invalid"), Repair: flag("repair"), DryRun: flag("dry_run"), SwapXY: flag("swap_xy"),
		RequestID: respond.RequestID(ctx)}
	if err := problems.Err("bad query parameters"); err != nil {
		return err
	}
	if p := auth.From(ctx); p != nil {
		opt.Actor = p.Name
	}
	crs, err := ParseCRS(q.Get("crs"))
	if err != nil {
		return err
	}
	opt.CRS = crs
	if opt.Map, err = ParseMapping(l, q.Get("map")); err != nil {
		return err
	}
	enc, err := ParseEncoding(q.Get("encoding"))
	if err != nil {
		return err
	}
	ropt := ReadOptions{Format: strings.ToLower(q.Get("format")), CRS: crs, OSMLayers: []string{l.Name}, Encoding: enc, Sheet: q.Get("sheet"),
		CSV: CSVOptions{Geom: q.Get("geometry"), Lon: q.Get("lon"), Lat: q.Get("lat")}, TempDir: h.TempDir}
	if ropt.Format != "" && !slices.Contains(Formats, ropt.Format) {
		return lastmile.Invalid("unknown format", lastmile.Problem{Field: "format", Value: ropt.Format, Message: "must be one of " + strings.Join(Formats, ", ")})
	}

	var jobs []Job
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(r.Body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return lastmile.Invalid("the multipart body is malformed", lastmile.Problem{Message: err.Error()})
			}
			if part.FileName() == "" {
				continue
			}
			path, err := h.spool(part, part.FileName())
			if err != nil {
				return err
			}
			closers = append(closers, remover(path))
			rd, c, err := OpenFile(path, ropt)
			if err != nil {
				return err
			}
			closers = append(closers, c)
			jobs = append(jobs, Job{Source: filepath.Base(part.FileName()), Layer: l.Name, Reader: rd})
		}
		if len(jobs) == 0 {
			return lastmile.Invalid("no file in the multipart body", lastmile.Problem{Message: "send the file as a part with a filename"})
		}
	} else {
		filename := q.Get("filename")
		if filename == "" {
			_, dp, _ := mime.ParseMediaType(r.Header.Get("Content-Disposition"))
			filename = dp["filename"]
		}
		if filename == "" {
			filename = "upload"
		}
		format := ropt.Format
		if format == "" {
			format = contentFormats[mt]
		}
		body, head := peek(r.Body, 4096)
		if format == "" || (format == FormatGeoJSON && mt == "application/json") {
			if format, err = DetectFormat(filename, head); err != nil {
				return err
			}
		}
		if format == FormatGeoJSON {
			format = sniffJSONIfDetected(filename, head, format)
		}
		var rd Reader
		if format == FormatOSM || format == FormatGDAL {
			ext := filepath.Ext(filename)
			if format == FormatGDAL && ext == "" {
				ext = gdalUploadExt(head)
			}
			if format == FormatOSM && ext == "" {
				ext = ".pbf"
			}
			path, err := h.spool(body, "upload"+ext)
			if err != nil {
				return err
			}
			closers = append(closers, remover(path))
			ropt.Format = format
			var c io.Closer
			if rd, c, err = OpenFile(path, ropt); err != nil {
				return err
			}
			closers = append(closers, c)
		} else if rd, err = NewReader(format, body, ropt); err != nil {
			return err
		}
		jobs = append(jobs, Job{Source: filename, Layer: l.Name, Reader: rd})
	}
	rep, err := h.importer.Import(ctx, jobs, opt)
	if err != nil {
		var me *lastmile.Error
		if errors.As(err, &me) && me.Code == lastmile.EINVALID && rep != nil && len(rep.Warnings) > 0 {
			for _, wmsg := range rep.Warnings {
				me.Details = append(me.Details, lastmile.Problem{Message: "warning: " + wmsg})
			}
		}
		return err
	}
	respond.JSON(w, http.StatusOK, rep)
	return nil
}

// gdalUploadExt is the extension a GDAL upload without a file name is
// spooled with: from its first bytes, else .zip.
func gdalUploadExt(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("SQLite format 3\x00")):
		return ".gpkg"
	case bytes.Contains(head, []byte("http://www.opengis.net/gml")):
		return ".gml"
	case bytes.HasPrefix(head, []byte("PK\x03\x04")) && bytes.Contains(head, []byte("mimetypeapplication/vnd.oasis.opendocument.spreadsheet")):
		return ".ods"
	case bytes.HasPrefix(head, []byte("PK\x03\x04")) && bytes.Contains(head, []byte("[Content_Types].xml")):
		return ".xlsx"
	case bytes.HasPrefix(head, oleMagic):
		return ".xls"
	}
	return ".zip"
}

// sniffJSONIfDetected keeps an explicit format.
func sniffJSONIfDetected(_ string, head []byte, format string) string {
	if format == FormatGeoJSON {
		return sniffJSON(head)
	}
	return format
}

// spool writes r to a temporary file named like name (its extension
// matters to GDAL).
func (h *Handler) spool(r io.Reader, name string) (string, error) {
	dir, err := os.MkdirTemp(h.TempDir, "lastmile-import-")
	if err != nil {
		return "", err
	}
	// The client's file name never becomes a path: the file is "upload"
	// plus the name's extension when that is a plain one (GDAL needs it).
	path := filepath.Join(dir, "upload"+safeExt(name))
	f, err := os.Create(path)
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.RemoveAll(dir)
		return "", lastmile.Invalid("the upload was interrupted", lastmile.Problem{Field: "file", Value: name, Message: err.Error()})
	}
	if err := f.Close(); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return path, nil
}

// safeExt returns name's extension when it is short and alphanumeric
// (".zip", ".gpkg"), else "".
func safeExt(name string) string {
	ext := strings.ToLower(filepath.Ext(name))
	if len(ext) < 2 || len(ext) > 8 {
		return ""
	}
	for _, c := range ext[1:] {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return ""
		}
	}
	return ext
}

type remover string

func (p remover) Close() error { return os.RemoveAll(filepath.Dir(string(p))) }
