package pgsql_test

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgsql"
)

func TestArgs(t *testing.T) {
	tests := []struct {
		name  string
		start pgsql.Args
		add   []any
		want  []string
	}{
		{"from empty", nil, []any{1, "a", []string{"x"}}, []string{"$1", "$2", "$3"}},
		{"after hand-numbered $1 $2", pgsql.Args{10, 20}, []any{"c"}, []string{"$3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.start
			var got []string
			for _, v := range tt.add {
				got = append(got, a.Add(v))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("placeholders %v, want %v", got, tt.want)
			}
			if len(a) != len(tt.start)+len(tt.add) || a[len(a)-1] == nil {
				t.Errorf("values %v", a)
			}
		})
	}
}

func TestIdentifiers(t *testing.T) {
	roads := &layer.Layer{Name: "roads", Table: "roads"}
	odd := &layer.Layer{Name: "odd", Table: `we"ird`}
	tests := []struct {
		name, got, want string
	}{
		{"table", pgsql.Table(roads), `"lastmile"."roads"`},
		{"table with a quote", pgsql.Table(odd), `"lastmile"."we""ird"`},
		{"column with alias", pgsql.Col("t", "surface"), `t."surface"`},
		{"column without alias", pgsql.Col("", "surface"), `"surface"`},
		{"ident", pgsql.Ident("a b"), `"a b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %s, want %s", tt.got, tt.want)
			}
		})
	}
}

func TestCond(t *testing.T) {
	tests := []struct {
		col, op, arg, want string
	}{
		{`t."status"`, "= ANY", "$1::text[]", `t."status" = ANY($1::text[])`},
		{`"completed_on"`, ">=", "$2", `"completed_on" >= $2`},
		{`t."width_m"`, "<", "$3::float8", `t."width_m" < $3::float8`},
		{`t."x"`, "<>", "$4", `t."x" <> $4`},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			if got := pgsql.Cond(tt.col, tt.op, tt.arg); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	for _, op := range []string{"; DROP", "LIKE", "", "OR"} {
		t.Run("refuses "+op, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Cond accepted operator %q", op)
				}
			}()
			pgsql.Cond("a", op, "$1")
		})
	}
}

func TestAnd(t *testing.T) {
	tests := []struct {
		conds []string
		want  string
	}{
		{nil, "TRUE"},
		{[]string{"a = $1"}, "a = $1"},
		{[]string{"a = $1", "b OR c"}, "(a = $1 AND b OR c)"},
	}
	for _, tt := range tests {
		if got := pgsql.And(tt.conds...); got != tt.want {
			t.Errorf("And(%q) = %q, want %q", tt.conds, got, tt.want)
		}
	}
}

func TestTemplate(t *testing.T) {
	tests := []struct {
		name      string
		sql       string
		parts     pgsql.Slots
		want      string
		wantSlots []string
	}{
		{"slots replaced, extra parts ignored",
			"SELECT /*cols*/ FROM /*table*/ t WHERE /*where*/ AND /*where*/",
			pgsql.Slots{"cols": "t.id", "table": `"lastmile"."roads"`, "where": "TRUE", "unused": "x"},
			`SELECT t.id FROM "lastmile"."roads" t WHERE TRUE AND TRUE`, []string{"cols", "table", "where"}},
		{"comment lines and blank lines dropped, comments may name slots",
			"-- reads /*table*/\n\nSELECT 1\n  -- indented comment\nFROM /*table*/ -- kept: not a whole line",
			pgsql.Slots{"table": "x"}, "SELECT 1\nFROM x -- kept: not a whole line", []string{"table"}},
		{"other comments are not slots",
			"SELECT /* a comment */ 1 /*Upper*/ /*layer.Hardened(r)*/ true",
			nil, "SELECT /* a comment */ 1 /*Upper*/ /*layer.Hardened(r)*/ true", nil},
		{"a part is not re-read for markers",
			"SELECT /*a*/, /*b*/", pgsql.Slots{"a": "/*b*/", "b": "2"}, "SELECT /*b*/, 2", []string{"a", "b"}},
		{"digits and underscores", "x /*row_columns2*/ y", pgsql.Slots{"row_columns2": "z"}, "x z y", []string{"row_columns2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm := pgsql.Parse("test.sql", tt.sql)
			if got := tm.Fill(tt.parts); got != tt.want {
				t.Errorf("Fill = %q, want %q", got, tt.want)
			}
			if got := tm.Slots(); !slices.Equal(got, tt.wantSlots) {
				t.Errorf("Slots = %v, want %v", got, tt.wantSlots)
			}
		})
	}
}

func TestTemplateMissingPartPanics(t *testing.T) {
	defer func() {
		r := recover()
		if msg, _ := r.(string); !strings.Contains(msg, "q.sql") || !strings.Contains(msg, "/*where*/") {
			t.Errorf("panic %v, want one naming q.sql and /*where*/", r)
		}
	}()
	pgsql.Parse("q.sql", "SELECT 1 WHERE /*where*/").Fill(pgsql.Slots{"table": "x"})
}

func TestMustParseFS(t *testing.T) {
	fsys := fstest.MapFS{
		"sql/a.sql":   {Data: []byte("SELECT /*x*/")},
		"sql/b.sql":   {Data: []byte("-- b\nSELECT 2")},
		"sql/c.txt":   {Data: []byte("not sql")},
		"other/d.sql": {Data: []byte("SELECT 4")},
	}
	ts := pgsql.MustParseFS(fsys, "sql/*.sql")
	if len(ts) != 2 || ts["a.sql"] == nil || ts["b.sql"] == nil {
		t.Fatalf("templates %v, want a.sql and b.sql", ts)
	}
	if got := ts.Fill("a.sql", map[string]string{"x": "1"}); got != "SELECT 1" {
		t.Errorf("a.sql = %q", got)
	}
	if got := ts.Fill("b.sql", nil); got != "SELECT 2" {
		t.Errorf("b.sql = %q", got)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Fill of an unknown template did not panic")
			}
		}()
		ts.Fill("nope.sql", nil)
	}()
}
