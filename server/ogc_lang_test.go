package server

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lastmile/lastmile/layer"
)

func TestPreferredLang(t *testing.T) {
	for _, tt := range []struct {
		headers []string
		want    string
	}{
		{nil, ""},
		{[]string{""}, ""},
		{[]string{"*"}, ""},
		{[]string{"fr-CH, fr;q=0.9"}, ""},
		{[]string{"zh"}, "zh"},
		{[]string{"zh-CN,zh;q=0.9,en;q=0.8"}, "zh"},
		{[]string{"en-US,*"}, "en"}, // what Qt (QGIS) sends in an English locale
		{[]string{"en;q=0.5, zh-Hans;q=0.7"}, "zh"},
		{[]string{"EN-gb"}, "en"},
		{[]string{"zh;q=0", "en"}, "en"}, // q=0: not acceptable
		{[]string{"zh;q=abc"}, ""},       // a bad q is not acceptable
		{[]string{"en;q=1.5"}, ""},
		{[]string{"de, en;q=0.3", "zh;q=0.2"}, "en"},
		{[]string{"zh, en"}, "zh"}, // a tie: the first listed
	} {
		if got := preferredLang(tt.headers); got != tt.want {
			t.Errorf("preferredLang(%q) = %q, want %q", tt.headers, got, tt.want)
		}
	}
	if got := inLang("", "Village roads", "农村公路"); got != "农村公路 Village roads" {
		t.Errorf("both: %q", got)
	}
	if got := inLang("zh", "Width", ""); got != "Width" {
		t.Errorf("zh without a Chinese title: %q", got)
	}
}

func TestParseSortBy(t *testing.T) {
	roads, _ := layer.Default().Layer("roads")
	villages, _ := layer.Default().Layer("villages")
	for _, tt := range []struct {
		in   string
		want string // "field" or "-field", space separated; or "!message"
	}{
		{"width_m", "width_m"},
		{"-width_m,name", "-width_m name"},
		{"+surface, -completed_on", "surface -completed_on"},
		{"surface:D,name:A", "-surface name"},
		{"length_m,id", "length_m id"},
		{"colour", "!is not a field roads can be sorted by"},
		{"props", "!is not a field roads can be sorted by"},
		{"", "!empty key"},
		{"-", "!empty key"},
		{"name,name", "!given twice"},
		{"a,b,c,d,e,f,g,h,i", "!has 9 keys; give at most 8"},
	} {
		keys, problems := ParseSortBy(roads, tt.in)
		var got []string
		for _, k := range keys {
			s := k.Field
			if k.Desc {
				s = "-" + s
			}
			got = append(got, s)
		}
		if strings.HasPrefix(tt.want, "!") {
			if len(problems) == 0 || !strings.Contains(problems[0].Message, tt.want[1:]) || problems[0].Field != "sortby" {
				t.Errorf("ParseSortBy(%q) = %v, %v; want a problem %q", tt.in, got, problems, tt.want[1:])
			}
			continue
		}
		if len(problems) > 0 || strings.Join(got, " ") != tt.want {
			t.Errorf("ParseSortBy(%q) = %v, %v; want %s", tt.in, got, problems, tt.want)
		}
	}
	// length_m only where there are lines.
	if _, p := ParseSortBy(villages, "length_m"); len(p) != 1 {
		t.Errorf("villages sortby=length_m: %v", p)
	}
}

// FuzzParseSortBy: no input panics; every key returned is a sortable field
// of the layer, once; a problem names sortby.
func FuzzParseSortBy(f *testing.F) {
	for _, s := range []string{"width_m", "-width_m,+name", "surface:D", ",", "-", "a,,b", "id,-id", strings.Repeat("x,", 20)} {
		f.Add(s)
	}
	roads, _ := layer.Default().Layer("roads")
	names := sortableNames(roads)
	f.Fuzz(func(t *testing.T, s string) {
		keys, problems := ParseSortBy(roads, s)
		if len(keys) > 0 && len(problems) > 0 {
			t.Fatalf("%q: both keys and problems", s)
		}
		seen := map[string]bool{}
		for _, k := range keys {
			if seen[k.Field] || !strings.Contains(","+strings.Join(names, ",")+",", ","+k.Field+",") {
				t.Fatalf("%q: key %q is not a sortable field, or repeated", s, k.Field)
			}
			seen[k.Field] = true
		}
		for _, p := range problems {
			if p.Field != "sortby" || !utf8.ValidString(p.Message) {
				t.Fatalf("%q: problem %+v", s, p)
			}
		}
	})
}

// FuzzAcceptLanguage: any header gives zh, en or "".
func FuzzAcceptLanguage(f *testing.F) {
	for _, s := range []string{"zh-CN,zh;q=0.9", "en-US,*", "*;q=0.1", "zh;q=", ";;,,", "en;q=NaN"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		if got := preferredLang([]string{h}); got != "" && got != "zh" && got != "en" {
			t.Fatalf("%q gives %q", h, got)
		}
	})
}
