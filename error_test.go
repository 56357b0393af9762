package lastmile

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"short", "cement", "cement"},
		{"exactly the limit", strings.Repeat("a", ClipLength), strings.Repeat("a", ClipLength)},
		{"ascii over", strings.Repeat("a", ClipLength+5), strings.Repeat("a", ClipLength-1) + "…"},
		{"chinese over", strings.Repeat("路", ClipLength+1), strings.Repeat("路", ClipLength-1) + "…"},
		{"mixed", strings.Repeat("a", ClipLength-2) + "村道路面", strings.Repeat("a", ClipLength-2) + "村…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Clip(tt.in)
			if got != tt.want {
				t.Errorf("Clip = %q, want %q", got, tt.want)
			}
			if !utf8.ValidString(got) || utf8.RuneCountInString(got) > ClipLength {
				t.Errorf("Clip(%q) = %q: invalid UTF-8 or longer than %d characters", tt.in, got, ClipLength)
			}
		})
	}
}

func TestProblems(t *testing.T) {
	var p Problems
	if p.Err("x") != nil {
		t.Fatal("no problems must give a nil error")
	}
	p.Add("surface", strings.Repeat("泥", 100), "is not one of %s", "earth, gravel")
	p.AddRow(3, "width_m", "wide", "must be a number")
	err := p.Err("the query is invalid")
	if ErrorCode(err) != EINVALID {
		t.Fatalf("code %q", ErrorCode(err))
	}
	e := err.(*Error)
	if len(e.Details) != 2 || e.Details[1].Row != 3 || utf8.RuneCountInString(e.Details[0].Value) != ClipLength ||
		e.Details[0].Message != "is not one of earth, gravel" {
		t.Errorf("details %+v", e.Details)
	}
}

func TestClipTo(t *testing.T) {
	if got := ClipTo("GDAL: 无法打开数据源", 8); got != "GDAL: 无…" {
		t.Errorf("ClipTo = %q", got)
	}
	if got := ClipTo("abc", 0); got != "…" {
		t.Errorf("ClipTo(n=0) = %q", got)
	}
}

// The one cap: the first MaxProblems problems are listed, the rest counted,
// and the error says how many were left out.
func TestProblemsCap(t *testing.T) {
	var p Problems
	for i := range MaxProblems + 5 {
		p.AddRow(i+1, "surface", "金", "must be one of earth, gravel")
	}
	if len(p.List) != MaxProblems || p.Omitted != 5 || p.Len() != MaxProblems+5 {
		t.Fatalf("listed %d, omitted %d", len(p.List), p.Omitted)
	}
	e := p.Err("the file is invalid").(*Error)
	last := e.Details[len(e.Details)-1]
	if len(e.Details) != MaxProblems+1 || last.Message != fmt.Sprintf("5 more problems not listed (at most %d are)", MaxProblems) {
		t.Errorf("%d details, last %+v", len(e.Details), last)
	}
	if len(p.List) != MaxProblems {
		t.Errorf("Err changed the list: %d", len(p.List))
	}
}

// A Problem is an error a parser returns; AddError records it under the
// caller's name, and any other error as its text.
func TestProblemsAddError(t *testing.T) {
	var p Problems
	p.AddError("surface_in", fmt.Errorf("wrapped: %w", Problem{Field: "surface", Value: "gold", Message: "must be one of earth"}))
	p.AddError("x", errors.New("plain"))
	if len(p.List) != 2 || p.List[0] != (Problem{Field: "surface_in", Value: "gold", Message: "must be one of earth"}) ||
		p.List[1] != (Problem{Field: "x", Message: "plain"}) {
		t.Errorf("%+v", p.List)
	}
	if s := (Problem{Field: "surface", Value: "gold", Message: "must be one of earth"}).Error(); s != `surface: must be one of earth (got "gold")` {
		t.Errorf("Error() = %q", s)
	}
}

func FuzzClip(f *testing.F) {
	f.Add("路面类型")
	f.Fuzz(func(t *testing.T, s string) {
		got := Clip(s)
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Clip cut a character: %q", got)
		}
		if utf8.RuneCountInString(got) > ClipLength {
			t.Fatalf("too long: %d", utf8.RuneCountInString(got))
		}
	})
}
