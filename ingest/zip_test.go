package ingest

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// zipEntry is one entry of a test archive.
type zipEntry struct {
	name string
	data []byte
	mode fs.FileMode // 0 = a regular file
	// raw, when set, is written as the entry's compressed bytes with
	// header's sizes, CRC and method as they are (lies included).
	raw    []byte
	header *zip.FileHeader
}

// writeZip writes an archive of entries to path and returns path.
func writeZip(t testing.TB, path string, entries ...zipEntry) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		if e.header != nil {
			w, err := zw.CreateRaw(e.header)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(e.raw)
			continue
		}
		fh := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			fh.SetMode(e.mode)
		}
		w, err := zw.CreateHeader(fh)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// zeros returns n zero bytes deflated, and their CRC-32.
func zeros(t testing.TB, n int) ([]byte, uint32) {
	t.Helper()
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	chunk := make([]byte, 1<<20)
	sum := crc32.NewIEEE()
	for n > 0 {
		c := chunk[:min(n, len(chunk))]
		fw.Write(c)
		sum.Write(c)
		n -= len(c)
	}
	fw.Close()
	return buf.Bytes(), sum.Sum32()
}

// lyingEntry is an entry of n deflated zeros whose headers (local and
// central) claim it expands to declared bytes.
func lyingEntry(t testing.TB, name string, n int, declared uint64) zipEntry {
	raw, crc := zeros(t, n)
	return zipEntry{raw: raw, header: &zip.FileHeader{Name: name, Method: zip.Deflate, CRC32: crc,
		CompressedSize64: uint64(len(raw)), UncompressedSize64: declared}}
}

