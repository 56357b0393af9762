// Package respond is the one place where errors become HTTP responses, and
// the adapter that lets handlers return errors (pg_featureserv style). It is
// a leaf package so tiles/, stats/ and ingest/ handlers can use it without
// importing server/.
package respond

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lastmile/lastmile"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	loggerKey
)

// WithRequestID returns ctx carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID returns the request id in ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// WithLogger returns ctx carrying the request's logger.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey, l)
}

// Logger returns the request's logger (slog.Default when none was set).
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// HandlerFunc is an HTTP handler that returns an error instead of writing it.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ServeHTTP calls f and writes its error, if any, with Error.
func (f HandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := f(w, r); err != nil {
		Error(w, r, err)
	}
}

// Status returns the HTTP status for an error code.
func Status(code string) int {
	switch code {
	case lastmile.EINVALID:
		return http.StatusBadRequest
	case lastmile.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case lastmile.EFORBIDDEN:
		return http.StatusForbidden
	case lastmile.ENOTFOUND:
		return http.StatusNotFound
	case lastmile.ECONFLICT:
		return http.StatusConflict
	case lastmile.EPRECONDITION:
		return http.StatusPreconditionFailed
	case lastmile.EPRECONDREQUIRED:
		return http.StatusPreconditionRequired
	case lastmile.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case lastmile.EURITOOLONG:
		return http.StatusRequestURITooLong
	case lastmile.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// errorBody is the JSON shape of every error response (DESIGN.md §4).
type errorBody struct {
	Error struct {
		Code      string             `json:"code"`
		Message   string             `json:"message"`
		Details   []lastmile.Problem `json:"details,omitempty"`
		RequestID string             `json:"request_id,omitempty"`
	} `json:"error"`
}

// Error writes err as JSON with the status of its code. Internal errors are
// logged with the request id and shown only as "internal error"; a database
// that cannot be reached, and a request that ran out of time, are 503 with
// Retry-After. A request whose client went away gets no response at all
// (there is no one to read it): it is logged at info level as status 499,
// nginx's "client closed request".
func Error(w http.ResponseWriter, r *http.Request, err error) {
	if ClientGone(r, err) {
		setOutcome(r.Context(), StatusClientGone, ReasonClientGone)
		Logger(r.Context()).Info("client went away", "status", StatusClientGone, "err", err.Error())
		return
	}
	cause := err
	err = Classify(err)
	code := lastmile.ErrorCode(err)
	var body errorBody
	body.Error.Code = code
	body.Error.Message = lastmile.ErrorMessage(err)
	body.Error.RequestID = RequestID(r.Context())
	var e *lastmile.Error
	if errors.As(err, &e) {
		body.Error.Details = e.Details
	}
	status := Status(code)
	if status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		Challenge(w.Header(), "")
	}
	switch {
	case status == http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "5")
		reason := ReasonUnavailable
		if isCancellation(cause) {
			reason = ReasonTimeout
		}
		setOutcome(r.Context(), status, reason)
		Logger(r.Context()).Warn("request failed", "status", status, "reason", reason, "err", cause.Error())
	case status >= 500:
		setOutcome(r.Context(), status, ReasonInternal)
		Logger(r.Context()).Error("request failed", "status", status, "err", cause.Error())
	}
	JSON(w, status, body)
}

// Challenge sets the WWW-Authenticate challenges of a 401 (RFC 9110
// §11.6.1): Bearer (RFC 6750; errorCode, when not empty, is its error
// parameter) and Basic, which takes the token as the password — what lets a
// client without bearer tokens (QGIS 3.22) ask its user for one. Each is a
// header line of its own: Qt, like other clients, reads only the scheme a
// line starts with.
func Challenge(h http.Header, errorCode string) {
	bearer := `Bearer realm="lastmile"`
	if errorCode != "" {
		bearer += `, error="` + errorCode + `"`
	}
	h.Del("WWW-Authenticate")
	h.Add("WWW-Authenticate", bearer)
	h.Add("WWW-Authenticate", `Basic realm="lastmile", charset="UTF-8"`)
}

// StatusClientGone is the status logged and counted for a request whose
// client went away before the answer (nginx's 499); it is never sent.
const StatusClientGone = 499

// Reasons a request failed, as Error records them for metrics.
const (
	ReasonTimeout     = "timeout"     // 503: the request's time limit passed
	ReasonUnavailable = "unavailable" // 503: the database cannot be reached (or another EUNAVAILABLE)
	ReasonClientGone  = "client_gone" // 499: the client closed the connection
	ReasonInternal    = "internal"    // 500
)

// Outcome is where Error records, for the middleware that counts requests,
// the status and reason of a failure (the status is 499 for a gone client,
// which writes nothing).
type Outcome struct {
	Status int
	Reason string
}

type outcomeKey struct{}

// WithOutcome returns ctx with an Outcome that Error fills in.
func WithOutcome(ctx context.Context) (context.Context, *Outcome) {
	o := &Outcome{}
	return context.WithValue(ctx, outcomeKey{}, o), o
}

func setOutcome(ctx context.Context, status int, reason string) {
	if o, ok := ctx.Value(outcomeKey{}).(*Outcome); ok {
		o.Status, o.Reason = status, reason
	}
}

// ClientGone reports whether err is the cancellation of r by its client:
// r's context is cancelled (not past its deadline) and err is a
// cancellation or a cancelled query.
func ClientGone(r *http.Request, err error) bool {
	return errors.Is(r.Context().Err(), context.Canceled) && !errors.Is(r.Context().Err(), context.DeadlineExceeded) && isCancellation(err)
}

// isCancellation reports a context error, pgconn's timeout (a query
// interrupted by its context) or PostgreSQL's query_canceled (57014: the
// cancel request pgx sends when a context ends, or a statement_timeout).
func isCancellation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		pgconn.Timeout(err) || (errors.As(err, &pgErr) && pgErr.Code == "57014")
}

// timeoutMessage is what users read when a request ran out of time.
const timeoutMessage = "the request took longer than the server's time limit; try again later, or ask a smaller question"

// Classify turns errors that are not *lastmile.Error but have a meaning for
// users into one: a request that ran out of time (a context error or a
// cancelled query, whichever context ended it: a limit of the request or of
// a step inside it), a body too large, a database that cannot be reached.
func Classify(err error) error {
	var e *lastmile.Error
	var maxBytes *http.MaxBytesError
	var connErr *pgconn.ConnectError
	switch {
	case errors.As(err, &e):
		return err
	case errors.As(err, &maxBytes):
		return lastmile.Errorf(lastmile.ETOOLARGE, "request body is larger than the limit of %d bytes", maxBytes.Limit)
	case isCancellation(err):
		return &lastmile.Error{Code: lastmile.EUNAVAILABLE, Message: timeoutMessage}
	case isBadText(err):
		return lastmile.Invalid("a value contains a NUL byte or is not valid UTF-8")
	case errors.As(err, &connErr) || pgconn.SafeToRetry(err) || isConnectionLost(err):
		return &lastmile.Error{Code: lastmile.EUNAVAILABLE, Message: "the database is unavailable; try again shortly"}
	}
	return err
}

// isBadText reports PostgreSQL's refusal of text it cannot store
// (character_not_in_repertoire, untranslatable_character).
func isBadText(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "22021" || pgErr.Code == "22P05")
}

func isConnectionLost(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// admin_shutdown, crash_shutdown, cannot_connect_now
		return pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	return pgconn.Timeout(err)
}

// JSON writes v as JSON with the status.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
