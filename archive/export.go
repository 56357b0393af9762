package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
	"github.com/paulmach/orb/maptile"
	"github.com/paulmach/orb/maptile/tilecover"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/tiles"
)

// MaxZoom is the highest zoom an archive may hold.
const MaxZoom = 22

// maxLat is the latitude limit of Web Mercator.
const maxLat = 85.0511287798066

// tileBuffer is the tile SQL's margin (64 of 4096 units): a feature this
// close to a tile is in it.
const tileBuffer = 64.0 / 4096

// Options select what an export holds.
type Options struct {
	Layers    []*layer.Layer // catalog layers, in catalog order
	Filters   tiles.Filters
	AdminCode string      // the area: an admin area's code,
	BBox      *[4]float64 // or a bbox (west, south, east, north); neither: all the data
	MinZoom   int         // -1: the layers' lowest
	MaxZoom   int         // -1: the layers' highest
	Workers   int         // concurrent tile queries; 0: one per CPU, at least 2
	Progress  io.Writer   // progress lines; nil: none
	Terminal  bool        // Progress is a terminal: one line redrawn in place
}

// Report is what an export or update did.
type Report struct {
	Path      string
	Format    Format
	Tiles     int           // tiles in the archive (non-empty)
	Contents  int           // distinct tile contents stored
	Covered   int           // tiles of the area at the zooms
	Rendered  int           // tiles rendered
	Changed   int           // update: tiles whose content changed, appeared or disappeared
	Edits     int           // update: geometries of the edits read from the history
	Bytes     int64         // archive size
	Duration  time.Duration // wall time
	Generated time.Time     // the recorded generation time
	Full      bool          // update: the area changed, so everything was rendered
}

// Exporter renders archives from the database through the tile service.
type Exporter struct {
	pool *pgxpool.Pool
	svc  *tiles.Service
}

// NewExporter returns an exporter.
func NewExporter(pool *pgxpool.Pool, svc *tiles.Service) *Exporter {
	return &Exporter{pool: pool, svc: svc}
}

// adminCode is the form of an admin area code.
var adminCode = regexp.MustCompile(`^[0-9]{12}$`)

// ParseBBox parses "west,south,east,north" in degrees (EPSG:4326).
func ParseBBox(s string) ([4]float64, error) {
	var b [4]float64
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return b, lastmile.Invalid("invalid --bbox", lastmile.Problem{Field: "bbox", Value: s,
			Message: "must be four numbers west,south,east,north in degrees"})
	}
	names := []string{"west", "south", "east", "north"}
	var problems []lastmile.Problem
	for i, p := range parts {
		var v float64
		if _, err := fmt.Sscan(strings.TrimSpace(p), &v); err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			problems = append(problems, lastmile.Problem{Field: "bbox." + names[i], Value: p, Message: "must be a number"})
			continue
		}
		b[i] = v
	}
	if len(problems) == 0 {
		for _, i := range []int{0, 2} {
			if b[i] < -180 || b[i] > 180 {
				problems = append(problems, lastmile.Problem{Field: "bbox." + names[i], Value: parts[i], Message: "must be a longitude from -180 to 180"})
			}
		}
		for _, i := range []int{1, 3} {
			if b[i] < -90 || b[i] > 90 {
				problems = append(problems, lastmile.Problem{Field: "bbox." + names[i], Value: parts[i], Message: "must be a latitude from -90 to 90"})
			}
		}
		if len(problems) == 0 && b[0] >= b[2] {
			problems = append(problems, lastmile.Problem{Field: "bbox", Value: s, Message: "west must be less than east"})
		}
		if len(problems) == 0 && b[1] >= b[3] {
			problems = append(problems, lastmile.Problem{Field: "bbox", Value: s, Message: "south must be less than north"})
		}
	}
	if len(problems) > 0 {
		return b, lastmile.Invalid("invalid --bbox", problems...)
	}
	return b, nil
}

// area is what an export covers.
type area struct {
	geom    orb.Geometry // lon/lat
	bound   orb.Bound
	version int
}

