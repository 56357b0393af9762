package ingest

import (
	"archive/zip"
	"fmt"
	"html"
	"os"
	"strings"
	"testing"
)

// cell is one spreadsheet cell for the fixture writers: text, or a
// number when num is set.
type cell struct {
	text string
	num  bool
}

func txt(s string) cell { return cell{text: s} }
func num(s string) cell { return cell{text: s, num: true} }

// sheet is a named sheet of rows.
type sheet struct {
	name string
	rows [][]cell
}

// writeXLSX writes a minimal Office Open XML workbook (what Excel saves:
// shared strings, one worksheet part per sheet), with archive/zip.
func writeXLSX(t *testing.T, path string, sheets ...sheet) {
	t.Helper()
	var strs []string
	index := map[string]int{}
	files := map[string]string{}
	var wbSheets, rels, overrides strings.Builder
	for si, sh := range sheets {
		var b strings.Builder
		b.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`)
		for ri, row := range sh.rows {
			fmt.Fprintf(&b, `<row r="%d">`, ri+1)
			for ci, c := range row {
				ref := fmt.Sprintf("%s%d", columnLetter(ci), ri+1)
				switch {
				case c.text == "":
				case c.num:
					fmt.Fprintf(&b, `<c r="%s"><v>%s</v></c>`, ref, c.text)
				default:
					i, ok := index[c.text]
					if !ok {
						i = len(strs)
						index[c.text] = i
						strs = append(strs, c.text)
					}
					fmt.Fprintf(&b, `<c r="%s" t="s"><v>%d</v></c>`, ref, i)
				}
			}
			b.WriteString(`</row>`)
		}
		b.WriteString(`</sheetData></worksheet>`)
		files[fmt.Sprintf("xl/worksheets/sheet%d.xml", si+1)] = b.String()
		fmt.Fprintf(&wbSheets, `<sheet name="%s" sheetId="%d" r:id="rId%d"/>`, html.EscapeString(sh.name), si+1, si+1)
		fmt.Fprintf(&rels, `<Relationship Id="rId%d" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet%d.xml"/>`, si+1, si+1)
		fmt.Fprintf(&overrides, `<Override PartName="/xl/worksheets/sheet%d.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>`, si+1)
	}
	n := len(sheets)
	fmt.Fprintf(&rels, `<Relationship Id="rId%d" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>`, n+1)
	var ss strings.Builder
	fmt.Fprintf(&ss, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">`, len(strs), len(strs))
	for _, s := range strs {
		fmt.Fprintf(&ss, `<si><t>%s</t></si>`, html.EscapeString(s))
	}
	ss.WriteString(`</sst>`)
	files["xl/sharedStrings.xml"] = ss.String()
	files["[Content_Types].xml"] = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
		`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>` +
		`<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>` + overrides.String() +
		`<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>`
	files["_rels/.rels"] = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
		`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`
	files["xl/workbook.xml"] = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>` +
		wbSheets.String() + `</sheets></workbook>`
	files["xl/_rels/workbook.xml.rels"] = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
		rels.String() + `</Relationships>`
	writeZipFiles(t, path, []string{"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/sharedStrings.xml"}, files)
}

// writeODS writes a minimal OpenDocument spreadsheet (mimetype first and
// stored, content.xml with one table per sheet).
func writeODS(t *testing.T, path string, sheets ...sheet) {
	t.Helper()
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" ` +
		`xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet>`)
	for _, sh := range sheets {
		fmt.Fprintf(&b, `<table:table table:name="%s">`, html.EscapeString(sh.name))
		for _, row := range sh.rows {
			b.WriteString(`<table:table-row>`)
			for _, c := range row {
				switch {
				case c.text == "":
					b.WriteString(`<table:table-cell/>`)
				case c.num:
					fmt.Fprintf(&b, `<table:table-cell office:value-type="float" office:value="%s"><text:p>%s</text:p></table:table-cell>`, c.text, c.text)
				default:
					fmt.Fprintf(&b, `<table:table-cell office:value-type="string"><text:p>%s</text:p></table:table-cell>`, html.EscapeString(c.text))
				}
			}
			b.WriteString(`</table:table-row>`)
		}
		b.WriteString(`</table:table>`)
	}
	b.WriteString(`</office:spreadsheet></office:body></office:document-content>`)
	files := map[string]string{
		"mimetype":    "application/vnd.oasis.opendocument.spreadsheet",
		"content.xml": b.String(),
		"META-INF/manifest.xml": `<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">` +
			`<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>` +
			`<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>`,
	}
	writeZipFiles(t, path, []string{"mimetype", "content.xml", "META-INF/manifest.xml"}, files)
}

// writeZipFiles writes files in order first, then the rest; mimetype is
// stored, not compressed.
func writeZipFiles(t *testing.T, path string, first []string, files map[string]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	done := map[string]bool{}
	write := func(name string) {
		method := zip.Deflate
		if name == "mimetype" {
			method = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(files[name]))
		done[name] = true
	}
	for _, n := range first {
		write(n)
	}
	for n := range files {
		if !done[n] {
			write(n)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSheetFixtures: GDAL reads the workbooks the writers make.
func TestSheetFixtures(t *testing.T) {
	dir := t.TempDir()
	sheets := []sheet{{"村庄", [][]cell{{txt("标题")}, {txt("村名"), txt("经度")}, {txt("张家村"), num("117.5")}}}, {"其他", [][]cell{{txt("a")}}}}
	for _, name := range []string{"w.xlsx", "w.ods"} {
		p := dir + "/" + name
		if strings.HasSuffix(name, ".xlsx") {
			writeXLSX(t, p, sheets...)
		} else {
			writeODS(t, p, sheets...)
		}
		out, err := runOGRInfo("-ro", "-al", "-q", "--config", "OGR_XLSX_HEADERS", "DISABLE", "--config", "OGR_ODS_HEADERS", "DISABLE", p)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		for _, want := range []string{"村庄", "其他", "张家村", "117.5", "标题"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("%s: ogrinfo does not show %q:\n%s", name, want, out)
			}
		}
	}
}
