package lastmile

import (
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
