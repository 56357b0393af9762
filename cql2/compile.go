package cql2

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb/encoding/wkb"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
)

// Kinds of queryable beyond the catalog's field types.
const (
	KindTimestamp = "timestamp" // timestamptz columns (updated_at)
	KindGeometry  = "geometry"  // the layer's geometry
)

// Column is a queryable as the compiler sees it: the SQL expression that
// reads it and its kind (a layer.FieldType, KindTimestamp or KindGeometry).
type Column struct {
	SQL  string
	Kind string
	Enum []string // allowed values of an enum
}

// Queryables resolves a property name to its column.
type Queryables struct {
	cols  map[string]Column
	names []string
}

// LayerQueryables returns the queryables of a catalog layer: every field
// but objects (props), plus "geometry" (alias "geom"), with columns
// qualified by alias when it is not empty.
func LayerQueryables(l *layer.Layer, alias string) *Queryables {
	q := &Queryables{cols: map[string]Column{}}
	col := func(name string) string {
		if alias == "" {
			return pgx.Identifier{name}.Sanitize()
		}
		return pgx.Identifier{alias, name}.Sanitize()
	}
	for _, f := range l.Fields {
		if f.Type == layer.Object {
			continue
		}
		kind := string(f.Type)
		if f.Name == "updated_at" {
			kind = KindTimestamp
		}
		q.cols[f.Name] = Column{SQL: col(f.Name), Kind: kind, Enum: f.Enum}
		q.names = append(q.names, f.Name)
	}
	q.cols["id"] = Column{SQL: col("id"), Kind: string(layer.Integer)}
	q.cols["geometry"] = Column{SQL: col("geom"), Kind: KindGeometry}
	q.cols["geom"] = q.cols["geometry"]
	q.names = append(q.names, "id", "geometry")
	return q
}

// Names returns the queryable names in declaration order.
func (q *Queryables) Names() []string { return q.names }

// Compile turns a parsed filter into a SQL boolean expression over the
// queryables. Every value becomes a parameter through arg, which returns
// its placeholder ("$3"). Errors are lastmile EINVALID errors naming the
// property or value at fault.
func Compile(e Expr, q *Queryables, arg func(any) string) (string, error) {
	c := compiler{q: q, arg: arg}
	return c.bool(e)
}

type compiler struct {
	q   *Queryables
	arg func(any) string
}

func invalid(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return lastmile.Invalid("the filter is invalid", lastmile.Problem{Field: "filter", Message: msg})
}

func (c *compiler) prop(p Property) (Column, error) {
	col, ok := c.q.cols[p.Name]
	if !ok {
		return Column{}, invalid("%q is not a queryable (queryables: %s)", lastmile.Clip(p.Name), strings.Join(c.q.names, ", "))
	}
	return col, nil
}

