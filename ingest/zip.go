package ingest

import (
	"archive/zip"
	"compress/flate"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lastmile/lastmile"
)

// Default limits on zip archives (ZipLimits' zero values).
const (
	maxZipBytes   = 4 << 30 // bytes extracted in all
	maxZipRatio   = 200     // bytes extracted / bytes of the archive
	maxZipEntries = 10000   // files and directories
	// zipRatioFloor: archives expanding to less than this are not held to
	// the ratio (a small, very compressible file is no bomb).
	zipRatioFloor = 1 << 20
)

// ZipLimits bound what a zip archive may expand to. The archive is
// extracted by lastmile, which counts the bytes actually decompressed (the
// sizes an archive declares are not trusted) and stops as soon as a limit is
// passed. A zero field means its default.
type ZipLimits struct {
	MaxBytes   int64 // bytes extracted in all (default 4 GiB)
	MaxRatio   int64 // bytes extracted per byte of the archive, above 1 MiB (default 200)
	MaxEntries int   // files and directories (default 10 000)
}

func (l ZipLimits) withDefaults() ZipLimits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = maxZipBytes
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = maxZipRatio
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = maxZipEntries
	}
	return l
}

// budget is how many bytes an archive of size bytes may expand to.
func (l ZipLimits) budget(size int64) int64 {
	b := l.MaxBytes
	if size < l.MaxBytes/l.MaxRatio {
		b = max(size*l.MaxRatio, zipRatioFloor)
	}
	return min(b, l.MaxBytes)
}

func zipRefused(name, format string, args ...any) error {
	return lastmile.Invalid("the zip archive is refused", lastmile.Problem{Field: "file", Value: name, Message: fmt.Sprintf(format, args...)})
}

func zipDamaged(name, format string, args ...any) error {
	return lastmile.Invalid("the zip archive is damaged", lastmile.Problem{Field: "file", Value: name, Message: fmt.Sprintf(format, args...)})
}

