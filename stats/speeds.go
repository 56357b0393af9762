package stats

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
)

// Bounds of a speeds= override.
const (
	maxGradeKmh      = 150 // above any design speed (expressways: 120)
	maxSurfaceFactor = 2
	maxWalkingKmh    = 20 // a bicycle at most: the snap leg is off the road
)

// parseSpeeds reads a speeds= override of the catalog's travel speeds:
// items separated by ',', each key:value. A key is a technical grade
// (expressway, class1 … class4, substandard; grade.none for roads without
// one) whose value is km/h in (0, 150], or a surface (asphalt, cement,
// stone, gravel, earth; surface.none for roads without one) whose value is
// a factor in (0, 2]; either may be written qualified (grade.class2,
// surface.gravel); or walking, the speed of the snap legs off the road in
// km/h in (0, 20]. Problems name the item. The speeds returned are the
// catalog's with the overrides applied, and norm the overrides as
// understood (qualified keys in catalog order).
func parseSpeeds(spec string) (layer.Speeds, string, []lastmile.Problem) {
	s := layer.DefaultSpeeds()
	var problems []lastmile.Problem
	bad := func(item, format string, args ...any) {
		problems = append(problems, lastmile.Problem{Field: "speeds", Value: lastmile.Clip(item), Message: fmt.Sprintf(format, args...)})
	}
	grades, surfaces := speedKeys(layer.RoadSpeedsKmh), speedKeys(layer.SurfaceSpeedFactors)
	expect := fmt.Sprintf("must be key:value with key a technical grade (%s, grade.none) in km/h, a surface (%s, surface.none) as a factor or walking in km/h, e.g. class2:60,gravel:0.6,walking:4",
		strings.Join(grades, ", "), strings.Join(surfaces, ", "))
	seen := map[string]bool{}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			bad(spec, "has an empty item")
			continue
		}
		key, value, ok := strings.Cut(item, ":")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok || key == "" || value == "" {
			bad(item, "%s", expect)
			continue
		}
		if key == "walking" {
			f, err := strconv.ParseFloat(value, 64)
			switch {
			case err != nil || math.IsNaN(f) || math.IsInf(f, 0):
				bad(item, "%q is not a number", value)
			case seen["walking"]:
				bad(item, "walking is given twice")
			case f <= 0 || f > maxWalkingKmh:
				bad(item, "a walking speed must be more than 0 and at most %d km/h", maxWalkingKmh)
			default:
				s.WalkingKmh = f
			}
			seen["walking"] = true
			continue
		}
		kind, code := "", key
		if k, c, qualified := strings.Cut(key, "."); qualified {
			kind, code = k, c
			if kind != "grade" && kind != "surface" {
				bad(item, "%q: the qualifier must be grade or surface", key)
				continue
			}
			if code == "none" {
				code = ""
			}
		} else if code == "none" {
			bad(item, "none is ambiguous: write grade.none or surface.none")
			continue
		}
		isGrade := slices.Contains(grades, orNone(code)) && kind != "surface"
		isSurface := slices.Contains(surfaces, orNone(code)) && kind != "grade"
		if !isGrade && !isSurface {
			bad(item, "%q is not a technical grade or a surface: %s", key, expect)
			continue
		}
		f, err := strconv.ParseFloat(value, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			bad(item, "%q is not a number", value)
			continue
		}
		qual := "surface." + orNone(code)
		if isGrade {
			qual = "grade." + orNone(code)
		}
		if seen[qual] {
			bad(item, "%s is given twice", qual)
			continue
		}
		seen[qual] = true
		switch {
		case isGrade && (f <= 0 || f > maxGradeKmh):
			bad(item, "a speed must be more than 0 and at most %d km/h", maxGradeKmh)
		case isSurface && (f <= 0 || f > maxSurfaceFactor):
			bad(item, "a surface factor must be more than 0 and at most %d", maxSurfaceFactor)
		case isGrade:
			s.GradeKmh[code] = f
		default:
			s.SurfaceFactor[code] = f
		}
	}
	if len(problems) > 0 {
		return s, "", problems
	}
	var norm []string
	for _, k := range grades {
		if seen["grade."+k] {
			norm = append(norm, fmt.Sprintf("grade.%s:%g", k, s.GradeKmh[noneKey(k)]))
		}
	}
	for _, k := range surfaces {
		if seen["surface."+k] {
			norm = append(norm, fmt.Sprintf("surface.%s:%g", k, s.SurfaceFactor[noneKey(k)]))
		}
	}
	if seen["walking"] {
		norm = append(norm, fmt.Sprintf("walking:%g", s.WalkingKmh))
	}
	return s, strings.Join(norm, ","), nil
}

// speedKeys returns the keys of a speed table, "" as none, in the order
// of the catalog's values (none last).
func speedKeys(m map[string]float64) []string {
	order := map[string]int{}
	for i, v := range append(layer.TechGradeValues, layer.SurfaceValues...) {
		order[v.Code] = i
	}
	var keys []string
	for k := range m {
		keys = append(keys, orNone(k))
	}
	sort.Slice(keys, func(i, j int) bool {
		oi, iok := order[keys[i]]
		oj, jok := order[keys[j]]
		if iok != jok {
			return iok
		}
		if oi != oj {
			return oi < oj
		}
		return keys[i] < keys[j]
	})
	return keys
}

func orNone(k string) string {
	if k == "" {
		return "none"
	}
	return k
}

func noneKey(k string) string {
	if k == "none" {
		return ""
	}
	return k
}

// speedTable is a speed table keyed for JSON ("none" for "").
func speedTable(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		out[orNone(k)] = v
	}
	return out
}
