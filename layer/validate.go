package layer

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/geo"
)

// Validate checks decoded JSON properties against the layer and returns the
// values converted to Go types ready for the database (string, int64,
// float64, time.Time for dates, bool, map for objects, nil for null), plus
// every problem found. Read-only fields are dropped silently so a feature
// read from the API can be sent back unchanged. With partial (a merge-patch),
// required fields need not be present.
func (l *Layer) Validate(props map[string]any, partial bool) (map[string]any, []lastmile.Problem) {
	out := map[string]any{}
	var problems lastmile.Problems
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, name := range keys {
		raw := props[name]
		f, ok := l.Field(name)
		if !ok {
			problems.Add(name, "", "unknown field for layer %s (put extra attributes under \"props\")", l.Name)
			continue
		}
		if f.ReadOnly {
			continue
		}
		v, msg := f.Convert(raw)
		if msg != "" {
			problems.Add(name, jsonText(raw), "%s", msg)
			continue
		}
		if v == nil && f.Required {
			problems.Add(name, "", "is required and cannot be null")
			continue
		}
		out[name] = v
	}
	if !partial {
		for _, f := range l.Fields {
			if _, ok := props[f.Name]; f.Required && !ok {
				problems.Add(f.Name, "", "is required")
			}
		}
	}
	plausibleDates(&problems, l, out, time.Now())
	return out, problems.List
}

// EarliestDate is the earliest date a feature may carry: the programme's
// records start with the People's Republic; a year 1 or 9999 is a typing
// error, and would stretch every yearly series over millennia.
var EarliestDate = time.Date(1949, 1, 1, 0, 0, 0, 0, time.UTC)

// LatestDate is the latest date a feature may carry on day today: one year
// ahead (a planned start or completion).
func LatestDate(today time.Time) time.Time {
	y, m, d := today.UTC().Date()
	return time.Date(y+1, m, d, 0, 0, 0, 0, time.UTC)
}

// plausibleDates checks the dates among values: each within EarliestDate …
// LatestDate, completed_on not before started_on, and no completion in the
// future for a feature whose status is completed. A merge-patch is checked
// on the fields it carries.
func plausibleDates(p *lastmile.Problems, l *Layer, values map[string]any, today time.Time) {
	latest := LatestDate(today)
	for _, f := range l.Fields {
		d, ok := values[f.Name].(time.Time)
		if f.Type != Date || !ok {
			continue
		}
		if d.Before(EarliestDate) || d.After(latest) {
			p.Add(f.Name, d.Format(time.DateOnly), "must lie between %s and %s (one year from today)", EarliestDate.Format(time.DateOnly), latest.Format(time.DateOnly))
		}
	}
	started, hasStart := values["started_on"].(time.Time)
	completed, hasEnd := values["completed_on"].(time.Time)
	if hasStart && hasEnd && completed.Before(started) {
		p.Add("completed_on", completed.Format(time.DateOnly), "is before started_on %s", started.Format(time.DateOnly))
	}
	y, m, d := today.UTC().Date()
	if hasEnd && values["status"] == "completed" && completed.After(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)) {
		p.Add("completed_on", completed.Format(time.DateOnly), "is in the future, but status is completed (use planned or under_construction, or the actual completion date)")
	}
}

// DefaultMaxVertices is the most vertices one feature may have
// (serve and import --max-vertices). A county road has a few hundred; one
// of 380 000 vertices made every distance to it 20 times slower.
const DefaultMaxVertices = 50_000

// SetMaxVertices sets the vertex limit of every layer (0: the default).
func (c *Catalog) SetMaxVertices(n int) {
	for _, l := range c.layers {
		l.MaxVertices = n
	}
}

// CheckVertices reports a geometry with more vertices than the layer allows,
// or "" when it fits.
func (l *Layer) CheckVertices(g orb.Geometry) string {
	limit := l.MaxVertices
	if limit <= 0 {
		limit = DefaultMaxVertices
	}
	if n := geo.Vertices(g); n > limit {
		return fmt.Sprintf("has %d vertices, more than the limit of %d per feature (--max-vertices); simplify it or split it into several features", n, limit)
	}
	return ""
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
		switch m := raw.(type) {
		case map[string]any:
			return m, ""
		case WholeObject:
			return m, ""
		}
		return nil, "must be a JSON object"
	}
	return nil, "has an unsupported type"
}

// WholeObject is an object field's value that a merge patch does not merge
// but stores whole: what a client sent as JSON text (QGIS edits props as
// a string) or as null ({}). A plain map[string]any is merged member by
// member (postgis.Store.Patch).
type WholeObject map[string]any

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

// jsonText is v as JSON, for a problem's value (which the collector clips).
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
