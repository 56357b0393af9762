package cql2

import (
	"strings"
	"time"
)

// Filter is a parsed filter checked against the queryables it was compiled
// for. Its SQL can be generated any number of times, with the placeholders
// of the statement it joins, and never fails.
type Filter struct {
	expr Expr
	q    *Queryables
}

// NewFilter checks e against q (every property a queryable, every value of
// its type) and returns the bound filter.
func NewFilter(e Expr, q *Queryables) (*Filter, error) {
	if _, err := Compile(e, q, func(any) string { return "$1" }); err != nil {
		return nil, err
	}
	return &Filter{expr: e, q: q}, nil
}

// Expr returns the parsed filter.
func (f *Filter) Expr() Expr { return f.expr }

// SQL returns the condition, adding its values through arg.
func (f *Filter) SQL(arg func(any) string) string {
	s, err := Compile(f.expr, f.q, arg)
	if err != nil { // checked by NewFilter
		panic("cql2: Filter.SQL: " + err.Error())
	}
	return s
}

// Properties returns the distinct property names the filter reads, in
// first-use order ("geom" and "geometry" both count as "geometry").
func Properties(e Expr) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(Expr)
	walk = func(e Expr) {
		switch e := e.(type) {
		case Property:
			n := e.Name
			if n == "geom" {
				n = "geometry"
			}
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		case Logical:
			for _, a := range e.Args {
				walk(a)
			}
		case Not:
			walk(e.Arg)
		case Compare:
			walk(e.Left)
			walk(e.Right)
		case Like:
			walk(e.Arg)
			walk(e.Pattern)
		case Between:
			walk(e.Arg)
			walk(e.Lo)
			walk(e.Hi)
		case In:
			walk(e.Arg)
			for _, a := range e.List {
				walk(a)
			}
		case IsNull:
			walk(e.Arg)
		case Spatial:
			walk(e.Left)
			walk(e.Right)
		}
	}
	walk(e)
	return out
}

// Has reports whether name is one of the queryables.
func (q *Queryables) Has(name string) bool { _, ok := q.cols[name]; return ok }

// Column returns the queryable's column.
func (q *Queryables) Column(name string) (Column, bool) { c, ok := q.cols[name]; return c, ok }

// parseDateString reads a date written as a string: "2015-01-01", or the
// form GDAL's OAPIF driver writes for a date without a time,
// "2015-01-01T" (also "2015-01-01T00:00:00" without a zone, read as UTC).
func parseDateString(s string) (time.Time, bool) {
	if d, err := time.Parse("2006-01-02", strings.TrimSuffix(s, "T")); err == nil {
		return d, true
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02T15"} {
		if t, err := time.Parse(layout, s); err == nil && t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 {
			return t, true
		}
	}
	return time.Time{}, false
}
