package layer

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Definition is a named road predicate users rely on. The SQL is built from
// the catalog's own constants (never from request text) and refers to the
// columns of the roads table, optionally qualified by an alias.
type Definition struct {
	Name        string // "hardened", "graded", "all_season"
	Description string // stated in every response that uses it
	sql         func(alias string) string
	match       func(surface, techGrade, status string) bool
}

// SQL returns the predicate over the roads table aliased as alias ("" for none).
func (d Definition) SQL(alias string) string { return d.sql(alias) }

// Match evaluates the definition on one road's attributes.
func (d Definition) Match(surface, techGrade, status string) bool {
	return d.match(surface, techGrade, status)
}

// HardenedSurfaces are the surfaces that count as hardened.
var HardenedSurfaces = []string{"cement", "asphalt", "stone"}

// GradedTechGrades are the technical grades of a graded highway.
var GradedTechGrades = []string{"expressway", "class1", "class2", "class3", "class4"}

func col(alias, name string) string {
	if alias == "" {
		return name
	}
	return alias + "." + name
}

func inList(column string, values []string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = "'" + v + "'"
	}
	return fmt.Sprintf("%s IN (%s)", column, strings.Join(quoted, ", "))
}

// Hardened: surface cement, asphalt or stone.
var Hardened = Definition{
	Name:        "hardened",
	Description: "hardened road: surface is cement, asphalt or stone",
	sql:         func(a string) string { return inList(col(a, "surface"), HardenedSurfaces) },
	match:       func(s, _, _ string) bool { return slices.Contains(HardenedSurfaces, s) },
}

// Graded: technical grade expressway, class1 … class4 (not substandard).
var Graded = Definition{
	Name:        "graded",
	Description: "graded highway: technical grade expressway or class 1-4 (not substandard)",
	sql:         func(a string) string { return inList(col(a, "tech_grade"), GradedTechGrades) },
	match:       func(_, g, _ string) bool { return slices.Contains(GradedTechGrades, g) },
}

// AllSeason (Rural Access Index): hardened, or graded and completed.
var AllSeason = Definition{
	Name:        "all_season",
	Description: "all-season road (Rural Access Index): hardened, or a graded highway that is completed",
	sql: func(a string) string {
		return fmt.Sprintf("(%s OR (%s AND %s = 'completed'))", Hardened.SQL(a), Graded.SQL(a), col(a, "status"))
	},
	match: func(s, g, st string) bool {
		return Hardened.Match(s, g, st) || (Graded.Match(s, g, st) && st == "completed")
	},
}

// Definitions returns the shared definitions by name.
func Definitions() map[string]Definition {
	return map[string]Definition{Hardened.Name: Hardened, Graded.Name: Graded, AllSeason.Name: AllSeason}
}

// RoadSpeedsKmh are the travel speeds (km/h) that network questions with
// metric=time assume, by technical grade: the design speeds of China's
// Technical Standard of Highway Engineering (JTG B01-2014), taking for each
// grade its lower, hilly-terrain value — expressway 80, class 1 60, class 2
// 40, class 3 30, class 4 20 km/h — and 15 km/h for substandard roads and
// roads without a grade.
var RoadSpeedsKmh = map[string]float64{"expressway": 80, "class1": 60, "class2": 40, "class3": 30, "class4": 20, "substandard": 15, "": 15}

// SurfaceSpeedFactors scale RoadSpeedsKmh by surface: hardened surfaces
// 1 (stone 0.9), gravel 0.7, earth 0.5, no surface recorded 0.7.
var SurfaceSpeedFactors = map[string]float64{"asphalt": 1, "cement": 1, "stone": 0.9, "gravel": 0.7, "earth": 0.5, "": 0.7}

// WalkingSpeedKmh is the speed of the leg from a target to its snap point
// on the road network (metric=time).
const WalkingSpeedKmh = 5.0

// Speeds are the travel speeds of a metric=time question: km/h by
// technical grade and a factor by surface ("" for a road without one),
// and the walking speed of the snap legs. DefaultSpeeds are the catalog's;
// a request may override any of them (stats.parseSpeeds).
type Speeds struct {
	GradeKmh      map[string]float64
	SurfaceFactor map[string]float64
	WalkingKmh    float64
}

// DefaultSpeeds returns a copy of the catalog's speeds (RoadSpeedsKmh,
// SurfaceSpeedFactors, WalkingSpeedKmh).
func DefaultSpeeds() Speeds {
	return Speeds{GradeKmh: maps.Clone(RoadSpeedsKmh), SurfaceFactor: maps.Clone(SurfaceSpeedFactors), WalkingKmh: WalkingSpeedKmh}
}

// Clone returns a deep copy of s.
func (s Speeds) Clone() Speeds {
	return Speeds{GradeKmh: maps.Clone(s.GradeKmh), SurfaceFactor: maps.Clone(s.SurfaceFactor), WalkingKmh: s.WalkingKmh}
}

// SQL returns the speed in km/h of the roads row aliased alias as an SQL
// expression: a CASE over tech_grade times a CASE over surface. The keys
// are catalog codes and the values numbers, so the text holds nothing a
// request wrote.
func (s Speeds) SQL(alias string) string {
	if s.GradeKmh == nil || s.SurfaceFactor == nil { // the zero value: the catalog's
		s = DefaultSpeeds()
	}
	cases := func(column string, m map[string]float64) string {
		keys := make([]string, 0, len(m))
		for k := range m {
			if k != "" {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		var b strings.Builder
		fmt.Fprintf(&b, "CASE %s", col(alias, column))
		for _, k := range keys {
			fmt.Fprintf(&b, " WHEN '%s' THEN %s", k, strconv.FormatFloat(m[k], 'g', -1, 64))
		}
		fmt.Fprintf(&b, " ELSE %s END", strconv.FormatFloat(m[""], 'g', -1, 64))
		return b.String()
	}
	return fmt.Sprintf("(%s) * (%s)", cases("tech_grade", s.GradeKmh), cases("surface", s.SurfaceFactor))
}

// RoadSpeedSQL returns the speed in km/h of the roads row aliased alias as
// an SQL expression built from RoadSpeedsKmh and SurfaceSpeedFactors.
func RoadSpeedSQL(alias string) string { return DefaultSpeeds().SQL(alias) }