func (c *compiler) bool(e Expr) (string, error) {
	switch e := e.(type) {
	case Logical:
		parts := make([]string, len(e.Args))
		for i, a := range e.Args {
			s, err := c.bool(a)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return "(" + strings.Join(parts, " "+strings.ToUpper(e.Op)+" ") + ")", nil
	case Not:
		s, err := c.bool(e.Arg)
		if err != nil {
			return "", err
		}
		return "(NOT " + s + ")", nil
	case Bool:
		if e.V {
			return "TRUE", nil
		}
		return "FALSE", nil
	case Compare:
		return c.compare(e)
	case Like:
		col, ok := e.Arg.(Property)
		if !ok {
			return "", invalid("LIKE needs a property on its left")
		}
		cc, err := c.prop(col)
		if err != nil {
			return "", err
		}
		if cc.Kind != string(layer.Text) && cc.Kind != string(layer.Enum) {
			return "", invalid("LIKE needs a text property; %s is %s", col.Name, cc.Kind)
		}
		pat, ok := e.Pattern.(String)
		if !ok {
			return "", invalid("the pattern of LIKE on %s must be a string", col.Name)
		}
		op := "LIKE"
		if e.Not {
			op = "NOT LIKE"
		}
		return fmt.Sprintf("(%s %s %s::text)", cc.SQL, op, c.arg(pat.V)), nil
	case Between:
		cc, err := c.propOf(e.Arg, "BETWEEN")
		if err != nil {
			return "", err
		}
		if !ordered(cc.Kind) {
			return "", invalid("BETWEEN needs a number, date or timestamp property; %s is %s", e.Arg.(Property).Name, cc.Kind)
		}
		lo, err := c.value(e.Lo, cc, e.Arg.(Property).Name, false)
		if err != nil {
			return "", err
		}
		hi, err := c.value(e.Hi, cc, e.Arg.(Property).Name, false)
		if err != nil {
			return "", err
		}
		not := ""
		if e.Not {
			not = "NOT "
		}
		return fmt.Sprintf("(%s %sBETWEEN %s AND %s)", cc.SQL, not, lo, hi), nil
	case In:
		cc, err := c.propOf(e.Arg, "IN")
		if err != nil {
			return "", err
		}
		vals := make([]string, len(e.List))
		for i, v := range e.List {
			s, err := c.value(v, cc, e.Arg.(Property).Name, true)
			if err != nil {
				return "", err
			}
			vals[i] = s
		}
		not := ""
		if e.Not {
			not = "NOT "
		}
		return fmt.Sprintf("(%s %sIN (%s))", cc.SQL, not, strings.Join(vals, ", ")), nil
	case IsNull:
		cc, err := c.propOf(e.Arg, "IS NULL")
		if err != nil {
			return "", err
		}
		if e.Not {
			return "(" + cc.SQL + " IS NOT NULL)", nil
		}
		return "(" + cc.SQL + " IS NULL)", nil
	case Spatial:
		return c.spatial(e)
	}
	return "", invalid("%s is not a condition (a filter must be true or false for each feature)", describeExpr(e))
}

func (c *compiler) propOf(e Expr, what string) (Column, error) {
	p, ok := e.(Property)
	if !ok {
		return Column{}, invalid("%s needs a property on its left, found %s", what, describeExpr(e))
	}
	return c.prop(p)
}

func ordered(kind string) bool {
	switch kind {
	case string(layer.Integer), string(layer.Number), string(layer.Money), string(layer.Date), KindTimestamp, string(layer.Text):
		return true
	}
	return false
}

func (c *compiler) compare(e Compare) (string, error) {
	op := e.Op
	lp, lok := e.Left.(Property)
	rp, rok := e.Right.(Property)
	switch {
	case lok && rok:
		a, err := c.prop(lp)
		if err != nil {
			return "", err
		}
		b, err := c.prop(rp)
		if err != nil {
			return "", err
		}
		if a.Kind == KindGeometry || b.Kind == KindGeometry {
			return "", invalid("geometries are compared with spatial functions such as S_INTERSECTS, not %s", op)
		}
		return fmt.Sprintf("(%s %s %s)", a.SQL, op, b.SQL), nil
	case !lok && rok: // value op property: flip
		flip := map[string]string{"<": ">", "<=": ">=", ">": "<", ">=": "<="}
		if f, ok := flip[op]; ok {
			op = f
		}
		lp, e.Right = rp, e.Left
	case !lok:
		return "", invalid("a comparison needs a property on one side, found %s %s %s", describeExpr(e.Left), op, describeExpr(e.Right))
	}
	col, err := c.prop(lp)
	if err != nil {
		return "", err
	}
	if col.Kind == KindGeometry {
		return "", invalid("geometries are compared with spatial functions such as S_INTERSECTS, not %s", op)
	}
	if op != "=" && op != "<>" && !ordered(col.Kind) {
		return "", invalid("%s cannot be compared with %s (it is %s); use = or <>", lp.Name, op, col.Kind)
	}
	v, err := c.value(e.Right, col, lp.Name, op == "=" || op == "<>")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("(%s %s %s)", col.SQL, op, v), nil
}

// value checks a literal against the column's kind and returns its
// parameter placeholder with an explicit cast. exact asks that an enum
// value be one of the declared codes.
func (c *compiler) value(e Expr, col Column, name string, exact bool) (string, error) {
	mismatch := func(want string) error {
		return invalid("%s is %s: compare it with %s, not %s", name, col.Kind, want, describeExpr(e))
	}
	switch col.Kind {
	case string(layer.Text), string(layer.Enum):
		s, ok := e.(String)
		if !ok {
			return "", mismatch("a 'quoted string'")
		}
		if exact && len(col.Enum) > 0 && !slices.Contains(col.Enum, s.V) {
			return "", invalid("%q is not a value of %s (values: %s)", lastmile.Clip(s.V), name, strings.Join(col.Enum, ", "))
		}
		return c.arg(s.V) + "::text", nil
	case string(layer.Integer), string(layer.Number), string(layer.Money):
		n, ok := e.(Number)
		if !ok {
			return "", mismatch("a number")
		}
		return c.arg(n.V) + "::double precision", nil
	case string(layer.Boolean):
		b, ok := e.(Bool)
		if !ok {
			return "", mismatch("TRUE or FALSE")
		}
		return c.arg(b.V) + "::boolean", nil
	case string(layer.Date):
		switch v := e.(type) {
		case Date:
			return c.arg(v.V.Format("2006-01-02")) + "::date", nil
		case Timestamp:
			return c.arg(v.V) + "::timestamptz", nil
		case String:
			if d, err := time.Parse("2006-01-02", v.V); err == nil {
				return c.arg(d.Format("2006-01-02")) + "::date", nil
			}
		}
		return "", mismatch("DATE('YYYY-MM-DD')")
	case KindTimestamp:
		switch v := e.(type) {
		case Timestamp:
			return c.arg(v.V) + "::timestamptz", nil
		case Date:
			return c.arg(v.V.Format("2006-01-02")) + "::date", nil
		case String:
			if t, err := time.Parse(time.RFC3339Nano, v.V); err == nil {
				return c.arg(t.UTC()) + "::timestamptz", nil
			}
			if d, err := time.Parse("2006-01-02", v.V); err == nil {
				return c.arg(d.Format("2006-01-02")) + "::date", nil
			}
		}
		return "", mismatch("TIMESTAMP('…Z') or DATE('YYYY-MM-DD')")
	}
	return "", invalid("%s cannot be used in a comparison", name)
}

func (c *compiler) spatial(e Spatial) (string, error) {
	side := func(x Expr) (string, bool, error) {
		switch x := x.(type) {
		case Property:
			col, err := c.prop(x)
			if err != nil {
				return "", false, err
			}
			if col.Kind != KindGeometry {
				return "", false, invalid("%s needs a geometry; %s is %s", strings.ToUpper(e.Op), x.Name, col.Kind)
			}
			return col.SQL, true, nil
		case Geometry:
			b, err := wkb.Marshal(x.G)
			if err != nil {
				return "", false, invalid("the geometry of %s cannot be encoded", strings.ToUpper(e.Op))
			}
			return "ST_GeomFromWKB(" + c.arg(b) + "::bytea, 4326)", false, nil
		}
		return "", false, invalid("%s takes geometries (a geometry property, BBOX(…) or WKT), found %s", strings.ToUpper(e.Op), describeExpr(x))
	}
	a, aProp, err := side(e.Left)
	if err != nil {
		return "", err
	}
	b, bProp, err := side(e.Right)
	if err != nil {
		return "", err
	}
	if !aProp && !bProp {
		return "", invalid("%s needs the geometry property on one side", strings.ToUpper(e.Op))
	}
	return fmt.Sprintf("%s(%s, %s)", spatialOps[e.Op], a, b), nil
}

func describeExpr(e Expr) string {
	switch e := e.(type) {
	case Property:
		return "property " + lastmile.Clip(e.Name)
	case String:
		return fmt.Sprintf("'%s'", lastmile.Clip(e.V))
	case Number:
		return fmt.Sprintf("%g", e.V)
	case Bool:
		return fmt.Sprintf("%t", e.V)
	case Date:
		return "DATE('" + e.V.Format("2006-01-02") + "')"
	case Timestamp:
		return "TIMESTAMP('" + e.V.Format(time.RFC3339) + "')"
	case Geometry:
		return "a geometry"
	}
	return "a condition"
}