// resolveArea finds the export's area: the admin area's geometry, the bbox,
// or the extent of the layers' data.
func (e *Exporter) resolveArea(ctx context.Context, o *Options) (*area, error) {
	switch {
	case o.AdminCode != "" && o.BBox != nil:
		return nil, lastmile.Invalid("give --admin-code or --bbox, not both")
	case o.AdminCode != "":
		if !adminCode.MatchString(o.AdminCode) {
			return nil, lastmile.Invalid("invalid --admin-code", lastmile.Problem{Field: "admin-code", Value: o.AdminCode, Message: "must be a 12-digit admin area code"})
		}
		var b []byte
		var version int
		err := e.pool.QueryRow(ctx, "SELECT ST_AsBinary(geom), version FROM lastmile.admin_areas WHERE code = $1", o.AdminCode).Scan(&b, &version)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, lastmile.Errorf(lastmile.ENOTFOUND, "no admin area with code %s (see the admin_areas layer)", o.AdminCode)
		}
		if err != nil {
			return nil, fmt.Errorf("reading admin area %s: %w", o.AdminCode, err)
		}
		g, err := wkb.Unmarshal(b)
		if err != nil {
			return nil, fmt.Errorf("admin area %s: %w", o.AdminCode, err)
		}
		return &area{geom: g, bound: g.Bound(), version: version}, nil
	case o.BBox != nil:
		bb := orb.Bound{Min: orb.Point{o.BBox[0], o.BBox[1]}, Max: orb.Point{o.BBox[2], o.BBox[3]}}
		return &area{geom: bb, bound: bb}, nil
	}
	tj, err := e.svc.TileJSON(ctx, "", o.Layers, nil)
	if err != nil {
		return nil, err
	}
	bb := orb.Bound{Min: orb.Point{tj.Bounds[0], tj.Bounds[1]}, Max: orb.Point{tj.Bounds[2], tj.Bounds[3]}}
	return &area{geom: bb, bound: bb}, nil
}

// clampLat keeps a bound inside Web Mercator.
func clampLat(b orb.Bound) orb.Bound {
	b.Min[1] = math.Max(-maxLat, math.Min(maxLat, b.Min[1]))
	b.Max[1] = math.Max(-maxLat, math.Min(maxLat, b.Max[1]))
	return b
}

// cover returns the tiles of the area at zoom z.
func (a *area) cover(z int) (maptile.Set, error) {
	if b, ok := a.geom.(orb.Bound); ok {
		return tilecover.Bound(clampLat(b), maptile.Zoom(z)), nil
	}
	return tilecover.Geometry(a.geom, maptile.Zoom(z))
}

// zooms resolves the zoom range.
func (o *Options) zooms() (int, int, error) {
	lo, hi := MaxZoom, 0
	for _, l := range o.Layers {
		lo, hi = min(lo, l.MinZoom), max(hi, l.MaxZoom)
	}
	if o.MinZoom >= 0 {
		lo = o.MinZoom
	}
	if o.MaxZoom >= 0 {
		hi = o.MaxZoom
	}
	switch {
	case lo < 0 || lo > MaxZoom:
		return 0, 0, lastmile.Invalid("invalid --minzoom", lastmile.Problem{Field: "minzoom", Value: itoa(lo), Message: "must be from 0 to " + itoa(MaxZoom)})
	case hi < 0 || hi > MaxZoom:
		return 0, 0, lastmile.Invalid("invalid --maxzoom", lastmile.Problem{Field: "maxzoom", Value: itoa(hi), Message: "must be from 0 to " + itoa(MaxZoom)})
	case lo > hi:
		return 0, 0, lastmile.Invalid("invalid zoom range", lastmile.Problem{Field: "minzoom", Value: itoa(lo), Message: "must not exceed --maxzoom " + itoa(hi)})
	}
	return lo, hi, nil
}

func itoa(i int) string { return fmt.Sprint(i) }

