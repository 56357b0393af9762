package layer

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lastmile/lastmile"
)

func field(t testing.TB, layerName, name string) Field {
	l, ok := Default().Layer(layerName)
	if !ok {
		t.Fatalf("no layer %s", layerName)
	}
	f, ok := l.Field(name)
	if !ok {
		t.Fatalf("no field %s.%s", layerName, name)
	}
	return f
}

func day(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestParseValue(t *testing.T) {
	tests := []struct {
		layer, field, in string
		want             any
		msg              string // "" when the value fits
	}{
		{"roads", "surface", "cement", "cement", ""},
		{"roads", "surface", " cement ", "cement", ""},
		{"roads", "surface", "水泥", "cement", ""},
		{"roads", "surface", "Concrete", "cement", ""},
		{"roads", "surface", "tarmac", "asphalt", ""},
		{"roads", "tech_grade", "Class 1", "class1", ""},
		{"roads", "road_class", "县道", "county", ""},
		{"roads", "surface", "gold", nil, "must be one of earth, gravel, stone, cement, asphalt"},
		{"roads", "surface", "", nil, "must be one of"},
		{"roads", "status", "' OR 1=1 --", nil, "must be one of planned"},
		{"roads", "name", "' OR 1=1 --", "' OR 1=1 --", ""},
		{"roads", "name", "村道", "村道", ""},
		{"roads", "name", " ", nil, "must not be empty"},
		{"roads", "name", "a\x00b", nil, "must be UTF-8 text"},
		{"roads", "name", "\xff", nil, "must be UTF-8 text"},
		{"roads", "admin_code", "371426000000", "371426000000", ""},
		{"roads", "admin_code", "12", nil, "must match ^[0-9]{12}$"},
		{"roads", "version", "2", int64(2), ""},
		{"roads", "version", "-7", int64(-7), ""},
		{"roads", "version", "2147483647", int64(2147483647), ""},
		{"roads", "version", "2147483648", nil, "must be an integer"},
		{"roads", "version", "1.5", nil, "must be an integer"},
		{"roads", "version", "1e3", nil, "must be an integer"},
		{"roads", "version", "x", nil, "must be an integer"},
		{"roads", "width_m", "4.50", 4.5, ""},
		{"roads", "width_m", "1e1", 10.0, ""},
		{"roads", "width_m", "-1", -1.0, ""}, // bounds are not a filter's business
		{"roads", "width_m", "NaN", nil, "must be a number"},
		{"roads", "width_m", "Inf", nil, "must be a number"},
		{"roads", "width_m", "wide", nil, "must be a number"},
		{"roads", "funding_yuan", "1000.25", 1000.25, ""},
		{"roads", "completed_on", "2016-01-01", day("2016-01-01"), ""},
		{"roads", "completed_on", "2016-02-30", nil, "must be a date YYYY-MM-DD"},
		{"roads", "completed_on", "2016-02-01T00:00:00Z", nil, "must be a date YYYY-MM-DD"},
		{"villages", "is_poor_village", "true", true, ""},
		{"villages", "is_poor_village", "TRUE", true, ""},
		{"villages", "is_poor_village", "0", false, ""},
		{"villages", "is_poor_village", "maybe", nil, "must be true or false"},
		{"roads", "props", "x", nil, "cannot be filtered on"},
	}
	for _, tt := range tests {
		t.Run(tt.field+"="+tt.in, func(t *testing.T) {
			got, err := field(t, tt.layer, tt.field).ParseValue(tt.in)
			if tt.msg == "" {
				if err != nil || !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("ParseValue(%q) = %#v, %v; want %#v", tt.in, got, err, tt.want)
				}
				return
			}
			var p lastmile.Problem
			if !errors.As(err, &p) || got != nil {
				t.Fatalf("ParseValue(%q) = %#v, %v; want a problem", tt.in, got, err)
			}
			if p.Field != tt.field || p.Value != strings.TrimSpace(tt.in) || !strings.HasPrefix(p.Message, tt.msg) {
				t.Errorf("problem %+v, want field %s, value %q and a message starting %q", p, tt.field, tt.in, tt.msg)
			}
		})
	}
}

func TestParseList(t *testing.T) {
	tests := []struct {
		layer, field, in string
		want             any
		msg, value       string
	}{
		{"roads", "surface", "cement, asphalt,cement", []string{"cement", "asphalt", "cement"}, "", ""},
		{"roads", "surface", "水泥,沥青", []string{"cement", "asphalt"}, "", ""},
		{"roads", "version", "1,2", []int64{1, 2}, "", ""},
		{"roads", "width_m", "4.5,6", []float64{4.5, 6}, "", ""},
		{"roads", "completed_on", "2015-01-02", []time.Time{day("2015-01-02")}, "", ""},
		{"villages", "is_poor_village", "true,false", []bool{true, false}, "", ""},
		{"roads", "name", "A", []string{"A"}, "", ""},
		{"roads", "surface", "cement,,asphalt", nil, "has an empty value", "cement,,asphalt"},
		{"roads", "surface", "cement,", nil, "has an empty value", "cement,"},
		{"roads", "surface", "", nil, "has an empty value", ""},
		{"roads", "surface", "cement,gold", nil, "must be one of", "gold"},
		{"roads", "version", "1,x", nil, "must be an integer", "x"},
	}
	for _, tt := range tests {
		t.Run(tt.field+"="+tt.in, func(t *testing.T) {
			got, err := field(t, tt.layer, tt.field).ParseList(tt.in)
			if tt.msg == "" {
				if err != nil || !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("ParseList(%q) = %#v, %v; want %#v", tt.in, got, err, tt.want)
				}
				return
			}
			var p lastmile.Problem
			if !errors.As(err, &p) || !strings.HasPrefix(p.Message, tt.msg) || p.Value != tt.value {
				t.Fatalf("ParseList(%q) = %#v, %v; want a problem %q on %q", tt.in, got, err, tt.msg, tt.value)
			}
		})
	}
}

