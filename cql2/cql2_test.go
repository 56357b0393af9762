package cql2

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
)

func roads(t testing.TB) *Queryables {
	l, ok := layer.Default().Layer("roads")
	if !ok {
		t.Fatal("no roads layer")
	}
	return LayerQueryables(l, "")
}

// compileText parses and compiles src, returning the SQL and the args.
func compileText(t testing.TB, src string) (string, []any, error) {
	e, err := ParseText(src)
	if err != nil {
		return "", nil, err
	}
	var args []any
	sql, err := Compile(e, roads(t), func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) })
	return sql, args, err
}

func TestText(t *testing.T) {
	tests := []struct {
		name, src, sql, args string
	}{
		{"equality", "surface = 'cement'", `("surface" = $1::text)`, "[cement]"},
		{"QGIS quoting", `"surface"='cement' AND "width_m">=4.5`, `(("surface" = $1::text) AND ("width_m" >= $2::double precision))`, "[cement 4.5]"},
		{"or and precedence", "a_b = 1 OR status = 'completed' AND surface = 'stone'", "", ""},
		{"not", "NOT surface = 'earth'", `(NOT ("surface" = $1::text))`, "[earth]"},
		{"parentheses", "(surface = 'earth' OR surface = 'gravel') AND width_m < 5", `((("surface" = $1::text) OR ("surface" = $2::text)) AND ("width_m" < $3::double precision))`, "[earth gravel 5]"},
		{"value first", "5 > width_m", `("width_m" < $1::double precision)`, "[5]"},
		{"in", "surface IN ('cement','asphalt')", `("surface" IN ($1::text, $2::text))`, "[cement asphalt]"},
		{"not in", "surface NOT IN ('earth')", `("surface" NOT IN ($1::text))`, "[earth]"},
		{"like", "name LIKE '%村%'", `("name" LIKE $1::text)`, "[%村%]"},
		{"not like", "name NOT LIKE 'G%'", `("name" NOT LIKE $1::text)`, "[G%]"},
		{"between", "width_m BETWEEN 3 AND 6.5", `("width_m" BETWEEN $1::double precision AND $2::double precision)`, "[3 6.5]"},
		{"is null", "completed_on IS NULL", `("completed_on" IS NULL)`, "[]"},
		{"is not null", "completed_on IS NOT NULL", `("completed_on" IS NOT NULL)`, "[]"},
		{"date", "completed_on >= DATE('2015-01-01')", `("completed_on" >= $1::date)`, "[2015-01-01]"},
		{"date as string", "started_on < '2016-01-01'", `("started_on" < $1::date)`, "[2016-01-01]"},
		{"timestamp", "updated_at > TIMESTAMP('2020-01-01T00:00:00Z')", `("updated_at" > $1::timestamptz)`, "[2020-01-01 00:00:00 +0000 UTC]"},
		{"negative number", "width_m > -1", `("width_m" > $1::double precision)`, "[-1]"},
		{"bbox", "S_INTERSECTS(geometry, BBOX(117.1,37.2,117.2,37.3))", `ST_Intersects("geom", ST_GeomFromWKB($1::bytea, 4326))`, ""},
		{"wkt", "s_intersects(geom, POLYGON((117 37, 118 37, 118 38, 117 37)))", `ST_Intersects("geom", ST_GeomFromWKB($1::bytea, 4326))`, ""},
		{"boolean literal", "TRUE", "TRUE", "[]"},
		{"keywords any case", "surface in ('stone') and not width_m is null", `(("surface" IN ($1::text)) AND (NOT ("width_m" IS NULL)))`, "[stone]"},
		{"property to property", "started_on <= completed_on", `("started_on" <= "completed_on")`, "[]"},
		{"GDAL date without time", "started_on >= '2015-01-01T'", `("started_on" >= $1::date)`, "[2015-01-01]"},
		{"date-time string on a date", "completed_on < '2016-01-01T00:00:00Z'", `("completed_on" < $1::timestamptz)`, "[2016-01-01 00:00:00 +0000 UTC]"},
		{"string with quote", "name = 'O''Brien'", `("name" = $1::text)`, "[O'Brien]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sql, args, err := compileText(t, tt.src)
			if tt.sql == "" { // expected to fail at compile time (unknown property)
				if err == nil {
					t.Fatalf("want an error, got %s", sql)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sql != tt.sql {
				t.Errorf("sql\n got %s\nwant %s", sql, tt.sql)
			}
			if tt.args != "" {
				got := fmt.Sprint(args)
				if got != tt.args {
					t.Errorf("args got %s want %s", got, tt.args)
				}
			}
		})
	}
}

func TestPrecedence(t *testing.T) {
	e, err := ParseText("surface = 'earth' OR surface = 'stone' AND width_m > 3")
	if err != nil {
		t.Fatal(err)
	}
	or, ok := e.(Logical)
	if !ok || or.Op != "or" || len(or.Args) != 2 {
		t.Fatalf("want OR at the top, got %#v", e)
	}
	if and, ok := or.Args[1].(Logical); !ok || and.Op != "and" {
		t.Fatalf("want AND binding tighter, got %#v", or.Args[1])
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		src  string
		pos  int
		want string
	}{
		{"surface = ", 11, "expected a property or a value, found end of filter"},
		{"surface == 'x'", 10, `found "="`},
		{"surface = 'cement", 11, "not closed"},
		{"名称 = 'x' AND", 13, "end of filter"},
		{"(surface = 'x'", 15, `expected ")"`},
		{"surface IS 'x'", 12, "expected NULL"},
		{"width_m BETWEEN 1 2", 19, "expected AND"},
		{"surface = 'x' surface", 15, "after a complete filter"},
		{"completed_on = DATE('2015-13-01')", 21, "not a date"},
		{"s_intersects(geom, BBOX(1,2,3))", 20, "BBOX needs 4 numbers"},
		{"s_intersects(geom, POINT(200 0))", 20, "outside longitude"},
		{"s_intersects(geom, POLYGON((0 0, 1 1, 0 0)))", 28, "at least 4 positions"},
		{"surface = 'x' ; DROP", 15, "unexpected character"},
		{"width_m", 8, "expected a comparison"},
		{strings.Repeat("(", 100) + "a = 1" + strings.Repeat(")", 100), 65, "nested more than"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, err := ParseText(tt.src)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("want a SyntaxError, got %v", err)
			}
			if se.Pos != tt.pos || !strings.Contains(se.Msg, tt.want) {
				t.Errorf("got position %d %q; want position %d containing %q", se.Pos, se.Msg, tt.pos, tt.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"surfce = 'cement'", `"surfce" is not a queryable (queryables: ext_id, name`},
		{"surface = 'cemnt'", `"cemnt" is not a value of surface (values: earth, gravel, stone, cement, asphalt)`},
		{"width_m = 'wide'", "width_m is number: compare it with a number, not 'wide'"},
		{"surface LIKE 5", "must be a string"},
		{"width_m LIKE '5%'", "LIKE needs a text property"},
		{"completed_on > 2015", "compare it with DATE('YYYY-MM-DD')"},
		{"props = 'x'", `"props" is not a queryable`},
		{"'a' = 'b'", "needs a property on one side"},
		{"geometry = 'x'", "spatial functions"},
		{"s_intersects(BBOX(0,0,1,1), BBOX(0,0,1,1))", "geometry property on one side"},
		{"s_intersects(name, BBOX(0,0,1,1))", "needs a geometry; name is text"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, _, err := compileText(t, tt.src)
			if lastmile.ErrorCode(err) != lastmile.EINVALID {
				t.Fatalf("want an invalid error, got %v", err)
			}
			var le *lastmile.Error
			errors.As(err, &le)
			if len(le.Details) != 1 || le.Details[0].Field != "filter" || !strings.Contains(le.Details[0].Message, tt.want) {
				t.Errorf("got %v; want a filter problem containing %q", le.Details, tt.want)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	tests := []struct{ name, src, sql string }{
		{"and", `{"op":"and","args":[{"op":"=","args":[{"property":"surface"},"cement"]},{"op":">=","args":[{"property":"width_m"},4.5]}]}`,
			`(("surface" = $1::text) AND ("width_m" >= $2::double precision))`},
		{"in", `{"op":"in","args":[{"property":"surface"},["cement","asphalt"]]}`, `("surface" IN ($1::text, $2::text))`},
		{"like", `{"op":"like","args":[{"property":"name"},"G%"]}`, `("name" LIKE $1::text)`},
		{"between", `{"op":"between","args":[{"property":"width_m"},3,6]}`, `("width_m" BETWEEN $1::double precision AND $2::double precision)`},
		{"isNull", `{"op":"not","args":[{"op":"isNull","args":[{"property":"completed_on"}]}]}`, `(NOT ("completed_on" IS NULL))`},
		{"date", `{"op":"<","args":[{"property":"completed_on"},{"date":"2016-01-01"}]}`, `("completed_on" < $1::date)`},
		{"bbox", `{"op":"s_intersects","args":[{"property":"geometry"},{"bbox":[117,37,118,38]}]}`, `ST_Intersects("geom", ST_GeomFromWKB($1::bytea, 4326))`},
		{"geojson", `{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Point","coordinates":[117.1,37.2]}]}`, `ST_Intersects("geom", ST_GeomFromWKB($1::bytea, 4326))`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseJSON([]byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			sql, err := Compile(e, roads(t), func(any) string { n++; return fmt.Sprintf("$%d", n) })
			if err != nil {
				t.Fatal(err)
			}
			if sql != tt.sql {
				t.Errorf("got %s want %s", sql, tt.sql)
			}
		})
	}
	bad := []struct{ src, want string }{
		{`{"op":"=","args":[{"property":"surface"}]}`, "at args: = takes 2 arguments, got 1"},
		{`{"op":"and","args":[{"op":"=","args":[{"property":"a"},1]},{"op":"bogus","args":[]}]}`, "at args/1/op: unknown operator"},
		{`{"op":"=","args":[{"property":"surface"},{"x":1}]}`, "at args/1: expected a value"},
		{`{"op":"=",`, "not valid JSON"},
		{`{"op":"in","args":[{"property":"surface"},[]]}`, "non-empty array"},
	}
	for _, tt := range bad {
		_, err := ParseJSON([]byte(tt.src))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.src, err, tt.want)
		}
	}
}

// TestTextAndJSONAgree checks that the two encodings of the same filter
// compile to the same SQL.
func TestTextAndJSONAgree(t *testing.T) {
	pairs := [][2]string{
		{"surface = 'cement' AND NOT width_m < 4", `{"op":"and","args":[{"op":"=","args":[{"property":"surface"},"cement"]},{"op":"not","args":[{"op":"<","args":[{"property":"width_m"},4]}]}]}`},
		{"completed_on BETWEEN DATE('2015-01-01') AND DATE('2015-12-31')", `{"op":"between","args":[{"property":"completed_on"},{"date":"2015-01-01"},{"date":"2015-12-31"}]}`},
	}
	for _, p := range pairs {
		a, _, err := compileText(t, p[0])
		if err != nil {
			t.Fatal(err)
		}
		e, err := ParseJSON([]byte(p[1]))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		b, err := Compile(e, roads(t), func(any) string { n++; return fmt.Sprintf("$%d", n) })
		if err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Errorf("text %s\njson %s", a, b)
		}
	}
}

func FuzzParseText(f *testing.F) {
	for _, s := range []string{"surface = 'cement'", "a IN (1,2) OR NOT b IS NULL", "s_intersects(geom, POLYGON((0 0,1 0,1 1,0 0)))",
		"completed_on >= DATE('2015-01-01')", "(((x)))", "name LIKE '%村'", "-1 < -2e3"} {
		f.Add(s)
	}
	q := roads(f)
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseText(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Pos < 1 || se.Pos > len([]rune(s))+1 {
				t.Fatalf("bad error %v for %q", err, s)
			}
			return
		}
		_, err = Compile(e, q, func(any) string { return "$1" })
		if err != nil && lastmile.ErrorCode(err) != lastmile.EINVALID {
			t.Fatalf("compile error of the wrong kind: %v", err)
		}
	})
}

