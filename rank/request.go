package rank

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
	MaxCells      = 200_000   // grid cells (estimated from the area's geodesic size)
	MaxFeatures   = 10_000    // features in a request's FeatureCollection
	MaxDistanceM  = 1_000_000 // any distance parameter, in metres
	MaxLimit      = 10_000    // ranked candidates returned
	MinCellM      = 10.0
	MaxCellM      = 100_000.0
	DefaultLimit  = 100
	DefaultCellM  = 250.0
	maxAreaM2     = 1e12 // minimum-area parameter, m²
	maxPopulation = 1e9
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

// constraintSpecs are the hard constraints with their defaults.
var constraintSpecs = []constraintSpec{
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

var factorSpecs = []factorSpec{
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

// Constraint is one hard constraint's setting.
type Constraint struct {
	Name    string
	Enabled bool
	Limit   float64 // metres, or m² for min_area
	key     string
}

// MarshalJSON writes {"enabled": …, "<key>": limit}.
func (c Constraint) MarshalJSON() ([]byte, error) {
	var m orderedMap[any]
	m.set("enabled", c.Enabled)
	m.set(c.key, c.Limit)
	return m.MarshalJSON()
}

// Candidates says where candidates come from.
type Candidates struct {
	Source    string    `json:"source"`
	AdminCode string    `json:"admin_code,omitempty"`
	BBox      []float64 `json:"bbox,omitempty"`
	CellM     float64   `json:"cell_m,omitempty"`
	Features  int       `json:"features,omitempty"` // number of features given (echo)
	features  []candidate
}

// Population configures the population benefit.
type Population struct {
	RadiusM float64 `json:"radius_m"`
	Max     float64 `json:"max"` // population at which the normalised value reaches 1
}

// Request is a validated ranking request with every default filled in.
// It is echoed in responses as "parameters".
type Request struct {
	Candidates      Candidates             `json:"candidates"`
	Constraints     orderedMap[Constraint] `json:"constraints"`
	Weights         orderedMap[float64]    `json:"weights"`
	DMax            orderedMap[float64]    `json:"d_max_m"`
	Population      Population             `json:"population"`
	Limit           int                    `json:"limit"`
	IncludeExcluded bool                   `json:"include_excluded"`
	Format          string                 `json:"-"`
}

// orderedMap is a small map that marshals its keys in insertion order.
type orderedMap[V any] struct {
	keys   []string
	values map[string]V
}

func (m *orderedMap[V]) set(k string, v V) {
	if m.values == nil {
		m.values = map[string]V{}
	}
	if _, ok := m.values[k]; !ok {
		m.keys = append(m.keys, k)
	}
	m.values[k] = v
}

// Get returns the value of k.
func (m orderedMap[V]) Get(k string) V { return m.values[k] }

// MarshalJSON writes the keys in order.
func (m orderedMap[V]) MarshalJSON() ([]byte, error) {
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
func (r Request) Constraint(name string) Constraint { return r.Constraints.Get(name) }

// rawRequest is the wire shape, decoded leniently so that every problem
// can be reported with the parameter it concerns.
type rawRequest struct {
	Candidates      json.RawMessage            `json:"candidates"`
	Constraints     map[string]json.RawMessage `json:"constraints"`
	Weights         map[string]json.RawMessage `json:"weights"`
	DMax            map[string]json.RawMessage `json:"d_max_m"`
	Population      json.RawMessage            `json:"population"`
	Limit           json.RawMessage            `json:"limit"`
	IncludeExcluded json.RawMessage            `json:"include_excluded"`
	Format          json.RawMessage            `json:"format"`
}

type rawCandidates struct {
	Source    json.RawMessage `json:"source"`
	Features  json.RawMessage `json:"features"`
	AdminCode json.RawMessage `json:"admin_code"`
	BBox      json.RawMessage `json:"bbox"`
	CellM     json.RawMessage `json:"cell_m"`
}

var topLevelKeys = []string{"candidates", "constraints", "weights", "d_max_m", "population", "limit", "include_excluded", "format"}

// problems collects request problems.
type problems []lastmile.Problem

func (p *problems) add(field, value, format string, args ...any) {
	*p = append(*p, lastmile.Problem{Field: field, Value: shorten(value), Message: fmt.Sprintf(format, args...)})
}

func shorten(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

// decodeStrict decodes data into v refusing unknown fields and trailing
// data, and turns decoding errors into problems under prefix.
func decodeStrict(data []byte, v any, prefix string, known []string, p *problems) bool {
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
		p.add(field, "", "%s", describeJSONError(err, prefix, known))
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		p.add(prefix, "", "unexpected data after the JSON object")
		return false
	}
	return true
}

func describeJSONError(err error, prefix string, known []string) string {
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
		return fmt.Sprintf("%s must be %s, not a %s", field, describeGoType(typ.Type.String()), typ.Value)
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

func describeGoType(t string) string {
	switch {
	case strings.HasPrefix(t, "map["):
		return "an object"
	case t == "json.RawMessage":
		return "a value"
	}
	return "a " + t
}

func isNull(raw json.RawMessage) bool {
	s := bytes.TrimSpace(raw)
	return len(s) == 0 || string(s) == "null"
}

// numberValue decodes a JSON number at field and checks it is in [lo, hi].
func numberValue(raw json.RawMessage, field string, lo, hi float64, p *problems) (float64, bool) {
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

func stringValue(raw json.RawMessage, field string, p *problems) (string, bool) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		p.add(field, string(bytes.TrimSpace(raw)), "must be a string")
		return "", false
	}
	return s, true
}

func boolValue(raw json.RawMessage, field string, p *problems) (bool, bool) {
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		p.add(field, string(bytes.TrimSpace(raw)), "must be true or false")
		return false, false
	}
	return b, true
}

// ParseRequest decodes and validates a ranking request body (JSON). An
// empty body ranks the planned relocation sites with the defaults. Every
// problem found is reported in one EINVALID error.
func ParseRequest(body []byte) (Request, error) {
	var p problems
	var raw rawRequest
	if len(bytes.TrimSpace(body)) > 0 {
		decodeStrict(body, &raw, "", topLevelKeys, &p)
	}
	req := parseRaw(raw, &p)
	if len(p) > 0 {
		return Request{}, lastmile.Invalid("invalid ranking request", p...)
	}
	return req, nil
}

func parseRaw(raw rawRequest, p *problems) Request {
	var req Request
	parseCandidates(raw.Candidates, &req, p)

	for k := range raw.Constraints {
		if !slices.ContainsFunc(constraintSpecs, func(s constraintSpec) bool { return s.Name == k }) {
			p.add("constraints."+k, "", "unknown constraint; expected one of: %s", strings.Join(constraintNames(), ", "))
		}
	}
	for _, s := range constraintSpecs {
		c := Constraint{Name: s.Name, Enabled: s.Enabled, Limit: s.Value, key: s.Key}
		if v, ok := raw.Constraints[s.Name]; ok && !isNull(v) {
			parseConstraint(v, s, &c, p)
		}
		req.Constraints.set(s.Name, c)
	}

	for k := range raw.Weights {
		if factorName(k) == "" {
			p.add("weights."+k, "", "unknown factor; expected one of: %s", strings.Join(factorNames(), ", "))
		}
	}
	for k := range raw.DMax {
		if f := factorName(k); f == "" || f == FactorPopulation {
			p.add("d_max_m."+k, "", "unknown distance factor; expected one of: %s", strings.Join(factorNames()[:5], ", "))
		}
	}
	for _, s := range factorSpecs {
		w := s.Weight
		if v, ok := lookupFactor(raw.Weights, s.Name); ok {
			if f, ok := numberValue(v, "weights."+s.Name, 0, 1e6, p); ok {
				w = f
			}
		}
		req.Weights.set(s.Name, w)
		if s.Name == FactorPopulation {
			continue
		}
		d := s.DMax
		if v, ok := lookupFactor(raw.DMax, s.Name); ok {
			if f, ok := numberValue(v, "d_max_m."+s.Name, 1, MaxDistanceM, p); ok {
				d = f
			}
		}
		req.DMax.set(s.Name, d)
	}

	req.Population = Population{RadiusM: DefaultPopulationRadiusM, Max: DefaultPopulationMax}
	if !isNull(raw.Population) {
		var rp struct {
			RadiusM json.RawMessage `json:"radius_m"`
			Max     json.RawMessage `json:"max"`
		}
		if decodeStrict(raw.Population, &rp, "population", []string{"radius_m", "max"}, p) {
			if !isNull(rp.RadiusM) {
				if f, ok := numberValue(rp.RadiusM, "population.radius_m", 0, 100_000, p); ok {
					req.Population.RadiusM = f
				}
			}
			if !isNull(rp.Max) {
				if f, ok := numberValue(rp.Max, "population.max", 1, maxPopulation, p); ok {
					req.Population.Max = f
				}
			}
		}
	}

	req.Limit = DefaultLimit
	if !isNull(raw.Limit) {
		if f, ok := numberValue(raw.Limit, "limit", 1, MaxLimit, p); ok {
			if f != math.Trunc(f) {
				p.add("limit", string(raw.Limit), "must be a whole number")
			} else {
				req.Limit = int(f)
			}
		}
	}
	req.IncludeExcluded = req.Candidates.Source != SourceGrid
	if !isNull(raw.IncludeExcluded) {
		if b, ok := boolValue(raw.IncludeExcluded, "include_excluded", p); ok {
			req.IncludeExcluded = b
		}
	}
	req.Format = "geojson"
	if !isNull(raw.Format) {
		if s, ok := stringValue(raw.Format, "format", p); ok {
			if f := normaliseFormat(s); f != "" {
				req.Format = f
			} else {
				p.add("format", s, "unknown format; expected geojson or csv")
			}
		}
	}
	return req
}

// normaliseFormat maps the accepted format names to geojson or csv.
func normaliseFormat(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "geojson", "json":
		return "geojson"
	case "csv":
		return "csv"
	}
	return ""
}

func constraintNames() []string {
	var n []string
	for _, s := range constraintSpecs {
		n = append(n, s.Name)
	}
	return n
}

func factorNames() []string {
	var n []string
	for _, s := range factorSpecs {
		n = append(n, s.Name)
	}
	return n
}

// factorName returns the canonical factor name of k ("grid" is accepted for
// power, the electricity grid), or "".
func factorName(k string) string {
	if k == "grid" {
		return FactorPower
	}
	for _, s := range factorSpecs {
		if s.Name == k {
			return k
		}
	}
	return ""
}

func lookupFactor(m map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	if v, ok := m[name]; ok && !isNull(v) {
		return v, true
	}
	if name == FactorPower {
		if v, ok := m["grid"]; ok && !isNull(v) {
			return v, true
		}
	}
	return nil, false
}

// parseConstraint reads a constraint given as true/false (on with the
// default limit / off), a number (on with that limit) or an object
// {"enabled": bool, "<key>": number}.
func parseConstraint(v json.RawMessage, s constraintSpec, c *Constraint, p *problems) {
	field := "constraints." + s.Name
	hi := float64(MaxDistanceM)
	if s.Name == ConstraintMinArea {
		hi = maxAreaM2
	}
	t := bytes.TrimSpace(v)
	switch {
	case len(t) > 0 && (t[0] == 't' || t[0] == 'f'):
		if b, ok := boolValue(v, field, p); ok {
			c.Enabled = b
		}
	case len(t) > 0 && t[0] == '{':
		var o map[string]json.RawMessage
		if err := json.Unmarshal(v, &o); err != nil {
			p.add(field, "", "%s", describeJSONError(err, field, nil))
			return
		}
		for k, val := range o {
			switch k {
			case "enabled":
				if b, ok := boolValue(val, field+".enabled", p); ok {
					c.Enabled = b
				}
			case s.Key:
				if f, ok := numberValue(val, field+"."+s.Key, 0, hi, p); ok {
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
		if f, ok := numberValue(v, field, 0, hi, p); ok {
			c.Enabled = true
			c.Limit = f
		}
	}
}

var adminCodeRE = regexp.MustCompile(`^[0-9]{12}$`)

func parseCandidates(raw json.RawMessage, req *Request, p *problems) {
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
				p.add("candidates.source", s, "unknown source; expected features, planned or grid")
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
			p.add("candidates.features", "", "source features needs a GeoJSON FeatureCollection of points or polygons")
		}
		for _, k := range []struct {
			has  bool
			name string
		}{{hasAdmin, "admin_code"}, {hasBBox, "bbox"}, {!isNull(rc.CellM), "cell_m"}} {
			if k.has {
				p.add("candidates."+k.name, "", "only used with source grid")
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
			if s, ok := stringValue(rc.AdminCode, "candidates.admin_code", p); ok {
				if !adminCodeRE.MatchString(s) {
					p.add("candidates.admin_code", s, "must be a 12-digit admin area code")
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
				p.add("candidates.cell_m", fmt.Sprint(c.CellM), "a %g m grid over this bbox would have about %.0f cells, more than the limit of %d; use a larger cell_m or a smaller area", c.CellM, n, MaxCells)
			}
		}
	}
}

func parseBBox(raw json.RawMessage, p *problems) []float64 {
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
		f, good := numberValue(v, fmt.Sprintf("candidates.bbox[%d]", i), -lim, lim, p)
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
func parseFeatures(raw json.RawMessage, p *problems) []candidate {
	fc, err := geojson.UnmarshalFeatureCollection(raw)
	if err != nil {
		p.add("candidates.features", "", "not a GeoJSON FeatureCollection: %v", err)
		return nil
	}
	if len(fc.Features) == 0 {
		p.add("candidates.features", "", "the FeatureCollection has no features")
		return nil
	}
	if len(fc.Features) > MaxFeatures {
		p.add("candidates.features", fmt.Sprint(len(fc.Features)), "at most %d features per request", MaxFeatures)
		return nil
	}
	var out []candidate
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
		out = append(out, newCandidate(id, name, f.Geometry, nil))
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

// checkGeometry reports coordinates out of range and rings that are not
// closed or too short.
func checkGeometry(g orb.Geometry) string {
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

// ParseValues builds a ranking request from flag-style key/value pairs
// (the CLI flags and the GET query), applied over base (a JSON request body,
// may be empty). Keys: source, admin_code, bbox (w,s,e,n), cell_m, limit,
// include_excluded, format, weights (road=0.3,water=0.2), d_max_m
// (road=5000), constraints (hazard=200,village=on,power=off),
// population_radius_m, population_max.
func ParseValues(base []byte, q url.Values) (Request, error) {
	var p problems
	var raw rawRequest
	if len(bytes.TrimSpace(base)) > 0 {
		if !decodeStrict(base, &raw, "", topLevelKeys, &p) {
			return Request{}, lastmile.Invalid("invalid ranking request", p...)
		}
	}
	var rc map[string]json.RawMessage
	if !isNull(raw.Candidates) {
		if err := json.Unmarshal(raw.Candidates, &rc); err != nil {
			p.add("candidates", "", "must be an object")
			return Request{}, lastmile.Invalid("invalid ranking request", p...)
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
			rc[k] = jsonString(v)
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
				vals[i] = jsonScalar(strings.TrimSpace(s))
			}
			rc[k], _ = json.Marshal(vals)
		case "cell_m":
			rc[k] = jsonScalar(v)
		case "limit", "include_excluded":
			m := jsonScalar(v)
			if k == "limit" {
				raw.Limit = m
			} else {
				raw.IncludeExcluded = m
			}
		case "format":
			raw.Format = jsonString(v)
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
				(*target)[name] = jsonScalar(val)
			}
		case "population_radius_m", "population_max":
			if pop == nil {
				pop = map[string]json.RawMessage{}
				if !isNull(raw.Population) {
					if err := json.Unmarshal(raw.Population, &pop); err != nil {
						p.add("population", "", "must be an object")
					}
				}
			}
			pop[strings.TrimPrefix(k, "population_")] = jsonScalar(v)
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
		return Request{}, lastmile.Invalid("invalid ranking request", p...)
	}
	req := parseRaw(raw, &p)
	if len(p) > 0 {
		return Request{}, lastmile.Invalid("invalid ranking request", p...)
	}
	return req, nil
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// jsonScalar is s as a JSON number or boolean when it reads as one, and as
// a JSON string otherwise (so the validator names it as "not a number").
func jsonScalar(s string) json.RawMessage {
	if s == "true" || s == "false" {
		return json.RawMessage(s)
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		b, _ := json.Marshal(f)
		return b
	}
	return jsonString(s)
}
