package stats

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/cql2"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgsql"
)

// statsQuery reads and checks URL query parameters, collecting every problem
// instead of stopping at the first. Each accessor marks its parameter as
// known; unknown parameters are reported by finish.
type statsQuery struct {
	v        url.Values
	known    map[string]bool
	problems lastmile.Problems
	echo     map[string]any // the parameters as understood, echoed in responses
}

func newStatsQuery(v url.Values) *statsQuery {
	return &statsQuery{v: v, known: map[string]bool{}, echo: map[string]any{}}
}

func (q *statsQuery) problem(field, value, format string, args ...any) {
	q.problems.Add(field, value, format, args...)
}

// raw returns the single value of name ("" when absent); a repeated
// parameter is a problem.
func (q *statsQuery) raw(name string) string {
	q.known[name] = true
	vs := q.v[name]
	if len(vs) > 1 {
		q.problem(name, strings.Join(vs, "&"), "is given %d times; give it once", len(vs))
	}
	if len(vs) == 0 {
		return ""
	}
	return strings.TrimSpace(vs[0])
}

// multi returns every value of a repeatable parameter (each may also hold
// several terms separated by ';', sent as %3B), echoed joined by ';'.
func (q *statsQuery) multi(name, def string) []string {
	q.known[name] = true
	var out []string
	for _, v := range q.v[name] {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	if len(out) == 0 && def != "" {
		out = []string{def}
	}
	if len(out) > 0 {
		q.echo[name] = strings.Join(out, ";")
	}
	return out
}

// enum returns name's value, which must be one of allowed.
func (q *statsQuery) enum(name, def string, allowed ...string) string {
	s := q.raw(name)
	if s == "" {
		s = def
	}
	if s != "" && !slices.Contains(allowed, s) {
		q.problem(name, s, "must be one of %s", strings.Join(allowed, ", "))
		return def
	}
	if s != "" {
		q.echo[name] = s
	}
	return s
}

// float returns a finite number in [min, max].
func (q *statsQuery) float(name string, def, min, max float64) float64 {
	s := q.raw(name)
	if s == "" {
		q.echo[name] = def
		return def
	}
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil || math.IsNaN(f) || math.IsInf(f, 0):
		q.problem(name, s, "must be a number")
	case f < min:
		q.problem(name, s, "must be at least %g", min)
	case f > max:
		q.problem(name, s, "must be at most %g", max)
	default:
		q.echo[name] = f
		return f
	}
	return def
}

// date returns a YYYY-MM-DD date, or nil when absent.
func (q *statsQuery) date(name string) *time.Time {
	s := q.raw(name)
	if s == "" {
		return nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		q.problem(name, s, "must be a date YYYY-MM-DD")
		return nil
	}
	q.echo[name] = s
	return &d
}

// boolean returns true/false (also 1/0).
func (q *statsQuery) boolean(name string, def bool) bool {
	s := q.raw(name)
	if s == "" {
		return def
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		q.problem(name, s, "must be true or false")
		return def
	}
	q.echo[name] = b
	return b
}

// list returns a comma-separated list, each value one of allowed, without
// repeats.
func (q *statsQuery) list(name string, def []string, allowed ...string) []string {
	s := q.raw(name)
	if s == "" {
		if len(def) > 0 {
			q.echo[name] = strings.Join(def, ",")
		}
		return def
	}
	var out []string
	for _, v := range strings.Split(s, ",") {
		v = strings.TrimSpace(v)
		switch {
		case v == "":
			q.problem(name, s, "has an empty item")
		case !slices.Contains(allowed, v):
			q.problem(name, v, "must be one of %s", strings.Join(allowed, ", "))
		case slices.Contains(out, v):
			q.problem(name, v, "is repeated")
		default:
			out = append(out, v)
		}
	}
	q.echo[name] = strings.Join(out, ",")
	return out
}

