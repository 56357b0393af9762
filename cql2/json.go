package cql2

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/paulmach/orb/geojson"

	"github.com/lastmile/lastmile"
)

// JSONError is a CQL2 JSON filter that cannot be read: Path says where, as
// a JSON pointer-like path (args/1/args/0).
type JSONError struct {
	Path string
	Msg  string
}

func (e *JSONError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return fmt.Sprintf("at %s: %s", e.Path, e.Msg)
}

// ParseJSON parses a CQL2 JSON filter.
func ParseJSON(data []byte) (Expr, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, &JSONError{Msg: "the filter is not valid JSON: " + err.Error()}
	}
	if dec.More() {
		return nil, &JSONError{Msg: "the filter has data after its JSON value"}
	}
	return jsonBool(v, "", 0)
}

func jerr(path, format string, args ...any) error {
	return &JSONError{Path: strings.TrimPrefix(path, "/"), Msg: fmt.Sprintf(format, args...)}
}

func jsonBool(v any, path string, depth int) (Expr, error) {
	if depth > MaxDepth {
		return nil, jerr(path, "the filter is nested more than %d levels deep", MaxDepth)
	}
	if b, ok := v.(bool); ok {
		return Bool{V: b}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, jerr(path, "expected an object with \"op\" and \"args\"")
	}
	op, _ := m["op"].(string)
	args, ok := m["args"].([]any)
	if op == "" || !ok {
		return nil, jerr(path, "expected an object with \"op\" (a string) and \"args\" (an array)")
	}
	op = strings.ToLower(op)
	ap := path + "/args"
	want := func(n int) error {
		if len(args) != n {
			return jerr(ap, "%s takes %d arguments, got %d", op, n, len(args))
		}
		return nil
	}
	switch op {
	case "and", "or":
		if len(args) < 2 {
			return nil, jerr(ap, "%s takes at least 2 arguments, got %d", op, len(args))
		}
		out := Logical{Op: op}
		for i, a := range args {
			e, err := jsonBool(a, fmt.Sprintf("%s/%d", ap, i), depth+1)
			if err != nil {
				return nil, err
			}
			out.Args = append(out.Args, e)
		}
		return out, nil
	case "not":
		if err := want(1); err != nil {
			return nil, err
		}
		e, err := jsonBool(args[0], ap+"/0", depth+1)
		if err != nil {
			return nil, err
		}
		return Not{Arg: e}, nil
	case "=", "<>", "<", "<=", ">", ">=", "like":
		if err := want(2); err != nil {
			return nil, err
		}
		a, err := jsonScalar(args[0], ap+"/0")
		if err != nil {
			return nil, err
		}
		b, err := jsonScalar(args[1], ap+"/1")
		if err != nil {
			return nil, err
		}
		if op == "like" {
			return Like{Arg: a, Pattern: b}, nil
		}
		return Compare{Op: op, Left: a, Right: b}, nil
	case "between":
		if err := want(3); err != nil {
			return nil, err
		}
		var e [3]Expr
		for i := range e {
			x, err := jsonScalar(args[i], fmt.Sprintf("%s/%d", ap, i))
			if err != nil {
				return nil, err
			}
			e[i] = x
		}
		return Between{Arg: e[0], Lo: e[1], Hi: e[2]}, nil
	case "in":
		if err := want(2); err != nil {
			return nil, err
		}
		a, err := jsonScalar(args[0], ap+"/0")
		if err != nil {
			return nil, err
		}
		list, ok := args[1].([]any)
		if !ok || len(list) == 0 {
			return nil, jerr(ap+"/1", "in needs a non-empty array of values")
		}
		out := In{Arg: a}
		for i, x := range list {
			e, err := jsonScalar(x, fmt.Sprintf("%s/1/%d", ap, i))
			if err != nil {
				return nil, err
			}
			out.List = append(out.List, e)
		}
		return out, nil
	case "isnull":
		if err := want(1); err != nil {
			return nil, err
		}
		a, err := jsonScalar(args[0], ap+"/0")
		if err != nil {
			return nil, err
		}
		return IsNull{Arg: a}, nil
	}
	if spatialOps[op] != "" {
		if err := want(2); err != nil {
			return nil, err
		}
		a, err := jsonGeom(args[0], ap+"/0")
		if err != nil {
			return nil, err
		}
		b, err := jsonGeom(args[1], ap+"/1")
		if err != nil {
			return nil, err
		}
		return Spatial{Op: op, Left: a, Right: b}, nil
	}
	return nil, jerr(path+"/op", "unknown operator %q (known: and, or, not, =, <>, <, <=, >, >=, like, between, in, isNull, s_intersects, …)", lastmile.Clip(op))
}

func jsonScalar(v any, path string) (Expr, error) {
	switch v := v.(type) {
	case string:
		return String{V: v}, nil
	case bool:
		return Bool{V: v}, nil
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return nil, jerr(path, "%s is not a number", lastmile.Clip(v.String()))
		}
		return Number{V: f, Int: !strings.ContainsAny(v.String(), ".eE")}, nil
	case map[string]any:
		if len(v) == 1 {
			if p, ok := v["property"].(string); ok {
				return Property{Name: p}, nil
			}
			if d, ok := v["date"].(string); ok {
				e, err := temporal("DATE", d, 0)
				if err != nil {
					return nil, jerr(path, "%s", err.(*SyntaxError).Msg)
				}
				return e, nil
			}
			if t, ok := v["timestamp"].(string); ok {
				e, err := temporal("TIMESTAMP", t, 0)
				if err != nil {
					return nil, jerr(path, "%s", err.(*SyntaxError).Msg)
				}
				return e, nil
			}
		}
	}
	return nil, jerr(path, "expected a value, {\"property\": …}, {\"date\": …} or {\"timestamp\": …}")
}

func jsonGeom(v any, path string) (Expr, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, jerr(path, "expected {\"property\": …}, {\"bbox\": […]} or a GeoJSON geometry")
	}
	if p, ok := m["property"].(string); ok && len(m) == 1 {
		return Property{Name: p}, nil
	}
	if b, ok := m["bbox"].([]any); ok && len(m) == 1 {
		nums := make([]float64, len(b))
		for i, x := range b {
			n, ok := x.(json.Number)
			f, err := n.Float64()
			if !ok || err != nil {
				return nil, jerr(fmt.Sprintf("%s/bbox/%d", path, i), "expected a number")
			}
			nums[i] = f
		}
		g, msg := bboxGeometry(nums)
		if msg != "" {
			return nil, jerr(path+"/bbox", "%s", msg)
		}
		return Geometry{G: g}, nil
	}
	raw, _ := json.Marshal(m)
	g, err := geojson.UnmarshalGeometry(raw)
	if err != nil || g.Geometry() == nil {
		return nil, jerr(path, "not a GeoJSON geometry")
	}
	if msg := checkLonLat(g.Geometry()); msg != "" {
		return nil, jerr(path, "%s", msg)
	}
	return Geometry{G: g.Geometry()}, nil
}
