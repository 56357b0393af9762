package layer

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/lastmile/lastmile"
)

// Validate checks decoded JSON properties against the layer and returns the
// values converted to Go types ready for the database (string, int64,
// float64, time.Time for dates, bool, map for objects, nil for null), plus
// every problem found. Read-only fields are dropped silently so a feature
// read from the API can be sent back unchanged. With partial (a merge-patch),
// required fields need not be present.
func (l *Layer) Validate(props map[string]any, partial bool) (map[string]any, []lastmile.Problem) {
	out := map[string]any{}
	var problems []lastmile.Problem
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, name := range keys {
		raw := props[name]
		f, ok := l.Field(name)
		if !ok {
			problems = append(problems, lastmile.Problem{Field: name,
				Message: fmt.Sprintf("unknown field for layer %s (put extra attributes under \"props\")", l.Name)})
			continue
		}
		if f.ReadOnly {
			continue
		}
		v, msg := f.Convert(raw)
		if msg != "" {
			problems = append(problems, lastmile.Problem{Field: name, Value: short(raw), Message: msg})
			continue
		}
		if v == nil && f.Required {
			problems = append(problems, lastmile.Problem{Field: name, Message: "is required and cannot be null"})
			continue
		}
		out[name] = v
	}
	if !partial {
		for _, f := range l.Fields {
			if _, ok := props[f.Name]; f.Required && !ok {
				problems = append(problems, lastmile.Problem{Field: f.Name, Message: "is required"})
			}
		}
	}
	return out, problems
}

// Convert checks one value against the field and converts it. It returns a
// non-empty message saying what is wrong when the value does not fit.
func (f Field) Convert(raw any) (any, string) {
	if raw == nil {
		return nil, ""
	}
	switch f.Type {
	case Text, Enum:
		s, ok := raw.(string)
		if !ok {
			return nil, "must be a string"
		}
		if f.Type == Enum && !slices.Contains(f.Enum, s) {
			return nil, "must be one of " + strings.Join(f.Enum, ", ")
		}
		if f.Pattern != nil && !f.Pattern.MatchString(s) {
			return nil, "must match " + f.Pattern.String()
		}
		return s, ""
	case Integer:
		n, ok := number(raw)
		if !ok || n != math.Trunc(n) || math.Abs(n) > math.MaxInt32 {
			return nil, "must be an integer"
		}
		if msg := f.bounds(n); msg != "" {
			return nil, msg
		}
		return int64(n), ""
	case Number, Money:
		n, ok := number(raw)
		if !ok || math.IsNaN(n) || math.IsInf(n, 0) {
			return nil, "must be a finite number"
		}
		if msg := f.bounds(n); msg != "" {
			return nil, msg
		}
		return n, ""
	case Date:
		s, ok := raw.(string)
		if !ok {
			return nil, "must be a date string YYYY-MM-DD"
		}
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return nil, "must be a date YYYY-MM-DD"
		}
		return d, ""
	case Boolean:
		b, ok := raw.(bool)
		if !ok {
			return nil, "must be true or false"
		}
		return b, ""
	case Object:
		m, ok := raw.(map[string]any)
		if !ok {
			return nil, "must be a JSON object"
		}
		return m, ""
	}
	return nil, "has an unsupported type"
}

func (f Field) bounds(n float64) string {
	if f.Min != nil && n < *f.Min {
		return fmt.Sprintf("must be at least %g", *f.Min)
	}
	if f.Max != nil && n > *f.Max {
		return fmt.Sprintf("must be at most %g", *f.Max)
	}
	return ""
}

func number(raw any) (float64, bool) {
	switch v := raw.(type) {
	case float64:
		return v, true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	}
	return 0, false
}

func short(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}
