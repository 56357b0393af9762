package rank

import (
	"bytes"
	"encoding/json"
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

// Distance methods: how the distance to a road, water, school or clinic
// is measured.
const (
	DistanceStraight = "straight" // geodesic, in a straight line
	DistanceNetwork  = "network"  // by road: along the road network (stats.NetworkDistances)
)

// networkKinds are the kinds that may be measured by road, each a factor
// and (road, water) a constraint of the same name.
var networkKinds = []string{FactorRoad, FactorWater, FactorSchool, FactorClinic}

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
	Candidates  Candidates             `json:"candidates"`
	Constraints orderedMap[Constraint] `json:"constraints"`
	Weights     orderedMap[float64]    `json:"weights"`
	DMax        orderedMap[float64]    `json:"d_max_m"`
	Population  Population             `json:"population"`
	// Distance is, per kind (road, water, school, clinic), straight or
	// network; the kind's constraint and factor both use it.
	Distance        orderedMap[string] `json:"distance"`
	Limit           int                `json:"limit"`
	IncludeExcluded bool               `json:"include_excluded"`
	Format          string             `json:"-"`
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

// ByRoad reports whether kind (a factor or constraint name) is measured
// along the road network.
func (r Request) ByRoad(kind string) bool { return r.Distance.Get(kind) == DistanceNetwork }

// anyByRoad reports whether some kind is measured along the network.
func (r Request) anyByRoad() bool {
	for _, k := range networkKinds {
		if r.ByRoad(k) {
			return true
		}
	}
	return false
}

// Constraint returns the setting of the named constraint.
func (r Request) Constraint(name string) Constraint { return r.Constraints.Get(name) }
