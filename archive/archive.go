// Package archive writes, updates and serves tile archives — PMTiles v3 and
// MBTiles — holding the server's own vector tiles for an admin area, a
// bounding box or all the data, so that a map can be published without a
// tile server (any HTTP server with Range requests, object storage, a CDN)
// or used offline.
//
// Export renders every tile of the area through tiles.Service.Render (the
// server's tile SQL, bypassing its cache) with bounded workers, stores
// identical tiles once, and writes the archive to a temporary file renamed
// into place only when complete. Update re-renders only the tiles that the
// edits recorded in feature_history since the archive's generation touch.
package archive

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lastmile/lastmile/tiles"
)

// Format is an archive format.
type Format string

// Archive formats.
const (
	PMTiles Format = "pmtiles"
	MBTiles Format = "mbtiles"
)

// FormatOf returns the format a file name's extension names.
func FormatOf(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".pmtiles":
		return PMTiles, nil
	case ".mbtiles":
		return MBTiles, nil
	}
	return "", fmt.Errorf("%s: the archive's name must end in .pmtiles or .mbtiles", path)
}

// Metadata describes an archive: what TileJSON says of its layers, and how
// it was made (Source), so that it can be brought up to date.
type Metadata struct {
	Name         string              `json:"name"`
	Description  string              `json:"description,omitempty"`
	Attribution  string              `json:"attribution,omitempty"`
	Version      string              `json:"version"`
	MinZoom      int                 `json:"minzoom"`
	MaxZoom      int                 `json:"maxzoom"`
	Bounds       [4]float64          `json:"bounds"` // west, south, east, north
	Center       [3]float64          `json:"center"` // lon, lat, zoom
	VectorLayers []tiles.VectorLayer `json:"vector_layers"`
	Source       Source              `json:"lastmile"`
	// Style is the server's MapLibre style document of the layers
	// (tiles.Style), whose source the map page points at the archive.
	Style map[string]any `json:"lastmile_style,omitempty"`
}

// Source records what an archive holds and when its data was read.
type Source struct {
	Layers    string      `json:"layers"`               // comma-separated catalog layers
	Filters   string      `json:"filters,omitempty"`    // normalised filter query string
	AdminCode string      `json:"admin_code,omitempty"` // the area, when an admin area
	BBox      *[4]float64 `json:"bbox,omitempty"`       // the area, when a bbox
	// Generated is the database time when the export began reading: edits
	// at or after it are not (all) in the archive.
	Generated time.Time `json:"generated"`
	// AreaVersion is the admin area's version when exported (0 otherwise).
	AreaVersion int `json:"area_version,omitempty"`
}

// pmtilesJSON is the PMTiles metadata object (bounds, centre and zooms are
// in the header; they are repeated for readers that show the JSON only).
func (m *Metadata) pmtilesJSON() map[string]any {
	return map[string]any{
		"name": m.Name, "description": m.Description, "attribution": m.Attribution,
		"version": m.Version, "format": "pbf", "type": "overlay",
		"vector_layers": m.VectorLayers, "lastmile": m.Source, "lastmile_style": m.Style,
		"bounds": m.boundsText(), "center": m.centerText(),
		"minzoom": strconv.Itoa(m.MinZoom), "maxzoom": strconv.Itoa(m.MaxZoom),
	}
}

