package tiles

import (
	"errors"
	"fmt"
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

// Filter operators.
const (
	OpIn     = "in"     // field = one of Values (enum fields)
	OpIs     = "is"     // field = Bool (boolean fields)
	OpBefore = "before" // date field < Date
	OpAfter  = "after"  // date field >= Date
	OpMin    = "min"    // numeric field >= Number
	OpMax    = "max"    // numeric field <= Number
	OpCQL    = "cql"    // a CQL2 filter (filter=, filter-lang=)
)

// Filter is one validated condition on a catalog field, parsed from a query
// parameter: status=completed,planned (OpIn), is_poor_village=true (OpIs),
// completed_before=2016-01-01 (OpBefore), completed_after=2015-01-01
// (OpAfter), width_m_min=4.5 (OpMin), width_m_max=6 (OpMax).
type Filter struct {
	Param  string    // the query parameter, e.g. "completed_before"
	Field  string    // the catalog field, e.g. "completed_on"
	Op     string    // one of the Op constants
	Values []string  // OpIn: the values, sorted and distinct
	Bool   bool      // OpIs
	Date   time.Time // OpBefore, OpAfter (UTC midnight)
	Number float64   // OpMin, OpMax
	CQL    *CQL      // OpCQL
	typ    layer.FieldType
}

// CQL is a CQL2 filter of a tile request: it applies to the layers whose
// queryables include every property it reads, and leaves the others
// unfiltered.
type CQL struct {
	Text  string // as given
	JSON  bool   // filter-lang=cql2-json
	expr  cql2.Expr
	props []string
}

// appliesTo reports whether every property of the filter is a queryable of l.
func (c *CQL) appliesTo(l *layer.Layer) bool {
	q := cql2.LayerQueryables(l, "")
	for _, p := range c.props {
		if !q.Has(p) {
			return false
		}
	}
	return true
}

// value returns the canonical text of the filter's value.
func (f Filter) value() string {
	switch f.Op {
	case OpIn:
		return strings.Join(f.Values, ",")
	case OpIs:
		return strconv.FormatBool(f.Bool)
	case OpBefore, OpAfter:
		return f.Date.Format(time.DateOnly)
	}
	if f.typ == layer.Integer {
		return layer.FormatValue(int64(f.Number))
	}
	return layer.FormatValue(f.Number)
}

// arg returns the filter's value as a query argument.
func (f Filter) arg() any {
	switch f.Op {
	case OpIn:
		return f.Values
	case OpIs:
		return f.Bool
	case OpBefore, OpAfter:
		return f.Date
	}
	return f.Number
}

// Filters are the validated filters of a request, sorted by parameter.
type Filters []Filter

// String returns the normalised query string ("" for no filters): keys
// sorted, list values sorted and distinct, dates and numbers in canonical
// form. Equal filters give equal strings, so it is part of the cache key.
func (fs Filters) String() string {
	var b strings.Builder
	for i, f := range fs {
		if i > 0 {
			b.WriteByte('&')
		}
		if f.Op == OpCQL {
			b.WriteString("filter=" + url.QueryEscape(f.CQL.Text))
			if f.CQL.JSON {
				b.WriteString("&filter-lang=cql2-json")
			}
			continue
		}
		b.WriteString(url.QueryEscape(f.Param))
		b.WriteByte('=')
		// Commas are kept readable; values never contain one.
		b.WriteString(strings.ReplaceAll(url.QueryEscape(f.value()), "%2C", ","))
	}
	return b.String()
}

// where returns the SQL conditions (each starting with " AND ") the filters
// put on layer l, whose table is aliased alias. Filters on fields l lacks do
// not apply to it. param adds a query argument and returns its placeholder;
// placeholders are shared between layers through params (one per filter,
// allocated on first use).
func (fs Filters) where(l *layer.Layer, alias string, params []string, param func(any) string) string {
	var b strings.Builder
	for i, f := range fs {
		if f.Op == OpCQL {
			if f.CQL.appliesTo(l) {
				sql, err := cql2.Compile(f.CQL.expr, cql2.LayerQueryables(l, alias), param)
				if err != nil { // checked by parseFilters for every layer it applies to
					panic("tiles: CQL filter: " + err.Error())
				}
				b.WriteString(" AND " + sql)
			}
			continue
		}
		if _, ok := l.Field(f.Field); !ok {
			continue
		}
		if params[i] == "" {
			params[i] = param(f.arg())
		}
		col := pgsql.Col(alias, f.Field)
		p := params[i]
		var cond string
		switch f.Op {
		case OpIn:
			cond = pgsql.Cond(col, "= ANY", p+"::text[]")
		case OpIs:
			cond = pgsql.Cond(col, "=", p+"::boolean")
		case OpBefore:
			cond = pgsql.Cond(col, "<", p+"::date")
		case OpAfter:
			cond = pgsql.Cond(col, ">=", p+"::date")
		case OpMin:
			cond = pgsql.Cond(col, ">=", p+"::float8")
		case OpMax:
			cond = pgsql.Cond(col, "<=", p+"::float8")
		}
		b.WriteString(" AND " + cond)
	}
	return b.String()
}

// filterParam is what a query parameter may name.
type filterParam struct {
	field  string
	op     string
	typ    layer.FieldType
	fields []layer.Field // the field as each layer having it declares it (kind's values differ)
	enum   []string      // union of the enum values over the layers
}

// parse reads one value of the parameter with the layers' field (the first
// that accepts it: kind=line,school spans two layers' enums).
func (p filterParam) parse(s string) (any, error) {
	var first error
	for _, f := range p.fields {
		v, err := f.ParseValue(s)
		if err == nil {
			return v, nil
		}
		if first == nil {
			first = err
		}
	}
	if len(p.fields) > 1 && p.typ == layer.Enum {
		return nil, lastmile.Problem{Value: lastmile.Clip(strings.TrimSpace(s)), Message: "must be one of " + strings.Join(p.enum, ", ")}
	}
	return nil, first
}

// filterParams returns the filter parameters the layers accept, keyed by
// parameter name, for their filterable fields (layer.Field.Filterable):
// for an enum or text field its name (a comma list), for a boolean its
// name, for a date field name_on the parameters name_before and
// name_after, for a numeric field name_min and name_max.
func filterParams(layers []*layer.Layer) map[string]filterParam {
	out := map[string]filterParam{}
	add := func(name string, f layer.Field, op string) {
		if old, ok := out[name]; ok {
			if old.typ != f.Type || old.field != f.Name {
				return // the first layer's meaning wins; never happens in the catalog
			}
			for _, v := range f.Enum {
				if !slices.Contains(old.enum, v) {
					old.enum = append(old.enum, v)
				}
			}
			old.fields = append(old.fields, f)
			out[name] = old
			return
		}
		out[name] = filterParam{field: f.Name, op: op, typ: f.Type, fields: []layer.Field{f}, enum: slices.Clone(f.Enum)}
	}
	for _, l := range layers {
		for _, f := range l.Fields {
			if !f.Filterable() {
				continue
			}
			switch f.Type {
			case layer.Enum, layer.Text:
				add(f.Name, f, OpIn)
			case layer.Boolean:
				add(f.Name, f, OpIs)
			case layer.Date:
				base := strings.TrimSuffix(f.Name, "_on")
				add(base+"_before", f, OpBefore)
				add(base+"_after", f, OpAfter)
			default:
				add(f.Name+"_min", f, OpMin)
				add(f.Name+"_max", f, OpMax)
			}
		}
	}
	return out
}

// maxFilterValueLen bounds the text of one parameter value.
const maxFilterValueLen = 1000

// ParseFilters validates the query parameters q against the fields of the
// requested layers and returns them normalised. A parameter must name a
// filter of at least one of the layers (it then applies to the layers that
// have the field); unknown parameters, ill-typed values, unknown enum values
// and empty ranges are reported together in one invalid error.
func ParseFilters(layers []*layer.Layer, q url.Values) (Filters, error) {
	if len(q) == 0 {
		return nil, nil
	}
	return parseFilters(layers, filterParams(layers), q)
}

// parseFilters is ParseFilters with the layers' accepted parameters given.
func parseFilters(layers []*layer.Layer, accepted map[string]filterParam, q url.Values) (Filters, error) {
	var (
		out      Filters
		problems lastmile.Problems
	)
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names)
	layerNames := make([]string, len(layers))
	for i, l := range layers {
		layerNames[i] = l.Name
	}
	for _, name := range names {
		values := q[name]
		if name == "filter" || name == "filter-lang" {
			if name == "filter" {
				f, p := parseCQL(layers, q)
				if p != nil {
					problems.Append(*p)
				} else {
					out = append(out, f)
				}
			} else if _, ok := q["filter"]; !ok {
				problems.Add(name, "", "is given without a filter")
			}
			continue
		}
		p, ok := accepted[name]
		if name == "" {
			problems.Add("query", "", "has a parameter without a name")
			continue
		}
		if !ok {
			problems.Add(name, "", "unknown filter for layer(s) %s (accepted: %s)", strings.Join(layerNames, ","), strings.Join(sortedKeys(accepted), ", "))
			continue
		}
		f := Filter{Param: name, Field: p.field, Op: p.op, typ: p.typ}
		if p.op != OpIn && len(values) > 1 {
			problems.Add(name, strings.Join(values, ","), "is given more than once")
			continue
		}
		if long := slices.IndexFunc(values, func(v string) bool { return len(v) > maxFilterValueLen }); long >= 0 {
			problems.Add(name, values[long], "is longer than %d characters", maxFilterValueLen)
			continue
		}
		if p.op == OpIn {
			ok := true
			for _, raw := range values {
				for _, item := range strings.Split(raw, ",") {
					if strings.TrimSpace(item) == "" {
						problems.Add(name, raw, "has an empty value; separate values with single commas")
						ok = false
						continue
					}
					v, err := p.parse(item)
					if err != nil {
						problems.AddError(name, err)
						ok = false
					} else if !slices.Contains(f.Values, v.(string)) {
						f.Values = append(f.Values, v.(string))
					}
				}
			}
			if !ok {
				continue
			}
			sort.Strings(f.Values)
			out = append(out, f)
			continue
		}
		v, err := p.parse(values[0])
		if err != nil {
			problems.AddError(name, err)
			continue
		}
		switch x := v.(type) {
		case bool:
			f.Bool = x
		case time.Time:
			f.Date = x
		case int64:
			f.Number = float64(x)
		case float64:
			f.Number = x
		}
		out = append(out, f)
	}
	emptyRanges(&problems, out)
	if err := problems.Err("invalid tile filter"); err != nil {
		return nil, err
	}
	return out, nil
}