// extractZip extracts the archive at path into the directory dest (created
// if missing), or only decompresses and counts when dest is "". Every entry
// name must stay inside dest (no "..", no absolute path), symbolic links and
// other special files are refused, and the bytes decompressed are counted
// against lim as they come: the sizes in the archive's headers are not
// trusted (they must match what is actually decompressed, and so must the
// CRC-32).
func extractZip(path, dest string, lim ZipLimits) error {
	lim = lim.withDefaults()
	name := filepath.Base(path)
	st, err := os.Stat(path)
	if err != nil {
		return lastmile.Invalid("the file cannot be opened", lastmile.Problem{Field: "file", Value: name, Message: err.Error()})
	}
	z, err := zip.OpenReader(path)
	if err != nil {
		return lastmile.Invalid("the zip archive cannot be read", lastmile.Problem{Field: "file", Value: name,
			Message: fmt.Sprintf("is not a zip archive, or a damaged one (%v)", err)})
	}
	defer z.Close()
	if len(z.File) == 0 {
		return lastmile.Invalid("the zip archive is empty", lastmile.Problem{Field: "file", Value: name, Message: "holds no files"})
	}
	if len(z.File) > lim.MaxEntries {
		return zipRefused(name, "it holds %d entries (limit %d)", len(z.File), lim.MaxEntries)
	}
	budget := lim.budget(st.Size())
	bomb := func() error {
		return zipRefused(name, "it expands %d bytes to more than %d (limits: %d bytes, ratio %d): a zip bomb?",
			st.Size(), budget, lim.MaxBytes, lim.MaxRatio)
	}
	// Honest headers that already say too much are refused before
	// anything is decompressed; lying ones are caught while counting.
	var declared uint64
	for _, f := range z.File {
		declared += min(f.UncompressedSize64, 1<<62)
		if declared > uint64(budget) {
			return bomb()
		}
	}
	if dest != "" {
		if err := os.MkdirAll(dest, 0o700); err != nil {
			return err
		}
	}
	var total int64
	for _, f := range z.File {
		rel, err := zipEntryPath(f.Name)
		if err != nil {
			return zipRefused(name, "entry %q %v", f.Name, err)
		}
		mode := f.Mode()
		switch {
		case mode&fs.ModeSymlink != 0:
			return zipRefused(name, "entry %q is a symbolic link", f.Name)
		case mode.IsDir() || strings.HasSuffix(f.Name, `\`):
			if dest != "" {
				if err := os.MkdirAll(filepath.Join(dest, filepath.FromSlash(rel)), 0o700); err != nil {
					return zipRefused(name, "entry %q cannot be extracted: %v", f.Name, osReason(err))
				}
			}
			continue
		case !mode.IsRegular():
			return zipRefused(name, "entry %q is not a regular file (%v)", f.Name, mode.Type())
		}
		n, err := extractEntry(name, f, rel, dest, budget-total)
		total += n
		if total > budget {
			return bomb()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// extractEntry decompresses one entry into dest/rel (or nowhere when dest
// is ""), reading at most remaining+1 bytes, and returns how many it read.
func extractEntry(archive string, f *zip.File, rel, dest string, remaining int64) (int64, error) {
	raw, err := f.OpenRaw()
	if err != nil {
		return 0, zipDamaged(archive, "entry %q: %v", f.Name, err)
	}
	var dec io.Reader
	switch f.Method {
	case zip.Store:
		dec = raw
	case zip.Deflate:
		fr := flate.NewReader(raw)
		defer fr.Close()
		dec = fr
	default:
		return 0, zipRefused(archive, "entry %q uses compression method %d (only stored and deflated entries are read)", f.Name, f.Method)
	}
	var out io.Writer = io.Discard
	if dest != "" {
		target := filepath.Join(dest, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
			return 0, zipRefused(archive, "entry %q cannot be extracted: %v", f.Name, osReason(err))
		}
		file, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return 0, zipRefused(archive, "entry %q appears twice", f.Name)
		} else if err != nil {
			return 0, zipRefused(archive, "entry %q cannot be extracted: %v", f.Name, osReason(err))
		}
		defer file.Close()
		out = file
	}
	sum := crc32.NewIEEE()
	w := &writeErr{w: io.MultiWriter(out, sum)}
	n, err := io.Copy(w, io.LimitReader(dec, remaining+1))
	switch {
	case w.err != nil:
		return n, fmt.Errorf("extracting %s: %w", rel, w.err) // the disk, not the archive
	case n > remaining:
		return n, nil // the caller refuses the bomb
	case err != nil:
		return n, zipDamaged(archive, "entry %q cannot be decompressed: %v", f.Name, err)
	case uint64(n) != f.UncompressedSize64:
		return n, zipDamaged(archive, "entry %q holds %d bytes but its header says %d", f.Name, n, f.UncompressedSize64)
	case f.CRC32 != 0 && sum.Sum32() != f.CRC32:
		return n, zipDamaged(archive, "entry %q fails its CRC-32 check", f.Name)
	}
	if file, ok := out.(*os.File); ok {
		if err := file.Close(); err != nil {
			return n, fmt.Errorf("extracting %s: %w", rel, err)
		}
	}
	return n, nil
}

// writeErr remembers a write error, to tell it from a read error.
type writeErr struct {
	w   io.Writer
	err error
}

func (w *writeErr) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if err != nil {
		w.err = err
	}
	return n, err
}

// zipEntryPath checks the name of a zip entry and returns it as a clean,
// slash-separated path relative to the extraction directory. Backslashes
// count as separators (archives made on Windows); "..", absolute paths,
// drive letters, NUL bytes and over-long names are refused, so the path
// never leaves the directory.
func zipEntryPath(name string) (string, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", errors.New("has a NUL byte in its name")
	}
	if len(name) > 1024 {
		return "", errors.New("has a name longer than 1024 bytes")
	}
	n := strings.ReplaceAll(name, `\`, "/")
	if strings.HasPrefix(n, "/") {
		return "", errors.New("is an absolute path")
	}
	if len(n) >= 2 && n[1] == ':' && ('a' <= n[0]|0x20 && n[0]|0x20 <= 'z') {
		return "", errors.New("starts with a drive letter")
	}
	for el := range strings.SplitSeq(n, "/") {
		if el == ".." {
			return "", errors.New("leaves the archive's directory (..)")
		}
		if len(el) > 255 {
			return "", errors.New("has a path element longer than 255 bytes")
		}
	}
	clean := path.Clean(n)
	if clean == "." || !filepath.IsLocal(filepath.FromSlash(clean)) {
		return "", errors.New("has no usable name")
	}
	return clean, nil
}

// datasetExts are the files in an archive that are read as datasets (their
// companions — .shx, .dbf, .prj, .cpg, .xsd, .gfs, .dat, .mid, … — are not).
var datasetExts = map[string]bool{
	".shp": true, ".gpkg": true, ".gml": true, ".tab": true, ".mif": true, ".dxf": true, ".fgb": true,
	".sqlite": true, ".gpx": true, ".xlsx": true, ".ods": true, ".kml": true,
	".geojson": true, ".json": true, ".geojsonl": true, ".geojsons": true, ".geojsonseq": true, ".ndjson": true,
	".jsonl": true, ".csv": true, ".tsv": true, ".pbf": true, ".zip": true, ".kmz": true,
}

// findDataset returns the one dataset in the extracted archive at root: a
// file with a dataset extension, or a FileGDB folder (name.gdb, or any
// folder holding a00000001.gdbtable, renamed to end in .gdb). A .shp must
// have its .dbf. None, or more than one, is an error naming what was found.
func findDataset(root, archive string) (string, error) {
	var found, others []string
	gdbs := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		base := d.Name()
		if p != root && (strings.HasPrefix(base, ".") || base == "__MACOSX") { // hidden and macOS resource forks
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		lower := strings.ToLower(base)
		switch {
		case d.IsDir() && p != root && strings.HasSuffix(lower, ".gdb"):
			found = append(found, p)
			return filepath.SkipDir
		case d.IsDir():
		case lower == "a00000001.gdbtable": // a FileGDB's own files, zipped without their folder
			if dir := filepath.Dir(p); !gdbs[dir] {
				gdbs[dir] = true
				found = append(found, dir)
			}
		case datasetExts[filepath.Ext(lower)]:
			found = append(found, p)
		default:
			others = append(others, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	rel := func(p string) string {
		r, _ := filepath.Rel(root, p)
		return filepath.ToSlash(r)
	}
	// a FileGDB folder's own files are not datasets of their own
	found = slices.DeleteFunc(found, func(p string) bool {
		for dir := range gdbs {
			if p != dir && strings.HasPrefix(p, dir+string(filepath.Separator)) {
				return true
			}
		}
		return false
	})
	switch len(found) {
	case 0:
		names := make([]string, 0, min(len(others), 10))
		for _, p := range others[:min(len(others), 10)] {
			names = append(names, rel(p))
		}
		what := "nothing but folders"
		if len(others) > 0 {
			what = strings.Join(names, ", ")
			if len(others) > len(names) {
				what += fmt.Sprintf(" and %d more", len(others)-len(names))
			}
		}
		return "", lastmile.Invalid("the zip archive holds no dataset", lastmile.Problem{Field: "file", Value: archive,
			Message: "holds " + what + ": no file lastmile or GDAL reads (.shp with its .dbf, .gpkg, a .gdb folder, .gml, .geojson, .kml, .csv, …)"})
	case 1:
	default:
		names := make([]string, len(found))
		for i, p := range found {
			names[i] = rel(p)
		}
		return "", lastmile.Invalid("the zip archive holds several datasets", lastmile.Problem{Field: "file", Value: archive,
			Message: "holds " + strings.Join(names, ", ") + ": import them one at a time (zip each on its own)"})
	}
	ds := found[0]
	ext := filepath.Ext(ds)
	if base := strings.TrimSuffix(ds, ext); strings.EqualFold(ext, ".shp") && !exists(base+".dbf") && !exists(base+".DBF") {
		return "", missingDBF(rel(ds))
	}
	if gdbs[ds] && !strings.HasSuffix(strings.ToLower(ds), ".gdb") {
		// GDAL knows a FileGDB folder by its name
		if err := os.Rename(ds, ds+".gdb"); err != nil {
			return "", err
		}
		ds += ".gdb"
	}
	return ds, nil
}

// osReason is the reason of a file-system error without its path (a
// temporary one, not the user's business).
func osReason(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
