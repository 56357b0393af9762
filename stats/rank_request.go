package stats

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"github.com/lastmile/lastmile"
)

// Limits of a ranking request. A request beyond them is refused with a 400
// before any long query runs.
const (
	MaxRankCells      = 200_000   // grid cells (estimated from the area's geodesic size)
	MaxRankFeatures   = 10_000    // features in a request's FeatureCollection
	MaxRankDistanceM  = 1_000_000 // any distance parameter, in metres
	MaxRankLimit      = 10_000    // ranked candidates returned
	MinRankCellM      = 10.0
	MaxRankCellM      = 100_000.0
	DefaultRankLimit  = 100
	DefaultRankCellM  = 250.0
	maxRankAreaM2     = 1e12 // minimum-area parameter, m²
	maxRankPopulation = 1e9
)

// Candidate sources.
const (
	SourceFeatures = "features" // a GeoJSON FeatureCollection in the request
	SourcePlanned  = "planned"  // relocation_sites with status planned
	SourceGrid     = "grid"     // cell centroids of a square grid over an admin area or bbox
)

// Constraint names, in the order they are reported.
const (
	ConstraintHazard  = "hazard"
	ConstraintRoad    = "road"
	ConstraintWater   = "water"
	ConstraintPower   = "power"
	ConstraintMinArea = "min_area"
	ConstraintVillage = "village"
)

// Factor names, in the order they are reported.
const (
	FactorRoad       = "road"
	FactorWater      = "water"
	FactorPower      = "power"
	FactorSchool     = "school"
	FactorClinic     = "clinic"
	FactorPopulation = "population"
)

// constraintSpec declares one hard constraint: its request key, the name of
// its limit parameter, and its defaults.
type constraintSpec struct {
	Name    string
	Key     string // the limit's key in the request object
	Unit    string
	Enabled bool    // default
	Value   float64 // default limit
	Rule    string  // how the limit is applied, for reports
}

// rankConstraintSpecs are the hard constraints with their defaults.
var rankConstraintSpecs = []constraintSpec{
	{ConstraintHazard, "buffer_m", "m", true, 200, "farther than buffer_m from every hazard zone (landslide, debris flow, flood, subsidence)"},
	{ConstraintRoad, "max_m", "m", true, 2000, "within max_m of a completed hardened road"},
	{ConstraintWater, "max_m", "m", true, 2000, "within max_m of a completed water pipeline or water source"},
	{ConstraintPower, "max_m", "m", true, 3000, "within max_m of a completed power line or transformer upgrade"},
	{ConstraintMinArea, "min_m2", "m²", true, 10000, "polygon candidates: geodesic area at least min_m2 (points are exempt)"},
	{ConstraintVillage, "min_m", "m", false, 300, "farther than min_m from every existing village point"},
}

// factorSpec declares one scoring factor and its defaults.
type factorSpec struct {
	Name   string
	Weight float64
	DMax   float64 // distance at which the normalised value reaches 0 (distance factors)
	Unit   string
	What   string
}

var rankFactorSpecs = []factorSpec{
	{FactorRoad, 0.30, 5000, "m", "distance to the nearest completed hardened road"},
	{FactorWater, 0.25, 3000, "m", "distance to the nearest completed water pipeline or water source"},
	{FactorPower, 0.15, 5000, "m", "distance to the nearest completed power line or transformer upgrade (the electricity grid)"},
	{FactorSchool, 0.10, 10000, "m", "distance to the nearest school"},
	{FactorClinic, 0.10, 10000, "m", "distance to the nearest clinic or hospital"},
	{FactorPopulation, 0.10, 0, "persons", "population of villages within population.radius_m (a benefit)"},
}

// Population factor defaults.
const (
	DefaultPopulationRadiusM = 3000.0
	DefaultPopulationMax     = 5000.0
)

// RankConstraint is one hard constraint's setting.
type RankConstraint struct {
	Name    string
	Enabled bool
	Limit   float64 // metres, or m² for min_area
	key     string
}

// MarshalJSON writes {"enabled": …, "<key>": limit}.
func (c RankConstraint) MarshalJSON() ([]byte, error) {
	var m rankOrderedMap[any]
	m.set("enabled", c.Enabled)
	m.set(c.key, c.Limit)
	return m.MarshalJSON()
}

