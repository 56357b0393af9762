package ingest

import (
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/lastmile/lastmile"
)

// spreadsheetDrivers are GDAL's spreadsheet drivers by extension and the
// prefix of their configuration options (OGR_XLSX_HEADERS, …).
var spreadsheetDrivers = map[string]string{".xlsx": "XLSX", ".xlsm": "XLSX", ".ods": "ODS", ".xls": "XLS"}

func isSpreadsheet(path string) bool {
	_, ok := spreadsheetDrivers[strings.ToLower(filepath.Ext(path))]
	return ok
}

// headerSearch is how many rows of a sheet may come before its header.
const headerSearch = 20

// sheetReader reads one sheet of a spreadsheet (.xlsx, .ods, .xls)
// through GDAL, every cell as text and no row taken as the header, then
// finds the header row itself — the first of the first 20 rows that names
// the geometry columns, so that a title row above it is skipped — and
// reads the rows below it as CSV rows (parseCSVRow): the same geometry
// columns, coordinate forms and attribute mapping. Rows are numbered as
// the spreadsheet numbers them.
type sheetReader struct {
	g                       *gdalReader
	header                  []string
	geomCol, lonCol, latCol int
	warnings                []string
}

func newSheetReader(path, name string, opt ReadOptions) (Reader, io.Closer, error) {
	driver := spreadsheetDrivers[strings.ToLower(filepath.Ext(path))]
	sheets, err := sheetNames(path)
	if err != nil {
		return nil, nil, lastmile.Invalid("GDAL cannot read the file", lastmile.Problem{Field: "file", Value: name,
			Message: "GDAL finds no sheet in it (a damaged or password-protected workbook?)"})
	}
	sheet := opt.Sheet
	var warnings []string
	switch {
	case sheet != "" && !containsFold(sheets, &sheet):
		return nil, nil, lastmile.Invalid("no such sheet", lastmile.Problem{Field: "sheet", Value: opt.Sheet,
			Message: fmt.Sprintf("is not a sheet of %s (sheets: %s)", name, strings.Join(sheets, ", "))})
	case sheet == "" && len(sheets) == 0:
		return nil, nil, lastmile.Invalid("the workbook is empty", lastmile.Problem{Field: "file", Value: name, Message: "has no sheet with data"})
	case sheet == "":
		sheet = sheets[0]
		if len(sheets) > 1 {
			warnings = append(warnings, fmt.Sprintf("the workbook has %d sheets (%s): the first, %s, was read; choose another with sheet",
				len(sheets), strings.Join(sheets, ", "), sheet))
		}
	}
	g := &gdalReader{path: name, names: strings.NewReplacer(path, name), file: path, layer: sheet,
		args: []string{"-f", "GeoJSONSeq", "/vsistdout/", "-preserve_fid",
			"--config", "OGR_" + driver + "_HEADERS", "DISABLE", "--config", "OGR_" + driver + "_FIELD_TYPES", "STRING"}}
	if err := g.start(); err != nil {
		return nil, nil, err
	}
	s := &sheetReader{g: g, warnings: warnings}
	if err := s.findHeader(opt.CSV, sheet); err != nil {
		g.Close()
		return nil, nil, err
	}
	return s, g, nil
}

// sheetNames lists the sheets GDAL finds in a workbook (it leaves out
// empty ones).
func sheetNames(path string) ([]string, error) {
	out, err := exec.Command("ogrinfo", "-ro", "-q", path).Output()
	if err != nil {
		return nil, err
	}
	var names []string
	for line := range strings.SplitSeq(string(out), "\n") {
		// "1: 村庄名单 (None)"
		_, rest, ok := strings.Cut(strings.TrimSpace(line), ": ")
		if !ok {
			continue
		}
		if i := strings.LastIndex(rest, " ("); i >= 0 {
			rest = rest[:i]
		}
		names = append(names, rest)
	}
	return names, nil
}

func containsFold(list []string, s *string) bool {
	for _, v := range list {
		if strings.EqualFold(strings.TrimSpace(v), strings.TrimSpace(*s)) {
			*s = v
			return true
		}
	}
	return false
}

