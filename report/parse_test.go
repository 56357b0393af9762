package report

import (
	"errors"
	"net/url"
	"testing"

	"github.com/lastmile/lastmile"
)

func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		name, code, query string
		fields            []string // fields of the problems, in order; nil: valid
		lang              string
	}{
		{"county", "371426000000", "", nil, "en"},
		{"all parameters", "371426100000", "as_of=2019-12-31&compare=2015-12-31&lang=zh", nil, "zh"},
		{"bad date", "371426000000", "as_of=2015-13-01", []string{"as_of"}, ""},
		{"bad compare", "371426000000", "compare=yesterday", []string{"compare"}, ""},
		{"bad lang", "371426000000", "lang=fr", []string{"lang"}, ""},
		{"short code", "3714", "", []string{"admin_code"}, ""},
		{"letters", "37142600000x", "", []string{"admin_code"}, ""},
		{"unknown parameter", "371426000000", "format=pdf", []string{"format"}, ""},
		{"repeated", "371426000000", "as_of=2015-01-01&as_of=2016-01-01", []string{"as_of"}, ""},
		{"several problems", "x", "as_of=2015&lang=de", []string{"admin_code", "as_of", "lang"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			req, err := ParseRequest(tc.code, v)
			if tc.fields == nil {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if req.Lang != tc.lang || req.Code != tc.code {
					t.Errorf("got %+v", req)
				}
				return
			}
			var e *lastmile.Error
			if !errors.As(err, &e) || e.Code != lastmile.EINVALID {
				t.Fatalf("error %v, want invalid", err)
			}
			var got []string
			for _, p := range e.Details {
				got = append(got, p.Field)
			}
			if len(got) != len(tc.fields) {
				t.Fatalf("problems %v, want fields %v", e.Details, tc.fields)
			}
			for _, f := range tc.fields {
				found := false
				for _, g := range got {
					found = found || g == f
				}
				if !found {
					t.Errorf("no problem for %s in %v", f, e.Details)
				}
			}
		})
	}
}

// FuzzParseRequest: any code and query either parse into a valid request
// or fail as invalid, never panic or fail otherwise.
func FuzzParseRequest(f *testing.F) {
	f.Add("371426000000", "as_of=2015-12-31&compare=2010-01-01&lang=zh")
	f.Add("x", "lang=%ff&as_of=0000-00-00")
	f.Fuzz(func(t *testing.T, code, query string) {
		v, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		req, err := ParseRequest(code, v)
		if err != nil {
			if lastmile.ErrorCode(err) != lastmile.EINVALID {
				t.Fatalf("error %v is not invalid", err)
			}
			return
		}
		if len(req.Code) != 12 || (req.Lang != "en" && req.Lang != "zh") {
			t.Fatalf("accepted %+v", req)
		}
	})
}