// RankCandidates says where candidates come from.
type RankCandidates struct {
	Source    string    `json:"source"`
	AdminCode string    `json:"admin_code,omitempty"`
	BBox      []float64 `json:"bbox,omitempty"`
	CellM     float64   `json:"cell_m,omitempty"`
	Features  int       `json:"features,omitempty"` // number of features given (echo)
	features  []rankCandidate
}

// RankPopulation configures the population benefit.
type RankPopulation struct {
	RadiusM float64 `json:"radius_m"`
	Max     float64 `json:"max"` // population at which the normalised value reaches 1
}

// RankRequest is a validated ranking request with every default filled in.
// It is echoed in responses as "parameters".
type RankRequest struct {
	Candidates      RankCandidates                 `json:"candidates"`
	Constraints     rankOrderedMap[RankConstraint] `json:"constraints"`
	Weights         rankOrderedMap[float64]        `json:"weights"`
	DMax            rankOrderedMap[float64]        `json:"d_max_m"`
	Population      RankPopulation                 `json:"population"`
	Limit           int                            `json:"limit"`
	IncludeExcluded bool                           `json:"include_excluded"`
	Format          string                         `json:"-"`
}

// rankOrderedMap is a small map that marshals its keys in insertion order.
type rankOrderedMap[V any] struct {
	keys   []string
	values map[string]V
}

func (m *rankOrderedMap[V]) set(k string, v V) {
	if m.values == nil {
		m.values = map[string]V{}
	}
	if _, ok := m.values[k]; !ok {
		m.keys = append(m.keys, k)
	}
	m.values[k] = v
}

// Get returns the value of k.
func (m rankOrderedMap[V]) Get(k string) V { return m.values[k] }

// MarshalJSON writes the keys in order.
func (m rankOrderedMap[V]) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range m.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(m.values[k])
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Constraint returns the setting of the named constraint.
func (r RankRequest) Constraint(name string) RankConstraint { return r.Constraints.Get(name) }

// rawRankRequest is the wire shape, decoded leniently so that every problem
// can be reported with the parameter it concerns.
type rawRankRequest struct {
	Candidates      json.RawMessage            `json:"candidates"`
	Constraints     map[string]json.RawMessage `json:"constraints"`
	Weights         map[string]json.RawMessage `json:"weights"`
	DMax            map[string]json.RawMessage `json:"d_max_m"`
	Population      json.RawMessage            `json:"population"`
	Limit           json.RawMessage            `json:"limit"`
	IncludeExcluded json.RawMessage            `json:"include_excluded"`
	Format          json.RawMessage            `json:"format"`
}

type rankRawCandidates struct {
	Source    json.RawMessage `json:"source"`
	Features  json.RawMessage `json:"features"`
	AdminCode json.RawMessage `json:"admin_code"`
	BBox      json.RawMessage `json:"bbox"`
	CellM     json.RawMessage `json:"cell_m"`
}

var rankTopLevelKeys = []string{"candidates", "constraints", "weights", "d_max_m", "population", "limit", "include_excluded", "format"}

// rankProblems collects request problems.
type rankProblems []lastmile.Problem

func (p *rankProblems) add(field, value, format string, args ...any) {
	*p = append(*p, lastmile.Problem{Field: field, Value: rankShorten(value), Message: fmt.Sprintf(format, args...)})
}

func rankShorten(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

// rankDecodeStrict decodes data into v refusing unknown fields and trailing
// data, and turns decoding errors into problems under prefix.
func rankDecodeStrict(data []byte, v any, prefix string, known []string, p *rankProblems) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		field := prefix
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			field = strings.Trim(name, `"`)
			if prefix != "" {
				field = prefix + "." + field
			}
		}
		p.add(field, "", "%s", rankDescribeJSONError(err, prefix, known))
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		p.add(prefix, "", "unexpected data after the JSON object")
		return false
	}
	return true
}

func rankDescribeJSONError(err error, prefix string, known []string) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if prefix != "" && field != "" {
			field = prefix + "." + field
		}
		if field == "" {
			field = prefix
		}
		if field == "" {
			return fmt.Sprintf("the request must be a JSON object, not a %s", typ.Value)
		}
		return fmt.Sprintf("%s must be %s, not a %s", field, rankDescribeGoType(typ.Type.String()), typ.Value)
	case errors.Is(err, io.EOF):
		return "empty JSON; expected an object"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		if prefix != "" {
			name = prefix + "." + name
		}
		return fmt.Sprintf("unknown parameter %q; expected one of: %s", name, strings.Join(known, ", "))
	}
	return "malformed JSON: " + err.Error()
}

