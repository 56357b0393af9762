package postgis

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lastmile/lastmile"
)

// MapError turns database errors that users caused into lastmile errors:
// no rows → not found, constraint violations → invalid (naming the column),
// serialization failures → conflict. Other errors pass through unchanged
// (and are shown to users only as "internal error"). No PostgreSQL text
// reaches the message or details.
func MapError(err error) error { return mapError(err, nil) }

// mapWriteError is MapError for a write of values (column → value): the
// problem then also names the offending value.
func mapWriteError(err error, values map[string]any) error { return mapError(err, values) }

func mapError(err error, values map[string]any) error {
	if err == nil {
		return nil
	}
	var e *lastmile.Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return lastmile.Errorf(lastmile.ENOTFOUND, "not found")
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	switch pgErr.Code {
	case "23514": // check_violation
		field := constraintField(pgErr)
		return lastmile.Invalid("a value breaks a rule of the table",
			lastmile.Problem{Field: field, Value: valueOf(values, field), Message: constraintMessage(pgErr)})
	case "23502": // not_null_violation
		return lastmile.Invalid("a required value is missing",
			lastmile.Problem{Field: pgErr.ColumnName, Message: "is required"})
	case "23505": // unique_violation
		field, value := uniqueKey(pgErr)
		if value == "" {
			value = valueOf(values, field)
		}
		msg := "is already used by another feature of this layer (it must be unique)"
		if pgErr.TableName != "" {
			msg = "is already used by another feature of " + pgErr.TableName + " (it must be unique)"
		}
		return &lastmile.Error{Code: lastmile.ECONFLICT, Message: "a feature with the same " + field + " exists",
			Details: []lastmile.Problem{{Field: field, Value: value, Message: msg}}}
	case "22003": // numeric_value_out_of_range
		field, value, digits := outOfRange(pgErr, values)
		msg := "is outside the range the column can store"
		if digits > 0 {
			msg = fmt.Sprintf("is larger than the column can store (at most %d digits before the decimal point)", digits)
		}
		return lastmile.Invalid("a number is too large for its column",
			lastmile.Problem{Field: field, Value: value, Message: msg})
	case "22P02", "22007", "22008": // invalid text representation, bad datetime
		return lastmile.Invalid("a value is malformed", lastmile.Problem{Value: quoted(pgErr.Message), Message: "cannot be read as the column's type"})
	case "XX000":
		// what PostGIS raises for geometry it cannot parse
		if strings.Contains(pgErr.Message, "geometry") {
			return lastmile.Invalid("a value is malformed", lastmile.Problem{Field: "geometry", Message: "the geometry cannot be read"})
		}
	case "40001", "40P01": // serialization failure, deadlock
		return lastmile.Errorf(lastmile.ECONFLICT, "a concurrent write interfered; try again")
	}
	return err
}

// uniqueDetail is PostgreSQL's detail of a unique violation.
var uniqueDetail = regexp.MustCompile(`^Key \((.+?)\)=\((.*)\) already exists\.$`)

// uniqueKey returns the column and value of a unique violation, from its
// detail when PostgreSQL gave one, else the column from the constraint name.
func uniqueKey(e *pgconn.PgError) (field, value string) {
	if m := uniqueDetail.FindStringSubmatch(e.Detail); m != nil {
		return m[1], lastmile.Clip(m[2])
	}
	return constraintField(e), ""
}

// outOfRange names the column and value of a numeric overflow. PostgreSQL
// names neither for numeric(p,s) ("numeric field overflow", with the limit
// 10^n in its detail) and only the value for integers ("value "…" is out
// of range for type integer"), so the written values are searched for the
// one that breaks the limit.
func outOfRange(e *pgconn.PgError, values map[string]any) (field, value string, digits int) {
	if v := quoted(e.Message); v != "" {
		for _, k := range slices.Sorted(maps.Keys(values)) {
			if valueOf(values, k) == v {
				return k, v, 0
			}
		}
		return "", v, 0
	}
	m := overflowDetail.FindStringSubmatch(e.Detail)
	if m == nil {
		return "", "", 0
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return "", "", 0
	}
	limit := math.Pow(10, float64(n))
	for _, k := range slices.Sorted(maps.Keys(values)) {
		if f, ok := number(values[k]); ok && math.Abs(f) >= limit {
			return k, valueOf(values, k), n
		}
	}
	return "", "", n
}

var overflowDetail = regexp.MustCompile(`less than 10\^(\d+)`)

// quoted returns the first double-quoted part of a PostgreSQL message (the
// value it refused), clipped, or "".
func quoted(msg string) string {
	_, rest, ok := strings.Cut(msg, `"`)
	if !ok {
		return ""
	}
	v, _, ok := strings.Cut(rest, `"`)
	if !ok {
		return ""
	}
	return lastmile.Clip(v)
}

func number(x any) (float64, bool) {
	switch v := x.(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	case int:
		return float64(v), true
	case int32:
		return float64(v), true
	case int64:
		return float64(v), true
	case string:
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil
	}
	return 0, false
}

// valueOf is values[field] as text, clipped; "" when absent.
func valueOf(values map[string]any, field string) string {
	x, ok := values[field]
	if !ok || x == nil {
		return ""
	}
	if f, ok := x.(float64); ok {
		return lastmile.Clip(strconv.FormatFloat(f, 'f', -1, 64))
	}
	return lastmile.Clip(fmt.Sprint(x))
}

// constraintField guesses the column a constraint is about from its name
// (tables copy constraints named <table>_<column>_check or <table>_geom_*).
func constraintField(e *pgconn.PgError) string {
	if e.ColumnName != "" {
		return e.ColumnName
	}
	name := strings.TrimPrefix(e.ConstraintName, e.TableName+"_")
	name = strings.TrimPrefix(name, "common_columns_")
	switch {
	case strings.HasPrefix(name, "geom"):
		return "geometry"
	case name == "completed_after_started":
		return "completed_on"
	case strings.HasSuffix(name, "_check"):
		return strings.TrimSuffix(name, "_check")
	case strings.HasSuffix(name, "_key"):
		return strings.TrimSuffix(name, "_key")
	}
	return name
}

func constraintMessage(e *pgconn.PgError) string {
	switch {
	case strings.HasSuffix(e.ConstraintName, "_geom_valid"):
		return "geometry is not valid (e.g. a self-intersecting polygon)"
	case strings.HasSuffix(e.ConstraintName, "_geom_in_range"):
		return "coordinates are outside longitude -180…180, latitude ±85.0511"
	case strings.HasSuffix(e.ConstraintName, "_geom_not_empty"):
		return "geometry is empty"
	case e.ConstraintName == "completed_after_started":
		return "completed_on is before started_on"
	}
	return "is not a value this column accepts"
}

// checkGeometry asks PostGIS whether the EWKB geometry is valid and, when
// not, returns an invalid error with its reason and location
// ("Self-intersection[117.1 37.2]"). The table's CHECK stays the backstop.
func checkGeometry(ctx context.Context, q querier, ewkbGeom []byte) error {
	var reason string
	err := q.QueryRow(ctx, `SELECT CASE WHEN ST_IsValid(g) THEN '' ELSE ST_IsValidReason(g) END
		FROM (SELECT ST_GeomFromEWKB($1) AS g) s`, ewkbGeom).Scan(&reason)
	if err != nil {
		return MapError(err)
	}
	if reason != "" {
		return lastmile.Invalid("the geometry is not valid",
			lastmile.Problem{Field: "geometry", Message: "invalid geometry: " + reason})
	}
	return nil
}
