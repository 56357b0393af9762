package respond

import (
	"bytes"
	"encoding/csv"
	"testing"
)

func TestCSVCell(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"Shangzhai", "Shangzhai"},
		{"上寨村", "上寨村"},
		{`=HYPERLINK("http://x","a")`, `'=HYPERLINK("http://x","a")`},
		{"+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1:A9)", "'@SUM(A1:A9)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"-12.5", "-12.5"},
		{"-3", "-3"},
		{"-3e-7", "-3e-7"},
		{"-", "'-"},
		{"-.5", "'-.5"},
		{"+5", "'+5"},
		{"12", "12"},
		{"a=b", "a=b"},
	}
	for _, tc := range tests {
		if got := CSVCell(tc.in); got != tc.want {
			t.Errorf("CSVCell(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestCSVWriter: the neutralised cells survive CSV quoting, and reading the
// file back gives the apostrophe-prefixed text.
func TestCSVWriter(t *testing.T) {
	var buf bytes.Buffer
	w := NewCSVWriter(&buf)
	if err := w.WriteAll([][]string{{"name", "km"}, {`=HYPERLINK("http://x","a")`, "-1.5"}}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if rows[1][0] != `'=HYPERLINK("http://x","a")` || rows[1][1] != "-1.5" {
		t.Errorf("read back %q", rows[1])
	}
}

func FuzzCSVCell(f *testing.F) {
	for _, s := range []string{"=1", "-1", "-1e5", "@", "\t", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := CSVCell(s)
		if got != "" {
			switch got[0] {
			case '=', '+', '@', '\t', '\r':
				t.Fatalf("CSVCell(%q) = %q starts with a formula character", s, got)
			case '-':
				if !plainNumber.MatchString(got) {
					t.Fatalf("CSVCell(%q) = %q starts with - and is not a number", s, got)
				}
			}
		}
		if got != s && got != "'"+s {
			t.Fatalf("CSVCell(%q) = %q changed more than a prefix", s, got)
		}
	})
}
