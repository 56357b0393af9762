package archive

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"sort"
)

// PMTiles v3 (https://github.com/protomaps/PMTiles/blob/main/spec/v3/spec.md):
// a 127-byte header, the root directory, JSON metadata, leaf directories and
// the tile data. Directories and metadata are gzipped (internal
// compression), tiles are gzipped MVT. Tiles are addressed by Hilbert tile
// id; runs of consecutive ids with the same content are one entry.

const (
	pmHeaderLen   = 127
	pmRootMax     = 16384 - pmHeaderLen // header and root directory fit the first 16 KiB
	pmGzip        = 2                   // compression: gzip
	pmTypeMVT     = 1                   // tile type: Mapbox Vector Tile
	pmMaxDirDepth = 4
)

// TileID returns the PMTiles (Hilbert) tile id of z/x/y.
func TileID(z, x, y int) uint64 {
	acc := (uint64(1)<<(2*uint(z)) - 1) / 3
	ux, uy := uint32(x), uint32(y)
	for s := uint32(1) << uint(max(z-1, 0)); z > 0 && s > 0; s >>= 1 {
		rx, ry := uint32(0), uint32(0)
		if ux&s != 0 {
			rx = 1
		}
		if uy&s != 0 {
			ry = 1
		}
		acc += uint64(s) * uint64(s) * uint64((3*rx)^ry)
		ux, uy = hilbertRotate(s, ux, uy, rx, ry)
	}
	return acc
}

// TileZXY is the inverse of TileID.
func TileZXY(id uint64) (z, x, y int) {
	z = (bits.Len64(3*id+1) - 1) / 2
	t := id - (uint64(1)<<(2*uint(z))-1)/3
	var tx, ty uint32
	for a := 0; a < z; a++ {
		s := uint32(1) << uint(a)
		rx := uint32(1 & (t >> 1))
		ry := uint32(1 & (t ^ uint64(rx)))
		tx, ty = hilbertRotate(s, tx, ty, rx, ry)
		tx += rx << uint(a)
		ty += ry << uint(a)
		t >>= 2
	}
	return z, int(tx), int(ty)
}

func hilbertRotate(n, x, y, rx, ry uint32) (uint32, uint32) {
	if ry == 0 {
		if rx == 1 {
			x, y = n-1-x, n-1-y
		}
		return y, x
	}
	return x, y
}

// pmEntry is a directory entry: a run of tiles, or (runLength 0) a leaf
// directory at offset within the leaf directories.
type pmEntry struct {
	id        uint64
	offset    uint64
	length    uint32
	runLength uint32
}

// pmHeader is the fixed header.
type pmHeader struct {
	rootOffset, rootLength         uint64
	metadataOffset, metadataLength uint64
	leafOffset, leafLength         uint64
	dataOffset, dataLength         uint64
	addressed, entries, contents   uint64
	clustered                      bool
	internalCompression            uint8
	tileCompression                uint8
	tileType                       uint8
	minZoom, maxZoom               uint8
	bounds                         [4]float64
	centerZoom                     uint8
	center                         [2]float64
}

func e7(v float64) uint32 { return uint32(int32(math.Round(v * 1e7))) }

func fromE7(b []byte) float64 { return float64(int32(binary.LittleEndian.Uint32(b))) / 1e7 }

func (h pmHeader) marshal() []byte {
	b := make([]byte, pmHeaderLen)
	copy(b, "PMTiles")
	b[7] = 3
	le := binary.LittleEndian
	for i, v := range []uint64{h.rootOffset, h.rootLength, h.metadataOffset, h.metadataLength,
		h.leafOffset, h.leafLength, h.dataOffset, h.dataLength, h.addressed, h.entries, h.contents} {
		le.PutUint64(b[8+8*i:], v)
	}
	if h.clustered {
		b[96] = 1
	}
	b[97], b[98], b[99], b[100], b[101] = h.internalCompression, h.tileCompression, h.tileType, h.minZoom, h.maxZoom
	le.PutUint32(b[102:], e7(h.bounds[0]))
	le.PutUint32(b[106:], e7(h.bounds[1]))
	le.PutUint32(b[110:], e7(h.bounds[2]))
	le.PutUint32(b[114:], e7(h.bounds[3]))
	b[118] = h.centerZoom
	le.PutUint32(b[119:], e7(h.center[0]))
	le.PutUint32(b[123:], e7(h.center[1]))
	return b
}

