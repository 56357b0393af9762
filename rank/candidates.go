package rank

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
	"github.com/paulmach/orb/geojson"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/geo"
	"github.com/lastmile/lastmile/layer"
)

// candidate is one site to rank.
type candidate struct {
	id   string
	name string
	geom orb.Geometry
	wkb  []byte
	grid *GridCell // set for grid candidates
	row  int       // 1-based position in a request's FeatureCollection
}

// GridCell is a grid candidate's place in the grid: I counts cells west to
// east, J south to north (ST_SquareGrid's indexes in the UTM zone).
type GridCell struct {
	I int `json:"i"`
	J int `json:"j"`
}

// newCandidate is a candidate with its geometry as WKB (b, or encoded from
// g when b is nil).
func newCandidate(id, name string, g orb.Geometry, b []byte) candidate {
	if b == nil {
		b, _ = wkb.Marshal(g)
	}
	return candidate{id: id, name: name, geom: g, wkb: b}
}

// loadCandidates returns the request's candidates; for a grid, also the
// estimated cell count (checked against MaxCells before generating).
func loadCandidates(ctx context.Context, pool *pgxpool.Pool, req Request) ([]candidate, int, error) {
	c := req.Candidates
	switch c.Source {
	case SourceFeatures:
		return c.features, 0, nil
	case SourcePlanned:
		rows, err := pool.Query(ctx, queries["planned"], MaxCells+1)
		if err != nil {
			return nil, 0, err
		}
		var out []candidate
		var id int64
		var name string
		var b []byte
		_, err = pgx.ForEachRow(rows, []any{&id, &name, &b}, func() error {
			g, err := wkb.Unmarshal(b)
			if err != nil {
				return fmt.Errorf("relocation site %d: %w", id, err)
			}
			out = append(out, newCandidate(strconv.FormatInt(id, 10), name, g, append([]byte(nil), b...)))
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
		if len(out) > MaxCells {
			return nil, 0, lastmile.Invalid("too many candidates", lastmile.Problem{Field: "candidates.source",
				Message: fmt.Sprintf("more than %d planned relocation sites; rank them as features in batches", MaxCells)})
		}
		return out, 0, nil
	case SourceGrid:
		return loadGrid(ctx, pool, c)
	}
	return nil, 0, lastmile.Invalid("unknown candidate source", lastmile.Problem{Field: "candidates.source", Value: c.Source, Message: "expected features, planned or grid"})
}

func loadGrid(ctx context.Context, pool *pgxpool.Pool, c Candidates) ([]candidate, int, error) {
	var areaM2, lon, lat float64
	var code any
	var box [4]any
	if c.AdminCode != "" {
		err := pool.QueryRow(ctx, queries["area"], c.AdminCode).Scan(&areaM2, &lon, &lat)
		if err == pgx.ErrNoRows {
			return nil, 0, lastmile.Invalid("unknown admin area", lastmile.Problem{Field: "candidates.admin_code", Value: c.AdminCode, Message: "no admin area has this code"})
		}
		if err != nil {
			return nil, 0, err
		}
		code = c.AdminCode
	} else {
		areaM2 = bboxAreaM2(c.BBox)
		lon, lat = (c.BBox[0]+c.BBox[2])/2, (c.BBox[1]+c.BBox[3])/2
		for i := range box {
			box[i] = c.BBox[i]
		}
	}
	est := estimateCells(areaM2, c.CellM)
	if est > MaxCells {
		return nil, int(est), lastmile.Invalid("grid too large", lastmile.Problem{Field: "candidates.cell_m", Value: fmt.Sprint(c.CellM),
			Message: fmt.Sprintf("a %g m grid over this area (%.1f km²) would have about %.0f cells, more than the limit of %d; use a larger cell_m or a smaller area", c.CellM, areaM2/1e6, est, MaxCells)})
	}
	rows, err := pool.Query(ctx, queries["grid"], code, box[0], box[1], box[2], box[3], c.CellM, utmSRID(lon, lat))
	if err != nil {
		return nil, 0, err
	}
	var out []candidate
	var i, j int
	var b []byte
	_, err = pgx.ForEachRow(rows, []any{&i, &j, &b}, func() error {
		g, err := wkb.Unmarshal(b)
		if err != nil {
			return err
		}
		cand := newCandidate(strconv.Itoa(len(out)+1), "", g, append([]byte(nil), b...))
		cand.grid = &GridCell{I: i, J: j}
		out = append(out, cand)
		if len(out) > MaxCells {
			return lastmile.Invalid("grid too large", lastmile.Problem{Field: "candidates.cell_m", Message: fmt.Sprintf("the grid has more than %d cells", MaxCells)})
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, int(est), nil
}

// utmSRID is the EPSG code of the WGS84 UTM zone containing lon/lat.
func utmSRID(lon, lat float64) int {
	zone := int(math.Floor((lon+180)/6)) + 1
	zone = max(1, min(60, zone))
	if lat < 0 {
		return 32700 + zone
	}
	return 32600 + zone
}

var adminCodeRE = regexp.MustCompile(`^[0-9]{12}$`)

func parseCandidates(raw json.RawMessage, req *Request, p *lastmile.Problems) {
	c := &req.Candidates
	var rc rawCandidates
	if !isNull(raw) {
		if !decodeStrict(raw, &rc, "candidates", []string{"source", "features", "admin_code", "bbox", "cell_m"}, p) {
			c.Source = SourcePlanned
			return
		}
	}
	if !isNull(rc.Source) {
		if s, ok := stringValue(rc.Source, "candidates.source", p); ok {
			switch s {
			case SourceFeatures, SourcePlanned, SourceGrid:
				c.Source = s
			default:
				p.Add("candidates.source", s, "unknown source; expected features, planned or grid")
				return
			}
		} else {
			return
		}
	}
	hasFeatures, hasAdmin, hasBBox := !isNull(rc.Features), !isNull(rc.AdminCode), !isNull(rc.BBox)
	if c.Source == "" {
		switch {
		case hasFeatures:
			c.Source = SourceFeatures
		case hasAdmin || hasBBox:
			c.Source = SourceGrid
		default:
			c.Source = SourcePlanned
		}
	}
	switch c.Source {
	case SourceFeatures:
		if !hasFeatures {
			p.Add("candidates.features", "", "source features needs a GeoJSON FeatureCollection of points or polygons")
		}
		for _, k := range []struct {
			has  bool
			name string
		}{{hasAdmin, "admin_code"}, {hasBBox, "bbox"}, {!isNull(rc.CellM), "cell_m"}} {
			if k.has {
				p.Add("candidates."+k.name, "", "only used with source grid")
			}
		}
		if hasFeatures {
			c.features = parseFeatures(rc.Features, p)
			c.Features = len(c.features)
		}
	case SourcePlanned:
		for _, k := range []struct {
			has  bool
			name string
		}{{hasFeatures, "features"}, {hasAdmin, "admin_code"}, {hasBBox, "bbox"}, {!isNull(rc.CellM), "cell_m"}} {
			if k.has {
				p.Add("candidates."+k.name, "", "not used with source planned (the planned relocation_sites)")
			}
		}
	case SourceGrid:
		if hasFeatures {
			p.Add("candidates.features", "", "only used with source features")
		}
		switch {
		case hasAdmin && hasBBox:
			p.Add("candidates", "", "give either admin_code or bbox for a grid, not both")
		case !hasAdmin && !hasBBox:
			p.Add("candidates", "", "a grid needs admin_code (a 12-digit admin area code) or bbox [min_lon, min_lat, max_lon, max_lat]")
		case hasAdmin:
			if s, ok := stringValue(rc.AdminCode, "candidates.admin_code", p); ok {
				if !adminCodeRE.MatchString(s) {
					p.Add("candidates.admin_code", s, "must be a 12-digit admin area code")
				} else {
					c.AdminCode = s
				}
			}
		case hasBBox:
			c.BBox = parseBBox(rc.BBox, p)
		}
		c.CellM = DefaultCellM
		if !isNull(rc.CellM) {
			if f, ok := numberValue(rc.CellM, "candidates.cell_m", MinCellM, MaxCellM, p); ok {
				c.CellM = f
			}
		}
		if c.BBox != nil && c.CellM > 0 {
			if n := estimateCells(bboxAreaM2(c.BBox), c.CellM); n > MaxCells {
				p.Add("candidates.cell_m", fmt.Sprint(c.CellM), "a %g m grid over this bbox would have about %.0f cells, more than the limit of %d; use a larger cell_m or a smaller area", c.CellM, n, MaxCells)
			}
		}
	}
}

func parseBBox(raw json.RawMessage, p *lastmile.Problems) []float64 {
	var vals []json.RawMessage
	if err := json.Unmarshal(raw, &vals); err != nil || len(vals) != 4 {
		p.Add("candidates.bbox", string(bytes.TrimSpace(raw)), "must be [min_lon, min_lat, max_lon, max_lat]")
		return nil
	}
	b := make([]float64, 4)
	ok := true
	for i, v := range vals {
		lim := 180.0
		if i%2 == 1 {
			lim = 85.0511
		}
		f, good := numberValue(v, fmt.Sprintf("candidates.bbox[%d]", i), -lim, lim, p)
		ok = ok && good
		b[i] = f
	}
	if !ok {
		return nil
	}
	if b[0] >= b[2] || b[1] >= b[3] {
		p.Add("candidates.bbox", fmt.Sprint(b), "min_lon must be less than max_lon and min_lat less than max_lat")
		return nil
	}
	return b
}

// bboxAreaM2 is the area of a lon/lat box on a sphere of the WGS84 authalic
// radius: R²·Δλ·(sin φ₂ − sin φ₁).
func bboxAreaM2(b []float64) float64 {
	const r = 6371007.2
	rad := math.Pi / 180
	return r * r * (b[2] - b[0]) * rad * math.Abs(math.Sin(b[3]*rad)-math.Sin(b[1]*rad))
}

// estimateCells is the number of cell_m squares that cover areaM2.
func estimateCells(areaM2, cellM float64) float64 {
	return math.Ceil(areaM2 / (cellM * cellM))
}

// parseFeatures reads a GeoJSON FeatureCollection of Point, Polygon and
// MultiPolygon features.
func parseFeatures(raw json.RawMessage, p *lastmile.Problems) []candidate {
	fc, err := geojson.UnmarshalFeatureCollection(raw)
	if err != nil {
		p.Add("candidates.features", "", "not a GeoJSON FeatureCollection: %v", err)
		return nil
	}
	if len(fc.Features) == 0 {
		p.Add("candidates.features", "", "the FeatureCollection has no features")
		return nil
	}
	if len(fc.Features) > MaxFeatures {
		p.Add("candidates.features", fmt.Sprint(len(fc.Features)), "at most %d features per request", MaxFeatures)
		return nil
	}
	var out []candidate
	seen := map[string]int{}
	for i, f := range fc.Features {
		row := i + 1
		bad := func(format string, args ...any) {
			p.AddRow(row, "candidates.features", "", format, args...)
		}
		if f.Geometry == nil {
			bad("feature has no geometry")
			continue
		}
		switch f.Geometry.(type) {
		case orb.Point, orb.Polygon, orb.MultiPolygon:
		default:
			bad("geometry is a %s; candidates must be Point, Polygon or MultiPolygon", f.Geometry.GeoJSONType())
			continue
		}
		if msg := checkGeometry(f.Geometry); msg != "" {
			bad("%s", msg)
			continue
		}
		id := featureID(f, row)
		if prev, dup := seen[id]; dup {
			bad("duplicate id %q (also feature %d)", id, prev)
			continue
		}
		seen[id] = row
		name, _ := f.Properties["name"].(string)
		c := newCandidate(id, name, f.Geometry, nil)
		c.row = row
		out = append(out, c)
	}
	return out
}

func featureID(f *geojson.Feature, row int) string {
	for _, v := range []any{f.ID, f.Properties["id"]} {
		switch v := v.(type) {
		case string:
			if v != "" {
				return v
			}
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return strconv.Itoa(row)
}

// checkGeometry checks a candidate as a feature's geometry is checked
// (geo.Validate: coordinates in range, rings closed, holes inside their
// shells), within the feature vertex limit; PostGIS's ST_IsValid follows in
// Run (validCandidates).
func checkGeometry(g orb.Geometry) string {
	if n := geo.Vertices(g); n > layer.DefaultMaxVertices {
		return fmt.Sprintf("has %d vertices, more than the limit of %d per candidate", n, layer.DefaultMaxVertices)
	}
	return strings.Join(geo.Validate(g), "; ")
}

// validCandidates asks PostGIS whether each given candidate is valid
// (ST_IsValidReason: self-intersections, crossing holes) and reports every
// invalid one by its position in the FeatureCollection.
func validCandidates(ctx context.Context, pool *pgxpool.Pool, cands []candidate) error {
	geoms := make([][]byte, len(cands))
	for i, c := range cands {
		geoms[i] = c.wkb
	}
	rows, err := pool.Query(ctx, `SELECT u.ord, ST_IsValidReason(g)
		FROM unnest($1::bytea[]) WITH ORDINALITY AS u(wkb, ord), LATERAL ST_GeomFromWKB(u.wkb, 4326) AS g
		WHERE NOT ST_IsValid(g) ORDER BY u.ord`, geoms)
	if err != nil {
		return err
	}
	var problems lastmile.Problems
	var ord int
	var reason string
	if _, err := pgx.ForEachRow(rows, []any{&ord, &reason}, func() error {
		problems.AddRow(cands[ord-1].row, "candidates.features", cands[ord-1].id, "invalid geometry: %s", reason)
		return nil
	}); err != nil {
		return err
	}
	return problems.Err("candidate geometries are not valid")
}
