package respond

import (
	"encoding/csv"
	"io"
	"regexp"
)

// CSVWriter is encoding/csv's writer with every cell neutralised against
// spreadsheet formula injection (OWASP "CSV Injection"): a cell that starts
// with =, +, -, @, a tab or a carriage return gets a leading apostrophe, so
// Excel, LibreOffice and Google Sheets show it as text instead of running
// it (`=HYPERLINK("http://x","a")` → `'=HYPERLINK("http://x","a")`). A
// plain number (-12.5, -3e-7) is left alone: it cannot hold a formula, and
// numeric columns stay numbers.
type CSVWriter struct {
	*csv.Writer
	cells []string
}

// NewCSVWriter returns a neutralising CSV writer on w.
func NewCSVWriter(w io.Writer) *CSVWriter { return &CSVWriter{Writer: csv.NewWriter(w)} }

// Write writes one record, each cell through CSVCell.
func (w *CSVWriter) Write(record []string) error {
	w.cells = w.cells[:0]
	for _, c := range record {
		w.cells = append(w.cells, CSVCell(c))
	}
	return w.Writer.Write(w.cells)
}

// WriteAll writes records with Write and flushes.
func (w *CSVWriter) WriteAll(records [][]string) error {
	for _, r := range records {
		if err := w.Write(r); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}

// plainNumber is a decimal number as the CSV writers format them.
var plainNumber = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)

// CSVCell returns s safe to open in a spreadsheet (see CSVWriter).
func CSVCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		if s[0] == '-' && plainNumber.MatchString(s) {
			return s
		}
		return "'" + s
	}
	return s
}