func parsePMHeader(b []byte) (pmHeader, error) {
	var h pmHeader
	if len(b) < pmHeaderLen || string(b[:7]) != "PMTiles" {
		return h, errors.New("not a PMTiles archive (no PMTiles header)")
	}
	if b[7] != 3 {
		return h, fmt.Errorf("PMTiles spec version %d; only version 3 is read", b[7])
	}
	le := binary.LittleEndian
	v := make([]uint64, 11)
	for i := range v {
		v[i] = le.Uint64(b[8+8*i:])
	}
	h.rootOffset, h.rootLength, h.metadataOffset, h.metadataLength = v[0], v[1], v[2], v[3]
	h.leafOffset, h.leafLength, h.dataOffset, h.dataLength = v[4], v[5], v[6], v[7]
	h.addressed, h.entries, h.contents = v[8], v[9], v[10]
	h.clustered = b[96] == 1
	h.internalCompression, h.tileCompression, h.tileType, h.minZoom, h.maxZoom = b[97], b[98], b[99], b[100], b[101]
	h.bounds = [4]float64{fromE7(b[102:]), fromE7(b[106:]), fromE7(b[110:]), fromE7(b[114:])}
	h.centerZoom = b[118]
	h.center = [2]float64{fromE7(b[119:]), fromE7(b[123:])}
	return h, nil
}

// marshalDirectory serialises entries (sorted by id) and gzips them.
func marshalDirectory(entries []pmEntry) []byte {
	var raw []byte
	raw = binary.AppendUvarint(raw, uint64(len(entries)))
	last := uint64(0)
	for _, e := range entries {
		raw = binary.AppendUvarint(raw, e.id-last)
		last = e.id
	}
	for _, e := range entries {
		raw = binary.AppendUvarint(raw, uint64(e.runLength))
	}
	for _, e := range entries {
		raw = binary.AppendUvarint(raw, uint64(e.length))
	}
	for i, e := range entries {
		if i > 0 && e.offset == entries[i-1].offset+uint64(entries[i-1].length) {
			raw = binary.AppendUvarint(raw, 0)
		} else {
			raw = binary.AppendUvarint(raw, e.offset+1)
		}
	}
	return gzipBytes(raw, gzip.BestCompression)
}

// parseDirectory is the inverse of marshalDirectory.
func parseDirectory(gz []byte) ([]pmEntry, error) {
	raw, err := gunzip(gz)
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	return parseEntries(raw)
}

// parseEntries reads an uncompressed directory.
func parseEntries(raw []byte) ([]pmEntry, error) {
	r := bytes.NewReader(raw)
	n, err := binary.ReadUvarint(r)
	if err != nil || n > uint64(len(raw)) {
		return nil, errors.New("directory: bad entry count")
	}
	entries := make([]pmEntry, n)
	var id uint64
	read := func() uint64 {
		v, e := binary.ReadUvarint(r)
		if e != nil {
			err = e
		}
		return v
	}
	for i := range entries {
		id += read()
		entries[i].id = id
	}
	for i := range entries {
		entries[i].runLength = uint32(read())
	}
	for i := range entries {
		entries[i].length = uint32(read())
	}
	for i := range entries {
		v := read()
		if v == 0 && i > 0 {
			entries[i].offset = entries[i-1].offset + uint64(entries[i-1].length)
		} else {
			entries[i].offset = v - 1
		}
	}
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	return entries, nil
}

