package stats

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/lastmile/lastmile/server/respond"
)

// Row is one result row: column name → value (string, int64, float64,
// bool or nil).
type Row map[string]any

// Result is the response of every statistics endpoint. The JSON shape is
// stable: {"definition", "parameters", "columns", "groups", "total",
// "uncovered"}. Columns lists the keys of a group row in display order (the
// CSV header).
type Result struct {
	Definition string         `json:"definition"`
	Parameters map[string]any `json:"parameters"`
	// Method (coverage, RAI) states how distances were measured: method,
	// metric and, for travel time, the speeds in force.
	Method  map[string]any `json:"method,omitempty"`
	Columns []string       `json:"columns"`
	Groups  []Row          `json:"groups"`
	Total   Row            `json:"total,omitempty"`
	// Uncovered lists targets not covered (coverage with list=uncovered).
	Uncovered        []Row    `json:"uncovered,omitempty"`
	UncoveredColumns []string `json:"uncovered_columns,omitempty"`
}

// Format is an output format with its options.
type Format struct {
	CSV bool // CSV instead of JSON
	BOM bool // a UTF-8 byte-order mark before the CSV, for Excel
	// List writes the uncovered list instead of the groups (CSV only).
	List bool
}

// CSVTable returns the header and rows that the CSV form of res holds: the
// groups followed by a total row, or the uncovered list.
func (res *Result) CSVTable(list bool) ([]string, [][]string) {
	cols, rows := res.Columns, res.Groups
	if list {
		cols, rows = res.UncoveredColumns, res.Uncovered
	}
	var out [][]string
	for _, r := range rows {
		out = append(out, cells(cols, r))
	}
	if !list && res.Total != nil {
		t := Row{}
		for k, v := range res.Total {
			t[k] = v
		}
		if len(cols) > 0 {
			if _, ok := t[cols[0]]; !ok || t[cols[0]] == nil {
				t[cols[0]] = "total"
			}
		}
		out = append(out, cells(cols, t))
	}
	return cols, out
}

func cells(cols []string, r Row) []string {
	c := make([]string, len(cols))
	for i, k := range cols {
		c[i] = Cell(r[k])
	}
	return c
}

// Cell renders one value for CSV and tables: numbers without exponent,
// nil as empty.
func Cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return ""
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case time.Time:
		return x.Format(time.DateOnly)
	}
	return fmt.Sprint(v)
}

// WriteCSV writes a header row and rows as RFC 4180 CSV, with a UTF-8 BOM
// first when bom is set (Excel then reads the Chinese names right). Cells
// that a spreadsheet would run as a formula are neutralised
// (respond.CSVWriter). `lastmile stats --csv` writes with it too.
func WriteCSV(w io.Writer, header []string, rows [][]string, bom bool) error {
	if bom {
		if _, err := io.WriteString(w, "\ufeff"); err != nil {
			return err
		}
	}
	cw := respond.NewCSVWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(header); err != nil {
		return err
	}
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	return cw.Error()
}

// Write sends res as JSON, or as CSV (text/csv, with a file name) when
// f.CSV is set.
func Write(w http.ResponseWriter, res *Result, f Format, name string) error {
	if !f.CSV {
		respond.JSON(w, http.StatusOK, res)
		return nil
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name+".csv"))
	header, rows := res.CSVTable(f.List)
	return WriteCSV(w, header, rows, f.BOM)
}

// readFormat reads format=json|csv, bom and (for coverage) list.
func readFormat(q *statsQuery) Format {
	var f Format
	f.CSV = q.enum("format", "json", "json", "csv") == "csv"
	f.BOM = q.boolean("bom", false)
	return f
}

// percent returns 100·part/whole rounded to 0.1, or nil when whole is 0.
func percent(part, whole float64) any {
	if whole == 0 {
		return nil
	}
	return math.Round(1000*part/whole) / 10
}

// roundTo2 rounds to 0.01.
func roundTo2(x float64) float64 { return math.Round(x*100) / 100 }
