package postgis

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgsql"
)

// AdminToleranceM is how far (geodesic metres) a feature may lie outside
// the admin area its admin_code names: boundary data is approximate, and a
// road along a township border may stray across it. Farther is an error.
const AdminToleranceM = 1000.0

// adminCheck is the one admin_code check, shared by the feature API, the
// importer (staged and direct rows) and the demo loader. /*rows*/ is a FROM
// item with the columns key (bigint: a feature id or a file's row number),
// code (the admin_code) and g (the geometry in EPSG:4326). Rows whose
// geometry cannot be measured as a geography (empty, coordinates out of
// range) are left to the geometry checks, which refuse them.
var adminCheck = pgsql.Parse("admin check", `
SELECT r.key::bigint, a.code, coalesce(a.name, ''), ST_Distance(r.g::geography, a.geom::geography)
FROM /*rows*/ r JOIN lastmile.admin_areas a ON a.code = r.code
WHERE NOT ST_IsEmpty(r.g)
    AND ST_XMin(r.g) >= -180 AND ST_XMax(r.g) <= 180 AND ST_YMin(r.g) >= -90 AND ST_YMax(r.g) <= 90
    AND NOT ST_DWithin(r.g::geography, a.geom::geography, /*tolerance*/)
ORDER BY r.key
LIMIT /*limit*/`)

// AdminMismatch is a row whose admin_code names an admin area that lies
// farther than AdminToleranceM from its geometry.
type AdminMismatch struct {
	Key       int64 // the rows' key: a feature id, a file's row number
	Code      string
	Name      string  // of the admin area
	DistanceM float64 // geodesic, from the geometry to the area
}

// Problem is the mismatch as a problem of field admin_code (the row, when
// the key is a row number, is the caller's to set).
func (m AdminMismatch) Problem() lastmile.Problem {
	return lastmile.Problem{Field: "admin_code", Value: m.Code,
		Message: fmt.Sprintf("the admin area %s (%s) lies %.1f km from the geometry; a feature must lie in the area its admin_code names (within %g m)",
			m.Code, m.Name, m.DistanceM/1000, AdminToleranceM)}
}

// AdminMismatches returns the rows of rows (see adminCheck: a table or a
// subquery, built from catalog identifiers, with the columns key, code and
// g; args are its $n values) whose admin_code names an admin area farther
// than AdminToleranceM from their geometry, in key order, at most limit.
// A code no admin area has is not checked (areas may be loaded later).
func AdminMismatches(ctx context.Context, tx pgx.Tx, rows string, limit int, args ...any) ([]AdminMismatch, error) {
	a := pgsql.Args(args)
	sql := adminCheck.Fill(pgsql.Slots{"rows": rows, "tolerance": a.Add(AdminToleranceM), "limit": strconv.Itoa(max(1, limit))})
	r, err := tx.Query(ctx, sql, a...)
	if err != nil {
		return nil, err
	}
	var out []AdminMismatch
	for r.Next() {
		var m AdminMismatch
		if err := r.Scan(&m.Key, &m.Code, &m.Name, &m.DistanceM); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, r.Err()
}

// ChecksAdminCode reports whether l's admin_code is checked against the
// admin areas: every layer with the field but admin_areas itself (the
// areas are what the others are checked against).
func ChecksAdminCode(l *layer.Layer) bool {
	_, ok := l.Field("admin_code")
	return ok && l.Name != "admin_areas"
}