func rankDescribeGoType(t string) string {
	switch {
	case strings.HasPrefix(t, "map["):
		return "an object"
	case t == "json.RawMessage":
		return "a value"
	}
	return "a " + t
}

func rankIsNull(raw json.RawMessage) bool {
	s := bytes.TrimSpace(raw)
	return len(s) == 0 || string(s) == "null"
}

// rankNumber decodes a JSON number at field and checks it is in [lo, hi].
func rankNumber(raw json.RawMessage, field string, lo, hi float64, p *rankProblems) (float64, bool) {
	s := string(bytes.TrimSpace(raw))
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		var str string
		if json.Unmarshal(raw, &str) == nil {
			s = str
		}
		p.add(field, s, "must be a number")
		return 0, false
	}
	if f < lo {
		if lo == 0 {
			p.add(field, s, "must not be negative")
		} else {
			p.add(field, s, "must be at least %g", lo)
		}
		return 0, false
	}
	if f > hi {
		p.add(field, s, "must be at most %g", hi)
		return 0, false
	}
	return f, true
}

func rankString(raw json.RawMessage, field string, p *rankProblems) (string, bool) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		p.add(field, string(bytes.TrimSpace(raw)), "must be a string")
		return "", false
	}
	return s, true
}

func rankBool(raw json.RawMessage, field string, p *rankProblems) (bool, bool) {
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		p.add(field, string(bytes.TrimSpace(raw)), "must be true or false")
		return false, false
	}
	return b, true
}

// ParseRankRequest decodes and validates a ranking request body (JSON). An
// empty body ranks the planned relocation sites with the defaults. Every
// problem found is reported in one EINVALID error.
func ParseRankRequest(body []byte) (RankRequest, error) {
	var p rankProblems
	var raw rawRankRequest
	if len(bytes.TrimSpace(body)) > 0 {
		rankDecodeStrict(body, &raw, "", rankTopLevelKeys, &p)
	}
	req := rankParseRaw(raw, &p)
	if len(p) > 0 {
		return RankRequest{}, lastmile.Invalid("invalid ranking request", p...)
	}
	return req, nil
}

