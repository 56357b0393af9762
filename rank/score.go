package rank

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/paulmach/orb/geojson"

	"github.com/lastmile/lastmile/layer"
)

// ScoringFormula is stated in every response.
const ScoringFormula = "total = Σ weight_f × normalised_f; distance factors: normalised = max(0, 1 − d / d_max_m) " +
	"with d the geodesic distance in metres (none within d_max_m: normalised 0); population: normalised = min(1, P / population.max) " +
	"with P the population of villages within population.radius_m; order: total (rounded to 6 decimals) descending, then candidate id"

func definitions(req Request) orderedMap[string] {
	var d orderedMap[string]
	d.set("scoring", ScoringFormula)
	d.set("hardened", layer.Hardened.Description+"; only completed roads count")
	d.set("water", "a completed water pipeline or a completed facility of kind water_source")
	d.set("power", "a completed power_upgrades line or transformer (the electricity grid)")
	d.set("clinic", "a completed facility of kind clinic or hospital")
	d.set("distance", "geodesic distance on the WGS84 spheroid (PostGIS geography), 0 inside a polygon")
	if req.anyByRoad() {
		d.set("by_road", "distance: network measures road, water, school and clinic by road: the candidate (a polygon's ST_PointOnSurface) is snapped to the geodesic-nearest point of its nearest completed road, then the shortest way over completed roads (noded at every shared vertex, geodesic lengths, no cut-off) leads to the nearest completed hardened road, water pipeline (reached at a point every 100 m along it) or water source, school, or clinic or hospital, that one snapped onto the network too; none within the kind's radius by road counts as none")
	}
	for _, s := range constraintSpecs {
		rule := s.Rule
		if (s.Name == ConstraintRoad || s.Name == ConstraintWater) && req.ByRoad(s.Name) {
			rule += ", by road"
		}
		d.set("constraint."+s.Name, rule)
	}
	return d
}

// evaluate applies the constraints and scores to measured candidates.
func evaluate(req Request, cands []candidate, ms []measures) *Result {
	res := &Result{Type: "FeatureCollection", Parameters: req, Definitions: definitions(req), Features: []Feature{}}
	for _, s := range constraintSpecs {
		if req.Constraint(s.Name).Enabled {
			res.Summary.ExcludedBy.set(s.Name, 0)
		}
	}
	var ranked, excluded []Feature
	for i, c := range cands {
		f := scoreCandidate(req, c, ms[i])
		if len(f.Properties.Failed) == 0 {
			ranked = append(ranked, f)
			continue
		}
		for _, name := range f.Properties.Failed {
			res.Summary.ExcludedBy.set(name, res.Summary.ExcludedBy.Get(name)+1)
		}
		excluded = append(excluded, f)
	}
	slices.SortStableFunc(ranked, func(a, b Feature) int {
		if a.Properties.Total != b.Properties.Total {
			if a.Properties.Total > b.Properties.Total {
				return -1
			}
			return 1
		}
		return compareIDs(a.ID, b.ID)
	})
	slices.SortStableFunc(excluded, func(a, b Feature) int { return compareIDs(a.ID, b.ID) })
	res.Summary.Candidates = len(cands)
	res.Summary.Ranked = len(ranked)
	res.Summary.Excluded = len(excluded)
	if len(ranked) > req.Limit {
		ranked = ranked[:req.Limit]
	}
	for i := range ranked {
		r := i + 1
		ranked[i].Properties.Rank = &r
	}
	res.Summary.Returned = len(ranked)
	res.Features = append(res.Features, ranked...)
	if req.IncludeExcluded {
		excluded = excluded[:min(len(excluded), MaxLimit)]
		res.Summary.ExcludedListed = len(excluded)
		res.Features = append(res.Features, excluded...)
	}
	return res
}

// compareIDs orders ids numerically when both are integers, else as text.
func compareIDs(a, b string) int {
	ai, aerr := strconv.ParseInt(a, 10, 64)
	bi, berr := strconv.ParseInt(b, 10, 64)
	if aerr == nil && berr == nil {
		switch {
		case ai < bi:
			return -1
		case ai > bi:
			return 1
		}
		return 0
	}
	return strings.Compare(a, b)
}

func ptr[T any](v T) *T { return &v }

