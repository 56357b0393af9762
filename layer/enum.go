package layer

import "strings"

// Value is one allowed value of an enum field, declared once: the code
// stored in the database and served by every API, its labels, the other
// spellings the importer accepts, and how the map page draws it. The page,
// the importer and the OpenAPI/TileJSON descriptions all read these
// declarations (the page through /app/catalog.json); none repeats them.
type Value struct {
	Code    string // stored and served: "cement"
	Label   string // English label: "cement"
	LabelZH string // Chinese label: "水泥"
	// Synonyms are the other spellings bureaus use, Chinese and English
	// (and OSM tag values), accepted by the importer besides the code and
	// the two labels. They are matched as Key normalises them.
	Synonyms []string
	// Map style, for the fields the map page styles by value (zero: the
	// page's default for the layer).
	Color   string  // "#rrggbb"
	Width   float64 // line width in pixels at zoom 12
	Opacity float64 // fill opacity, 0–1
}

// Codes returns the codes of values, in declaration order.
func Codes(values []Value) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = v.Code
	}
	return out
}

// Key normalises a spelling for synonym matching: trimmed, lower case, with
// spaces and hyphens read as underscores ("Class 1", "class-1" → "class_1").
func Key(s string) string {
	return strings.NewReplacer(" ", "_", "-", "_").Replace(strings.ToLower(strings.TrimSpace(s)))
}

// Spellings returns every spelling of v the importer accepts, as Key
// normalises them: the code, both labels and the synonyms.
func (v Value) Spellings() []string {
	out := []string{Key(v.Code), Key(v.Label), Key(v.LabelZH)}
	for _, s := range v.Synonyms {
		out = append(out, Key(s))
	}
	return out
}

// Lookup returns the code that s spells for the enum field f: a code as
// given, or any spelling of one of f's values (Value.Spellings). ok is
// false when s is none of them; the caller reports it, never guesses.
func (f Field) Lookup(s string) (code string, ok bool) {
	for _, c := range f.Enum {
		if c == s {
			return c, true
		}
	}
	key := Key(s)
	if f.spellings != nil {
		code, ok = f.spellings[key]
		return code, ok
	}
	for _, v := range f.Values {
		for _, sp := range v.Spellings() {
			if sp == key {
				return v.Code, true
			}
		}
	}
	for _, c := range f.Enum {
		if Key(c) == key {
			return c, true
		}
	}
	return "", false
}

// Value returns the declared value of code.
func (f Field) Value(code string) (Value, bool) {
	for _, v := range f.Values {
		if v.Code == code {
			return v, true
		}
	}
	return Value{}, false
}

// index fills f.Enum from f.Values and the spelling index Lookup reads.
// The first value claiming a spelling keeps it (TestEnumSpellingsUnique
// keeps the declarations free of such clashes).
func (f *Field) index() {
	if len(f.Values) == 0 {
		return
	}
	f.Enum = Codes(f.Values)
	f.spellings = map[string]string{}
	for _, v := range f.Values {
		for _, sp := range v.Spellings() {
			if _, taken := f.spellings[sp]; !taken && sp != "" {
				f.spellings[sp] = v.Code
			}
		}
	}
}

// recolor returns a copy of values with the map colours given by code
// replaced (a layer drawing a shared field in its own palette).
func recolor(values []Value, colors map[string]string) []Value {
	out := make([]Value, len(values))
	for i, v := range values {
		v.Synonyms = append([]string(nil), v.Synonyms...)
		if c, ok := colors[v.Code]; ok {
			v.Color = c
		}
		out[i] = v
	}
	return out
}
