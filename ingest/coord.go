package ingest

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/width"
)

// coordForms is what a coordinate column accepts, for error messages.
const coordForms = "decimal degrees (117.2083), degrees-minutes-seconds (117°12′30″, 117度12分30秒, 117:12:30) or projected metres, with E/W/N/S or 东经/西经/北纬/南纬"

// ParseCoordinate parses one coordinate as people type it: decimal
// (117.2083, -31.5, 39500000.25 for projected metres), degrees with
// minutes and seconds in any of the usual spellings (117°12′30″,
// 117°12'30", 117º12’30”, 117 12 30, 117:12:30, 117°12.5′, 117度12分30秒),
// a hemisphere letter before or after (E, W, N, S) or a
// Chinese prefix (东经, 西经, 北纬, 南纬), full-width digits and
// punctuation (１１７．２). W and S make the value negative. lat says the
// value is a latitude: a hemisphere of the other axis is refused, as are
// degrees-minutes-seconds beyond ±90 (±180 for a longitude). Decimal
// values are not range-checked here (they may be projected metres).
func ParseCoordinate(s string, lat bool) (float64, error) {
	t := strings.NewReplacer("。", ".", "\u2212", "-", "\u00a0", " ").Replace(s)
	t = strings.TrimSpace(width.Narrow.String(t))
	switch strings.ToLower(t) {
	case "":
		return 0, errors.New("is empty")
	case "nan", "inf", "+inf", "-inf", "infinity":
		return 0, errors.New("must be a finite number")
	}
	hemi := ""
	for _, p := range []struct{ prefix, h string }{{"东经", "E"}, {"西经", "W"}, {"北纬", "N"}, {"南纬", "S"}} {
		if rest, ok := strings.CutPrefix(t, p.prefix); ok {
			hemi, t = p.h, strings.TrimLeft(rest, " :")
			break
		}
	}
	if hemi == "" && len(t) > 1 {
		switch c := unicode.ToUpper(rune(t[0])); c {
		case 'E', 'W', 'N', 'S':
			hemi, t = string(c), strings.TrimSpace(t[1:])
		default:
			switch c := unicode.ToUpper(rune(t[len(t)-1])); c {
			case 'E', 'W', 'N', 'S':
				hemi, t = string(c), strings.TrimSpace(t[:len(t)-1])
			}
		}
	}
	if hemi != "" {
		if lat && (hemi == "E" || hemi == "W") {
			return 0, fmt.Errorf("is a longitude (%s) in the latitude column: are the columns swapped?", hemi)
		}
		if !lat && (hemi == "N" || hemi == "S") {
			return 0, fmt.Errorf("is a latitude (%s) in the longitude column: are the columns swapped?", hemi)
		}
	}
	neg := false
	if t != "" && (t[0] == '-' || t[0] == '+') {
		neg = t[0] == '-'
		t = strings.TrimSpace(t[1:])
	}
	if neg && (hemi == "W" || hemi == "S") {
		return 0, fmt.Errorf("has both a minus sign and %s: give one of them", hemi)
	}
	v, dms, err := parseDegrees(t)
	if err != nil {
		return 0, err
	}
	if dms {
		limit := 180.0
		if lat {
			limit = 90
		}
		if v > limit {
			return 0, fmt.Errorf("is beyond %g degrees", limit)
		}
	}
	if neg || hemi == "W" || hemi == "S" {
		v = -v
	}
	return v, nil
}

// parseDegrees parses an unsigned decimal number or degrees, minutes and
// seconds; dms tells which.
func parseDegrees(t string) (v float64, dms bool, err error) {
	if t == "" {
		return 0, false, errors.New("has no number")
	}
	if isDecimal(t) {
		f, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsInf(f, 0) {
			return 0, false, errors.New("must be a finite number")
		}
		return f, false, nil
	}
	// components: a number and an optional unit (0 degrees, 1 minutes, 2
	// seconds); a component without a unit takes the next one
	var parts [3]float64
	var has [3]bool
	next, n := 0, 0
	frac := false // a component had a fraction: it must be the last
	for t != "" {
		i := 0
		for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
			i++
		}
		num := t[:i]
		if num == "" || !isDecimal(num) {
			return 0, false, errors.New("is not a coordinate: expected " + coordForms)
		}
		t = strings.TrimLeft(t[i:], " ")
		unit := next
		for _, u := range coordUnits {
			if rest, ok := strings.CutPrefix(t, u.s); ok {
				unit, t = u.unit, strings.TrimLeft(rest, " ")
				break
			}
		}
		if unit < next || unit > 2 || has[unit] {
			return 0, false, errors.New("is not a coordinate: degrees, minutes and seconds out of order (expected " + coordForms + ")")
		}
		if frac {
			return 0, false, errors.New("is not a coordinate: only the last of degrees, minutes and seconds may have decimals")
		}
		f, _ := strconv.ParseFloat(num, 64)
		frac = strings.Contains(num, ".")
		parts[unit], has[unit] = f, true
		next, n = unit+1, n+1
		if t != "" && t[0] == ':' {
			t = t[1:]
		}
	}
	if n == 1 && !has[0] {
		return 0, false, errors.New("is not a coordinate: minutes or seconds without degrees")
	}
	if parts[1] >= 60 {
		return 0, false, fmt.Errorf("has %g minutes: must be below 60", parts[1])
	}
	if parts[2] >= 60 {
		return 0, false, fmt.Errorf("has %g seconds: must be below 60", parts[2])
	}
	return parts[0] + parts[1]/60 + parts[2]/3600, true, nil
}

// coordUnits are the spellings of degrees, minutes and seconds, longest
// first where one is a prefix of another (two apostrophes before one). Letters (d, m,
// s) are not units: S is a hemisphere.
var coordUnits = []struct {
	s    string
	unit int
}{
	{"°", 0}, {"º", 0}, {"˚", 0}, {"度", 0},
	{"''", 2}, {"″", 2}, {"\"", 2}, {"”", 2}, {"“", 2}, {"秒", 2},
	{"′", 1}, {"'", 1}, {"’", 1}, {"‘", 1}, {"´", 1}, {"分", 1},
}

// isDecimal reports whether t is digits with at most one '.' and at
// least one digit.
func isDecimal(t string) bool {
	digits, dots := 0, 0
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			dots++
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1
}
