// Package report builds the printable county (or township) report: the
// area's map drawn from lastmile's own vector tiles, the headline figures,
// the uncovered villages, a "then and now" table and the definitions of
// every figure, as one self-contained HTML page laid out for A4, and prints
// it to PDF with headless Chromium.
//
// Every figure is computed by calling the statistics endpoints' own
// functions (stats.Endpoints) with the parameters the report cites, so a
// report can never disagree with /api/stats for the same question.
package report

import (
	"context"
	_ "embed"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
)

//go:embed sql/area.sql
var areaSQL string

//go:embed sql/last_edit.sql
var lastEditSQL string

// Request is a parsed report request.
type Request struct {
	Code    string     // 12-digit county or township code
	AsOf    *time.Time // the figures as of this date; nil: the current data
	Compare *time.Time // a second date for the "then and now" table; nil: none
	Lang    string     // zh or en
}

// Languages are the report's languages; the first is the default.
var Languages = []string{"en", "zh"}

// ParseRequest reads admin_code and the query parameters as_of, compare
// and lang, collecting every problem into one invalid error.
func ParseRequest(code string, v url.Values) (Request, error) {
	var req Request
	var problems lastmile.Problems
	bad := problems.Add
	req.Code = strings.TrimSpace(code)
	if !layer.AdminCodePattern.MatchString(req.Code) {
		bad("admin_code", req.Code, "must be a 12-digit county or township code (e.g. 371426000000)")
	}
	var unknown []string
	for k, vs := range v {
		if !slices.Contains([]string{"as_of", "compare", "lang"}, k) {
			unknown = append(unknown, k)
			continue
		}
		if len(vs) > 1 {
			bad(k, strings.Join(vs, "&"), "is given %d times; give it once", len(vs))
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		bad(k, "", "is not a parameter of the report (parameters: as_of, compare, lang)")
	}
	date := func(name string) *time.Time {
		s := strings.TrimSpace(v.Get(name))
		if s == "" {
			return nil
		}
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			bad(name, s, "must be a date YYYY-MM-DD")
			return nil
		}
		return &d
	}
	req.AsOf = date("as_of")
	req.Compare = date("compare")
	req.Lang = strings.TrimSpace(v.Get("lang"))
	if req.Lang == "" {
		req.Lang = Languages[0]
	} else if !slices.Contains(Languages, req.Lang) {
		bad("lang", req.Lang, "must be one of %s", strings.Join(Languages, ", "))
	}
	if err := problems.Err("the report request has invalid parameters"); err != nil {
		return req, err
	}
	return req, nil
}

// Query returns the request's query string (as_of, compare, lang), for
// links and for the CLI's equivalent URL.
func (r Request) Query() url.Values {
	v := url.Values{}
	if r.AsOf != nil {
		v.Set("as_of", r.AsOf.Format(time.DateOnly))
	}
	if r.Compare != nil {
		v.Set("compare", r.Compare.Format(time.DateOnly))
	}
	if r.Lang != "" && r.Lang != Languages[0] {
		v.Set("lang", r.Lang)
	}
	return v
}

// Area is the admin area of a report.
type Area struct {
	Code, Name, Level, ParentCode string
	// Prefix is the part of a 12-digit code shared by everything inside
	// the area: 6 digits for a county, 9 for a township.
	Prefix string
	// Group is the stats group_by level whose rows are this area's.
	Group                    string
	West, South, East, North float64
}

// Contains reports whether a 12-digit code lies inside the area.
func (a Area) Contains(code string) bool { return len(code) == 12 && strings.HasPrefix(code, a.Prefix) }

// Builder builds reports. Tiles is the handler that serves /tiles/... (the
// map is drawn from the tiles it answers).
type Builder struct {
	Pool    *pgxpool.Pool
	Catalog *layer.Catalog
	Tiles   http.Handler
	Log     *slog.Logger
	// Now returns the generation time (time.Now when nil).
	Now func() time.Time
	// Progress, when set, is told each step as it is done.
	Progress func(step string, d time.Duration)
}

// lookupArea reads the admin area: not found is a 404, a level other than
// county or township a 400.
func (b *Builder) lookupArea(ctx context.Context, code string) (Area, error) {
	a := Area{Code: code}
	var name, parent *string
	err := b.Pool.QueryRow(ctx, areaSQL, code).Scan(&name, &a.Level, &parent, &a.West, &a.South, &a.East, &a.North)
	if err == pgx.ErrNoRows {
		return a, lastmile.Errorf(lastmile.ENOTFOUND, "no admin area with code %s (admin_areas.code)", code)
	}
	if err != nil {
		return a, err
	}
	if name != nil {
		a.Name = *name
	} else {
		a.Name = code
	}
	if parent != nil {
		a.ParentCode = *parent
	}
	switch {
	case a.Level == "county" && strings.HasSuffix(code, "000000"):
		a.Prefix, a.Group = code[:6], "county"
	case a.Level == "township" && strings.HasSuffix(code, "000") && !strings.HasSuffix(code, "000000"):
		a.Prefix, a.Group = code[:9], "township"
	default:
		return a, lastmile.Invalid("a report is about a county or a township", lastmile.Problem{Field: "admin_code", Value: code,
			Message: fmt.Sprintf("is a %s; give a county (code ending in 000000) or a township (code ending in 000)", a.Level)})
	}
	return a, nil
}

func (b *Builder) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *Builder) step(name string, start time.Time) {
	if b.Progress != nil {
		b.Progress(name, time.Since(start))
	}
}
