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
func Clip(s string) string {
	if utf8.RuneCountInString(s) <= ClipLength {
		return s
	}
	n, i := 0, 0
	for i = range s {
		if n == ClipLength-1 {
			break
		}
		n++
	}
	return s[:i] + "…"
}

// Problems collects the problems of one input, so that every problem is
// reported at once.
type Problems []Problem

// Add records a problem with field and the offending value (clipped).
func (p *Problems) Add(field, value, format string, args ...any) {
	*p = append(*p, Problem{Field: field, Value: Clip(value), Message: fmt.Sprintf(format, args...)})
}

// AddRow records a problem of a row of a file.
func (p *Problems) AddRow(row int, field, value, format string, args ...any) {
	*p = append(*p, Problem{Row: row, Field: field, Value: Clip(value), Message: fmt.Sprintf(format, args...)})
}

// Err returns nil when there are no problems, otherwise an EINVALID error
// with the message and every problem.
func (p Problems) Err(message string) error {
	if len(p) == 0 {
		return nil
	}
	return Invalid(message, p...)
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
