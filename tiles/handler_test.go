package tiles

import (
	"errors"
	"testing"

	"github.com/lastmile/lastmile"
)

func TestParseTile(t *testing.T) {
	tests := []struct {
		z, x, y string
		ok      bool
		field   string
	}{
		{"0", "0", "0.mvt", true, ""},
		{"22", "4194303", "4194303.pbf", true, ""},
		{"14", "13061", "6940.mvt", true, ""},
		{"23", "0", "0.mvt", false, "z"},
		{"1", "2", "0.mvt", false, "x"},
		{"1", "0", "2.mvt", false, "y"},
		{"1", "+1", "0.mvt", false, "x"},
		{"1", "0", "-0.mvt", false, "y"},
		{"01", "0", "0.mvt", false, "z"},
		{"1", "0", "0.png", false, "format"},
		{"1", "0", "0", false, "format"},
		{"1", "0", ".mvt", false, "y"},
		{"", "0", "0.mvt", false, "z"},
	}
	for _, tc := range tests {
		_, _, _, err := parseTile(tc.z, tc.x, tc.y)
		if tc.ok {
			if err != nil {
				t.Errorf("%s/%s/%s: %v", tc.z, tc.x, tc.y, err)
			}
			continue
		}
		var e *lastmile.Error
		if !errors.As(err, &e) || e.Code != lastmile.EINVALID || len(e.Details) == 0 || e.Details[0].Field != tc.field {
			t.Errorf("%s/%s/%s: error %v, want an invalid error on %s", tc.z, tc.x, tc.y, err, tc.field)
		}
	}
}

// FuzzParseTile: any path segments give valid coordinates or an invalid
// error, never a panic.
func FuzzParseTile(f *testing.F) {
	for _, s := range [][3]string{{"0", "0", "0.mvt"}, {"22", "4194303", "1.pbf"}, {"-1", "x", "y"}, {"3", "9", "9.mvt"}, {"1", "1", "1.mvt.gz"}} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, zs, xs, ys string) {
		z, x, y, err := parseTile(zs, xs, ys)
		if err != nil {
			if lastmile.ErrorCode(err) != lastmile.EINVALID {
				t.Fatalf("error %v is not invalid", err)
			}
			return
		}
		if z < 0 || z > maxZoom || x < 0 || y < 0 || x >= 1<<z || y >= 1<<z {
			t.Fatalf("accepted %d/%d/%d from %q/%q/%q", z, x, y, zs, xs, ys)
		}
	})
}