// A long Chinese value is quoted clipped on a character boundary.
func TestParseValueClipsChinese(t *testing.T) {
	long := strings.Repeat("水泥路面", 40)
	_, err := field(t, "roads", "admin_code").ParseValue(long)
	var p lastmile.Problem
	if !errors.As(err, &p) {
		t.Fatalf("got %v, want a problem", err)
	}
	if !utf8.ValidString(p.Value) || utf8.RuneCountInString(p.Value) != lastmile.ClipLength || !strings.HasSuffix(p.Value, "…") {
		t.Errorf("value %q: not clipped to %d characters on a boundary", p.Value, lastmile.ClipLength)
	}
}

// The one rule of what can be filtered on, over the whole catalog.
func TestFilterable(t *testing.T) {
	for _, l := range Default().Layers() {
		for _, f := range l.Fields {
			want := f.Type != Object && f.Name != "updated_at"
			if f.Filterable() != want {
				t.Errorf("%s.%s (%s): Filterable() = %v", l.Name, f.Name, f.Type, f.Filterable())
			}
			if !want {
				continue
			}
			// Every filterable field reads the text of a value of its own.
			sample := map[FieldType]string{Text: "x", Integer: "3", Number: "4.5", Money: "10",
				Date: "2016-01-01", Boolean: "true"}[f.Type]
			if f.Type == Enum {
				sample = f.Enum[len(f.Enum)-1]
			}
			if f.Pattern != nil {
				sample = "371426000000"
			}
			if _, err := f.ParseValue(sample); err != nil {
				t.Errorf("%s.%s: ParseValue(%q): %v", l.Name, f.Name, sample, err)
			}
		}
	}
	roads, _ := Default().Layer("roads")
	got := strings.Join(roads.FilterableFields(), ",")
	if strings.Contains(got, "props") || strings.Contains(got, "updated_at") || !strings.Contains(got, "version") || !strings.Contains(got, "surface") {
		t.Errorf("roads filterable fields %s", got)
	}
}

// FuzzParseValue: no text panics the parser; a value it accepts has the
// field's Go type, formats to text it reads back as the same value, and
// a rejection is a problem on the field with a valid, clipped value.
func FuzzParseValue(f *testing.F) {
	for _, s := range []string{"cement", "水泥", "2016-01-01", "4.5", "1e309", "-2147483648", "true", "371426000000",
		" ", "", "NaN", "0x1p-2", "2016-02-30", "Class 1", strings.Repeat("路", 100)} {
		f.Add(s)
	}
	var fields []Field
	for _, name := range []string{"surface", "name", "admin_code", "version", "width_m", "funding_yuan", "completed_on"} {
		fields = append(fields, field(f, "roads", name))
	}
	fields = append(fields, field(f, "villages", "is_poor_village"), field(f, "villages", "population"))
	f.Fuzz(func(t *testing.T, s string) {
		for _, fd := range fields {
			v, err := fd.ParseValue(s)
			if err != nil {
				var p lastmile.Problem
				if !errors.As(err, &p) || p.Field != fd.Name || p.Message == "" || v != nil {
					t.Fatalf("%s: ParseValue(%q) = %v, %v", fd.Name, s, v, err)
				}
				if utf8.ValidString(s) && (!utf8.ValidString(p.Value) || utf8.RuneCountInString(p.Value) > lastmile.ClipLength) {
					t.Fatalf("%s: problem value %q not clipped", fd.Name, p.Value)
				}
				continue
			}
			again, err := fd.ParseValue(FormatValue(v))
			if err != nil || !reflect.DeepEqual(again, v) {
				t.Fatalf("%s: %q → %#v → %q → %#v, %v", fd.Name, s, v, FormatValue(v), again, err)
			}
			if fd.Type == Enum && !strings.Contains(","+strings.Join(fd.Enum, ",")+",", ","+v.(string)+",") {
				t.Fatalf("%s: %q read as %q, not a code", fd.Name, s, v)
			}
			if list, err := fd.ParseList(s); !strings.Contains(s, ",") && (err != nil || reflect.ValueOf(list).Len() != 1) {
				t.Fatalf("%s: ParseList(%q) = %v, %v; ParseValue accepted it", fd.Name, s, list, err)
			}
		}
	})
}
