package cql2

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile"
)

// SyntaxError is a filter that cannot be parsed: Pos is the 1-based
// character position (not byte) where the problem was found.
type SyntaxError struct {
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("position %d: %s", e.Pos, e.Msg) }

// MaxDepth bounds nesting (parentheses, NOT, nested JSON) so that a hostile
// filter cannot exhaust the stack.
const MaxDepth = 64

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tQuoted // "double quoted" property name
	tString // 'single quoted'
	tNumber
	tOp // = <> < <= > >= ( ) , -
)

type token struct {
	kind tokKind
	text string // identifier (as written), string value, number text, operator
	pos  int    // byte offset
}

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
}

// ParseText parses a CQL2 text filter.
func ParseText(src string) (Expr, error) {
	p := &parser{src: src}
	if err := p.lex(); err != nil {
		return nil, err
	}
	e, err := p.orExpr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errAt(t, "unexpected %s after a complete filter", describe(t))
	}
	return e, nil
}

// charPos converts a byte offset to a 1-based character position.
func (p *parser) charPos(off int) int {
	if off > len(p.src) {
		off = len(p.src)
	}
	return utf8.RuneCountInString(p.src[:off]) + 1
}

func (p *parser) errAt(t token, format string, args ...any) error {
	return &SyntaxError{Pos: p.charPos(t.pos), Msg: fmt.Sprintf(format, args...)}
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of filter"
	case tString:
		return fmt.Sprintf("string '%s'", lastmile.Clip(t.text))
	case tQuoted:
		return fmt.Sprintf("property \"%s\"", lastmile.Clip(t.text))
	default:
		return fmt.Sprintf("%q", lastmile.Clip(t.text))
	}
}

func (p *parser) lex() error {
	s := p.src
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		switch {
		case unicode.IsSpace(r):
			i += w
		case r == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return &SyntaxError{Pos: p.charPos(i), Msg: "a string starting here is not closed with '"}
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			p.toks = append(p.toks, token{tString, b.String(), i})
			i = j + 1
		case r == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return &SyntaxError{Pos: p.charPos(i), Msg: `a property name starting here is not closed with "`}
			}
			p.toks = append(p.toks, token{tQuoted, s[i+1 : i+1+j], i})
			i += j + 2
		case r >= '0' && r <= '9' || r == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == 'e' || s[j] == 'E' ||
				(s[j] == '+' || s[j] == '-') && j > i && (s[j-1] == 'e' || s[j-1] == 'E')) {
				j++
			}
			p.toks = append(p.toks, token{tNumber, s[i:j], i})
			i = j
		case r == '_' || unicode.IsLetter(r):
			j := i
			for j < len(s) {
				r2, w2 := utf8.DecodeRuneInString(s[j:])
				if r2 != '_' && r2 != '.' && r2 != ':' && !unicode.IsLetter(r2) && !unicode.IsDigit(r2) {
					break
				}
				j += w2
			}
			p.toks = append(p.toks, token{tIdent, s[i:j], i})
			i = j
		default:
			op := string(r)
			if i+1 < len(s) {
				two := s[i : i+2]
				if two == "<>" || two == "<=" || two == ">=" {
					op = two
				}
			}
			if !strings.Contains("=<>(),-", string(r)) && len(op) == 1 {
				return &SyntaxError{Pos: p.charPos(i), Msg: fmt.Sprintf("unexpected character %q", r)}
			}
			p.toks = append(p.toks, token{tOp, op, i})
			i += len(op)
		}
	}
	p.toks = append(p.toks, token{tEOF, "", len(s)})
	return nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// keyword reports whether the next token is the identifier kw (any case).
func (p *parser) keyword(kw string) bool {
	t := p.peek()
	return t.kind == tIdent && strings.EqualFold(t.text, kw)
}

