package tiles

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/paulmach/orb"
	"golang.org/x/sync/singleflight"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgsql"
)

// overview.go — the precomputed overviews of layer.Overview (tables of
// migrations 0090 and 0098): collected lines per county and band of every
// line layer that declares one (roads, water pipelines, power lines), and
// village counts per county and township. They are built on first use and then
// brought up to date from lastmile.overview_changes (logged by triggers)
// before a tile that draws them is made: only the areas a write touched are
// recomputed, never the whole table per request.

// overviewLock is the advisory lock key that serialises refreshes.
const overviewLock = 7283791

// overviewRefreshTimeout bounds one refresh (a first build at national
// scale takes minutes; later ones milliseconds).
const overviewRefreshTimeout = 30 * time.Minute

// usesOverview reports whether a tile of zoom z of layer l with the filters
// is drawn from the overview: z in the overview's range and every filter
// that applies to l answerable from it.
func usesOverview(l *layer.Layer, z int, filters Filters) bool {
	o := l.Overview
	if !o.Uses(z, l) {
		return false
	}
	for _, f := range filters {
		if f.Op == OpCQL {
			if f.CQL.appliesTo(l) {
				return false
			}
			continue
		}
		if _, ok := l.Field(f.Field); !ok {
			continue
		}
		if o.Kind != layer.OverviewLines || !contains(o.Keys, f.Field) {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// overviewFirstWait is how long a tile waits for the first build of the
// overviews (minutes at national scale) before it is answered 503 with
// Retry-After: the build goes on, and serve starts it at start-up
// (WarmOverviews), so tiles rarely meet it.
const overviewFirstWait = 5 * time.Second

// ensureOverviews brings the overviews up to date when a write is pending
// (one cheap query otherwise). On a read replica, which cannot write them,
// the overviews as the primary left them are drawn.
func (s *Service) ensureOverviews(ctx context.Context) error {
	var pending, built bool
	err := s.pool.QueryRow(ctx, `SELECT NOT built OR full_rebuild OR EXISTS (SELECT 1 FROM lastmile.overview_changes), built
		FROM lastmile.overview_state`).Scan(&pending, &built)
	if err != nil || !pending {
		return err
	}
	ch := s.refreshOverviews(context.WithoutCancel(ctx))
	var wait <-chan time.Time
	if !built {
		t := time.NewTimer(overviewFirstWait)
		defer t.Stop()
		wait = t.C
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-wait:
		return lastmile.Errorf(lastmile.EUNAVAILABLE, "the low-zoom overviews are being built for the first time (minutes at national scale); try again shortly")
	case res := <-ch:
		var pgErr *pgconn.PgError
		if errors.As(res.Err, &pgErr) && pgErr.Code == "25006" { // read_only_sql_transaction: a replica
			return nil
		}
		return res.Err
	}
}

// refreshOverviews runs RefreshOverviews once for every caller meanwhile,
// within ctx: a tile passes one detached from its request (a first build
// outlives the tile that started it, and every tile waiting for it shares
// it), serve's start-up its own (which ends at shutdown).
func (s *Service) refreshOverviews(ctx context.Context) <-chan singleflight.Result {
	return s.flight.DoChan("\x00overviews", func() (any, error) {
		rctx, cancel := context.WithTimeout(ctx, overviewRefreshTimeout)
		defer cancel()
		_, err := s.RefreshOverviews(rctx)
		return nil, err
	})
}

// OverviewsPending reports whether the overviews need a whole build (never
// built, or a bulk write asked for one); false when that cannot be told
// (an older schema, no database).
func (s *Service) OverviewsPending(ctx context.Context) bool {
	var pending bool
	err := s.pool.QueryRow(ctx, `SELECT NOT built OR full_rebuild FROM lastmile.overview_state`).Scan(&pending)
	return err == nil && pending
}

// WarmOverviews builds the overviews when they are not built (or a bulk
// write asked for a rebuild), for serve to call at start-up in the
// background: the first low-zoom tile then finds them ready. It returns
// when the build ends or ctx does (which cancels the build: at shutdown).
// A read replica, which cannot write them, is left as
// the primary made them.
func (s *Service) WarmOverviews(ctx context.Context) error {
	if !s.OverviewsPending(ctx) {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case res := <-s.refreshOverviews(ctx):
		var pgErr *pgconn.PgError
		if errors.As(res.Err, &pgErr) && pgErr.Code == "25006" {
			return nil
		}
		return res.Err
	}
}

// OverviewReport says what a refresh did.
type OverviewReport struct {
	Full    bool // rebuilt whole
	Changes int  // change-log rows applied
	// LineAreas: per line layer (by name), the counties whose lines were
	// recomputed (not set when full: all); LineRows the rows written.
	LineAreas    map[string]int
	LineRows     map[string]int
	VillageAreas int // counties and townships whose counts were recomputed
	VillageRows  int // village_overview rows written
	Duration     time.Duration
}

// RefreshOverviews brings the overviews up to date: it builds them whole
// when never built or after a bulk write, and otherwise recomputes the
// areas the logged changes touch, in one transaction serialised by an
// advisory lock. A write committed meanwhile stays logged for the next.
func (s *Service) RefreshOverviews(ctx context.Context) (OverviewReport, error) {
	start := time.Now()
	rep := OverviewReport{LineAreas: map[string]int{}, LineRows: map[string]int{}}
	var points []orb.Bound                // the count points recomputed (old and new places)
	recounted := map[string][]orb.Bound{} // per line layer: the rows whose count changed
	var wasBuilt bool
	villages, _ := s.catalog.Layer("villages")
	var lineLayers []*layer.Layer
	for _, l := range s.catalog.Layers() {
		if l.Overview != nil && l.Overview.Kind == layer.OverviewLines {
			lineLayers = append(lineLayers, l)
		}
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, overviewLock); err != nil {
			return err
		}
		var built, full bool
		if err := tx.QueryRow(ctx, `SELECT built, full_rebuild FROM lastmile.overview_state`).Scan(&built, &full); err != nil {
			return err
		}
		rep.Full, wasBuilt = !built || full, built
		var lineAreas map[string][]string // by table; nil: all
		var villageAreas []string         // nil: all
		if rep.Full {
			if _, err := tx.Exec(ctx, `DELETE FROM lastmile.overview_changes`); err != nil {
				return err
			}
		} else {
			// The changes, and the areas they touch: a line's county (per
			// table: "roads 522301000000"); a village's county and township;
			// the counties and townships of the villages within 2 km of a
			// road written or removed (their covered counts).
			var la []string
			err := tx.QueryRow(ctx, `
				WITH c AS (DELETE FROM lastmile.overview_changes RETURNING layer, area, geom_3857),
				cs AS MATERIALIZED (SELECT * FROM c),
				ra AS (SELECT DISTINCT layer || ' ' || CASE WHEN area = '' THEN '' ELSE left(area, 6) || '000000' END AS a
				       FROM cs WHERE layer <> 'villages'),
				vcodes AS (
					SELECT area AS code FROM cs WHERE layer = 'villages' AND area <> ''
					UNION
					SELECT coalesce(v.admin_code, v.code) FROM cs
					JOIN lastmile.villages v ON v.geom_3857 && ST_Expand(cs.geom_3857, 2020 / cos(radians(least(89,
						greatest(abs(ST_YMin(ST_Transform(cs.geom_3857, 4326))), abs(ST_YMax(ST_Transform(cs.geom_3857, 4326)))) + 0.05))))
					WHERE cs.layer = 'roads' AND cs.geom_3857 IS NOT NULL AND coalesce(v.admin_code, v.code) IS NOT NULL
				),
				va AS (SELECT DISTINCT rpad(left(code, d), 12, '0') AS a FROM vcodes, unnest($1::int[]) d)
				SELECT (SELECT count(*) FROM cs),
				       coalesce((SELECT array_agg(a ORDER BY a) FROM ra), '{}'),
				       coalesce((SELECT array_agg(a ORDER BY a) FROM va), '{}')`,
				levelDigits(villages)).Scan(&rep.Changes, &la, &villageAreas)
			if err != nil {
				return err
			}
			lineAreas = map[string][]string{}
			for _, s := range la {
				table, area, _ := strings.Cut(s, " ")
				lineAreas[table] = append(lineAreas[table], area)
			}
			rep.VillageAreas = len(villageAreas)
		}
		for _, l := range lineLayers {
			var areas []string // nil: all
			if !rep.Full {
				if areas = lineAreas[l.Table]; len(areas) == 0 {
					continue
				}
				rep.LineAreas[l.Name] = len(areas)
			}
			n, bounds, err := refreshLineOverview(ctx, tx, l, areas)
			if err != nil {
				return fmt.Errorf("%s overview: %w", l.Name, err)
			}
			rep.LineRows[l.Name] = n
			if len(bounds) > 0 {
				recounted[l.Name] = bounds
			}
		}
		if villages != nil && villages.Overview != nil && (rep.Full || len(villageAreas) > 0) {
			if !rep.Full {
				before, err := countPoints(ctx, tx, villageAreas)
				if err != nil {
					return err
				}
				points = before
			}
			n, err := refreshVillageOverview(ctx, tx, villages, villageAreas)
			if err != nil {
				return fmt.Errorf("village overview: %w", err)
			}
			rep.VillageRows = n
			if !rep.Full {
				after, err := countPoints(ctx, tx, villageAreas)
				if err != nil {
					return err
				}
				points = append(points, after...)
			}
		}
		_, err := tx.Exec(ctx, `UPDATE lastmile.overview_state SET built = true, full_rebuild = false, built_at = now()`)
		return err
	})
	rep.Duration = time.Since(start)
	if err == nil {
		s.log.Debug("overviews refreshed", "full", rep.Full, "changes", rep.Changes, "line_areas", rep.LineAreas,
			"village_areas", rep.VillageAreas, "ms", rep.Duration.Milliseconds())
		switch {
		case rep.Full && wasBuilt:
			// After a bulk write: cached low-zoom tiles were made from the
			// old overviews (the first build has none cached).
			for _, l := range append(lineLayers, villages) {
				if l != nil && l.Overview != nil {
					s.cache.invalidateBelow(l.Name, nil, l.Overview.Below)
				}
			}
		case !rep.Full:
			if len(points) > 0 && villages != nil {
				// A count point moves or changes far from the edit that changed
				// it (a road edit changes the covered count of its county).
				s.cache.invalidateBelow(villages.Name, points, villages.Overview.Below)
			}
			// A line's count property changes in every tile of its row,
			// not only over the feature that joined or left it.
			for _, l := range lineLayers {
				if b := recounted[l.Name]; len(b) > 0 {
					s.cache.invalidateBelow(l.Name, b, l.Overview.Below)
				}
			}
		}
	}
	return rep, err
}

// levelDigits are the code digits of the village overview's levels.
func levelDigits(villages *layer.Layer) []int32 {
	var out []int32
	if villages != nil && villages.Overview != nil {
		for _, lv := range villages.Overview.Levels {
			out = append(out, int32(lv.Digits))
		}
	}
	return out
}

// refreshLineOverview recomputes the lines overview of layer l (roads,
// water pipelines, power lines) in the areas (nil: all). It returns the
// rows written and, when areas is not nil, the bounds (lon/lat) of the rows
// kept whose count changes: their tiles change away from the edits (rows
// new or gone, and geometries, change only over the features that joined
// or left them, which are edits).
func refreshLineOverview(ctx context.Context, tx pgx.Tx, l *layer.Layer, areas []string) (int, []orb.Bound, error) {
	o := l.Overview
	var bands []string
	for _, b := range o.Bands {
		_, last, _ := o.Band(b)
		bands = append(bands, "("+strconv.Itoa(b)+", "+strconv.FormatFloat(tolerance(last), 'g', -1, 64)+"::float8, "+
			strconv.FormatFloat(worldWidth/float64(int(1)<<b), 'g', -1, 64)+"::float8)")
	}
	var cols, vals []string // the kept columns, and their values from the rows
	for _, k := range o.Keys {
		cols = append(cols, pgsql.Ident(k))
		vals = append(vals, pgsql.Col("r", k))
	}
	if o.Class != nil {
		cols = append(cols, pgsql.Ident(o.Class.Column))
		vals = append(vals, o.Class.SQL(l, "r")+" AS "+pgsql.Ident(o.Class.Column))
	}
	lines := "true"
	if l.AllowsGeometry(layer.Point) {
		lines = "ST_Dimension(r.geom_3857) = 1"
	}
	sql := templates.Fill("overview_line_rows.sql", pgsql.Slots{"minzoom": l.MinZoomSQL("r"), "bands": strings.Join(bands, ", "),
		"table": pgsql.Table(l), "lines": lines, "columns": strings.Join(cols, ", "), "values": strings.Join(vals, ", ")})
	var arg any
	if areas != nil {
		arg = areas
	}
	if _, err := tx.Exec(ctx, sql, arg); err != nil {
		return 0, nil, err
	}
	table := pgx.Identifier{pgsql.Schema, o.Table}.Sanitize()
	count := pgsql.Ident(o.Count)
	keys := "area, band, cx, cy, " + strings.Join(cols, ", ")
	prefixed := func(alias string) string { return alias + "." + strings.ReplaceAll(keys, ", ", ", "+alias+".") }
	var recounted []orb.Bound
	if areas == nil {
		if _, err := tx.Exec(ctx, `TRUNCATE `+table+` RESTART IDENTITY`); err != nil {
			return 0, nil, err
		}
	} else {
		rows, err := tx.Query(ctx, `SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (
			SELECT ST_Transform(ST_Envelope(o.geom_3857), 4326)::box2d AS b FROM `+table+` o
			JOIN ov_lines n ON (`+prefixed("n")+`) IS NOT DISTINCT FROM (`+prefixed("o")+`)
			WHERE o.area = ANY($1) AND n.n <> o.`+count+`) s`, areas)
		if err != nil {
			return 0, nil, err
		}
		for rows.Next() {
			var b orb.Bound
			if err := rows.Scan(&b.Min[0], &b.Min[1], &b.Max[0], &b.Max[1]); err != nil {
				rows.Close()
				return 0, nil, err
			}
			recounted = append(recounted, b)
		}
		if rows.Close(); rows.Err() != nil {
			return 0, nil, rows.Err()
		}
		// Groups gone from the areas; the others are updated in place, so
		// their ids (the MVT feature ids) stay.
		if _, err := tx.Exec(ctx, `DELETE FROM `+table+` o WHERE o.area = ANY($1)
			AND NOT EXISTS (SELECT 1 FROM ov_lines n WHERE (`+prefixed("n")+`) IS NOT DISTINCT FROM (`+prefixed("o")+`))`, areas); err != nil {
			return 0, nil, err
		}
	}
	tag, err := tx.Exec(ctx, `INSERT INTO `+table+` AS o (`+keys+`, minzoom, `+count+`, geom_3857)
		SELECT `+keys+`, minzoom, n, geom_3857 FROM ov_lines ORDER BY `+keys+`
		ON CONFLICT (`+keys+`) DO UPDATE SET minzoom = EXCLUDED.minzoom, `+count+` = EXCLUDED.`+count+`, geom_3857 = EXCLUDED.geom_3857
		WHERE (o.minzoom, o.`+count+`, o.geom_3857) IS DISTINCT FROM (EXCLUDED.minzoom, EXCLUDED.`+count+`, EXCLUDED.geom_3857)`)
	if err != nil {
		return 0, nil, err
	}
	if _, err := tx.Exec(ctx, `DROP TABLE ov_lines`); err != nil {
		return 0, nil, err
	}
	if areas == nil {
		_, err = tx.Exec(ctx, `ANALYZE `+table)
	}
	return int(tag.RowsAffected()), recounted, err
}

// refreshVillageOverview recomputes the village counts of the areas (nil: all).
func refreshVillageOverview(ctx context.Context, tx pgx.Tx, villages *layer.Layer, areas []string) (int, error) {
	var levels []string
	for _, lv := range villages.Overview.Levels {
		levels = append(levels, "('"+lv.Level+"', "+strconv.Itoa(lv.Digits)+")")
	}
	sql := templates.Fill("overview_villages.sql", pgsql.Slots{"levels": strings.Join(levels, ", "), "all_season": layer.AllSeason.SQL("r") + " AND r.status = 'completed'",
		"access_definition": "'" + layer.AllSeason.Name + "'"})
	var arg any
	if areas != nil {
		arg = areas
	}
	if _, err := tx.Exec(ctx, sql, arg); err != nil {
		return 0, err
	}
	if areas == nil {
		if _, err := tx.Exec(ctx, `TRUNCATE lastmile.village_overview RESTART IDENTITY`); err != nil {
			return 0, err
		}
	} else if _, err := tx.Exec(ctx, `DELETE FROM lastmile.village_overview o WHERE o.code = ANY($1)
		AND NOT EXISTS (SELECT 1 FROM ov_villages n WHERE n.level = o.level AND n.code = o.code)`, areas); err != nil {
		return 0, err
	}
	tag, err := tx.Exec(ctx, `INSERT INTO lastmile.village_overview (level, code, name, villages, population, covered, geom_3857)
		SELECT level, code, name, villages, population, covered, geom_3857 FROM ov_villages ORDER BY level, code
		ON CONFLICT (level, code) DO UPDATE SET name = EXCLUDED.name, villages = EXCLUDED.villages,
			population = EXCLUDED.population, covered = EXCLUDED.covered, geom_3857 = EXCLUDED.geom_3857
		WHERE (village_overview.name, village_overview.villages, village_overview.population, village_overview.covered, village_overview.geom_3857)
			IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.villages, EXCLUDED.population, EXCLUDED.covered, EXCLUDED.geom_3857)`)
	if err != nil {
		return 0, err
	}
	if areas == nil {
		_, err = tx.Exec(ctx, `ANALYZE lastmile.village_overview`)
	}
	return int(tag.RowsAffected()), err
}

// countPoints returns the places (lon/lat) of the count points of the areas.
func countPoints(ctx context.Context, tx pgx.Tx, areas []string) ([]orb.Bound, error) {
	rows, err := tx.Query(ctx, `SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(geom_3857, 4326) AS p
		FROM lastmile.village_overview WHERE code = ANY($1)) s`, areas)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []orb.Bound
	for rows.Next() {
		var x, y float64
		if err := rows.Scan(&x, &y); err != nil {
			return nil, err
		}
		out = append(out, orb.Bound{Min: orb.Point{x, y}, Max: orb.Point{x, y}})
	}
	return out, rows.Err()
}

// Reach is a bound (lon/lat) within which overview features that edits
// change lie, away from the edits, and the zoom below which they are drawn.
type Reach struct {
	Bound orb.Bound
	Below int
}

// OverviewReach returns, for edits of the layers whose geometries (old and
// new) have the bounds edits (lon/lat) and that named the admin codes
// codes (the edited villages' admin_code or code, old and new), the
// bounds within which the overview features they change lie away from
// them: a count point is the centroid of its area's villages, so it lies
// in their extent, which may be far from the edit (a road edit changes the
// covered count of the villages within 2 km); a collected line's geometry
// changes only over the features that joined or left it (each is
// simplified alone), but its count in every tile of its row: the rows of
// the cells (band, tile of the band's first zoom) holding an edit's centre
// are returned. An archive update re-renders these tiles too.
func (s *Service) OverviewReach(ctx context.Context, layers []*layer.Layer, edits []orb.Bound, codes []string) ([]Reach, error) {
	if len(edits)+len(codes) == 0 {
		return nil, nil
	}
	var out []Reach
	for _, l := range layers {
		o := l.Overview
		if o == nil {
			continue
		}
		var bounds []orb.Bound
		var err error
		switch {
		case o.Kind == layer.OverviewCounts:
			bounds, err = s.countReach(ctx, l, edits, codes)
		case len(edits) > 0:
			bounds, err = s.lineReach(ctx, l, edits)
		}
		if err != nil {
			return nil, fmt.Errorf("%s overview: %w", l.Name, err)
		}
		for _, b := range bounds {
			out = append(out, Reach{Bound: b, Below: o.Below})
		}
	}
	return out, nil
}

// edgeArrays returns the bounds as four arrays (x0, y0, x1, y1).
func edgeArrays(edits []orb.Bound) (x0, y0, x1, y1 []float64) {
	x0, y0, x1, y1 = make([]float64, len(edits)), make([]float64, len(edits)), make([]float64, len(edits)), make([]float64, len(edits))
	for i, b := range edits {
		x0[i], y0[i], x1[i], y1[i] = b.Min[0], b.Min[1], b.Max[0], b.Max[1]
	}
	return
}

// lineReach returns the extents of the rows of l's lines overview in the
// cells holding the edits' centres (as overview_line_rows.sql places a
// line: the centre of its EPSG:3857 envelope, which is the envelope of its
// lon/lat bounds projected), a metre either way.
func (s *Service) lineReach(ctx context.Context, l *layer.Layer, edits []orb.Bound) ([]orb.Bound, error) {
	o := l.Overview
	var bands []string
	for _, b := range o.Bands {
		bands = append(bands, "("+strconv.Itoa(b)+", "+strconv.FormatFloat(worldWidth/float64(int(1)<<b), 'g', -1, 64)+"::float8)")
	}
	x0, y0, x1, y1 := edgeArrays(edits)
	rows, err := s.pool.Query(ctx, `
		WITH e AS (SELECT * FROM unnest($1::float8[], $2::float8[], $3::float8[], $4::float8[]) e(x0, y0, x1, y1)),
		c AS (
			SELECT (ST_X(p.a) + ST_X(p.b)) / 2 AS mx, (ST_Y(p.a) + ST_Y(p.b)) / 2 AS my FROM e
			CROSS JOIN LATERAL (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(e.x0, greatest(e.y0, -85.05)), 4326), 3857) AS a,
			                           ST_Transform(ST_SetSRID(ST_MakePoint(e.x1, least(e.y1, 85.05)), 4326), 3857) AS b) p
		),
		bands (band, cell) AS (VALUES `+strings.Join(bands, ", ")+`),
		cells AS (
			SELECT DISTINCT b.band, floor((c.mx + d.dx + 20037508.342789244) / b.cell)::int AS cx,
			                floor((20037508.342789244 - c.my - d.dy) / b.cell)::int AS cy
			FROM c CROSS JOIN bands b CROSS JOIN (VALUES (-1.0, -1.0), (-1.0, 1.0), (1.0, -1.0), (1.0, 1.0)) d(dx, dy)
		)
		SELECT ST_XMin(x), ST_YMin(x), ST_XMax(x), ST_YMax(x) FROM (
			SELECT ST_Transform(ST_Envelope(t.geom_3857), 4326)::box2d AS x
			FROM `+pgx.Identifier{pgsql.Schema, o.Table}.Sanitize()+` t JOIN cells USING (band, cx, cy)) s`, x0, y0, x1, y1)
	if err != nil {
		return nil, err
	}
	return scanBounds(rows)
}

// countReach returns the extents of the villages of the count points the
// edits change (see OverviewReach).
func (s *Service) countReach(ctx context.Context, villages *layer.Layer, edits []orb.Bound, codes []string) ([]orb.Bound, error) {
	x0, y0, x1, y1 := edgeArrays(edits)
	// 2 km and a margin: 0.02° of latitude, 0.02°/cos φ of longitude.
	rows, err := s.pool.Query(ctx, `
		WITH e AS (SELECT * FROM unnest($1::float8[], $2::float8[], $3::float8[], $4::float8[]) e(x0, y0, x1, y1)),
		near AS (
			SELECT coalesce(v.admin_code, v.code) AS code FROM e
			JOIN lastmile.villages v ON v.geom && ST_MakeEnvelope(
				x0 - 0.02 / cos(radians(least(89, greatest(abs(y0), abs(y1)) + 0.02))), y0 - 0.02,
				x1 + 0.02 / cos(radians(least(89, greatest(abs(y0), abs(y1)) + 0.02))), y1 + 0.02, 4326)
			UNION SELECT unnest($5::text[])
		),
		areas AS (SELECT DISTINCT left(code, d) AS prefix, d FROM near, unnest($6::int[]) d WHERE code IS NOT NULL)
		SELECT ST_XMin(x), ST_YMin(x), ST_XMax(x), ST_YMax(x) FROM (
			SELECT ST_Extent(v.geom) AS x FROM areas a
			JOIN lastmile.villages v ON left(coalesce(v.admin_code, v.code), a.d) = a.prefix
			GROUP BY a.prefix, a.d) s
		WHERE x IS NOT NULL`, x0, y0, x1, y1, codes, levelDigits(villages))
	if err != nil {
		return nil, err
	}
	return scanBounds(rows)
}

// scanBounds reads rows of (xmin, ymin, xmax, ymax).
func scanBounds(rows pgx.Rows) ([]orb.Bound, error) {
	defer rows.Close()
	var out []orb.Bound
	for rows.Next() {
		var b orb.Bound
		if err := rows.Scan(&b.Min[0], &b.Min[1], &b.Max[0], &b.Max[1]); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}