func FuzzParseJSON(f *testing.F) {
	f.Add(`{"op":"=","args":[{"property":"surface"},"cement"]}`)
	f.Add(`{"op":"s_intersects","args":[{"property":"geom"},{"bbox":[0,0,1,1]}]}`)
	q := roads(f)
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseJSON([]byte(s))
		if err != nil {
			return
		}
		if _, err := Compile(e, q, func(any) string { return "$1" }); err != nil && lastmile.ErrorCode(err) != lastmile.EINVALID {
			t.Fatalf("compile error of the wrong kind: %v", err)
		}
	})
}

func mustLayer(t testing.TB, name string) *layer.Layer {
	l, ok := layer.Default().Layer(name)
	if !ok {
		t.Fatalf("no layer %s", name)
	}
	return l
}

func TestFilter(t *testing.T) {
	e, err := ParseText("surface = 'cement' AND S_INTERSECTS(geom, BBOX(0,0,1,1)) AND width_m > 3")
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewFilter(e, roads(t))
	if err != nil {
		t.Fatal(err)
	}
	n := 4
	sql := f.SQL(func(any) string { n++; return fmt.Sprintf("$%d", n) })
	want := `(("surface" = $5::text) AND ST_Intersects("geom", ST_GeomFromWKB($6::bytea, 4326)) AND ("width_m" > $7::double precision))`
	if sql != want {
		t.Errorf("SQL = %s, want %s", sql, want)
	}
	if got := strings.Join(Properties(e), ","); got != "surface,geometry,width_m" {
		t.Errorf("Properties = %s", got)
	}
	bad, _ := ParseText("nope = 1")
	if _, err := NewFilter(bad, roads(t)); lastmile.ErrorCode(err) != lastmile.EINVALID {
		t.Errorf("NewFilter(nope = 1) = %v, want invalid", err)
	}
}