func (p *parser) accept(kw string) bool {
	if p.keyword(kw) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expectOp(op string) error {
	t := p.next()
	if t.kind != tOp || t.text != op {
		return p.errAt(t, "expected %q, found %s", op, describe(t))
	}
	return nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxDepth {
		return p.errAt(p.peek(), "the filter is nested more than %d levels deep", MaxDepth)
	}
	return nil
}

func (p *parser) orExpr() (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	e, err := p.andExpr()
	if err != nil {
		return nil, err
	}
	args := []Expr{e}
	for p.accept("OR") {
		e, err := p.andExpr()
		if err != nil {
			return nil, err
		}
		args = append(args, e)
	}
	if len(args) == 1 {
		return args[0], nil
	}
	return Logical{Op: "or", Args: args}, nil
}

func (p *parser) andExpr() (Expr, error) {
	e, err := p.notExpr()
	if err != nil {
		return nil, err
	}
	args := []Expr{e}
	for p.accept("AND") {
		e, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		args = append(args, e)
	}
	if len(args) == 1 {
		return args[0], nil
	}
	return Logical{Op: "and", Args: args}, nil
}

func (p *parser) notExpr() (Expr, error) {
	if p.accept("NOT") {
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		e, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		return Not{Arg: e}, nil
	}
	return p.primary()
}

func (p *parser) primary() (Expr, error) {
	t := p.peek()
	if t.kind == tOp && t.text == "(" {
		// A parenthesised boolean expression, or a parenthesised scalar
		// on the left of a comparison: try the boolean reading first.
		save := p.i
		p.i++
		e, err := p.orExpr()
		if err == nil && p.peek().kind == tOp && p.peek().text == ")" {
			p.i++
			if isBoolean(e) {
				return e, nil
			}
		}
		if err == nil {
			err = p.expectOp(")")
		}
		p.i = save
		left, err2 := p.scalar()
		if err2 != nil {
			return nil, err
		}
		return p.predicate(left)
	}
	if t.kind == tIdent {
		if op := strings.ToLower(t.text); spatialOps[op] != "" {
			p.i++
			if err := p.expectOp("("); err != nil {
				return nil, err
			}
			a, err := p.geomOperand()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
			b, err := p.geomOperand()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return Spatial{Op: op, Left: a, Right: b}, nil
		}
		if (strings.EqualFold(t.text, "TRUE") || strings.EqualFold(t.text, "FALSE")) && !p.followedByOperator() {
			p.i++
			return Bool{V: strings.EqualFold(t.text, "TRUE")}, nil
		}
	}
	left, err := p.scalar()
	if err != nil {
		return nil, err
	}
	return p.predicate(left)
}

// followedByOperator reports whether the token after the current one
// continues a predicate (so TRUE = x reads as a comparison).
func (p *parser) followedByOperator() bool {
	t := p.toks[p.i+1]
	return t.kind == tOp && t.text != ")" && t.text != "," ||
		t.kind == tIdent && (strings.EqualFold(t.text, "IS") || strings.EqualFold(t.text, "LIKE") ||
			strings.EqualFold(t.text, "IN") || strings.EqualFold(t.text, "BETWEEN"))
}

func isBoolean(e Expr) bool {
	switch e.(type) {
	case Logical, Not, Compare, Like, Between, In, IsNull, Spatial, Bool:
		return true
	}
	return false
}

func (p *parser) predicate(left Expr) (Expr, error) {
	t := p.peek()
	if t.kind == tOp {
		switch t.text {
		case "=", "<>", "<", "<=", ">", ">=":
			p.i++
			right, err := p.scalar()
			if err != nil {
				return nil, err
			}
			return Compare{Op: t.text, Left: left, Right: right}, nil
		}
	}
	if p.accept("IS") {
		not := p.accept("NOT")
		if !p.accept("NULL") {
			return nil, p.errAt(p.peek(), "expected NULL after IS%s, found %s", map[bool]string{true: " NOT"}[not], describe(p.peek()))
		}
		return IsNull{Arg: left, Not: not}, nil
	}
	not := p.accept("NOT")
	switch {
	case p.accept("LIKE"):
		pat, err := p.scalar()
		if err != nil {
			return nil, err
		}
		return Like{Arg: left, Pattern: pat, Not: not}, nil
	case p.accept("BETWEEN"):
		lo, err := p.scalar()
		if err != nil {
			return nil, err
		}
		if !p.accept("AND") {
			return nil, p.errAt(p.peek(), "expected AND in BETWEEN … AND …, found %s", describe(p.peek()))
		}
		hi, err := p.scalar()
		if err != nil {
			return nil, err
		}
		return Between{Arg: left, Lo: lo, Hi: hi, Not: not}, nil
	case p.accept("IN"):
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		var list []Expr
		for {
			v, err := p.scalar()
			if err != nil {
				return nil, err
			}
			list = append(list, v)
			if p.peek().kind == tOp && p.peek().text == "," {
				p.i++
				continue
			}
			break
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		return In{Arg: left, List: list, Not: not}, nil
	}
	return nil, p.errAt(p.peek(), "expected a comparison (=, <>, <, <=, >, >=, LIKE, BETWEEN, IN, IS NULL), found %s", describe(p.peek()))
}

// scalar reads a property, a literal, DATE(…) or TIMESTAMP(…).
func (p *parser) scalar() (Expr, error) {
	t := p.next()
	switch t.kind {
	case tString:
		return String{V: t.text}, nil
	case tQuoted:
		return Property{Name: t.text}, nil
	case tNumber:
		return p.number(t, false)
	case tOp:
		if t.text == "-" && p.peek().kind == tNumber {
			return p.number(p.next(), true)
		}
		if t.text == "(" {
			e, err := p.scalar()
			if err != nil {
				return nil, err
			}
			return e, p.expectOp(")")
		}
	case tIdent:
		switch strings.ToUpper(t.text) {
		case "TRUE", "FALSE":
			return Bool{V: strings.EqualFold(t.text, "TRUE")}, nil
		case "DATE", "TIMESTAMP":
			if p.peek().kind == tOp && p.peek().text == "(" {
				p.i++
				s := p.next()
				if s.kind != tString {
					return nil, p.errAt(s, "%s( needs a quoted string, found %s", strings.ToUpper(t.text), describe(s))
				}
				if err := p.expectOp(")"); err != nil {
					return nil, err
				}
				return temporal(strings.ToUpper(t.text), s.text, p.charPos(s.pos))
			}
		case "AND", "OR", "NOT", "LIKE", "IN", "BETWEEN", "IS", "NULL":
			return nil, p.errAt(t, "expected a property or a value, found the keyword %s", strings.ToUpper(t.text))
		}
		return Property{Name: t.text}, nil
	}
	return nil, p.errAt(t, "expected a property or a value, found %s", describe(t))
}

func (p *parser) number(t token, neg bool) (Expr, error) {
	f, err := strconv.ParseFloat(t.text, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, p.errAt(t, "%q is not a number", lastmile.Clip(t.text))
	}
	if neg {
		f = -f
	}
	isInt := !strings.ContainsAny(t.text, ".eE")
	return Number{V: f, Int: isInt}, nil
}

func temporal(kind, s string, pos int) (Expr, error) {
	if kind == "DATE" {
		d, err := time.Parse("2006-01-02", s)
		if err != nil {
			return nil, &SyntaxError{Pos: pos, Msg: fmt.Sprintf("DATE('%s') is not a date YYYY-MM-DD", lastmile.Clip(s))}
		}
		return Date{V: d}, nil
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, &SyntaxError{Pos: pos, Msg: fmt.Sprintf("TIMESTAMP('%s') is not an RFC 3339 timestamp such as 2015-01-01T00:00:00Z", lastmile.Clip(s))}
	}
	return Timestamp{V: ts.UTC()}, nil
}

// geomOperand reads a property, BBOX(…) or a WKT geometry.
func (p *parser) geomOperand() (Expr, error) {
	t := p.peek()
	if t.kind == tIdent {
		kw := strings.ToUpper(t.text)
		if kw == "BBOX" {
			p.i++
			nums, err := p.numberList()
			if err != nil {
				return nil, err
			}
			g, msg := bboxGeometry(nums)
			if msg != "" {
				return nil, p.errAt(t, "%s", msg)
			}
			return Geometry{G: g}, nil
		}
		if wktKinds[kw] {
			p.i++
			g, err := p.wkt(kw, t)
			if err != nil {
				return nil, err
			}
			if msg := checkLonLat(g); msg != "" {
				return nil, p.errAt(t, "%s", msg)
			}
			return Geometry{G: g}, nil
		}
	}
	return p.scalar()
}

var wktKinds = map[string]bool{"POINT": true, "LINESTRING": true, "POLYGON": true,
	"MULTIPOINT": true, "MULTILINESTRING": true, "MULTIPOLYGON": true, "GEOMETRYCOLLECTION": true}

func (p *parser) numberList() ([]float64, error) {
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	var out []float64
	for {
		t := p.next()
		neg := false
		if t.kind == tOp && t.text == "-" {
			neg, t = true, p.next()
		}
		if t.kind != tNumber {
			return nil, p.errAt(t, "expected a number, found %s", describe(t))
		}
		n, err := p.number(t, neg)
		if err != nil {
			return nil, err
		}
		out = append(out, n.(Number).V)
		if p.peek().kind == tOp && p.peek().text == "," {
			p.i++
			continue
		}
		return out, p.expectOp(")")
	}
}

// wkt reads the body of a WKT geometry whose keyword has been read.
func (p *parser) wkt(kind string, at token) (orb.Geometry, error) {
	if p.accept("EMPTY") {
		return nil, p.errAt(at, "an empty %s cannot be used in a filter", kind)
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	switch kind {
	case "POINT":
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		pt, err := p.position()
		if err != nil {
			return nil, err
		}
		return pt, p.expectOp(")")
	case "LINESTRING":
		ls, err := p.positions()
		return orb.LineString(ls), err
	case "POLYGON":
		return p.polygon()
	case "MULTIPOINT":
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		var mp orb.MultiPoint
		for {
			paren := p.peek().kind == tOp && p.peek().text == "("
			if paren {
				p.i++
			}
			pt, err := p.position()
			if err != nil {
				return nil, err
			}
			if paren {
				if err := p.expectOp(")"); err != nil {
					return nil, err
				}
			}
			mp = append(mp, pt)
			if !p.comma() {
				return mp, p.expectOp(")")
			}
		}
	case "MULTILINESTRING":
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		var ml orb.MultiLineString
		for {
			ls, err := p.positions()
			if err != nil {
				return nil, err
			}
			ml = append(ml, ls)
			if !p.comma() {
				return ml, p.expectOp(")")
			}
		}
	case "MULTIPOLYGON":
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		var mp orb.MultiPolygon
		for {
			pg, err := p.polygon()
			if err != nil {
				return nil, err
			}
			mp = append(mp, pg)
			if !p.comma() {
				return mp, p.expectOp(")")
			}
		}
	default: // GEOMETRYCOLLECTION
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		var gc orb.Collection
		for {
			t := p.next()
			kw := strings.ToUpper(t.text)
			if t.kind != tIdent || !wktKinds[kw] {
				return nil, p.errAt(t, "expected a WKT geometry, found %s", describe(t))
			}
			g, err := p.wkt(kw, t)
			if err != nil {
				return nil, err
			}
			gc = append(gc, g)
			if !p.comma() {
				return gc, p.expectOp(")")
			}
		}
	}
}

func (p *parser) comma() bool {
	if t := p.peek(); t.kind == tOp && t.text == "," {
		p.i++
		return true
	}
	return false
}

func (p *parser) polygon() (orb.Polygon, error) {
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	var pg orb.Polygon
	for {
		at := p.peek()
		ls, err := p.positions()
		if err != nil {
			return nil, err
		}
		if len(ls) < 4 || ls[0] != ls[len(ls)-1] {
			return nil, p.errAt(at, "a polygon ring needs at least 4 positions, the last equal to the first")
		}
		pg = append(pg, orb.Ring(ls))
		if !p.comma() {
			return pg, p.expectOp(")")
		}
	}
}

// positions reads "(x y, x y, …)".
func (p *parser) positions() ([]orb.Point, error) {
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	var out []orb.Point
	for {
		pt, err := p.position()
		if err != nil {
			return nil, err
		}
		out = append(out, pt)
		if !p.comma() {
			return out, p.expectOp(")")
		}
	}
}

// position reads "x y" or "x y z" (z ignored).
func (p *parser) position() (orb.Point, error) {
	var c []float64
	for len(c) < 3 {
		t := p.peek()
		neg := false
		if t.kind == tOp && t.text == "-" {
			p.i++
			neg, t = true, p.peek()
		}
		if t.kind != tNumber {
			if len(c) >= 2 && !neg {
				break
			}
			return orb.Point{}, p.errAt(t, "expected a coordinate, found %s", describe(t))
		}
		p.i++
		n, err := p.number(t, neg)
		if err != nil {
			return orb.Point{}, err
		}
		c = append(c, n.(Number).V)
	}
	return orb.Point{c[0], c[1]}, nil
}

// bboxGeometry turns 4 (or 6, with heights) numbers into a polygon.
func bboxGeometry(n []float64) (orb.Geometry, string) {
	if len(n) == 6 {
		n = []float64{n[0], n[1], n[3], n[4]}
	}
	if len(n) != 4 {
		return nil, fmt.Sprintf("BBOX needs 4 numbers (minlon, minlat, maxlon, maxlat), got %d", len(n))
	}
	b := orb.Bound{Min: orb.Point{n[0], n[1]}, Max: orb.Point{n[2], n[3]}}
	if n[0] > n[2] || n[1] > n[3] {
		return nil, "BBOX minimum is above its maximum (boxes across the antimeridian are not supported)"
	}
	if msg := checkLonLat(b.ToPolygon()); msg != "" {
		return nil, msg
	}
	return b.ToPolygon(), ""
}

// checkLonLat reports the first coordinate outside lon/lat ranges.
func checkLonLat(g orb.Geometry) string {
	msg := ""
	walk(g, func(pt orb.Point) {
		if msg == "" && (math.IsNaN(pt[0]) || math.IsNaN(pt[1]) || pt[0] < -180 || pt[0] > 180 || pt[1] < -90 || pt[1] > 90) {
			msg = fmt.Sprintf("coordinate (%g %g) is outside longitude -180…180 / latitude -90…90 (filter-crs is CRS84)", pt[0], pt[1])
		}
	})
	return msg
}

func walk(g orb.Geometry, f func(orb.Point)) {
	switch g := g.(type) {
	case orb.Point:
		f(g)
	case orb.MultiPoint:
		for _, p := range g {
			f(p)
		}
	case orb.LineString:
		for _, p := range g {
			f(p)
		}
	case orb.Ring:
		for _, p := range g {
			f(p)
		}
	case orb.MultiLineString:
		for _, l := range g {
			walk(l, f)
		}
	case orb.Polygon:
		for _, r := range g {
			walk(r, f)
		}
	case orb.MultiPolygon:
		for _, pg := range g {
			walk(pg, f)
		}
	case orb.Collection:
		for _, x := range g {
			walk(x, f)
		}
	}
}