// layer returns the catalog layer named by parameter name.
func (q *statsQuery) layer(c *layer.Catalog, name, def string, ok func(*layer.Layer) bool, why string) *layer.Layer {
	s := q.raw(name)
	if s == "" {
		s = def
	}
	if s == "" {
		q.problem(name, "", "is required (layers: %s)", strings.Join(c.Names(), ", "))
		return nil
	}
	l, found := c.Layer(s)
	if !found {
		q.problem(name, s, "is not a layer (layers: %s)", strings.Join(c.Names(), ", "))
		return nil
	}
	if ok != nil && !ok(l) {
		var names []string
		for _, l := range c.Layers() {
			if ok(l) {
				names = append(names, l.Name)
			}
		}
		q.problem(name, s, "%s (allowed: %s)", why, strings.Join(names, ", "))
		return nil
	}
	q.echo[name] = s
	return l
}

// finish reports unknown parameters (not in extra and never read) and
// returns every problem as one invalid error.
func (q *statsQuery) finish(extra ...string) error {
	var unknown []string
	for k := range q.v {
		if !q.known[k] && !slices.Contains(extra, k) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		var names []string
		for n := range q.known {
			names = append(names, n)
		}
		sort.Strings(names)
		q.problem(k, "", "is not a parameter of this endpoint (parameters: %s)", strings.Join(names, ", "))
	}
	return q.problems.Err("the statistics request has invalid parameters")
}

// rowFilter is a parsed row filter: a predicate over the layer's table aliased
// as alias, its definitions and whether it constrains status.
type rowFilter struct {
	SQL         []string // predicates, ANDed
	Definitions []layer.Definition
	HasStatus   bool
	Terms       []string // the terms as understood, for the echo
}

func (f rowFilter) where() string {
	if len(f.SQL) == 0 {
		return "true"
	}
	return "(" + strings.Join(f.SQL, " AND ") + ")"
}

// filterOps are the comparison operators of a rowFilter term, longest first.
var filterOps = []string{">=", "<=", ":", ">", "<"}

// parseFilter parses a rowFilter specification: terms separated by ';', each a
// shared definition name (hardened, graded, all_season — roads only),
// field:v1,v2 (any of the values), or field>=v, field<=v, field>v, field<v
// (numbers and dates). Fields and values are checked against the catalog;
// values become SQL parameters.
//
// A value that is not in that form may be a CQL2 text filter over the
// layer's queryables (the grammar of /ogc items and tiles too, so that a
// figure, a map and a page of features share one filter): surface IN
// ('cement','asphalt') AND completed_on < DATE('2016-01-01'). Forms that
// mean the same in both (width_m>=4) are read the same either way.
func parseFilter(param string, specs []string, l *layer.Layer, alias string, a *pgsql.Args) (rowFilter, []lastmile.Problem) {
	var f rowFilter
	var problems lastmile.Problems
	for _, spec := range specs {
		mark := len(*a)
		old, p := parseTerms(param, spec, l, alias, a)
		if len(p) > 0 {
			*a = (*a)[:mark] // the failed terms' parameters
			sql, hasStatus, cqlProblem := parseCQL(param, spec, l, alias, a)
			if cqlProblem == nil {
				f.SQL = append(f.SQL, sql)
				f.HasStatus = f.HasStatus || hasStatus
				f.Terms = append(f.Terms, spec)
				continue
			}
			if looksLikeCQL(spec) {
				p = []lastmile.Problem{*cqlProblem}
			}
			problems.Append(p...)
			continue
		}
		f.SQL = append(f.SQL, old.SQL...)
		f.Definitions = append(f.Definitions, old.Definitions...)
		f.HasStatus = f.HasStatus || old.HasStatus
		f.Terms = append(f.Terms, old.Terms...)
	}
	return f, problems.List
}

// parseCQL compiles a CQL2 text filter over l's queryables (table alias
// alias), reporting whether it reads status.
func parseCQL(param, spec string, l *layer.Layer, alias string, a *pgsql.Args) (string, bool, *lastmile.Problem) {
	e, err := cql2.ParseText(spec)
	if err == nil {
		var sql string
		if sql, err = cql2.Compile(e, cql2.LayerQueryables(l, alias), a.Add); err == nil {
			return sql, slices.Contains(cql2.Properties(e), "status"), nil
		}
	}
	msg := err.Error()
	var syn *cql2.SyntaxError
	var lerr *lastmile.Error
	switch {
	case errors.As(err, &syn):
		msg = fmt.Sprintf("syntax error at character %d: %s", syn.Pos, syn.Msg)
	case errors.As(err, &lerr) && len(lerr.Details) > 0:
		msg = lerr.Details[0].Message
	}
	return "", false, &lastmile.Problem{Field: param, Value: lastmile.Clip(spec), Message: "as CQL2: " + msg}
}