// dirSize is the number of bytes in the regular files under dir.
func dirSize(t *testing.T, dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func TestExtractZip(t *testing.T) {
	dir := t.TempDir()
	shp := func(name string) zipEntry { return zipEntry{name: name, data: []byte("x")} }
	wrongCRC := zipEntry{raw: []byte("hello"), header: &zip.FileHeader{Name: "a.shp", Method: zip.Store, CRC32: 1, CompressedSize64: 5, UncompressedSize64: 5}}
	longer := zipEntry{raw: []byte("hello"), header: &zip.FileHeader{Name: "a.shp", Method: zip.Store, CRC32: crc32.ChecksumIEEE([]byte("hello")),
		CompressedSize64: 5, UncompressedSize64: 500 << 10}}
	bzip2 := zipEntry{raw: []byte("BZh9"), header: &zip.FileHeader{Name: "a.shp", Method: 12, CompressedSize64: 4, UncompressedSize64: 4}}
	tests := []struct {
		name    string
		entries []zipEntry
		raw     string // the file's bytes instead of entries
		lim     ZipLimits
		want    string // in the error; "" = extracted
		files   map[string]string
	}{
		{name: "shapefile parts in a folder", entries: []zipEntry{shp("survey/roads.shp"), {name: "survey/roads.dbf", data: []byte("dbf")}, {name: "survey/", mode: fs.ModeDir | 0o755}},
			files: map[string]string{"survey/roads.shp": "x", "survey/roads.dbf": "dbf"}},
		{name: "Windows separators", entries: []zipEntry{shp(`survey\roads.shp`)}, files: map[string]string{"survey/roads.shp": "x"}},
		{name: "compressible file under 1 MiB", entries: []zipEntry{{name: "a.csv", data: make([]byte, 900<<10)}}, files: map[string]string{}},
		{name: "../evil.shp", entries: []zipEntry{shp("../evil.shp")}, want: `entry "../evil.shp" leaves the archive's directory (..)`},
		{name: "a/../../evil.shp", entries: []zipEntry{shp("a/../../evil.shp")}, want: `leaves the archive's directory`},
		{name: `..\evil.shp`, entries: []zipEntry{shp(`..\evil.shp`)}, want: `leaves the archive's directory`},
		{name: "absolute", entries: []zipEntry{shp("/tmp/evil.shp")}, want: `entry "/tmp/evil.shp" is an absolute path`},
		{name: "drive letter", entries: []zipEntry{shp("C:/evil.shp")}, want: `starts with a drive letter`},
		{name: "symbolic link", entries: []zipEntry{{name: "roads.shp", data: []byte("/etc/passwd"), mode: fs.ModeSymlink | 0o777}}, want: `entry "roads.shp" is a symbolic link`},
		{name: "named pipe", entries: []zipEntry{{name: "roads.shp", mode: fs.ModeNamedPipe | 0o644}}, want: `is not a regular file`},
		{name: "too many entries", entries: []zipEntry{shp("1.shp"), shp("2.shp"), shp("3.shp"), shp("4.shp")}, lim: ZipLimits{MaxEntries: 3}, want: "it holds 4 entries (limit 3)"},
		{name: "the same name twice", entries: []zipEntry{shp("a.shp"), shp("./a.shp")}, want: `entry "./a.shp" appears twice`},
		{name: "honest bomb: 20 MB of zeros", entries: []zipEntry{{name: "bomb.shp", data: make([]byte, 20<<20)}}, want: "a zip bomb?"},
		{name: "honest, over MaxBytes", entries: []zipEntry{{name: "big.shp", data: make([]byte, 3<<20)}}, lim: ZipLimits{MaxBytes: 2 << 20, MaxRatio: 1 << 20}, want: "to more than 2097152 (limits: 2097152 bytes"},
		{name: "lying sizes: 200 MB of zeros claim 1000 bytes", entries: []zipEntry{lyingEntry(t, "roads.shp", 200<<20, 1000)}, want: "a zip bomb?"},
		{name: "lying sizes, MaxBytes 8 MiB", entries: []zipEntry{lyingEntry(t, "roads.shp", 20<<20, 1000)}, lim: ZipLimits{MaxBytes: 8 << 20, MaxRatio: 1 << 20}, want: "to more than 8388608 (limits: 8388608 bytes"},
		{name: "lying sizes under the limits", entries: []zipEntry{lyingEntry(t, "roads.shp", 1000, 10)}, want: `entry "roads.shp" holds 1000 bytes but its header says 10`},
		{name: "header claims more than there is", entries: []zipEntry{longer}, want: `holds 5 bytes but its header says 512000`},
		{name: "wrong CRC", entries: []zipEntry{wrongCRC}, want: `fails its CRC-32 check`},
		{name: "bzip2", entries: []zipEntry{bzip2}, want: `uses compression method 12`},
		{name: "empty archive", entries: []zipEntry{}, want: "holds no files"},
		{name: "not a zip", raw: "hello", want: "is not a zip archive"},
		{name: "empty file", raw: "", want: "is not a zip archive"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := filepath.Join(dir, strings.Repeat("x", i+1))
			os.Mkdir(base, 0o755)
			path := filepath.Join(base, "in.zip")
			if tt.entries == nil {
				os.WriteFile(path, []byte(tt.raw), 0o644)
			} else {
				writeZip(t, path, tt.entries...)
			}
			dest := filepath.Join(base, "out")
			err := extractZip(path, dest, tt.lim)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				for name, want := range tt.files {
					if b, err := os.ReadFile(filepath.Join(dest, name)); err != nil || string(b) != want {
						t.Errorf("%s = %q, %v; want %q", name, b, err, want)
					}
				}
				return
			}
			var le *lastmile.Error
			if !errors.As(err, &le) || le.Code != lastmile.EINVALID || len(le.Details) != 1 {
				t.Fatalf("err = %v, want invalid", err)
			}
			if p := le.Details[0]; p.Field != "file" || p.Value != "in.zip" || !strings.Contains(p.Message, tt.want) {
				t.Fatalf("problem %+v, want file in.zip: …%s…", p, tt.want)
			}
			// nothing lands outside dest, and a bomb stops at its limit
			if names, _ := os.ReadDir(base); len(names) > 2 {
				t.Fatalf("%s holds %v", base, names)
			}
			if _, err := os.Stat(filepath.Join(dir, "evil.shp")); err == nil {
				t.Fatal("evil.shp escaped")
			}
			lim := tt.lim.withDefaults()
			if n := dirSize(t, dest); n > lim.MaxBytes+1 || n > 200*(1<<20) {
				t.Fatalf("%d bytes extracted", n)
			}
			t.Logf("%v", le.Details[0])
		})
	}
}

