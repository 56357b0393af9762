package ingest

import (
	"math"
	"strings"
	"testing"
)

func TestParseCoordinate(t *testing.T) {
	const (
		lon = 117 + 12.0/60 + 30.0/3600 // 117°12′30″
		lat = 31 + 48.0/60 + 15.5/3600  // 31°48′15.5″
	)
	tests := []struct {
		name string
		in   string
		lat  bool
		want float64
	}{
		{"decimal", "117.2083", false, 117.2083},
		{"decimal negative", "-31.5", true, -31.5},
		{"decimal plus", "+117.5", false, 117.5},
		{"integer", "117", false, 117},
		{"projected metres", "39500000.25", false, 39500000.25},
		{"spaces", "  117.2083 ", false, 117.2083},
		{"full-width decimal", "１１７．２", false, 117.2},
		{"full-width minus", "－３１．５", true, -31.5},
		{"ideographic full stop", "117。2", false, 117.2},
		{"unicode minus", "\u2212117.5", false, -117.5},
		{"degree sign only", "117.5°", false, 117.5},
		{"primes", "117°12′30″", false, lon},
		{"ascii quotes", `117°12'30"`, false, lon},
		{"two apostrophes", "117°12'30''", false, lon},
		{"curly quotes", "117°12’30”", false, lon},
		{"ordinal indicator", "117º12'30\"", false, lon},
		{"ring above", "117˚12′30″", false, lon},
		{"spaces between", "117° 12′ 30″", false, lon},
		{"seconds with decimals", "31°48′15.5″", true, lat},
		{"no seconds symbol", "117°12′30", false, lon},
		{"decimal minutes", "117°12.5′", false, 117 + 12.5/60},
		{"degrees and minutes", "117°12′", false, 117.2},
		{"chinese units", "117度12分30秒", false, lon},
		{"chinese units decimal seconds", "31度48分15.5秒", true, lat},
		{"chinese degrees minutes", "117度15分", false, 117.25},
		{"colons", "117:12:30", false, lon},
		{"colons decimal", "31:48:15.5", true, lat},
		{"full-width colons", "１１７：１２：３０", false, lon},
		{"space separated", "117 12 30", false, lon},
		{"suffix E", "117°12′30″E", false, lon},
		{"suffix e lower", "117°12′30″e", false, lon},
		{"suffix W", "117°12′30″W", false, -lon},
		{"prefix E space", "E 117°12′30″", false, lon},
		{"prefix W", "W117.5", false, -117.5},
		{"suffix N", "31°48′15.5″N", true, lat},
		{"suffix S", "31°48′15.5″S", true, -lat},
		{"colons with E", "117:12:30E", false, lon},
		{"dongjing", "东经117°12′30″", false, lon},
		{"dongjing chinese units", "东经117度12分30秒", false, lon},
		{"xijing", "西经117.5", false, -117.5},
		{"beiwei", "北纬31度48分15.5秒", true, lat},
		{"nanwei", "南纬31.5", true, -31.5},
		{"beiwei colon", "北纬：31.5", true, 31.5},
		{"full-width everything", "东经１１７°１２′３０″", false, lon},
		{"full-width letter", "１１７．５Ｅ", false, 117.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCoordinate(tt.in, tt.lat)
			if err != nil {
				t.Fatalf("ParseCoordinate(%q): %v", tt.in, err)
			}
			if math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("ParseCoordinate(%q) = %.12f, want %.12f", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseCoordinateRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
		lat  bool
		want string // in the message
	}{
		{"empty", "", false, "is empty"},
		{"text", "abc", false, "is not a coordinate"},
		{"nan", "NaN", false, "must be a finite number"},
		{"inf", "Inf", false, "must be a finite number"},
		{"huge", "1e400", false, "is not a coordinate"},
		{"two dots", "117.2.3", false, "is not a coordinate"},
		{"decimal comma", "117,2", false, "is not a coordinate"},
		{"minutes 60", "117°60′", false, "60 minutes: must be below 60"},
		{"seconds 75", "117°12′75″", false, "75 seconds: must be below 60"},
		{"out of order", "117′12°", false, "out of order"},
		{"twice degrees", "117°12°", false, "out of order"},
		{"decimals before last", "117.5°12′", false, "only the last"},
		{"latitude beyond 90", "95°12′", true, "beyond 90 degrees"},
		{"longitude beyond 180", "190:00:00", false, "beyond 180 degrees"},
		{"minutes without degrees", "12′", false, "without degrees"},
		{"N in longitude column", "31°48′N", false, "is a latitude (N) in the longitude column"},
		{"E in latitude column", "东经117.5", true, "is a longitude (E) in the latitude column"},
		{"minus and W", "-117.5W", false, "both a minus sign and W"},
		{"hemisphere only", "E", false, "is not a coordinate"},
		{"sign only", "-", false, "has no number"},
		{"hex float", "0x1p-2", false, "is not a coordinate"},
		{"four parts", "117:12:30:5", false, "out of order"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCoordinate(tt.in, tt.lat)
			if err == nil {
				t.Fatalf("ParseCoordinate(%q) = %v, want an error containing %q", tt.in, got, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseCoordinate(%q): %q, want it to contain %q", tt.in, err, tt.want)
			}
		})
	}
}

// FuzzParseCoordinate: any text either fails or gives a finite number;
// degrees-minutes-seconds forms stay within ±180.
func FuzzParseCoordinate(f *testing.F) {
	for _, s := range []string{"117.2083", "117°12′30″E", "北纬31度48分15.5秒", "１１７．２", "117:12:30", "-31.5", "W 117 12 30", "117°12.5′", ""} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, lat bool) {
		v, err := ParseCoordinate(s, lat)
		if err != nil {
			return
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("ParseCoordinate(%q) = %v", s, v)
		}
		if strings.ContainsAny(s, "°º˚度′″分秒:") && math.Abs(v) > 180 {
			t.Fatalf("ParseCoordinate(%q) = %v: degrees beyond 180", s, v)
		}
	})
}

func TestExcelDate(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"42185", "2015-06-30", true},
		{"42185.75", "2015-06-30", true}, // 18:00 that day
		{"43831", "2020-01-01", true},
		{"25569", "1970-01-01", true},
		{"2015", "", false},     // a year is not a serial
		{"201506", "", false},   // nor a year and month
		{"20150630", "", false}, // parseDate's
		{"-42185", "", false},
		{"abc", "", false},
	}
	for _, tt := range tests {
		got, ok := excelDate(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("excelDate(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