func rankParseRaw(raw rawRankRequest, p *rankProblems) RankRequest {
	var req RankRequest
	rankParseCandidates(raw.Candidates, &req, p)

	for k := range raw.Constraints {
		if !slices.ContainsFunc(rankConstraintSpecs, func(s constraintSpec) bool { return s.Name == k }) {
			p.add("constraints."+k, "", "unknown constraint; expected one of: %s", strings.Join(rankConstraintNames(), ", "))
		}
	}
	for _, s := range rankConstraintSpecs {
		c := RankConstraint{Name: s.Name, Enabled: s.Enabled, Limit: s.Value, key: s.Key}
		if v, ok := raw.Constraints[s.Name]; ok && !rankIsNull(v) {
			rankParseConstraint(v, s, &c, p)
		}
		req.Constraints.set(s.Name, c)
	}

	for k := range raw.Weights {
		if rankFactorName(k) == "" {
			p.add("weights."+k, "", "unknown factor; expected one of: %s", strings.Join(rankFactorNames(), ", "))
		}
	}
	for k := range raw.DMax {
		if f := rankFactorName(k); f == "" || f == FactorPopulation {
			p.add("d_max_m."+k, "", "unknown distance factor; expected one of: %s", strings.Join(rankFactorNames()[:5], ", "))
		}
	}
	for _, s := range rankFactorSpecs {
		w := s.Weight
		if v, ok := rankLookupFactor(raw.Weights, s.Name); ok {
			if f, ok := rankNumber(v, "weights."+s.Name, 0, 1e6, p); ok {
				w = f
			}
		}
		req.Weights.set(s.Name, w)
		if s.Name == FactorPopulation {
			continue
		}
		d := s.DMax
		if v, ok := rankLookupFactor(raw.DMax, s.Name); ok {
			if f, ok := rankNumber(v, "d_max_m."+s.Name, 1, MaxRankDistanceM, p); ok {
				d = f
			}
		}
		req.DMax.set(s.Name, d)
	}

	req.Population = RankPopulation{RadiusM: DefaultPopulationRadiusM, Max: DefaultPopulationMax}
	if !rankIsNull(raw.Population) {
		var rp struct {
			RadiusM json.RawMessage `json:"radius_m"`
			Max     json.RawMessage `json:"max"`
		}
		if rankDecodeStrict(raw.Population, &rp, "population", []string{"radius_m", "max"}, p) {
			if !rankIsNull(rp.RadiusM) {
				if f, ok := rankNumber(rp.RadiusM, "population.radius_m", 0, 100_000, p); ok {
					req.Population.RadiusM = f
				}
			}
			if !rankIsNull(rp.Max) {
				if f, ok := rankNumber(rp.Max, "population.max", 1, maxRankPopulation, p); ok {
					req.Population.Max = f
				}
			}
		}
	}

	req.Limit = DefaultRankLimit
	if !rankIsNull(raw.Limit) {
		if f, ok := rankNumber(raw.Limit, "limit", 1, MaxRankLimit, p); ok {
			if f != math.Trunc(f) {
				p.add("limit", string(raw.Limit), "must be a whole number")
			} else {
				req.Limit = int(f)
			}
		}
	}
	req.IncludeExcluded = req.Candidates.Source != SourceGrid
	if !rankIsNull(raw.IncludeExcluded) {
		if b, ok := rankBool(raw.IncludeExcluded, "include_excluded", p); ok {
			req.IncludeExcluded = b
		}
	}
	req.Format = "geojson"
	if !rankIsNull(raw.Format) {
		if s, ok := rankString(raw.Format, "format", p); ok {
			if f := rankNormaliseFormat(s); f != "" {
				req.Format = f
			} else {
				p.add("format", s, "unknown format; expected geojson or csv")
			}
		}
	}
	return req
}

// rankNormaliseFormat maps the accepted format names to geojson or csv.
func rankNormaliseFormat(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "geojson", "json":
		return "geojson"
	case "csv":
		return "csv"
	}
	return ""
}

func rankConstraintNames() []string {
	var n []string
	for _, s := range rankConstraintSpecs {
		n = append(n, s.Name)
	}
	return n
}

func rankFactorNames() []string {
	var n []string
	for _, s := range rankFactorSpecs {
		n = append(n, s.Name)
	}
	return n
}

// rankFactorName returns the canonical factor name of k ("grid" is accepted for
// power, the electricity grid), or "".
func rankFactorName(k string) string {
	if k == "grid" {
		return FactorPower
	}
	for _, s := range rankFactorSpecs {
		if s.Name == k {
			return k
		}
	}
	return ""
}

func rankLookupFactor(m map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	if v, ok := m[name]; ok && !rankIsNull(v) {
		return v, true
	}
	if name == FactorPower {
		if v, ok := m["grid"]; ok && !rankIsNull(v) {
			return v, true
		}
	}
	return nil, false
}

// rankParseConstraint reads a constraint given as true/false (on with the
// default limit / off), a number (on with that limit) or an object
// {"enabled": bool, "<key>": number}.
func rankParseConstraint(v json.RawMessage, s constraintSpec, c *RankConstraint, p *rankProblems) {
	field := "constraints." + s.Name
	hi := float64(MaxRankDistanceM)
	if s.Name == ConstraintMinArea {
		hi = maxRankAreaM2
	}
	t := bytes.TrimSpace(v)
	switch {
	case len(t) > 0 && (t[0] == 't' || t[0] == 'f'):
		if b, ok := rankBool(v, field, p); ok {
			c.Enabled = b
		}
	case len(t) > 0 && t[0] == '{':
		var o map[string]json.RawMessage
		if err := json.Unmarshal(v, &o); err != nil {
			p.add(field, "", "%s", rankDescribeJSONError(err, field, nil))
			return
		}
		for k, val := range o {
			switch k {
			case "enabled":
				if b, ok := rankBool(val, field+".enabled", p); ok {
					c.Enabled = b
				}
			case s.Key:
				if f, ok := rankNumber(val, field+"."+s.Key, 0, hi, p); ok {
					c.Limit = f
					if _, given := o["enabled"]; !given {
						c.Enabled = true
					}
				}
			default:
				p.add(field+"."+k, "", "unknown parameter; expected enabled or %s", s.Key)
			}
		}
	default:
		if f, ok := rankNumber(v, field, 0, hi, p); ok {
			c.Enabled = true
			c.Limit = f
		}
	}
}