// TestZipBombCounted shows the bytes are counted, not read from the
// headers: the lying archive stops after the budget, not before the first
// byte and not after the 200 MB.
func TestZipBombCounted(t *testing.T) {
	dir := t.TempDir()
	path := writeZip(t, filepath.Join(dir, "lies.zip"), lyingEntry(t, "roads.shp", 200<<20, 1000))
	st, _ := os.Stat(path)
	lim := ZipLimits{MaxBytes: 4 << 20, MaxRatio: 1 << 20}
	err := extractZip(path, filepath.Join(dir, "out"), lim)
	var le *lastmile.Error
	if !errors.As(err, &le) || !strings.Contains(le.Details[0].Message, "a zip bomb?") {
		t.Fatalf("err = %v, want a zip bomb", err)
	}
	if n := dirSize(t, filepath.Join(dir, "out")); n != 4<<20+1 {
		t.Fatalf("%d bytes extracted from a %d-byte archive, want the 4 MiB budget + 1", n, st.Size())
	}
}

func TestZipEntryPath(t *testing.T) {
	tests := []struct {
		name, want, err string
	}{
		{"roads.shp", "roads.shp", ""},
		{"survey/roads.shp", "survey/roads.shp", ""},
		{"survey//./roads.shp", "survey/roads.shp", ""},
		{`survey\roads.shp`, "survey/roads.shp", ""},
		{"survey.gdb/", "survey.gdb", ""},
		{"道路/道路.shp", "道路/道路.shp", ""},
		{"..", "", ".."},
		{"../evil.shp", "", ".."},
		{"a/../b.shp", "", ".."},
		{`a\..\..\b.shp`, "", ".."},
		{"/etc/passwd", "", "absolute"},
		{`\\server\share\x.shp`, "", "absolute"},
		{"c:evil.shp", "", "drive letter"},
		{"", "", "no usable name"},
		{"./", "", "no usable name"},
		{"a\x00.shp", "", "NUL"},
		{strings.Repeat("a", 256) + ".shp", "", "longer than 255"},
		{strings.Repeat("a/", 600), "", "longer than 1024"},
	}
	for _, tt := range tests {
		got, err := zipEntryPath(tt.name)
		if got != tt.want || (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("zipEntryPath(%q) = %q, %v; want %q, %q", tt.name, got, err, tt.want, tt.err)
		}
	}
}

// FuzzZipEntryPath: an accepted name stays inside the extraction directory.
func FuzzZipEntryPath(f *testing.F) {
	for _, s := range []string{"roads.shp", "a/b/c.gdb/", "../x", `..\x`, "/x", "C:x", "a/./b", "a//b", "...", "..a", "a..", ".", "\x00"} {
		f.Add(s)
	}
	root := filepath.FromSlash("/extract/here")
	f.Fuzz(func(t *testing.T, name string) {
		got, err := zipEntryPath(name)
		if err != nil {
			return
		}
		full := filepath.Join(root, filepath.FromSlash(got))
		if !strings.HasPrefix(full, root+string(filepath.Separator)) || !filepath.IsLocal(got) {
			t.Fatalf("zipEntryPath(%q) = %q: %s is outside %s", name, got, full, root)
		}
		for el := range strings.SplitSeq(got, "/") {
			if el == ".." || el == "." || el == "" || strings.ContainsAny(el, "\\\x00") {
				t.Fatalf("zipEntryPath(%q) = %q: element %q", name, got, el)
			}
		}
	})
}

