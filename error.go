// Package lastmile holds the domain types shared by every package: the error
// type with a code that the HTTP layer maps to a status, and little else.
package lastmile

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Error codes. Each maps to one HTTP status in server/respond.
const (
	EINVALID         = "invalid"               // 400: the request or file is malformed
	EUNAUTHORIZED    = "unauthorized"          // 401: no or unknown credentials
	EFORBIDDEN       = "forbidden"             // 403: credentials lack the scope
	ENOTFOUND        = "not_found"             // 404
	ECONFLICT        = "conflict"              // 409 (or 412 for a stale If-Match)
	EPRECONDITION    = "precondition"          // 412: If-Match does not match
	EPRECONDREQUIRED = "precondition_required" // 428: If-Match missing
	ETOOLARGE        = "too_large"             // 413
	EURITOOLONG      = "uri_too_long"          // 414: the query string is over the limit
	EUNAVAILABLE     = "unavailable"           // 503: the database is down
	EINTERNAL        = "internal"              // 500: never shown to users
)

// Problem is one thing wrong with an input: where (row, field, coordinate)
// and why. Imports and writes report every problem, not only the first.
type Problem struct {
	Row     int    `json:"row,omitempty"`   // 1-based row or feature number
	Field   string `json:"field,omitempty"` // property or parameter name
	Value   string `json:"value,omitempty"` // the offending value, shortened
	Message string `json:"message"`
}

func (p Problem) String() string {
	s := ""
	if p.Row > 0 {
		s += fmt.Sprintf("row %d: ", p.Row)
	}
	if p.Field != "" {
		s += p.Field + ": "
	}
	s += p.Message
	if p.Value != "" {
		s += fmt.Sprintf(" (got %q)", p.Value)
	}
	return s
}

// ClipLength is how many characters of an offending value an error message
// quotes.
const ClipLength = 80

// Clip shortens s for an error message: at most ClipLength characters, cut
// on a character boundary (never inside a Chinese character), with "…"
// marking the cut.
func Clip(s string) string { return ClipTo(s, ClipLength) }

// ClipTo is Clip to at most n characters (n ≥ 1), for the longer texts a
// message quotes whole (a GDAL or geometry error); every shortening of text
// shown to users goes through it.
func ClipTo(s string, n int) string {
	if n < 1 {
		n = 1
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	c, i := 0, 0
	for i = range s {
		if c == n-1 {
			break
		}
		c++
	}
	return s[:i] + "…"
}

// Error makes a Problem an error, so that a parser can return one
// (layer.Field.ParseValue) for its caller to record under its own name.
func (p Problem) Error() string { return p.String() }

// MaxProblems is the most problems one input lists: a file of a million bad
// rows, or a query string of four thousand unknown parameters, reports the
// first MaxProblems and counts the rest.
const MaxProblems = 1000

// Problems collects the problems of one input, so that every problem is
// reported at once: the first MaxProblems listed, the rest counted. It is
// the one collector; its zero value is ready to use.
type Problems struct {
	List    []Problem // in the order found, at most MaxProblems
	Omitted int       // problems found beyond MaxProblems
}

// Add records a problem with field and the offending value (clipped).
func (p *Problems) Add(field, value, format string, args ...any) {
	p.Append(Problem{Field: field, Value: value, Message: fmt.Sprintf(format, args...)})
}

// AddRow records a problem of a row of a file.
func (p *Problems) AddRow(row int, field, value, format string, args ...any) {
	p.Append(Problem{Row: row, Field: field, Value: value, Message: fmt.Sprintf(format, args...)})
}

// AddError records err under field: a Problem (as layer's parsers return)
// keeps its value and message and takes field, any other error its text.
func (p *Problems) AddError(field string, err error) {
	var pr Problem
	if errors.As(err, &pr) {
		pr.Field = field
		p.Append(pr)
		return
	}
	p.Append(Problem{Field: field, Message: err.Error()})
}

// Append records problems found elsewhere (a validator's, a reader's),
// clipping their values.
func (p *Problems) Append(ps ...Problem) {
	for _, pr := range ps {
		if len(p.List) >= MaxProblems {
			p.Omitted++
			continue
		}
		pr.Value = Clip(pr.Value)
		p.List = append(p.List, pr)
	}
}

// Len returns the number of problems found, listed or not.
func (p Problems) Len() int { return len(p.List) + p.Omitted }

// Err returns nil when there are no problems, otherwise an EINVALID error
// with the message and every listed problem, and a last one counting those
// beyond MaxProblems.
func (p Problems) Err(message string) error {
	if p.Len() == 0 {
		return nil
	}
	details := p.List
	if p.Omitted > 0 {
		details = append(details[:len(details):len(details)],
			Problem{Message: fmt.Sprintf("%d more problems not listed (at most %d are)", p.Omitted, MaxProblems)})
	}
	return Invalid(message, details...)
}

// Error is an application error: a code, a message safe to show users, and
// optional problem details.
type Error struct {
	Code    string
	Message string
	Details []Problem
}

func (e *Error) Error() string {
	if len(e.Details) == 0 {
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("%s: %s: %s", e.Code, e.Message, e.Details[0])
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID error listing the problems.
func Invalid(message string, problems ...Problem) *Error {
	return &Error{Code: EINVALID, Message: message, Details: problems}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err: the *Error's message,
// or a generic text for internal errors (whose text may leak internals).
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// Wrap adds context to *errp when it is a non-*Error, keeping *Error values
// intact so their code and message reach the user. Use as
// defer lastmile.Wrap(&err, "store.Get(%s, %d)", layer, id).
func Wrap(errp *error, format string, args ...any) {
	if *errp == nil {
		return
	}
	var e *Error
	if errors.As(*errp, &e) {
		return
	}
	*errp = fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), *errp)
}