// looksLikeCQL reports whether a filter that is not in the term form was
// meant as CQL2 (its problem is then the CQL2 one).
func looksLikeCQL(spec string) bool {
	if strings.ContainsAny(spec, "'\"()") {
		return true
	}
	u := " " + strings.ToUpper(spec) + " "
	for _, kw := range []string{" AND ", " OR ", " NOT ", " IN ", " LIKE ", " BETWEEN ", " IS ", "<>"} {
		if strings.Contains(u, kw) {
			return true
		}
	}
	return strings.Contains(strings.NewReplacer(">=", "", "<=", "").Replace(spec), "=")
}

// parseTerms parses one value of the term form: terms separated by ';'.
func parseTerms(param string, spec string, l *layer.Layer, alias string, a *pgsql.Args) (rowFilter, []lastmile.Problem) {
	var f rowFilter
	var problems lastmile.Problems
	bad := func(term, format string, x ...any) { problems.Add(param, term, format, x...) }
	// valueBad reports a value of name that layer's parser refused, in the
	// term it came in: "surface: must be one of … (got "gold")".
	valueBad := func(term, name string, err error) {
		var p lastmile.Problem
		if !errors.As(err, &p) {
			p.Message = err.Error()
		}
		p.Field = ""
		bad(term, "%s: %s", name, p)
	}
	for _, term := range strings.Split(spec, ";") {
		term = strings.TrimSpace(term)
		if term == "" {
			continue
		}
		if d, ok := layer.Definitions()[term]; ok {
			if _, hasSurface := l.Field("surface"); !hasSurface {
				bad(term, "the definition %s applies to roads, not %s", term, l.Name)
				continue
			}
			f.SQL = append(f.SQL, d.SQL(alias))
			f.Definitions = append(f.Definitions, d)
			f.Terms = append(f.Terms, term)
			continue
		}
		var name, op, value string
		for _, o := range filterOps {
			if i := strings.Index(term, o); i > 0 {
				name, op, value = strings.TrimSpace(term[:i]), o, strings.TrimSpace(term[i+len(o):])
				break
			}
		}
		if op == "" {
			bad(term, "must be a definition (%s) or field:value[,value…], field>=value, field<=value, field>value, field<value", strings.Join(definitionNames(), ", "))
			continue
		}
		fd, ok := l.Field(name)
		if !ok || !fd.Filterable() {
			bad(term, "%q is not a filterable field of %s (fields: %s)", name, l.Name, strings.Join(l.FilterableFields(), ", "))
			continue
		}
		if op == ":" {
			vals, err := fd.ParseList(value)
			if err != nil {
				valueBad(term, name, err)
				continue
			}
			f.SQL = append(f.SQL, fmt.Sprintf("%s = ANY(%s::%s[])", pgsql.Col(alias, fd.Name), a.Add(vals), sqlScalarType(fd)))
		} else {
			switch fd.Type {
			case layer.Integer, layer.Number, layer.Money, layer.Date:
			default:
				bad(term, "%s is a %s field: only ':' applies", name, fd.Type)
				continue
			}
			v, err := fd.ParseValue(value)
			if err != nil {
				valueBad(term, name, err)
				continue
			}
			f.SQL = append(f.SQL, fmt.Sprintf("%s %s %s::%s", pgsql.Col(alias, fd.Name), op, a.Add(v), sqlScalarType(fd)))
		}
		if name == "status" {
			f.HasStatus = true
		}
		f.Terms = append(f.Terms, name+op+value)
	}
	return f, problems.List
}

func definitionNames() []string {
	var n []string
	for k := range layer.Definitions() {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

func sqlScalarType(f layer.Field) string {
	switch f.Type {
	case layer.Integer:
		return "bigint"
	case layer.Number, layer.Money:
		return "float8"
	case layer.Date:
		return "date"
	case layer.Boolean:
		return "boolean"
	}
	return "text"
}
