package tiles

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lastmile/lastmile"
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
	return strconv.FormatFloat(f.Number, 'g', -1, 64)
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

// filterable reports whether a field can be filtered on at all.
func filterable(f layer.Field) bool {
	if f.ReadOnly {
		return false
	}
	switch f.Type {
	case layer.Enum, layer.Boolean, layer.Date, layer.Integer, layer.Number, layer.Money:
		return true
	}
	return false
}

// filterParam is what a query parameter may name.
type filterParam struct {
	field string
	op    string
	typ   layer.FieldType
	enum  []string // union of the enum values over the layers
}

// filterParams returns the filter parameters the layers accept, keyed by
// parameter name: for an enum field its name (a comma list), for a boolean
// its name, for a date field name_on the parameters name_before and
// name_after, for a numeric field name_min and name_max.
func filterParams(layers []*layer.Layer) map[string]filterParam {
	out := map[string]filterParam{}
	add := func(name string, p filterParam) {
		if old, ok := out[name]; ok {
			if old.typ != p.typ || old.field != p.field {
				return // the first layer's meaning wins; never happens in the catalog
			}
			for _, v := range p.enum {
				if !slices.Contains(old.enum, v) {
					old.enum = append(old.enum, v)
				}
			}
			out[name] = old
			return
		}
		p.enum = slices.Clone(p.enum)
		out[name] = p
	}
	for _, l := range layers {
		for _, f := range l.Fields {
			if !filterable(f) {
				continue
			}
			switch f.Type {
			case layer.Enum:
				add(f.Name, filterParam{field: f.Name, op: OpIn, typ: f.Type, enum: f.Enum})
			case layer.Boolean:
				add(f.Name, filterParam{field: f.Name, op: OpIs, typ: f.Type})
			case layer.Date:
				base := strings.TrimSuffix(f.Name, "_on")
				add(base+"_before", filterParam{field: f.Name, op: OpBefore, typ: f.Type})
				add(base+"_after", filterParam{field: f.Name, op: OpAfter, typ: f.Type})
			default:
				add(f.Name+"_min", filterParam{field: f.Name, op: OpMin, typ: f.Type})
				add(f.Name+"_max", filterParam{field: f.Name, op: OpMax, typ: f.Type})
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
		problems []lastmile.Problem
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
		p, ok := accepted[name]
		if name == "" {
			problems = append(problems, lastmile.Problem{Field: "query", Message: "has a parameter without a name"})
			continue
		}
		if !ok {
			problems = append(problems, lastmile.Problem{Field: name, Message: fmt.Sprintf(
				"unknown filter for layer(s) %s (accepted: %s)", strings.Join(layerNames, ","), strings.Join(sortedKeys(accepted), ", "))})
			continue
		}
		f := Filter{Param: name, Field: p.field, Op: p.op}
		bad := func(v, msg string) {
			problems = append(problems, lastmile.Problem{Field: name, Value: lastmile.Clip(v), Message: msg})
		}
		if p.op != OpIn && len(values) > 1 {
			bad(strings.Join(values, ","), "is given more than once")
			continue
		}
		v := values[0]
		if len(v) > maxFilterValueLen {
			bad(v, fmt.Sprintf("is longer than %d characters", maxFilterValueLen))
			continue
		}
		switch p.op {
		case OpIn:
			ok := true
			for _, raw := range values {
				if len(raw) > maxFilterValueLen {
					bad(raw, fmt.Sprintf("is longer than %d characters", maxFilterValueLen))
					ok = false
					break
				}
				for _, item := range strings.Split(raw, ",") {
					item = strings.TrimSpace(item)
					switch {
					case item == "":
						bad(raw, "has an empty value; give a comma-separated list of "+strings.Join(p.enum, ", "))
						ok = false
					case !slices.Contains(p.enum, item):
						bad(item, "must be one of "+strings.Join(p.enum, ", "))
						ok = false
					case !slices.Contains(f.Values, item):
						f.Values = append(f.Values, item)
					}
				}
			}
			if !ok {
				continue
			}
			sort.Strings(f.Values)
		case OpIs:
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				bad(v, "must be true or false")
				continue
			}
			f.Bool = b
		case OpBefore, OpAfter:
			d, err := time.Parse(time.DateOnly, strings.TrimSpace(v))
			if err != nil {
				bad(v, "must be a date YYYY-MM-DD")
				continue
			}
			f.Date = d
		case OpMin, OpMax:
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
				bad(v, "must be a number")
				continue
			}
			f.Number = n
		}
		out = append(out, f)
	}
	problems = append(problems, emptyRanges(out)...)
	if len(problems) > 0 {
		return nil, lastmile.Invalid("invalid tile filter", problems...)
	}
	return out, nil
}

// emptyRanges reports min > max and after >= before pairs on one field.
func emptyRanges(fs Filters) []lastmile.Problem {
	var problems []lastmile.Problem
	for _, lo := range fs {
		for _, hi := range fs {
			if lo.Field != hi.Field {
				continue
			}
			switch {
			case lo.Op == OpMin && hi.Op == OpMax && lo.Number > hi.Number:
				problems = append(problems, lastmile.Problem{Field: lo.Param,
					Message: fmt.Sprintf("is greater than %s, so nothing can match", hi.Param)})
			case lo.Op == OpAfter && hi.Op == OpBefore && !lo.Date.Before(hi.Date):
				problems = append(problems, lastmile.Problem{Field: lo.Param,
					Message: fmt.Sprintf("must be earlier than %s (after is inclusive, before exclusive)", hi.Param)})
			}
		}
	}
	return problems
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