var rankAdminCodeRE = regexp.MustCompile(`^[0-9]{12}$`)

func rankParseCandidates(raw json.RawMessage, req *RankRequest, p *rankProblems) {
	c := &req.Candidates
	var rc rankRawCandidates
	if !rankIsNull(raw) {
		if !rankDecodeStrict(raw, &rc, "candidates", []string{"source", "features", "admin_code", "bbox", "cell_m"}, p) {
			c.Source = SourcePlanned
			return
		}
	}
	if !rankIsNull(rc.Source) {
		if s, ok := rankString(rc.Source, "candidates.source", p); ok {
			switch s {
			case SourceFeatures, SourcePlanned, SourceGrid:
				c.Source = s
			default:
				p.add("candidates.source", s, "unknown source; expected features, planned or grid")
				return
			}
		} else {
			return
		}
	}
	hasFeatures, hasAdmin, hasBBox := !rankIsNull(rc.Features), !rankIsNull(rc.AdminCode), !rankIsNull(rc.BBox)
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
			p.add("candidates.features", "", "source features needs a GeoJSON FeatureCollection of points or polygons")
		}
		for _, k := range []struct {
			has  bool
			name string
		}{{hasAdmin, "admin_code"}, {hasBBox, "bbox"}, {!rankIsNull(rc.CellM), "cell_m"}} {
			if k.has {
				p.add("candidates."+k.name, "", "only used with source grid")
			}
		}
		if hasFeatures {
			c.features = rankParseFeatures(rc.Features, p)
			c.Features = len(c.features)
		}
	case SourcePlanned:
		for _, k := range []struct {
			has  bool
			name string
		}{{hasFeatures, "features"}, {hasAdmin, "admin_code"}, {hasBBox, "bbox"}, {!rankIsNull(rc.CellM), "cell_m"}} {
			if k.has {
				p.add("candidates."+k.name, "", "not used with source planned (the planned relocation_sites)")
			}
		}
	case SourceGrid:
		if hasFeatures {
			p.add("candidates.features", "", "only used with source features")
		}
		switch {
		case hasAdmin && hasBBox:
			p.add("candidates", "", "give either admin_code or bbox for a grid, not both")
		case !hasAdmin && !hasBBox:
			p.add("candidates", "", "a grid needs admin_code (a 12-digit admin area code) or bbox [min_lon, min_lat, max_lon, max_lat]")
		case hasAdmin:
			if s, ok := rankString(rc.AdminCode, "candidates.admin_code", p); ok {
				if !rankAdminCodeRE.MatchString(s) {
					p.add("candidates.admin_code", s, "must be a 12-digit admin area code")
				} else {
					c.AdminCode = s
				}
			}
		case hasBBox:
			c.BBox = rankParseBBox(rc.BBox, p)
		}
		c.CellM = DefaultRankCellM
		if !rankIsNull(rc.CellM) {
			if f, ok := rankNumber(rc.CellM, "candidates.cell_m", MinRankCellM, MaxRankCellM, p); ok {
				c.CellM = f
			}
		}
		if c.BBox != nil && c.CellM > 0 {
			if n := rankEstimateCells(rankBBoxAreaM2(c.BBox), c.CellM); n > MaxRankCells {
				p.add("candidates.cell_m", fmt.Sprint(c.CellM), "a %g m grid over this bbox would have about %.0f cells, more than the limit of %d; use a larger cell_m or a smaller area", c.CellM, n, MaxRankCells)
			}
		}
	}
}