// Export writes the archive path (its format by extension), replacing it
// only once complete.
func (e *Exporter) Export(ctx context.Context, path string, o Options) (*Report, error) {
	start := time.Now()
	format, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	if len(o.Layers) == 0 {
		return nil, lastmile.Invalid("no layers to export")
	}
	lo, hi, err := o.zooms()
	if err != nil {
		return nil, err
	}
	a, err := e.resolveArea(ctx, &o)
	if err != nil {
		return nil, err
	}
	generated, err := e.now(ctx)
	if err != nil {
		return nil, err
	}
	var jobs []maptile.Tile
	for z := lo; z <= hi; z++ {
		set, err := a.cover(z)
		if err != nil {
			return nil, fmt.Errorf("covering the area at zoom %d: %w", z, err)
		}
		jobs = appendSorted(jobs, set)
	}
	set, err := newTileSet(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer set.close()
	if err := e.render(ctx, o, jobs, set); err != nil {
		return nil, err
	}
	meta, err := e.metadata(ctx, o, a, lo, hi)
	if err != nil {
		return nil, err
	}
	meta.Source.Generated = generated
	if err := write(path, format, set, meta); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return e.report(path, format, set, len(jobs), len(jobs), generated, start)
}

// appendSorted appends the set's tiles in a stable order.
func appendSorted(jobs []maptile.Tile, set maptile.Set) []maptile.Tile {
	n := len(jobs)
	for t := range set {
		jobs = append(jobs, t)
	}
	slices.SortFunc(jobs[n:], func(a, b maptile.Tile) int {
		if a.X != b.X {
			return int(a.X) - int(b.X)
		}
		return int(a.Y) - int(b.Y)
	})
	return jobs
}

// now returns the generation time of an export starting now: the database
// time, or the start of the oldest transaction still open if earlier — an
// edit the export cannot see yet belongs to an open transaction, so its
// history row's time is at or after that start and the next update finds it.
func (e *Exporter) now(ctx context.Context) (time.Time, error) {
	var t time.Time
	err := e.pool.QueryRow(ctx, `SELECT least(clock_timestamp(), (SELECT min(xact_start) FROM pg_stat_activity
		WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid() AND datname = current_database()))`).Scan(&t)
	if err != nil {
		return t, fmt.Errorf("reading the database time: %w", err)
	}
	return t.UTC(), nil
}

func (e *Exporter) report(path string, format Format, set *tileSet, covered, rendered int, generated time.Time, start time.Time) (*Report, error) {
	st, err := statSize(path)
	if err != nil {
		return nil, err
	}
	return &Report{Path: path, Format: format, Tiles: len(set.tiles), Contents: countContents(set),
		Covered: covered, Rendered: rendered, Bytes: st, Duration: time.Since(start), Generated: generated}, nil
}

// countContents counts the distinct contents the archive's tiles use.
func countContents(set *tileSet) int {
	used := map[Hash]bool{}
	for _, h := range set.tiles {
		used[h] = true
	}
	return len(used)
}

// metadata builds the archive's metadata from the layers' TileJSON.
func (e *Exporter) metadata(ctx context.Context, o Options, a *area, lo, hi int) (*Metadata, error) {
	tj, err := e.svc.TileJSON(ctx, "", o.Layers, o.Filters)
	if err != nil {
		return nil, err
	}
	b := clampLat(a.bound)
	name := tj.Name
	switch {
	case o.AdminCode != "":
		name += " — " + o.AdminCode
	case o.BBox != nil:
		name += " — bbox"
	}
	m := &Metadata{
		Name: name, Description: tj.Description, Attribution: tj.Attribution, Version: tj.Version,
		MinZoom: lo, MaxZoom: hi, VectorLayers: tj.VectorLayers,
		Bounds: [4]float64{round7(b.Min[0]), round7(b.Min[1]), round7(b.Max[0]), round7(b.Max[1])},
		Source: Source{Layers: tj.Name, Filters: o.Filters.String(), AdminCode: o.AdminCode, BBox: o.BBox, AreaVersion: a.version},
		Style:  tiles.Style(o.Layers, name, ""),
	}
	c := b.Center()
	zoom := lo
	if span := math.Max(b.Max[0]-b.Min[0], b.Max[1]-b.Min[1]); span > 0 {
		zoom = int(math.Floor(math.Log2(360 / span)))
	}
	m.Center = [3]float64{round7(c[0]), round7(c[1]), float64(max(lo, min(hi, zoom)))}
	return m, nil
}

func round7(v float64) float64 { return math.Round(v*1e7) / 1e7 }

// render renders the tiles with bounded workers into set (empty tiles
// remove any tile there), reporting progress.
func (e *Exporter) render(ctx context.Context, o Options, jobs []maptile.Tile, set *tileSet) error {
	workers := o.Workers
	if workers <= 0 {
		workers = max(2, runtime.NumCPU())
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := newProgress(o.Progress, o.Terminal, len(jobs))
	defer p.stop()
	next := make(chan maptile.Tile)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range next {
				mvt, err := e.svc.Render(ctx, o.Layers, int(t.Z), int(t.X), int(t.Y), o.Filters)
				if err != nil {
					fail(fmt.Errorf("tile %d/%d/%d: %w", t.Z, t.X, t.Y, err))
					return
				}
				if err := set.put(int(t.Z), int(t.X), int(t.Y), mvt, nil); err != nil {
					fail(err)
					return
				}
				p.add(len(mvt) == 0)
			}
		}()
	}
feed:
	for _, t := range jobs {
		select {
		case next <- t:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// Update brings the archive at path up to date: it re-renders the tiles,
// at every zoom of the archive, that the geometries (old and new) of the
// edits recorded since the archive's generation time (or since, when not
// zero) touch, and rewrites the archive. When the archive's admin area
// itself changed, everything is rendered again.
func (e *Exporter) Update(ctx context.Context, path string, since time.Time, o Options) (*Report, error) {
	start := time.Now()
	format, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	r, err := Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening the archive to update: %w", err)
	}
	defer r.Close()
	old := r.Metadata()
	src := old.Source
	if src.Layers == "" || src.Generated.IsZero() {
		return nil, fmt.Errorf("%s was not written by lastmile export (no lastmile metadata): export it afresh", path)
	}
	if o.Layers, err = e.svc.Layers(src.Layers); err != nil {
		return nil, fmt.Errorf("the archive's layers: %w", err)
	}
	q, err := url.ParseQuery(src.Filters)
	if err != nil {
		return nil, fmt.Errorf("the archive's filters %q: %w", src.Filters, err)
	}
	if o.Filters, err = tiles.ParseFilters(o.Layers, q); err != nil {
		return nil, fmt.Errorf("the archive's filters: %w", err)
	}
	o.AdminCode, o.BBox, o.MinZoom, o.MaxZoom = src.AdminCode, src.BBox, old.MinZoom, old.MaxZoom
	if since.IsZero() {
		since = src.Generated
	}
	a, err := e.resolveArea(ctx, &o)
	if err != nil {
		return nil, err
	}
	if src.AdminCode != "" && a.version != src.AreaVersion {
		rep, err := e.Export(ctx, path, o)
		if rep != nil {
			rep.Full = true
		}
		return rep, err
	}
	generated, err := e.now(ctx)
	if err != nil {
		return nil, err
	}
	edits, codes, err := e.editedBounds(ctx, o.Layers, since)
	if err != nil {
		return nil, err
	}
	// Overview features an edit changes away from it (a count point of
	// villages per area, a collected line's count), below their zoom.
	reach, err := e.svc.OverviewReach(ctx, o.Layers, edits, codes)
	if err != nil {
		return nil, fmt.Errorf("overviews of the edits: %w", err)
	}
	set, err := newTileSet(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer set.close()
	before := map[uint64]Hash{}
	err = r.Each(func(z, x, y int, gz []byte) error {
		mvt, err := gunzip(gz)
		if err != nil {
			return fmt.Errorf("tile %d/%d/%d of the archive: %w", z, x, y, err)
		}
		before[TileID(z, x, y)] = HashOf(mvt)
		return set.put(z, x, y, mvt, gz)
	})
	if err != nil {
		return nil, err
	}
	var jobs []maptile.Tile
	covered := 0
	for z := old.MinZoom; z <= old.MaxZoom; z++ {
		cover, err := a.cover(z)
		if err != nil {
			return nil, err
		}
		covered += len(cover)
		touched := maptile.Set{}
		for _, b := range edits {
			for t := range touchedTiles(b, z) {
				if cover[t] {
					touched[t] = true
				}
			}
		}
		for _, r := range reach {
			if z >= r.Below {
				continue
			}
			for t := range touchedTiles(r.Bound, z) {
				if cover[t] {
					touched[t] = true
				}
			}
		}
		jobs = appendSorted(jobs, touched)
	}
	if err := e.render(ctx, o, jobs, set); err != nil {
		return nil, err
	}
	changed := 0
	for _, t := range jobs {
		id := TileID(int(t.Z), int(t.X), int(t.Y))
		h0, had := before[id]
		h1, has := set.tiles[id]
		if had != has || h0 != h1 {
			changed++
		}
	}
	meta, err := e.metadata(ctx, o, a, old.MinZoom, old.MaxZoom)
	if err != nil {
		return nil, err
	}
	meta.Source.Generated = generated
	r.Close()
	if err := write(path, format, set, meta); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	rep, err := e.report(path, format, set, covered, len(jobs), generated, start)
	if err != nil {
		return nil, err
	}
	rep.Changed, rep.Edits = changed, len(edits)
	return rep, nil
}

// editedBounds returns the bounds (lon/lat) of the old and new geometries
// of the layers' edits recorded at or after since, and the admin codes
// (admin_code, else code) that the edited villages had or have.
func (e *Exporter) editedBounds(ctx context.Context, layers []*layer.Layer, since time.Time) ([]orb.Bound, []string, error) {
	tables := make([]string, len(layers))
	for i, l := range layers {
		tables[i] = l.Table
	}
	var codes []string
	err := e.pool.QueryRow(ctx, `
		SELECT coalesce(array_agg(DISTINCT c) FILTER (WHERE c IS NOT NULL), '{}')
		FROM lastmile.feature_history_full h,
		     LATERAL (VALUES (coalesce(h.old_row ->> 'admin_code', h.old_row ->> 'code')),
		                     (coalesce(h.new_row ->> 'admin_code', h.new_row ->> 'code'))) v(c)
		WHERE h.at >= $1 AND h.layer = 'villages' AND 'villages' = ANY($2)`, since, tables).Scan(&codes)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the edit history: %w", err)
	}
	rows, err := e.pool.Query(ctx, `
		SELECT ST_XMin(g), ST_YMin(g), ST_XMax(g), ST_YMax(g)
		FROM lastmile.feature_history_full h,
		     LATERAL (VALUES (h.old_geom::box2d), (h.new_geom::box2d)) v(g)
		WHERE h.at >= $1 AND h.layer = ANY($2) AND g IS NOT NULL`, since, tables)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the edit history: %w", err)
	}
	defer rows.Close()
	var out []orb.Bound
	for rows.Next() {
		var b orb.Bound
		if err := rows.Scan(&b.Min[0], &b.Min[1], &b.Max[0], &b.Max[1]); err != nil {
			return nil, nil, err
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("reading the edit history: %w", err)
	}
	return out, codes, nil
}

// touchedTiles returns the tiles at zoom z whose content a feature within
// the bound can change: those within the tile buffer of it.
func touchedTiles(b orb.Bound, z int) maptile.Set {
	b = clampLat(b)
	lo := maptile.Fraction(orb.Point{b.Min[0], b.Max[1]}, maptile.Zoom(z)) // north-west
	hi := maptile.Fraction(orb.Point{b.Max[0], b.Min[1]}, maptile.Zoom(z)) // south-east
	n := float64(int(1) << z)
	x0 := int(math.Max(0, math.Floor(lo[0]-tileBuffer)))
	y0 := int(math.Max(0, math.Floor(lo[1]-tileBuffer)))
	x1 := int(math.Min(n-1, math.Floor(hi[0]+tileBuffer)))
	y1 := int(math.Min(n-1, math.Floor(hi[1]+tileBuffer)))
	out := maptile.Set{}
	for x := x0; x <= x1; x++ {
		for y := y0; y <= y1; y++ {
			out[maptile.New(uint32(x), uint32(y), maptile.Zoom(z))] = true
		}
	}
	return out
}