// FuzzExtractZip: whatever the archive, nothing is written outside the
// directory, no link is made, and no more than the limit is extracted.
func FuzzExtractZip(f *testing.F) {
	dir := f.TempDir()
	seed := func(entries ...zipEntry) {
		b, _ := os.ReadFile(writeZip(f, filepath.Join(dir, "seed.zip"), entries...))
		f.Add(b)
	}
	seed(zipEntry{name: "roads.shp", data: []byte("shp")}, zipEntry{name: "roads.dbf", data: []byte("dbf")})
	seed(zipEntry{name: "a/", mode: fs.ModeDir | 0o755}, zipEntry{name: "a/b.gpkg", data: make([]byte, 5000)})
	seed(zipEntry{name: "../evil", data: []byte("x")})
	seed(zipEntry{name: "link", data: []byte("/etc"), mode: fs.ModeSymlink | 0o777})
	seed(lyingEntry(f, "z.shp", 1<<20, 10))
	lim := ZipLimits{MaxBytes: 256 << 10, MaxEntries: 64}
	f.Fuzz(func(t *testing.T, archive []byte) {
		base := t.TempDir()
		path := filepath.Join(base, "in.zip")
		if err := os.WriteFile(path, archive, 0o600); err != nil {
			t.Fatal(err)
		}
		dest := filepath.Join(base, "out")
		err := extractZip(path, dest, lim)
		if names, _ := os.ReadDir(base); len(names) > 2 {
			t.Fatalf("%s holds %v", base, names)
		}
		if err != nil && lastmile.ErrorCode(err) != lastmile.EINVALID {
			t.Fatalf("err = %v, want invalid", err)
		}
		var n int64
		filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if !d.IsDir() && !d.Type().IsRegular() {
				t.Fatalf("%s is a %v", p, d.Type())
			}
			if fi, err := d.Info(); err == nil && d.Type().IsRegular() {
				n += fi.Size()
			}
			return nil
		})
		if n > lim.MaxBytes+1 {
			t.Fatalf("%d bytes extracted, limit %d", n, lim.MaxBytes)
		}
	})
}

// importClosed imports path into layer and closes its reader before it
// returns.
func importClosed(t *testing.T, pool *pgxpool.Pool, layerName string, ropt ReadOptions, path string) (*Report, error) {
	t.Helper()
	r, c, err := OpenFile(path, ropt)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return NewImporter(pool, layer.Default(), nil).Import(context.Background(),
		[]Job{{Source: filepath.Base(path), Layer: layerName, Reader: r}}, Options{Actor: "test"})
}