func rankParseBBox(raw json.RawMessage, p *rankProblems) []float64 {
	var vals []json.RawMessage
	if err := json.Unmarshal(raw, &vals); err != nil || len(vals) != 4 {
		p.add("candidates.bbox", string(bytes.TrimSpace(raw)), "must be [min_lon, min_lat, max_lon, max_lat]")
		return nil
	}
	b := make([]float64, 4)
	ok := true
	for i, v := range vals {
		lim := 180.0
		if i%2 == 1 {
			lim = 85.0511
		}
		f, good := rankNumber(v, fmt.Sprintf("candidates.bbox[%d]", i), -lim, lim, p)
		ok = ok && good
		b[i] = f
	}
	if !ok {
		return nil
	}
	if b[0] >= b[2] || b[1] >= b[3] {
		p.add("candidates.bbox", fmt.Sprint(b), "min_lon must be less than max_lon and min_lat less than max_lat")
		return nil
	}
	return b
}

// rankBBoxAreaM2 is the area of a lon/lat box on a sphere of the WGS84 authalic
// radius: R²·Δλ·(sin φ₂ − sin φ₁).
func rankBBoxAreaM2(b []float64) float64 {
	const r = 6371007.2
	rad := math.Pi / 180
	return r * r * (b[2] - b[0]) * rad * math.Abs(math.Sin(b[3]*rad)-math.Sin(b[1]*rad))
}

// rankEstimateCells is the number of cell_m squares that cover areaM2.
func rankEstimateCells(areaM2, cellM float64) float64 {
	return math.Ceil(areaM2 / (cellM * cellM))
}