func parsePMTilesMetadata(raw []byte) (*Metadata, error) {
	var m struct {
		Name         string              `json:"name"`
		Description  string              `json:"description"`
		Attribution  string              `json:"attribution"`
		Version      string              `json:"version"`
		VectorLayers []tiles.VectorLayer `json:"vector_layers"`
		Source       Source              `json:"lastmile"`
		Style        map[string]any      `json:"lastmile_style"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	return &Metadata{Name: m.Name, Description: m.Description, Attribution: m.Attribution,
		Version: m.Version, VectorLayers: m.VectorLayers, Source: m.Source, Style: m.Style}, nil
}

func (m *Metadata) boundsText() string {
	return joinFloats(m.Bounds[:])
}

func (m *Metadata) centerText() string {
	return joinFloats(m.Center[:2]) + "," + strconv.Itoa(int(m.Center[2]))
}

func joinFloats(v []float64) string {
	s := make([]string, len(v))
	for i, f := range v {
		s[i] = strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strings.Join(s, ",")
}

// Hash identifies a tile's content: the SHA-256 of the uncompressed MVT.
type Hash [32]byte

// HashOf returns the hash of an uncompressed tile.
func HashOf(mvt []byte) Hash { return sha256.Sum256(mvt) }

// content is a stored tile content: gzipped bytes at offset in the spool.
type content struct {
	offset int64
	length uint32
}

// tileSet is the tiles of an archive being built: tile id → content hash,
// and each distinct content once, gzipped, in a spool file. Safe for
// concurrent use while filling.
type tileSet struct {
	mu       sync.Mutex
	spool    *os.File
	size     int64
	tiles    map[uint64]Hash
	contents map[Hash]content
	zw       sync.Pool
}

func newTileSet(dir string) (*tileSet, error) {
	f, err := os.CreateTemp(dir, ".lastmile-tiles-*.spool")
	if err != nil {
		return nil, err
	}
	return &tileSet{spool: f, tiles: map[uint64]Hash{}, contents: map[Hash]content{},
		zw: sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression); return w }}}, nil
}

// close removes the spool.
func (s *tileSet) close() {
	s.spool.Close()
	os.Remove(s.spool.Name())
}

// put sets tile z/x/y to mvt (uncompressed); an empty mvt removes the tile.
// gz, when not nil, is mvt already gzipped.
func (s *tileSet) put(z, x, y int, mvt, gz []byte) error {
	id := TileID(z, x, y)
	if len(mvt) == 0 {
		s.mu.Lock()
		delete(s.tiles, id)
		s.mu.Unlock()
		return nil
	}
	h := HashOf(mvt)
	s.mu.Lock()
	_, known := s.contents[h]
	if known {
		s.tiles[id] = h
	}
	s.mu.Unlock()
	if known {
		return nil
	}
	if gz == nil {
		gz = s.gzip(mvt)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, known := s.contents[h]; !known {
		if _, err := s.spool.WriteAt(gz, s.size); err != nil {
			return fmt.Errorf("spooling tiles: %w", err)
		}
		s.contents[h] = content{offset: s.size, length: uint32(len(gz))}
		s.size += int64(len(gz))
	}
	s.tiles[id] = h
	return nil
}

func (s *tileSet) gzip(mvt []byte) []byte {
	var buf strings.Builder
	zw := s.zw.Get().(*gzip.Writer)
	defer s.zw.Put(zw)
	zw.Reset(&buf)
	zw.Write(mvt)
	zw.Close()
	return []byte(buf.String())
}

// content returns the gzipped bytes of a content.
func (s *tileSet) content(h Hash) ([]byte, error) {
	c := s.contents[h]
	b := make([]byte, c.length)
	if _, err := s.spool.ReadAt(b, c.offset); err != nil {
		return nil, fmt.Errorf("reading the tile spool: %w", err)
	}
	return b, nil
}

// ids returns the tile ids in order.
func (s *tileSet) ids() []uint64 {
	ids := make([]uint64, 0, len(s.tiles))
	for id := range s.tiles {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Reader reads an archive.
type Reader interface {
	// Metadata returns the archive's metadata.
	Metadata() *Metadata
	// Tile returns the gzipped tile z/x/y, nil when absent.
	Tile(z, x, y int) ([]byte, error)
	// Each calls fn with every tile's coordinates and gzipped bytes.
	Each(fn func(z, x, y int, gz []byte) error) error
	Close() error
}

// Open opens an archive for reading, by its extension.
func Open(path string) (Reader, error) {
	f, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	if f == PMTiles {
		return openPMTiles(path)
	}
	return openMBTiles(path)
}

// write writes the set and metadata to path in format, through a
// temporary file in the same directory renamed into place when complete.
func write(path string, format Format, s *tileSet, meta *Metadata) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".lastmile-export-*."+string(format))
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	switch format {
	case PMTiles:
		if err = writePMTiles(tmp, s, meta); err != nil {
			return err
		}
		if err = tmp.Close(); err != nil {
			return err
		}
	case MBTiles:
		tmp.Close()
		if err = writeMBTiles(tmp.Name(), s, meta); err != nil {
			return err
		}
	}
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
