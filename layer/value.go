package layer

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lastmile/lastmile"
)

// A field's value written as text — a query parameter, a filter term, a
// CLI flag — is read here and nowhere else: the tile filters
// (surface=cement,stone, width_m_min=4), the /items property filters
// (surface=cement, version=1,2) and the statistics' terms (surface:cement,
// width_m>=4) all call ParseValue or ParseList, so that a value means the
// same on every endpoint. (CQL2 literals are typed by their own grammar;
// JSON bodies go through Convert.)

// Filterable reports whether f can be filtered on by value: every field but
// objects (props) and updated_at, which the catalog declares as text but
// the database keeps as a timestamp (CQL2 compares it as one). It is the one
// rule of the tile filters, /items and the statistics.
func (f Field) Filterable() bool {
	return f.Type != Object && f.Name != "updated_at"
}

// FilterableFields returns the names of l's filterable fields, in
// declaration order (for "fields: …" in error messages).
func (l *Layer) FilterableFields() []string {
	var out []string
	for _, f := range l.Fields {
		if f.Filterable() {
			out = append(out, f.Name)
		}
	}
	return out
}

// ParseValue reads one value of f from text, trimmed of spaces:
//
//   - enum: a code or any spelling Lookup accepts (水泥, concrete → cement),
//     returned as the code;
//   - text: as given (UTF-8 without NUL bytes), matching the field's
//     pattern if it has one;
//   - integer: a whole number in decimal that an integer column holds
//     (32 bits), as int64;
//   - number, money: a finite decimal number, as float64;
//   - date: YYYY-MM-DD, as time.Time at UTC midnight;
//   - boolean: true/false (also 1/0, t/f, TRUE/FALSE), as bool.
//
// A value that does not fit returns a lastmile.Problem (an error) naming
// the value and what it must be; the caller records it under its parameter
// (Problems.AddError). Bounds (Min, Max) are not checked: they constrain
// stored values, and width_m<=1000 is a fair filter.
func (f Field) ParseValue(s string) (any, error) {
	s = strings.TrimSpace(s)
	bad := func(msg string) (any, error) {
		return nil, lastmile.Problem{Field: f.Name, Value: lastmile.Clip(s), Message: msg}
	}
	switch f.Type {
	case Enum:
		if code, ok := f.Lookup(s); ok && s != "" {
			return code, nil
		}
		return bad("must be one of " + strings.Join(f.Enum, ", "))
	case Text:
		if s == "" {
			return bad("must not be empty")
		}
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			return bad("must be UTF-8 text without NUL bytes (a text column holds no other)")
		}
		if f.Pattern != nil && !f.Pattern.MatchString(s) {
			return bad("must match " + f.Pattern.String())
		}
		return s, nil
	case Integer:
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return bad("must be an integer")
		}
		return n, nil
	case Number, Money:
		n, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return bad("must be a number")
		}
		return n, nil
	case Date:
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return bad("must be a date YYYY-MM-DD")
		}
		return d, nil
	case Boolean:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return bad("must be true or false")
		}
		return b, nil
	}
	return bad("cannot be filtered on")
}

// ParseList reads a comma-separated list of values of f (v1,v2,…), each
// as ParseValue reads it, into a typed slice that pgx sends as an array:
// []string, []int64, []float64, []time.Time or []bool, in the order given
// (repeats kept). The first item that does not fit, or an empty one
// ("a,,b", "a,"), returns the problem.
func (f Field) ParseList(s string) (any, error) {
	items := strings.Split(s, ",")
	var (
		texts  []string
		ints   []int64
		floats []float64
		dates  []time.Time
		bools  []bool
	)
	for _, item := range items {
		if strings.TrimSpace(item) == "" {
			return nil, lastmile.Problem{Field: f.Name, Value: lastmile.Clip(s),
				Message: "has an empty value; separate values with single commas"}
		}
		v, err := f.ParseValue(item)
		if err != nil {
			return nil, err
		}
		switch x := v.(type) {
		case string:
			texts = append(texts, x)
		case int64:
			ints = append(ints, x)
		case float64:
			floats = append(floats, x)
		case time.Time:
			dates = append(dates, x)
		case bool:
			bools = append(bools, x)
		}
	}
	switch f.Type {
	case Integer:
		return ints, nil
	case Number, Money:
		return floats, nil
	case Date:
		return dates, nil
	case Boolean:
		return bools, nil
	}
	return texts, nil
}

// FormatValue writes a value ParseValue returned back as text that
// ParseValue reads as the same value: a canonical form (2016-01-01, 4.5,
// true), for cache keys and echoes.
func FormatValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case time.Time:
		return x.Format(time.DateOnly)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}
