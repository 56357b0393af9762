package postgis

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lastmile/lastmile"
)

// MapError turns database errors that users caused into lastmile errors:
// no rows → not found, constraint violations → invalid (naming the column),
// serialization failures → conflict. Other errors pass through unchanged
// (and are shown to users only as "internal error").
func MapError(err error) error {
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
		return lastmile.Invalid("a value breaks a rule of the table",
			lastmile.Problem{Field: constraintField(pgErr), Message: constraintMessage(pgErr)})
	case "23502": // not_null_violation
		return lastmile.Invalid("a required value is missing",
			lastmile.Problem{Field: pgErr.ColumnName, Message: "is required"})
	case "23505": // unique_violation
		return &lastmile.Error{Code: lastmile.ECONFLICT, Message: "a feature with the same unique value exists",
			Details: []lastmile.Problem{{Field: constraintField(pgErr), Message: pgErr.Detail}}}
	case "22P02", "22003", "22007", "22008", "XX000":
		// invalid text representation, out of range, bad datetime; XX000 is
		// what PostGIS raises for geometry it cannot parse.
		if strings.Contains(pgErr.Message, "geometry") || pgErr.Code != "XX000" {
			return lastmile.Invalid("a value is malformed", lastmile.Problem{Message: pgErr.Message})
		}
	case "40001", "40P01": // serialization failure, deadlock
		return lastmile.Errorf(lastmile.ECONFLICT, "a concurrent write interfered; try again")
	}
	return err
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
	return "value not allowed (" + e.ConstraintName + ")"
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
