package archive

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/protomaps/go-pmtiles/pmtiles"

	"github.com/lastmile/lastmile"
)

func TestTileIDMatchesGoPMTiles(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for z := 0; z <= MaxZoom; z++ {
		for i := 0; i < 200; i++ {
			n := 1 << z
			x, y := r.IntN(n), r.IntN(n)
			if i == 0 {
				x, y = n-1, 0
			}
			want := pmtiles.ZxyToID(uint8(z), uint32(x), uint32(y))
			if got := TileID(z, x, y); got != want {
				t.Fatalf("TileID(%d,%d,%d) = %d, go-pmtiles %d", z, x, y, got, want)
			}
			if gz, gx, gy := TileZXY(want); gz != z || gx != x || gy != y {
				t.Fatalf("TileZXY(%d) = %d/%d/%d, want %d/%d/%d", want, gz, gx, gy, z, x, y)
			}
		}
	}
}

func TestDirectoryMatchesGoPMTiles(t *testing.T) {
	entries := []pmEntry{{id: 0, offset: 0, length: 10, runLength: 1}, {id: 5, offset: 10, length: 7, runLength: 3},
		{id: 9, offset: 0, length: 10, runLength: 1}, {id: 1 << 40, offset: 17, length: 1, runLength: 1}}
	var ref []pmtiles.EntryV3
	for _, e := range entries {
		ref = append(ref, pmtiles.EntryV3{TileID: e.id, Offset: e.offset, Length: e.length, RunLength: e.runLength})
	}
	got, err := gunzip(marshalDirectory(entries))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := gunzip(pmtiles.SerializeEntries(ref, pmtiles.Gzip))
	if string(got) != string(want) {
		t.Errorf("directory bytes differ from go-pmtiles':\n got %x\nwant %x", got, want)
	}
	back, err := parseDirectory(marshalDirectory(entries))
	if err != nil || len(back) != len(entries) {
		t.Fatalf("parse: %v, %d entries", err, len(back))
	}
	for i := range back {
		if back[i] != entries[i] {
			t.Errorf("entry %d: %+v, want %+v", i, back[i], entries[i])
		}
	}
	// Many entries need leaf directories; the root still fits.
	var many []pmEntry
	for i := 0; i < 100000; i++ {
		many = append(many, pmEntry{id: uint64(i * 3), offset: uint64(i * 100), length: 100 + uint32(i%7), runLength: 1})
	}
	root, leaves := buildDirectories(many)
	if len(root) > pmRootMax || len(leaves) == 0 {
		t.Errorf("root %d bytes, leaves %d bytes", len(root), len(leaves))
	}
}

func TestParseBBox(t *testing.T) {
	tests := []struct {
		name, in string
		want     [4]float64
		problem  string // "" for valid
	}{
		{"valid", "117,37.1,117.4,37.5", [4]float64{117, 37.1, 117.4, 37.5}, ""},
		{"spaces", " 117 , 37 , 118 , 38 ", [4]float64{117, 37, 118, 38}, ""},
		{"three numbers", "1,2,3", [4]float64{}, "four numbers"},
		{"not a number", "a,2,3,4", [4]float64{}, "bbox.west: must be a number"},
		{"longitude", "-200,0,10,10", [4]float64{}, "bbox.west: must be a longitude"},
		{"latitude", "0,0,10,95", [4]float64{}, "bbox.north: must be a latitude"},
		{"west east", "10,0,5,10", [4]float64{}, "west must be less than east"},
		{"south north", "0,10,5,10", [4]float64{}, "south must be less than north"},
		{"nan", "NaN,0,1,1", [4]float64{}, "must be a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseBBox(tt.in)
			if tt.problem == "" {
				if err != nil || got != tt.want {
					t.Fatalf("ParseBBox(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
				}
				return
			}
			if err == nil || lastmile.ErrorCode(err) != lastmile.EINVALID {
				t.Fatalf("ParseBBox(%q) = %v, %v; want an invalid error", tt.in, got, err)
			}
			if msg := describe(err); !strings.Contains(msg, tt.problem) {
				t.Errorf("error %q lacks %q", msg, tt.problem)
			}
		})
	}
}

func describe(err error) string {
	s := err.Error()
	if e, ok := err.(*lastmile.Error); ok {
		for _, p := range e.Details {
			s += "; " + p.Field + ": " + p.Message
		}
	}
	return s
}

func FuzzParseBBox(f *testing.F) {
	for _, s := range []string{"117,37.1,117.4,37.5", "1,2,3", "", "1e400,0,1,1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseBBox(s)
		if err == nil && (b[0] >= b[2] || b[1] >= b[3] || b[0] < -180 || b[2] > 180 || b[1] < -90 || b[3] > 90) {
			t.Fatalf("ParseBBox(%q) accepted %v", s, b)
		}
	})
}

// FuzzParseDirectory: a served or updated archive may be any file.
func FuzzParseDirectory(f *testing.F) {
	seed, _ := gunzip(marshalDirectory([]pmEntry{{id: 1, length: 3, runLength: 1}, {id: 4, offset: 3, length: 2, runLength: 2}}))
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := parseEntries(b)
		if err != nil {
			return
		}
		back, err := parseDirectory(marshalDirectory(entries))
		if err != nil || len(back) != len(entries) {
			t.Fatalf("round trip: %v, %d of %d entries", err, len(back), len(entries))
		}
	})
}
