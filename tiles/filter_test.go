package tiles

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
)

func layersOf(t testing.TB, names ...string) []*layer.Layer {
	c := layer.Default()
	var out []*layer.Layer
	for _, n := range names {
		l, ok := c.Layer(n)
		if !ok {
			t.Fatalf("no layer %s", n)
		}
		out = append(out, l)
	}
	return out
}

func TestParseFilters(t *testing.T) {
	tests := []struct {
		name   string
		layers []string
		query  string
		want   string // normalised; "" for none
		errs   []string
	}{
		{"none", []string{"roads"}, "", "", nil},
		{"status list normalised", []string{"roads"}, "status=planned,completed,planned", "status=completed,planned", nil},
		{"repeated parameter joins", []string{"roads"}, "surface=cement&surface=asphalt", "surface=asphalt,cement", nil},
		{"spaces trimmed", []string{"roads"}, "surface=%20cement%20,asphalt", "surface=asphalt,cement", nil},
		{"keys sorted", []string{"roads"}, "surface=cement&road_class=county&status=completed",
			"road_class=county&status=completed&surface=cement", nil},
		{"dates", []string{"roads"}, "completed_after=2015-01-01&completed_before=2016-01-01",
			"completed_after=2015-01-01&completed_before=2016-01-01", nil},
		{"started dates", []string{"roads"}, "started_before=2014-05-06", "started_before=2014-05-06", nil},
		{"numbers canonical", []string{"roads"}, "width_m_min=4.50&width_m_max=1e1", "width_m_max=10&width_m_min=4.5", nil},
		{"money range", []string{"roads"}, "funding_yuan_min=0", "funding_yuan_min=0", nil},
		{"boolean", []string{"villages"}, "is_poor_village=TRUE", "is_poor_village=true", nil},
		{"integer range", []string{"villages"}, "population_min=100", "population_min=100", nil},
		{"field of one of two layers", []string{"roads", "villages"}, "population_min=100&surface=stone",
			"population_min=100&surface=stone", nil},
		{"enum values of either layer", []string{"power_upgrades", "facilities"}, "kind=line,school",
			"kind=line,school", nil},
		{"enum of neither layer", []string{"power_upgrades", "facilities"}, "kind=mill", "",
			[]string{"kind: must be one of line, transformer, school, clinic, hospital, market, bus_stop, water_source"}},
		{"chinese value clipped on a character", []string{"roads"}, "surface=" + strings.Repeat("路", 300), "",
			[]string{"surface: must be one of earth, gravel, stone, cement, asphalt (got \"" + strings.Repeat("路", 79) + "…\")"}},
		{"unknown parameter", []string{"roads"}, "colour=red", "", []string{"colour: unknown filter for layer(s) roads"}},
		{"field of an absent layer", []string{"roads"}, "population_min=5", "", []string{"population_min: unknown filter"}},
		// One rule of what is filterable (layer.Field.Filterable): text
		// fields and version are, as on /items and in the statistics.
		{"text fields are filters", []string{"roads"}, "name=B,A&admin_code=371426000000", "admin_code=371426000000&name=A,B", nil},
		{"version is a filter", []string{"roads"}, "version_min=2", "version_min=2", nil},
		{"updated_at is not a filter", []string{"roads"}, "updated_at=2016-01-01", "", []string{"updated_at: unknown filter"}},
		{"objects are not filters", []string{"roads"}, "props=x", "", []string{"props: unknown filter"}},
		{"text pattern", []string{"roads"}, "admin_code=12", "", []string{"admin_code: must match"}},
		{"synonyms read as codes", []string{"roads"}, "surface=水泥,tarmac&status=done", "status=completed&surface=asphalt,cement", nil},
		{"integer range is an integer", []string{"villages"}, "population_min=100.5", "", []string{"population_min: must be an integer"}},
		{"large integer canonical", []string{"villages"}, "population_max=2147483647", "population_max=2147483647", nil},
		{"numeric field needs a range", []string{"roads"}, "width_m=4", "", []string{"width_m: unknown filter"}},
		{"bad enum", []string{"roads"}, "status=gone", "", []string{"status: must be one of planned, under_construction, completed, cancelled"}},
		{"empty enum item", []string{"roads"}, "status=completed,", "", []string{"status: has an empty value"}},
		{"empty value", []string{"roads"}, "status=", "", []string{"status: has an empty value"}},
		{"bad date", []string{"roads"}, "completed_before=2016-02-30", "", []string{"completed_before: must be a date YYYY-MM-DD"}},
		{"date with time", []string{"roads"}, "completed_before=2016-02-01T00:00:00Z", "", []string{"must be a date"}},
		{"bad number", []string{"roads"}, "width_m_min=abc", "", []string{"width_m_min: must be a number"}},
		{"NaN", []string{"roads"}, "width_m_min=NaN", "", []string{"width_m_min: must be a number"}},
		{"infinity", []string{"roads"}, "width_m_max=Inf", "", []string{"width_m_max: must be a number"}},
		{"bad boolean", []string{"villages"}, "is_poor_village=maybe", "", []string{"is_poor_village: must be true or false"}},
		{"range given twice", []string{"roads"}, "width_m_min=1&width_m_min=2", "", []string{"width_m_min: is given more than once"}},
		{"empty numeric range", []string{"roads"}, "width_m_min=6&width_m_max=5", "", []string{"width_m_min: is greater than width_m_max"}},
		{"equal bounds are fine", []string{"roads"}, "width_m_min=5&width_m_max=5", "width_m_max=5&width_m_min=5", nil},
		{"empty date range", []string{"roads"}, "completed_after=2016-01-01&completed_before=2016-01-01", "",
			[]string{"completed_after: must be earlier than completed_before"}},
		{"all problems reported", []string{"roads"}, "status=x&surface=y&width_m_min=z", "",
			[]string{"status: must be one of", "surface: must be one of", "width_m_min: must be a number"}},
		{"long value", []string{"roads"}, "status=" + strings.Repeat("a", 2000), "", []string{"longer than 1000"}},
		{"cql2", []string{"roads"}, "filter=" + url.QueryEscape("surface = 'cement' AND width_m > 4"),
			"filter=surface+%3D+%27cement%27+AND+width_m+%3E+4", nil},
		{"cql2 json", []string{"roads"}, "filter-lang=cql2-json&filter=" + url.QueryEscape(`{"op":"=","args":[{"property":"surface"},"cement"]}`),
			"filter=%7B%22op%22%3A%22%3D%22%2C%22args%22%3A%5B%7B%22property%22%3A%22surface%22%7D%2C%22cement%22%5D%7D&filter-lang=cql2-json", nil},
		{"cql2 with parameters", []string{"roads"}, "status=completed&filter=" + url.QueryEscape("surface = 'cement'"),
			"filter=surface+%3D+%27cement%27&status=completed", nil},
		{"cql2 on one of two layers", []string{"roads", "villages"}, "filter=" + url.QueryEscape("population > 100"),
			"filter=population+%3E+100", nil},
		{"cql2 syntax", []string{"roads"}, "filter=" + url.QueryEscape("surface = "), "", []string{"filter: syntax error at character"}},
		{"cql2 on no layer", []string{"roads", "villages"}, "filter=" + url.QueryEscape("surface = 'cement' AND population > 1"), "",
			[]string{"reads surface, population, which no requested layer has all of"}},
		{"cql2 bad value", []string{"roads"}, "filter=" + url.QueryEscape("surface = 'gold'"), "", []string{`"gold" is not a value of surface`}},
		{"cql2 bad lang", []string{"roads"}, "filter=x&filter-lang=sql", "", []string{"filter-lang: must be cql2-text"}},
		{"filter-lang alone", []string{"roads"}, "filter-lang=cql2-text", "", []string{"filter-lang: is given without a filter"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			fs, err := ParseFilters(layersOf(t, tc.layers...), q)
			if tc.errs == nil {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if got := fs.String(); got != tc.want {
					t.Errorf("String() = %q, want %q", got, tc.want)
				}
				return
			}
			var e *lastmile.Error
			if !errors.As(err, &e) || e.Code != lastmile.EINVALID {
				t.Fatalf("error %v, want an invalid error", err)
			}
			var details []string
			for _, p := range e.Details {
				details = append(details, p.String())
			}
			all := strings.Join(details, "\n")
			for _, want := range tc.errs {
				if !strings.Contains(all, want) {
					t.Errorf("problems %q lack %q", all, want)
				}
			}
			if len(e.Details) != len(tc.errs) {
				t.Errorf("%d problems, want %d: %q", len(e.Details), len(tc.errs), all)
			}
		})
	}
}