func TestZipImportRefused(t *testing.T) {
	pool := pgtest.New(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.Mkdir(src, 0o755)
	ogr := func(args ...string) {
		t.Helper()
		if out, err := runOGR2OGR(args...); err != nil {
			t.Fatalf("ogr2ogr %v: %v\n%s", args, err, out)
		}
	}
	// a real Shapefile, for its .shp and .shx
	ogr("-f", "ESRI Shapefile", filepath.Join(src, "roads.shp"), filepath.Join(fixtures, "roads.geojsonl"))
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// a GeoPackage without layers: one with a layer, the layer dropped
	emptyGPKG := filepath.Join(dir, "empty.gpkg")
	ogr("-f", "GPKG", emptyGPKG, filepath.Join(fixtures, "roads.geojsonl"), "-nln", "roads")
	if out, err := runOGRInfo(emptyGPKG, "-sql", "DROP TABLE roads"); err != nil {
		t.Fatalf("ogrinfo: %v\n%s", err, out)
	}
	zipOf := func(name string, entries ...zipEntry) string {
		return writeZip(t, filepath.Join(dir, name), entries...)
	}
	file := func(name string, data []byte) zipEntry { return zipEntry{name: name, data: data} }
	shpParts := []zipEntry{file("roads.shp", read("roads.shp")), file("roads.shx", read("roads.shx")), file("roads.prj", read("roads.prj"))}
	gpkg, _ := os.ReadFile(emptyGPKG)
	notZip := filepath.Join(dir, "notzip.zip")
	os.WriteFile(notZip, []byte("PK\x03\x04 but then nothing"), 0o644)

	tests := []struct {
		name  string
		path  string
		lim   ZipLimits
		value string // the problem's value: the file's base name
		want  string // in the problem's message
	}{
		{"Shapefile without .dbf", zipOf("nodbf.zip", shpParts...), ZipLimits{}, "roads.shp", "has no .dbf next to it"},
		{"Shapefile without .dbf, in a folder", zipOf("nodbf2.zip", file("survey/roads.shp", read("roads.shp"))), ZipLimits{}, "survey/roads.shp", "has no .dbf next to it"},
		{"empty zip", zipOf("empty.zip"), ZipLimits{}, "empty.zip", "holds no files"},
		{"not a zip", notZip, ZipLimits{}, "notzip.zip", "is not a zip archive"},
		{"GeoPackage without layers", emptyGPKG, ZipLimits{}, "empty.gpkg", "Unable to open datasource `empty.gpkg': GDAL finds no vector layer in it"},
		{"GeoPackage without layers, zipped", zipOf("emptygpkg.zip", file("survey.gpkg", gpkg)), ZipLimits{}, "emptygpkg.zip", "emptygpkg.zip/survey.gpkg': GDAL finds no vector layer"},
		{"lying sizes (200 MB claim 1000 bytes)", zipOf("lies.zip", lyingEntry(t, "roads.shp", 200<<20, 1000), file("roads.dbf", read("roads.dbf"))),
			ZipLimits{MaxBytes: 8 << 20}, "lies.zip", "a zip bomb?"},
		{"honest bomb", zipOf("bomb.zip", file("roads.shp", make([]byte, 30<<20)), file("roads.dbf", read("roads.dbf"))), ZipLimits{}, "bomb.zip", "a zip bomb?"},
		{"../evil.shp", zipOf("evil.zip", file("../evil.shp", read("roads.shp"))), ZipLimits{}, "evil.zip", `entry "../evil.shp" leaves the archive's directory`},
		{"symbolic link", zipOf("link.zip", zipEntry{name: "roads.dbf", data: []byte("/etc/passwd"), mode: fs.ModeSymlink | 0o777}), ZipLimits{}, "link.zip", "is a symbolic link"},
		{"too many entries", zipOf("many.zip", file("a.txt", nil), file("b.txt", nil), file("c.txt", nil)), ZipLimits{MaxEntries: 2}, "many.zip", "it holds 3 entries (limit 2)"},
		{"no dataset", zipOf("readme.zip", file("readme.txt", []byte("hi")), file("doc/photo.jpg", nil)), ZipLimits{}, "readme.zip", "holds doc/photo.jpg, readme.txt: no file lastmile or GDAL reads"},
		{"two datasets", zipOf("two.zip", append(shpParts, file("roads.dbf", read("roads.dbf")), file("more/villages.csv", []byte("name,lon,lat\n")))...),
			ZipLimits{}, "two.zip", "holds more/villages.csv, roads.shp: import them one at a time"},
		{"a zip in the zip", zipOf("nested.zip", file("inner/roads.zip", []byte("PK\x05\x06"))), ZipLimits{}, "nested.zip", "holds the archive inner/roads.zip: unzip it first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tableState(t, pool, "roads")
			tmp := t.TempDir()
			rep, err := importClosed(t, pool, "roads", ReadOptions{Zip: tt.lim, TempDir: tmp}, tt.path)
			var le *lastmile.Error
			if !errors.As(err, &le) || le.Code != lastmile.EINVALID || len(le.Details) == 0 {
				t.Fatalf("err = %v (report %+v), want invalid", err, rep)
			}
			if p := le.Details[0]; p.Field != "file" || p.Value != tt.value || !strings.Contains(p.Message, tt.want) {
				t.Fatalf("%s: problem %+v, want file %s: …%s…", le.Message, p, tt.value, tt.want)
			}
			if after := tableState(t, pool, "roads"); after != before {
				t.Fatal("the database changed")
			}
			if left, _ := os.ReadDir(tmp); len(left) > 0 {
				t.Fatalf("left in the temporary directory: %v", left)
			}
			t.Logf("%s: %v", le.Message, le.Details[0])
		})
	}
}