// buildDirectories returns the root directory and the leaf directories:
// all entries in the root when they fit, else leaves of growing size.
func buildDirectories(entries []pmEntry) (root, leaves []byte) {
	if len(entries) < 16384 {
		if root := marshalDirectory(entries); len(root) <= pmRootMax {
			return root, nil
		}
	}
	size := max(4096, float64(len(entries))/3500)
	for {
		var rootEntries []pmEntry
		leaves = leaves[:0]
		for i := 0; i < len(entries); i += int(size) {
			leaf := marshalDirectory(entries[i:min(len(entries), i+int(size))])
			rootEntries = append(rootEntries, pmEntry{id: entries[i].id, offset: uint64(len(leaves)), length: uint32(len(leaf))})
			leaves = append(leaves, leaf...)
		}
		if root = marshalDirectory(rootEntries); len(root) <= pmRootMax {
			return root, leaves
		}
		size *= 1.2
	}
}

// writePMTiles writes the set as a PMTiles archive to w.
func writePMTiles(w io.Writer, s *tileSet, meta *Metadata) error {
	ids := s.ids()
	var entries []pmEntry
	offsets := map[Hash]uint64{} // content → offset in the tile data
	var order []Hash             // contents in the order of their offsets
	var dataLen uint64
	var prevHash Hash
	for _, id := range ids {
		h := s.tiles[id]
		c := s.contents[h]
		if n := len(entries); n > 0 && h == prevHash && entries[n-1].id+uint64(entries[n-1].runLength) == id {
			entries[n-1].runLength++
			continue
		}
		off, seen := offsets[h]
		if !seen {
			off = dataLen
			offsets[h] = off
			order = append(order, h)
			dataLen += uint64(c.length)
		}
		entries = append(entries, pmEntry{id: id, offset: off, length: c.length, runLength: 1})
		prevHash = h
	}
	root, leaves := buildDirectories(entries)
	metaJSON, err := json.Marshal(meta.pmtilesJSON())
	if err != nil {
		return err
	}
	metaGz := gzipBytes(metaJSON, gzip.BestCompression)
	h := pmHeader{
		rootOffset: pmHeaderLen, rootLength: uint64(len(root)),
		addressed: uint64(len(ids)), entries: uint64(len(entries)), contents: uint64(len(order)),
		clustered: true, internalCompression: pmGzip, tileCompression: pmGzip, tileType: pmTypeMVT,
		minZoom: uint8(meta.MinZoom), maxZoom: uint8(meta.MaxZoom),
		bounds: meta.Bounds, centerZoom: uint8(meta.Center[2]), center: [2]float64{meta.Center[0], meta.Center[1]},
	}
	h.metadataOffset = h.rootOffset + h.rootLength
	h.metadataLength = uint64(len(metaGz))
	h.leafOffset = h.metadataOffset + h.metadataLength
	h.leafLength = uint64(len(leaves))
	h.dataOffset = h.leafOffset + h.leafLength
	h.dataLength = dataLen
	for _, b := range [][]byte{h.marshal(), root, metaGz, leaves} {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	for _, hash := range order {
		gz, err := s.content(hash)
		if err != nil {
			return err
		}
		if _, err := w.Write(gz); err != nil {
			return err
		}
	}
	return nil
}

// pmReader reads a PMTiles archive.
type pmReader struct {
	f      *os.File
	header pmHeader
	root   []pmEntry
	meta   *Metadata
}

func openPMTiles(path string) (*pmReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r := &pmReader{f: f}
	if err := r.init(); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

func (r *pmReader) init() error {
	b := make([]byte, pmHeaderLen)
	if _, err := r.f.ReadAt(b, 0); err != nil {
		return errors.New("not a PMTiles archive (shorter than its header)")
	}
	h, err := parsePMHeader(b)
	if err != nil {
		return err
	}
	if h.internalCompression != pmGzip || h.tileCompression != pmGzip || h.tileType != pmTypeMVT {
		return fmt.Errorf("PMTiles with internal compression %d, tile compression %d, tile type %d: only gzip and MVT are read",
			h.internalCompression, h.tileCompression, h.tileType)
	}
	r.header = h
	if r.root, err = r.directory(h.rootOffset, h.rootLength); err != nil {
		return err
	}
	mb, err := r.read(h.metadataOffset, h.metadataLength)
	if err != nil {
		return err
	}
	raw, err := gunzip(mb)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	r.meta, err = parsePMTilesMetadata(raw)
	if err != nil {
		return err
	}
	r.meta.MinZoom, r.meta.MaxZoom = int(h.minZoom), int(h.maxZoom)
	r.meta.Bounds = h.bounds
	r.meta.Center = [3]float64{h.center[0], h.center[1], float64(h.centerZoom)}
	return nil
}

func (r *pmReader) read(off, n uint64) ([]byte, error) {
	if n > 1<<30 {
		return nil, errors.New("section too large")
	}
	b := make([]byte, n)
	if _, err := r.f.ReadAt(b, int64(off)); err != nil {
		return nil, fmt.Errorf("reading %d bytes at %d: %w", n, off, err)
	}
	return b, nil
}

func (r *pmReader) directory(off, n uint64) ([]pmEntry, error) {
	b, err := r.read(off, n)
	if err != nil {
		return nil, err
	}
	return parseDirectory(b)
}

// Metadata returns the archive's metadata.
func (r *pmReader) Metadata() *Metadata { return r.meta }

// Tile returns the gzipped tile z/x/y, or nil when the archive lacks it.
func (r *pmReader) Tile(z, x, y int) ([]byte, error) {
	id := TileID(z, x, y)
	dir := r.root
	for depth := 0; depth < pmMaxDirDepth; depth++ {
		i := sort.Search(len(dir), func(i int) bool { return dir[i].id > id }) - 1
		if i < 0 {
			return nil, nil
		}
		e := dir[i]
		if e.runLength == 0 { // a leaf directory
			leaf, err := r.directory(r.header.leafOffset+e.offset, uint64(e.length))
			if err != nil {
				return nil, err
			}
			dir = leaf
			continue
		}
		if id-e.id >= uint64(e.runLength) {
			return nil, nil
		}
		return r.read(r.header.dataOffset+e.offset, uint64(e.length))
	}
	return nil, errors.New("PMTiles directories nested too deep")
}

// each calls fn with every tile's id and gzipped bytes, in id order.
func (r *pmReader) each(fn func(id uint64, gz []byte) error) error {
	var walk func(dir []pmEntry, depth int) error
	walk = func(dir []pmEntry, depth int) error {
		if depth >= pmMaxDirDepth {
			return errors.New("PMTiles directories nested too deep")
		}
		for _, e := range dir {
			if e.runLength == 0 {
				leaf, err := r.directory(r.header.leafOffset+e.offset, uint64(e.length))
				if err != nil {
					return err
				}
				if err := walk(leaf, depth+1); err != nil {
					return err
				}
				continue
			}
			gz, err := r.read(r.header.dataOffset+e.offset, uint64(e.length))
			if err != nil {
				return err
			}
			for k := uint64(0); k < uint64(e.runLength); k++ {
				if err := fn(e.id+k, gz); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(r.root, 0)
}

// Each calls fn with every tile's coordinates and gzipped bytes.
func (r *pmReader) Each(fn func(z, x, y int, gz []byte) error) error {
	return r.each(func(id uint64, gz []byte) error {
		z, x, y := TileZXY(id)
		return fn(z, x, y, gz)
	})
}

func (r *pmReader) Close() error { return r.f.Close() }

func gzipBytes(b []byte, level int) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, level)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(zr, 1<<30))
}
