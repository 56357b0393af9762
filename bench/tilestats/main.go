// Command tilestats summarises vector-tile archives for bench/bench-export.sh:
// per archive (MBTiles, or PMTiles through lastmile's reader) the tiles, the
// bytes of tile data as stored (gzipped) and uncompressed, and the features
// per tile (mean and max) per zoom, decoded with orb's MVT decoder. It
// prints one line per archive and zoom, space-separated:
//
//	name zoom tiles stored_bytes mvt_bytes features features_per_tile max_features
//
// with zoom "all" for the totals.
package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/paulmach/orb/encoding/mvt"

	"github.com/lastmile/lastmile/archive"
)

type stat struct {
	tiles, features, maxFeatures int
	stored, raw                  int64
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: tilestats FILE.mbtiles|FILE.pmtiles ...")
		os.Exit(2)
	}
	for _, path := range os.Args[1:] {
		if err := summarise(path); err != nil {
			fmt.Fprintf(os.Stderr, "tilestats: %s: %v\n", path, err)
			os.Exit(1)
		}
	}
}

func summarise(path string) error {
	r, err := archive.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	byZoom := map[int]*stat{}
	var all stat
	err = r.Each(func(z, x, y int, data []byte) error {
		raw := data
		if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				return err
			}
			if raw, err = io.ReadAll(zr); err != nil {
				return err
			}
		}
		layers, err := mvt.Unmarshal(raw)
		if err != nil {
			return fmt.Errorf("tile %d/%d/%d: %w", z, x, y, err)
		}
		n := 0
		for _, l := range layers {
			n += len(l.Features)
		}
		s := byZoom[z]
		if s == nil {
			s = &stat{}
			byZoom[z] = s
		}
		for _, st := range []*stat{s, &all} {
			st.tiles++
			st.features += n
			st.maxFeatures = max(st.maxFeatures, n)
			st.stored += int64(len(data))
			st.raw += int64(len(raw))
		}
		return nil
	})
	if err != nil {
		return err
	}
	name := filepath.Base(path)
	var zooms []int
	for z := range byZoom {
		zooms = append(zooms, z)
	}
	sort.Ints(zooms)
	line := func(zoom string, s *stat) {
		fmt.Printf("%s %s %d %d %d %d %.1f %d\n", name, zoom, s.tiles, s.stored, s.raw, s.features,
			float64(s.features)/float64(max(s.tiles, 1)), s.maxFeatures)
	}
	for _, z := range zooms {
		line(fmt.Sprint(z), byZoom[z])
	}
	line("all", &all)
	return nil
}