// cells returns the cells of a row as GDAL gives them (Field1, Field2, …),
// at least n of them.
func cells(rec *Record, n int) []string {
	width := n
	for k := range rec.Props {
		if i, ok := fieldIndex(k); ok && i >= width {
			width = i + 1
		}
	}
	out := make([]string, width)
	for k, v := range rec.Props {
		if i, ok := fieldIndex(k); ok {
			if s, ok := v.(string); ok {
				out[i] = s
			} else if v != nil {
				out[i] = fmt.Sprint(v)
			}
		}
	}
	return out
}

// fieldIndex parses GDAL's FieldN (1-based) into a 0-based column.
func fieldIndex(k string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimPrefix(k, "Field"))
	if err != nil || n < 1 || !strings.HasPrefix(k, "Field") {
		return 0, false
	}
	return n - 1, true
}

func rowNumber(rec *Record) int {
	if n, err := strconv.Atoi(rec.ExtID); err == nil {
		return n
	}
	return rec.Row
}

func blank(cs []string) bool { return filled(cs) == 0 }

// filled counts the cells that are not blank.
func filled(cs []string) int {
	n := 0
	for _, c := range cs {
		if strings.TrimSpace(c) != "" {
			n++
		}
	}
	return n
}

// findHeader reads rows until one names the geometry columns.
func (s *sheetReader) findHeader(opt CSVOptions, sheet string) error {
	var first []string
	var firstErr error
	firstFilled := 0
	var skipped []int
	for n := 0; n < headerSearch; n++ {
		rec, err := s.g.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		cs := cells(rec, 0)
		if blank(cs) {
			continue
		}
		header := make([]string, len(cs))
		for i, c := range cs {
			header[i] = strings.TrimSpace(c)
			if header[i] == "" {
				header[i] = columnLetter(i)
			}
		}
		g, lon, lat, err := geometryColumns(header, opt, "the header row of sheet "+sheet)
		if err == nil {
			s.header, s.geomCol, s.lonCol, s.latCol = header, g, lon, lat
			if len(skipped) > 0 {
				s.warnings = append(s.warnings, fmt.Sprintf("%s above the header (row %d) skipped as a title", rowList(skipped), rowNumber(rec)))
			}
			return nil
		}
		if n := filled(cs); first == nil || n > firstFilled {
			// the fullest row is the likeliest header: its error is the one reported
			first, firstErr, firstFilled = header, err, n
		}
		skipped = append(skipped, rowNumber(rec))
	}
	if first == nil {
		return fileError(0, "sheet %s has no rows", sheet)
	}
	return firstErr
}

// columnLetter is a spreadsheet's name of column i (0 → A, 26 → AA).
func columnLetter(i int) string {
	s := ""
	for i++; i > 0; i = (i - 1) / 26 {
		s = string(rune('A'+(i-1)%26)) + s
	}
	return s
}

func (s *sheetReader) Next() (*Record, error) {
	for {
		rec, err := s.g.Next()
		if err != nil {
			return nil, err
		}
		cs := cells(rec, len(s.header))
		if blank(cs) {
			continue // the empty rows at the end of a sheet
		}
		row := rowNumber(rec)
		if len(cs) > len(s.header) {
			if !blank(cs[len(s.header):]) {
				out := parseCSVRow(row, s.header, cs[:len(s.header)], s.geomCol, s.lonCol, s.latCol)
				out.Warnings = append(out.Warnings, "cells right of the header's last column ignored")
				return out, nil
			}
			cs = cs[:len(s.header)]
		}
		return parseCSVRow(row, s.header, cs, s.geomCol, s.lonCol, s.latCol), nil
	}
}

// Columns returns the header, in order.
func (s *sheetReader) Columns() []string { return s.header }

// GeometryColumns names the columns the geometry is read from.
func (s *sheetReader) GeometryColumns() []ColumnReport {
	return geometryReport(s.header, s.geomCol, s.lonCol, s.latCol)
}

// Warnings are the reader's notes for the report.
func (s *sheetReader) Warnings() []string {
	w := append(append([]string(nil), s.warnings...), s.g.warnings...)
	sort.Strings(w)
	return w
}
