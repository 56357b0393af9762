// Package pgsql is the one kit lastmile builds SQL with: $n arguments
// (Args), quoted catalog identifiers (Table, Col), conditions (Cond, And)
// and one template dialect, /*slot*/ (Template). Every value a request
// brings is an argument; everything spliced into SQL text comes from the
// catalog or from the code.
package pgsql

import (
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/lastmile/lastmile/layer"
)

// Schema is the schema of the asset tables.
const Schema = "lastmile"

// Args collects the values of a statement's $n parameters. Add appends a
// value and returns its placeholder; pass the values as args... to
// Query/Exec. A statement whose SQL already uses $1…$k by hand starts from
// those values: Args{a, b} makes the next Add return "$3".
type Args []any

// Add appends v and returns its placeholder, "$n".
func (a *Args) Add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// Table returns the quoted, schema-qualified table of a catalog layer:
// "lastmile"."roads".
func Table(l *layer.Layer) string { return pgx.Identifier{Schema, l.Table}.Sanitize() }

// Ident quotes one identifier: "surface".
func Ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// Col returns the quoted column of a catalog field, qualified by a table
// alias when alias is not empty: t."surface".
func Col(alias, field string) string {
	if alias == "" {
		return Ident(field)
	}
	return alias + "." + Ident(field)
}

// Cond returns the condition col op arg. op is one of = <> < <= > >= and
// "= ANY" (arg is then an array: col = ANY(arg)); arg is a placeholder from
// Args.Add, with a cast if needed ("$3::date"). An op outside that set is a
// programming error and panics: operators never come from request text.
func Cond(col, op, arg string) string {
	switch op {
	case "=", "<>", "<", "<=", ">", ">=":
		return col + " " + op + " " + arg
	case "= ANY":
		return col + " = ANY(" + arg + ")"
	}
	panic("pgsql: Cond: operator " + strconv.Quote(op) + " is not one of = <> < <= > >= = ANY")
}

// And joins conditions with AND: "TRUE" when there are none, the condition
// itself when there is one, and the conjunction in parentheses otherwise.
func And(conds ...string) string {
	switch len(conds) {
	case 0:
		return "TRUE"
	case 1:
		return conds[0]
	}
	return "(" + strings.Join(conds, " AND ") + ")"
}