// parseCQL parses the filter= of a tile request (CQL2 text, or JSON with
// filter-lang=cql2-json) and checks it against every layer whose queryables
// it reads; it must apply to at least one of the layers.
func parseCQL(layers []*layer.Layer, q url.Values) (Filter, *lastmile.Problem) {
	bad := func(field, v, msg string) (Filter, *lastmile.Problem) {
		return Filter{}, &lastmile.Problem{Field: field, Value: lastmile.Clip(v), Message: msg}
	}
	if len(q["filter"]) > 1 || len(q["filter-lang"]) > 1 {
		return bad("filter", strings.Join(q["filter"], "&"), "is given more than once")
	}
	text, lang := q.Get("filter"), q.Get("filter-lang")
	if len(text) > maxCQLLen {
		return bad("filter", text, fmt.Sprintf("is longer than %d characters", maxCQLLen))
	}
	var (
		e   cql2.Expr
		err error
	)
	switch lang {
	case "", "cql2-text", "cql-text":
		e, err = cql2.ParseText(text)
	case "cql2-json":
		e, err = cql2.ParseJSON([]byte(text))
	default:
		return bad("filter-lang", lang, "must be cql2-text (the default) or cql2-json")
	}
	if err != nil {
		return bad("filter", text, cql2Message(err))
	}
	c := &CQL{Text: text, JSON: lang == "cql2-json", expr: e, props: cql2.Properties(e)}
	applied := 0
	for _, l := range layers {
		if !c.appliesTo(l) {
			continue
		}
		applied++
		if _, err := cql2.NewFilter(e, cql2.LayerQueryables(l, "t")); err != nil {
			return bad("filter", text, l.Name+": "+cql2Message(err))
		}
	}
	if applied == 0 {
		return bad("filter", text, fmt.Sprintf("reads %s, which no requested layer has all of (layers: %s)",
			strings.Join(c.props, ", "), layerNames(layers)))
	}
	return Filter{Param: "filter", Op: OpCQL, CQL: c}, nil
}

// maxCQLLen bounds the text of a CQL2 filter.
const maxCQLLen = 8000

// cql2Message is the message of a filter's parse or compile error, with
// the character position of a syntax error.
func cql2Message(err error) string {
	var syn *cql2.SyntaxError
	var lerr *lastmile.Error
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at character %d: %s", syn.Pos, syn.Msg)
	case errors.As(err, &lerr) && len(lerr.Details) > 0:
		return lerr.Details[0].Message
	}
	return err.Error()
}

// emptyRanges reports min > max and after >= before pairs on one field.
func emptyRanges(problems *lastmile.Problems, fs Filters) {
	for _, lo := range fs {
		for _, hi := range fs {
			if lo.Field != hi.Field {
				continue
			}
			switch {
			case lo.Op == OpMin && hi.Op == OpMax && lo.Number > hi.Number:
				problems.Add(lo.Param, "", "is greater than %s, so nothing can match", hi.Param)
			case lo.Op == OpAfter && hi.Op == OpBefore && !lo.Date.Before(hi.Date):
				problems.Add(lo.Param, "", "must be earlier than %s (after is inclusive, before exclusive)", hi.Param)
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