func scoreCandidate(req Request, c candidate, m measures) Feature {
	p := Properties{Status: "ranked", CandidateID: c.id, Name: c.name, Cell: c.grid, Failed: []string{}}
	dist := func(n *Nearest) *float64 {
		if n == nil {
			return nil
		}
		return ptr(round(n.DistanceM, 1))
	}
	// Hard constraints.
	for _, s := range constraintSpecs {
		con := req.Constraint(s.Name)
		if !con.Enabled {
			continue
		}
		r := ConstraintResult{Constraint: s.Name, Unit: s.Unit}
		lim := strconv.FormatFloat(con.Limit, 'f', -1, 64)
		switch s.Name {
		case ConstraintHazard:
			r.Nearest, r.Measured = m.hazard, dist(m.hazard)
			r.Passed = m.hazard == nil || m.hazard.DistanceM > con.Limit
			r.Test = "distance to the nearest hazard zone > " + lim + " m"
		case ConstraintRoad:
			r.Nearest, r.Measured = m.road, dist(m.road)
			r.Passed = m.road != nil && m.road.DistanceM <= con.Limit
			r.Test = "distance" + byRoadWords(req, FactorRoad) + " to the nearest hardened road ≤ " + lim + " m"
			r.Measure = measureWord(req, FactorRoad)
		case ConstraintWater:
			w := m.water()
			r.Nearest, r.Measured = w, dist(w)
			r.Passed = w != nil && w.DistanceM <= con.Limit
			r.Test = "distance" + byRoadWords(req, FactorWater) + " to the nearest water pipeline or source ≤ " + lim + " m"
			r.Measure = measureWord(req, FactorWater)
		case ConstraintPower:
			r.Nearest, r.Measured = m.power, dist(m.power)
			r.Passed = m.power != nil && m.power.DistanceM <= con.Limit
			r.Test = "distance to the nearest upgraded power line or transformer ≤ " + lim + " m"
		case ConstraintMinArea:
			if m.areaM2 == nil {
				continue // points are exempt
			}
			r.Measured = ptr(round(*m.areaM2, 1))
			r.Passed = *m.areaM2 >= con.Limit
			r.Test = "geodesic area ≥ " + lim + " m²"
		case ConstraintVillage:
			r.Nearest, r.Measured = m.village, dist(m.village)
			r.Passed = m.village == nil || m.village.DistanceM > con.Limit
			r.Test = "distance to the nearest village > " + lim + " m"
		}
		if !r.Passed {
			p.Failed = append(p.Failed, s.Name)
		}
		p.Constraints = append(p.Constraints, r)
	}
	if len(p.Failed) > 0 {
		p.Status = "excluded"
	}
	// Scores.
	total := 0.0
	for _, s := range factorSpecs {
		w := req.Weights.Get(s.Name)
		fs := FactorScore{Factor: s.Name, Unit: s.Unit, Weight: w}
		var norm float64
		if s.Name == FactorPopulation {
			fs.Max, fs.RadiusM = req.Population.Max, req.Population.RadiusM
			if w > 0 {
				fs.Raw = ptr(float64(m.population))
				fs.Villages = ptr(m.villages)
				norm = math.Min(1, float64(m.population)/req.Population.Max)
			}
		} else {
			var n *Nearest
			switch s.Name {
			case FactorRoad:
				n = m.road
			case FactorWater:
				n = m.water()
			case FactorPower:
				n = m.power
			case FactorSchool:
				n = m.school
			case FactorClinic:
				n = m.clinic
			}
			dmax := req.DMax.Get(s.Name)
			fs.DMaxM, fs.Nearest, fs.Raw = dmax, n, dist(n)
			fs.Measure = measureWord(req, s.Name)
			if n != nil {
				norm = math.Max(0, 1-n.DistanceM/dmax)
			}
		}
		fs.Normalised = round(norm, 6)
		fs.Contribution = round(w*norm, 6)
		total += w * norm
		p.Factors = append(p.Factors, fs)
	}
	p.Total = round(total, 6)
	if p.Constraints == nil {
		p.Constraints = []ConstraintResult{}
	}
	return Feature{Type: "Feature", ID: c.id, Geometry: geojson.NewGeometry(c.geom), Properties: p}
}

// byRoadWords is " by road" when kind is measured along the network.
func byRoadWords(req Request, kind string) string {
	if req.ByRoad(kind) {
		return " by road"
	}
	return ""
}

// measureWord is "by road" for a kind measured along the network, else "".
func measureWord(req Request, kind string) string {
	return strings.TrimSpace(byRoadWords(req, kind))
}

// round rounds f to the given number of decimals.
func round(f float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(f*p) / p
}