// rankParseFeatures reads a GeoJSON FeatureCollection of Point, Polygon and
// MultiPolygon features.
func rankParseFeatures(raw json.RawMessage, p *rankProblems) []rankCandidate {
	fc, err := geojson.UnmarshalFeatureCollection(raw)
	if err != nil {
		p.add("candidates.features", "", "not a GeoJSON FeatureCollection: %v", err)
		return nil
	}
	if len(fc.Features) == 0 {
		p.add("candidates.features", "", "the FeatureCollection has no features")
		return nil
	}
	if len(fc.Features) > MaxRankFeatures {
		p.add("candidates.features", fmt.Sprint(len(fc.Features)), "at most %d features per request", MaxRankFeatures)
		return nil
	}
	var out []rankCandidate
	seen := map[string]int{}
	for i, f := range fc.Features {
		row := i + 1
		bad := func(format string, args ...any) {
			*p = append(*p, lastmile.Problem{Row: row, Field: "candidates.features", Message: fmt.Sprintf(format, args...)})
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
		if msg := rankCheckGeometry(f.Geometry); msg != "" {
			bad("%s", msg)
			continue
		}
		id := rankFeatureID(f, row)
		if prev, dup := seen[id]; dup {
			bad("duplicate id %q (also feature %d)", id, prev)
			continue
		}
		seen[id] = row
		name, _ := f.Properties["name"].(string)
		out = append(out, newRankCandidate(id, name, f.Geometry, nil))
	}
	return out
}

func rankFeatureID(f *geojson.Feature, row int) string {
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

// rankCheckGeometry reports coordinates out of range and rings that are not
// closed or too short.
func rankCheckGeometry(g orb.Geometry) string {
	checkPoint := func(pt orb.Point) string {
		if math.IsNaN(pt[0]) || math.IsNaN(pt[1]) || pt[0] < -180 || pt[0] > 180 || pt[1] < -85.0511 || pt[1] > 85.0511 {
			return fmt.Sprintf("coordinate %v is outside lon [-180, 180], lat [-85.05, 85.05]", pt)
		}
		return ""
	}
	checkPolygon := func(poly orb.Polygon) string {
		if len(poly) == 0 {
			return "polygon has no rings"
		}
		for _, ring := range poly {
			if len(ring) < 4 {
				return "a polygon ring needs at least 4 positions"
			}
			if ring[0] != ring[len(ring)-1] {
				return "a polygon ring is not closed (first and last positions differ)"
			}
			for _, pt := range ring {
				if m := checkPoint(pt); m != "" {
					return m
				}
			}
		}
		return ""
	}
	switch g := g.(type) {
	case orb.Point:
		return checkPoint(g)
	case orb.Polygon:
		return checkPolygon(g)
	case orb.MultiPolygon:
		if len(g) == 0 {
			return "multipolygon is empty"
		}
		for _, poly := range g {
			if m := checkPolygon(poly); m != "" {
				return m
			}
		}
	}
	return ""
}

// ParseRankValues builds a ranking request from flag-style key/value pairs
// (the CLI flags and the GET query), applied over base (a JSON request body,
// may be empty). Keys: source, admin_code, bbox (w,s,e,n), cell_m, limit,
// include_excluded, format, weights (road=0.3,water=0.2), d_max_m
// (road=5000), constraints (hazard=200,village=on,power=off),
// population_radius_m, population_max.
func ParseRankValues(base []byte, q url.Values) (RankRequest, error) {
	var p rankProblems
	var raw rawRankRequest
	if len(bytes.TrimSpace(base)) > 0 {
		if !rankDecodeStrict(base, &raw, "", rankTopLevelKeys, &p) {
			return RankRequest{}, lastmile.Invalid("invalid ranking request", p...)
		}
	}
	var rc map[string]json.RawMessage
	if !rankIsNull(raw.Candidates) {
		if err := json.Unmarshal(raw.Candidates, &rc); err != nil {
			p.add("candidates", "", "must be an object")
			return RankRequest{}, lastmile.Invalid("invalid ranking request", p...)
		}
	}
	if rc == nil {
		rc = map[string]json.RawMessage{}
	}
	known := []string{"source", "admin_code", "bbox", "cell_m", "limit", "include_excluded", "format", "weights", "d_max_m", "constraints", "population_radius_m", "population_max"}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var pop map[string]json.RawMessage
	for _, k := range keys {
		v := q.Get(k)
		switch k {
		case "source", "admin_code":
			rc[k] = rankJSONString(v)
			if k == "source" && v != SourceGrid {
				// Switching source drops the other source's parameters.
				delete(rc, "admin_code")
				delete(rc, "bbox")
				delete(rc, "cell_m")
			}
		case "bbox":
			parts := strings.Split(v, ",")
			vals := make([]json.RawMessage, len(parts))
			for i, s := range parts {
				vals[i] = rankJSONScalar(strings.TrimSpace(s))
			}
			rc[k], _ = json.Marshal(vals)
		case "cell_m":
			rc[k] = rankJSONScalar(v)
		case "limit", "include_excluded":
			m := rankJSONScalar(v)
			if k == "limit" {
				raw.Limit = m
			} else {
				raw.IncludeExcluded = m
			}
		case "format":
			raw.Format = rankJSONString(v)
		case "weights", "d_max_m", "constraints":
			target := map[string]*map[string]json.RawMessage{"weights": &raw.Weights, "d_max_m": &raw.DMax, "constraints": &raw.Constraints}[k]
			if *target == nil {
				*target = map[string]json.RawMessage{}
			}
			for _, pair := range strings.Split(v, ",") {
				name, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if !ok || name == "" {
					p.add(k, pair, "expected name=value pairs separated by commas, e.g. road=0.3,water=0.2")
					continue
				}
				if k == "constraints" {
					switch strings.ToLower(val) {
					case "on", "true":
						val = "true"
					case "off", "false":
						val = "false"
					}
				}
				(*target)[name] = rankJSONScalar(val)
			}
		case "population_radius_m", "population_max":
			if pop == nil {
				pop = map[string]json.RawMessage{}
				if !rankIsNull(raw.Population) {
					if err := json.Unmarshal(raw.Population, &pop); err != nil {
						p.add("population", "", "must be an object")
					}
				}
			}
			pop[strings.TrimPrefix(k, "population_")] = rankJSONScalar(v)
		default:
			p.add(k, "", "unknown parameter; expected one of: %s", strings.Join(known, ", "))
		}
	}
	if pop != nil {
		raw.Population, _ = json.Marshal(pop)
	}
	if len(rc) > 0 {
		raw.Candidates, _ = json.Marshal(rc)
	}
	if len(p) > 0 {
		return RankRequest{}, lastmile.Invalid("invalid ranking request", p...)
	}
	req := rankParseRaw(raw, &p)
	if len(p) > 0 {
		return RankRequest{}, lastmile.Invalid("invalid ranking request", p...)
	}
	return req, nil
}

func rankJSONString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// rankJSONScalar is s as a JSON number or boolean when it reads as one, and as
// a JSON string otherwise (so the validator names it as "not a number").
func rankJSONScalar(s string) json.RawMessage {
	if s == "true" || s == "false" {
		return json.RawMessage(s)
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		b, _ := json.Marshal(f)
		return b
	}
	return rankJSONString(s)
}
