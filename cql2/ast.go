// Package cql2 parses OGC Common Query Language (CQL2) filters, in the text
// and the JSON encoding, and compiles them to a SQL condition over a catalog
// layer in which every value is a $n parameter and every column comes from
// the catalog.
//
// Supported: Basic CQL2 (comparisons, AND/OR/NOT, IS NULL, boolean
// literals), advanced comparison operators (LIKE, BETWEEN, IN), DATE and
// TIMESTAMP literals, and the basic spatial functions S_INTERSECTS (with
// S_DISJOINT, S_WITHIN, S_CONTAINS, S_EQUALS, S_TOUCHES, S_OVERLAPS,
// S_CROSSES) on a BBOX or a WKT/GeoJSON geometry in CRS84.
package cql2

import (
	"time"

	"github.com/paulmach/orb"
)

// Conformance lists the conformance classes this package implements, as
// OGC API Features Part 3 and CQL2 name them.
var Conformance = []string{
	"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
	"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
	"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
	"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
	"http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
	"http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
	"http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
	"http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
	"http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
	// The draft's name of basic-spatial-functions, the one QGIS before 3.44
	// looks for before it sends S_INTERSECTS.
	"http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-operators",
	"http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
	"http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
}

// Expr is a node of a parsed filter.
type Expr interface{ expr() }

// Logical is AND or OR over two or more operands.
type Logical struct {
	Op   string // "and" or "or"
	Args []Expr
}

// Not negates its operand.
type Not struct{ Arg Expr }

// Compare is a binary comparison: = <> < <= > >=.
type Compare struct {
	Op          string
	Left, Right Expr
}

// Like is a LIKE pattern match (% and _ wildcards, \ escapes).
type Like struct {
	Arg, Pattern Expr
	Not          bool
}

// Between is arg BETWEEN lo AND hi (inclusive).
type Between struct {
	Arg, Lo, Hi Expr
	Not         bool
}

// In is arg IN (list).
type In struct {
	Arg  Expr
	List []Expr
	Not  bool
}

// IsNull is arg IS NULL.
type IsNull struct {
	Arg Expr
	Not bool
}

// Spatial is a spatial function such as S_INTERSECTS(a, b).
type Spatial struct {
	Op          string // lower case: "s_intersects", …
	Left, Right Expr
}

// Property names a queryable.
type Property struct{ Name string }

// String is a character literal.
type String struct{ V string }

// Number is a numeric literal; Int reports that it was written as a whole
// number.
type Number struct {
	V   float64
	Int bool
}

// Bool is TRUE or FALSE.
type Bool struct{ V bool }

// Date is DATE('YYYY-MM-DD').
type Date struct{ V time.Time }

// Timestamp is TIMESTAMP('…Z').
type Timestamp struct{ V time.Time }

// Geometry is a geometry literal (WKT, GeoJSON or BBOX) in CRS84.
type Geometry struct {
	G orb.Geometry
}

func (Logical) expr()   {}
func (Not) expr()       {}
func (Compare) expr()   {}
func (Like) expr()      {}
func (Between) expr()   {}
func (In) expr()        {}
func (IsNull) expr()    {}
func (Spatial) expr()   {}
func (Property) expr()  {}
func (String) expr()    {}
func (Number) expr()    {}
func (Bool) expr()      {}
func (Date) expr()      {}
func (Timestamp) expr() {}
func (Geometry) expr()  {}

// spatialOps are the spatial functions, lower case, with the PostGIS
// function each compiles to.
var spatialOps = map[string]string{
	"s_intersects": "ST_Intersects",
	"s_disjoint":   "ST_Disjoint",
	"s_within":     "ST_Within",
	"s_contains":   "ST_Contains",
	"s_equals":     "ST_Equals",
	"s_touches":    "ST_Touches",
	"s_overlaps":   "ST_Overlaps",
	"s_crosses":    "ST_Crosses",
}
