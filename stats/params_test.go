package stats

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgsql"
)

// The term form reads values with the catalog's one parser
// (layer.Field.ParseValue): synonyms are codes, integers are integers,
// bounds are not a filter's business, and a Chinese value is clipped on a
// character boundary.
func TestParseTermsValues(t *testing.T) {
	roads, _ := layer.Default().Layer("roads")
	var a pgsql.Args
	f, problems := parseFilter("filter", []string{"surface:水泥,tarmac;version:1,2;width_m<=1000;completed_on<2016-01-01;name:村道"}, roads, "t", &a)
	if len(problems) != 0 {
		t.Fatalf("problems %v", problems)
	}
	want := []any{[]string{"cement", "asphalt"}, []int64{1, 2}, 1000.0, time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC), []string{"村道"}}
	if !reflect.DeepEqual([]any(a), want) {
		t.Errorf("args %#v, want %#v", a, want)
	}
	if got := f.where(); got != `(t."surface" = ANY($1::text[]) AND t."version" = ANY($2::bigint[]) AND t."width_m" <= $3::float8 AND t."completed_on" < $4::date AND t."name" = ANY($5::text[]))` {
		t.Errorf("where %s", got)
	}
	for _, tc := range []struct{ spec, msg string }{
		{"surface:gold", `surface: must be one of earth, gravel, stone, cement, asphalt (got "gold")`},
		{"version:1.5", `version: must be an integer (got "1.5")`},
		{"updated_at:x", `"updated_at" is not a filterable field of roads`},
		{"surface:" + strings.Repeat("路", 200), `(got "` + strings.Repeat("路", 79) + `…")`},
	} {
		var a pgsql.Args
		_, problems := parseTerms("filter", tc.spec, roads, "t", &a)
		if len(problems) != 1 || !strings.Contains(problems[0].Message, tc.msg) || problems[0].Field != "filter" {
			t.Errorf("%.40s: problems %v, want one containing %q", tc.spec, problems, tc.msg)
		}
	}
}