func TestFiltersWhere(t *testing.T) {
	ls := layersOf(t, "roads", "villages")
	q, _ := url.ParseQuery("status=completed&surface=cement,stone&completed_before=2016-01-01&population_min=10&is_poor_village=true&width_m_max=7")
	fs, err := ParseFilters(ls, q)
	if err != nil {
		t.Fatal(err)
	}
	var args []any
	param := func(v any) string { args = append(args, v); return "$" + itoa(len(args)) }
	shared := make([]string, len(fs))
	roads := fs.where(ls[0], "t", shared, param)
	villages := fs.where(ls[1], "t", shared, param)
	wantRoads := ` AND t."completed_on" < $1::date AND t."status" = ANY($2::text[]) AND t."surface" = ANY($3::text[]) AND t."width_m" <= $4::float8`
	wantVillages := ` AND t."completed_on" < $1::date AND t."is_poor_village" = $5::boolean AND t."population" >= $6::float8 AND t."status" = ANY($2::text[])`
	if roads != wantRoads {
		t.Errorf("roads:\n got %s\nwant %s", roads, wantRoads)
	}
	if villages != wantVillages {
		t.Errorf("villages:\n got %s\nwant %s", villages, wantVillages)
	}
	if len(args) != 6 {
		t.Errorf("%d arguments, want 6 (shared between layers)", len(args))
	}
}

