package ingest

import (
	"fmt"
	"strings"

	"github.com/lastmile/lastmile"
)

// LayerReport counts what an import did to one layer from one file.
type LayerReport struct {
	Source    string  `json:"source"`
	Layer     string  `json:"layer"`
	Read      int     `json:"read"`
	Inserted  int     `json:"inserted"`
	Updated   int     `json:"updated"`
	Unchanged int     `json:"unchanged"`
	Rejected  int     `json:"rejected"`
	Repaired  int     `json:"repaired"`
	KM        float64 `json:"km,omitempty"` // geodesic km of the imported lines, from PostGIS
	// Encoding is the text encoding of the attributes and how it was
	// chosen (given, from the .cpg, detected), when the format has one.
	Encoding string `json:"encoding,omitempty"`
	// CRS is the coordinate system of the file's coordinates and where
	// it came from.
	CRS string `json:"crs,omitempty"`
	// Columns tells, on a dry run, what each column of the file became.
	Columns []ColumnReport `json:"columns,omitempty"`
	// Sample holds, on a dry run, the first rows as they would be stored.
	Sample []map[string]any `json:"sample,omitempty"`
}

// ColumnReport tells what became of one column (attribute) of a file.
type ColumnReport struct {
	Column string `json:"column"`
	// Field is the layer's field the column fills, "geometry …" for a
	// geometry column, "props" for a column kept in props, or "(empty)"
	// for one without a value.
	Field string `json:"field"`
}

// Report is the outcome of an import.
type Report struct {
	Committed bool               `json:"committed"`
	DryRun    bool               `json:"dry_run,omitempty"`
	Layers    []*LayerReport     `json:"layers"`
	Problems  []lastmile.Problem `json:"problems,omitempty"`         // up to lastmile.MaxProblems
	Omitted   int                `json:"problems_omitted,omitempty"` // the problems beyond
	Warnings  []string           `json:"warnings,omitempty"`
	Seconds   float64            `json:"seconds"`
	multi     bool               // several files: problems name theirs
	direct    bool               // a layer was copied straight into its table
}

// Rejected returns the number of rejected rows over all layers.
func (r *Report) Rejected() int {
	n := 0
	for _, l := range r.Layers {
		n += l.Rejected
	}
	return n
}

// addProblems records the problems of source through the one collector
// (lastmile.Problems: its cap, its clipping); Problems and Omitted are its
// fields as the report's JSON names them.
func (r *Report) addProblems(source string, ps []lastmile.Problem) {
	c := lastmile.Problems{List: r.Problems, Omitted: r.Omitted}
	for _, p := range ps {
		if r.multi && source != "" {
			p.Message = source + ": " + p.Message
		}
		c.Append(p)
	}
	r.Problems, r.Omitted = c.List, c.Omitted
}

// rowList shows up to 10 row numbers.
func rowList(rows []int) string {
	var b strings.Builder
	b.WriteString("row")
	if len(rows) > 1 {
		b.WriteString("s")
	}
	for i, r := range rows {
		if i == 10 {
			fmt.Fprintf(&b, " … %d in all", len(rows))
			break
		}
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " %d", r)
	}
	return b.String()
}