// FuzzParseFilters checks that no query string panics the parser, that
// accepted filters normalise to a fixed point, and that rejections are
// invalid errors naming a parameter.
func FuzzParseFilters(f *testing.F) {
	for _, s := range []string{
		"", "status=completed", "surface=cement,asphalt&status=planned", "completed_before=2016-01-01",
		"width_m_min=1&width_m_max=2", "is_poor_village=true", "kind=line,school", "x=1", "status=,",
		"width_m_min=1e309", "completed_after=0001-01-01", "%zz", "status=completed&status=planned",
	} {
		f.Add(s)
	}
	ls := layersOf(f, "roads", "villages", "power_upgrades", "facilities")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		fs, err := ParseFilters(ls, q)
		if err != nil {
			var e *lastmile.Error
			if !errors.As(err, &e) || e.Code != lastmile.EINVALID || len(e.Details) == 0 {
				t.Fatalf("error %v is not an invalid error with details", err)
			}
			for _, p := range e.Details {
				if p.Field == "" {
					t.Fatalf("problem without a parameter: %v", p)
				}
			}
			return
		}
		norm := fs.String()
		q2, err := url.ParseQuery(norm)
		if err != nil {
			t.Fatalf("normalised %q does not parse: %v", norm, err)
		}
		fs2, err := ParseFilters(ls, q2)
		if err != nil {
			t.Fatalf("normalised %q rejected: %v", norm, err)
		}
		if fs2.String() != norm {
			t.Fatalf("normalising is not stable: %q then %q", norm, fs2.String())
		}
		var args []any
		shared := make([]string, len(fs))
		for _, l := range ls {
			w := fs.where(l, "t", shared, func(v any) string { args = append(args, v); return "$" + itoa(len(args)) })
			if strings.ContainsAny(w, "'\\;") {
				t.Fatalf("request text in SQL: %s", w)
			}
		}
	})
}

// FuzzTileCQL feeds arbitrary filter= values to ParseFilters on a
// multi-layer set: it never panics, and an accepted filter compiles for
// every layer it applies to.
func FuzzTileCQL(f *testing.F) {
	f.Add("surface = 'cement' AND completed_on < DATE('2016-01-01')", "")
	f.Add("population > 100 OR is_poor_village = TRUE", "")
	f.Add(`{"op":"like","args":[{"property":"name"},"%村"]}`, "cql2-json")
	layers := layersOf(f, "roads", "villages", "facilities")
	f.Fuzz(func(t *testing.T, filter, lang string) {
		q := url.Values{"filter": {filter}}
		if lang != "" {
			q.Set("filter-lang", lang)
		}
		fs, err := ParseFilters(layers, q)
		if err != nil {
			return
		}
		for _, l := range layers {
			n := 0
			fs.where(l, "t", make([]string, len(fs)), func(any) string { n++; return "$" + strconv.Itoa(n) })
		}
		if _, err := url.ParseQuery(fs.String()); err != nil {
			t.Errorf("String() %q is not a query string: %v", fs.String(), err)
		}
	})
}
