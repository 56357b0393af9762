package stats

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
)

// The whole routing-graph build in Go (issue 14, "Scale"): the same graph
// lastmile.route_graph_rebuild (postgis/migrations/0080_route_noding.sql)
// builds with node tolerance 0, computed in memory instead of by a dozen
// sorts and joins of every point in SQL (870 s at 1.5 M edges, growing
// faster than linearly). The rules are the SQL function's, step for step:
//
//   - parts: ST_Dump(ST_Multi(geom)) of every road not cancelled, numbered
//     from 1;
//   - each point rounded to 1e-7° as round(x * 1e7) rounds a float8 (to
//     nearest, ties to even), consecutive repeats after rounding dropped
//     (the first of a run kept, at its exact coordinates);
//   - graph vertices: the parts' first and last points and every rounded
//     position occurring more than once among all parts' points;
//   - an edge per stretch of a part between consecutive graph vertices, its
//     geometry the kept points at their exact coordinates, its cost the sum
//     of the segments' geodesic lengths (Vincenty, stats/geodesic.go; what
//     ST_Length on geography sums, to well under 1 mm per edge);
//   - vertex coordinates written as kx / 1e7, as the SQL writes them, so
//     that the SQL incremental refresh finds them by value.
//
// With a node tolerance above 0 the SQL function builds the graph (its
// joins move points: not done here). Vertex ids follow the Z-order (Morton
// order) of their positions, so that neighbours on the map are near in the
// search's arrays; edge ids follow road, part and position along the part.

// errNotInGo means the whole build is left to SQL (a coordinate outside
// the range the packed vertex keys hold).
var errNotInGo = errors.New("routing graph: not buildable in Go")

// nodedGraph is the graph of a whole build, kept in memory for the pack
// and the villages' snaps that follow it.
type nodedGraph struct {
	// per part
	partRoad   []int64
	partNo     []int32
	partStatus []int32  // index into statuses
	partDate   [][]byte // completed_on in binary (4 bytes), nil when NULL
	statuses   []string
	// kept points of every part, part p's in [partStart[p], partStart[p+1])
	px, py    []float64
	partStart []int
	// per edge (id = index + 1)
	ePart     []int32
	eStart    []int // first point (index into px, py)
	eEnd      []int // last point, inclusive
	src, dst  []int32
	cost      []float64
	vertexKey []uint64 // per vertex id - 1: its rounded position (vertexKeyOf)
}

// vertexKeyOf packs a rounded position (units of 1e-7°) into one word.
func vertexKeyOf(kx, ky int32) uint64 { return uint64(uint32(kx))<<32 | uint64(uint32(ky)) }

func keyXY(k uint64) (int32, int32) { return int32(uint32(k >> 32)), int32(uint32(k)) }

// morton interleaves the bits of a position (signed, offset to unsigned).
func morton(kx, ky int32) uint64 {
	return spread(uint32(kx)^0x80000000)<<1 | spread(uint32(ky)^0x80000000)
}

func spread(v uint32) uint64 {
	x := uint64(v)
	x = (x | x<<16) & 0x0000FFFF0000FFFF
	x = (x | x<<8) & 0x00FF00FF00FF00FF
	x = (x | x<<4) & 0x0F0F0F0F0F0F0F0F
	x = (x | x<<2) & 0x3333333333333333
	x = (x | x<<1) & 0x5555555555555555
	return x
}

func unspread(x uint64) uint32 {
	x &= 0x5555555555555555
	x = (x | x>>1) & 0x3333333333333333
	x = (x | x>>2) & 0x0F0F0F0F0F0F0F0F
	x = (x | x>>4) & 0x00FF00FF00FF00FF
	x = (x | x>>8) & 0x0000FFFF0000FFFF
	x = (x | x>>16) & 0x00000000FFFFFFFF
	return uint32(x)
}

func unmorton(m uint64) (int32, int32) {
	return int32(unspread(m>>1) ^ 0x80000000), int32(unspread(m) ^ 0x80000000)
}

// roundE7 rounds a coordinate as round(x * 1e7) does on a float8 (rint: to
// nearest, ties to even); ok false beyond what a vertex key holds.
func roundE7(x float64) (int32, bool) {
	k := math.RoundToEven(x * 1e7)
	if !(k >= math.MinInt32 && k <= math.MaxInt32) {
		return 0, false
	}
	return int32(k), true
}

// pointTable is an open-addressing hash table from a vertex key to a count
// (during counting) and then to a vertex id (> 0) or -1 (not a vertex).
// val 0 marks an empty slot.
type pointTable struct {
	keys []uint64
	vals []int32
	mask uint64
}

func newPointTable(n int) *pointTable {
	size := 1
	for size < 2*n+16 {
		size <<= 1
	}
	return &pointTable{keys: make([]uint64, size), vals: make([]int32, size), mask: uint64(size - 1)}
}

func (t *pointTable) slot(k uint64) uint64 {
	h := k * 0x9E3779B97F4A7C15
	i := (h ^ h>>29) & t.mask
	for t.vals[i] != 0 && t.keys[i] != k {
		i = (i + 1) & t.mask
	}
	return i
}

const endMark = 1 << 30 // added to the count of a part's end point

// readRoads reads the parts of every road not cancelled, their points
// rounded and consecutive repeats dropped.
func readRoads(ctx context.Context, tx pgx.Tx) (*nodedGraph, []uint64, error) {
	rows, err := tx.Query(ctx, `SELECT r.id, r.geom, r.status, r.completed_on FROM lastmile.roads r
		WHERE r.status <> 'cancelled' ORDER BY r.id`, pgx.QueryResultFormats{pgx.BinaryFormatCode})
	if err != nil {
		return nil, nil, fmt.Errorf("reading the roads: %w", err)
	}
	defer rows.Close()
	g := &nodedGraph{partStart: []int{0}}
	statusIdx := map[string]int32{}
	var keys []uint64
	for rows.Next() {
		raw := rows.RawValues()
		if len(raw) != 4 || len(raw[0]) != 8 || raw[1] == nil || raw[2] == nil || (raw[3] != nil && len(raw[3]) != 4) {
			return nil, nil, fmt.Errorf("reading the roads: unexpected row encoding")
		}
		id := int64(binary.BigEndian.Uint64(raw[0]))
		si, ok := statusIdx[string(raw[2])]
		if !ok {
			si = int32(len(g.statuses))
			g.statuses = append(g.statuses, string(raw[2]))
			statusIdx[string(raw[2])] = si
		}
		var date []byte
		if raw[3] != nil {
			date = append([]byte(nil), raw[3]...)
		}
		part := int32(0)
		err := eachLine(raw[1], func(pt func(i int) (float64, float64), n int) error {
			part++
			lastKey, have := uint64(0), false
			for i := 0; i < n; i++ {
				x, y := pt(i)
				kx, okx := roundE7(x)
				ky, oky := roundE7(y)
				if !okx || !oky {
					return errNotInGo
				}
				k := vertexKeyOf(kx, ky)
				if have && k == lastKey {
					continue
				}
				lastKey, have = k, true
				g.px, g.py = append(g.px, x), append(g.py, y)
				keys = append(keys, k)
			}
			g.partRoad = append(g.partRoad, id)
			g.partNo = append(g.partNo, part)
			g.partStatus = append(g.partStatus, si)
			g.partDate = append(g.partDate, date)
			g.partStart = append(g.partStart, len(g.px))
			return nil
		})
		if err != nil {
			if errors.Is(err, errNotInGo) {
				return nil, nil, err
			}
			return nil, nil, fmt.Errorf("road %d: %w", id, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("reading the roads: %w", err)
	}
	return g, keys, nil
}

// eachLine calls fn for each line of an (E)WKB LineString or
// MultiLineString (as PostgreSQL sends a geometry in binary: EWKB), with
// an accessor of its points' x and y.
func eachLine(b []byte, fn func(pt func(i int) (float64, float64), n int) error) error {
	bad := fmt.Errorf("unreadable geometry (%d bytes)", len(b))
	header := func(b []byte) (order binary.ByteOrder, typ uint32, dims int, rest []byte, err error) {
		if len(b) < 5 {
			return nil, 0, 0, nil, bad
		}
		order = binary.ByteOrder(binary.LittleEndian)
		if b[0] == 0 {
			order = binary.BigEndian
		}
		t := order.Uint32(b[1:])
		rest = b[5:]
		dims = 2
		if t&0x80000000 != 0 {
			dims++
		}
		if t&0x40000000 != 0 {
			dims++
		}
		if t&0x20000000 != 0 { // SRID
			if len(rest) < 4 {
				return nil, 0, 0, nil, bad
			}
			rest = rest[4:]
		}
		t &= 0x0fffffff
		switch t / 1000 { // ISO WKB: 1000 Z, 2000 M, 3000 ZM
		case 1, 2:
			dims = 3
		case 3:
			dims = 4
		}
		return order, t % 1000, dims, rest, nil
	}
	line := func(order binary.ByteOrder, dims int, b []byte) ([]byte, error) {
		if len(b) < 4 {
			return nil, bad
		}
		n := int(order.Uint32(b))
		b = b[4:]
		if n < 0 || len(b) < n*dims*8 {
			return nil, bad
		}
		pts := b[:n*dims*8]
		if err := fn(func(i int) (float64, float64) {
			o := i * dims * 8
			return math.Float64frombits(order.Uint64(pts[o:])), math.Float64frombits(order.Uint64(pts[o+8:]))
		}, n); err != nil {
			return nil, err
		}
		return b[n*dims*8:], nil
	}
	order, typ, dims, rest, err := header(b)
	if err != nil {
		return err
	}
	switch typ {
	case 2:
		_, err = line(order, dims, rest)
		return err
	case 5:
		if len(rest) < 4 {
			return bad
		}
		n := int(order.Uint32(rest))
		rest = rest[4:]
		for i := 0; i < n; i++ {
			o, t, d, r, err := header(rest)
			if err != nil {
				return err
			}
			if t != 2 {
				return bad
			}
			if rest, err = line(o, d, r); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("a geometry of WKB type %d, not a line", typ)
}

// nodeRoads finds the graph vertices among the points and splits the parts
// into edges at them.
func nodeRoads(g *nodedGraph, keys []uint64) {
	t := newPointTable(len(keys))
	for _, k := range keys {
		i := t.slot(k)
		t.keys[i] = k
		if t.vals[i]&(endMark-1) < 2 {
			t.vals[i]++
		}
	}
	for p := 0; p+1 < len(g.partStart); p++ {
		a, b := g.partStart[p], g.partStart[p+1]
		if a == b {
			continue
		}
		for _, j := range [2]int{a, b - 1} {
			if i := t.slot(keys[j]); t.vals[i] < endMark {
				t.vals[i] += endMark
			}
		}
	}
	var nodes []uint64 // Morton codes of the vertices
	for i, v := range t.vals {
		if v >= endMark || v >= 2 {
			kx, ky := keyXY(t.keys[i])
			nodes = append(nodes, morton(kx, ky))
		}
	}
	slices.Sort(nodes)
	for i, m := range t.vals {
		if m != 0 {
			t.vals[i] = -1
		}
	}
	g.vertexKey = make([]uint64, len(nodes))
	for id, m := range nodes {
		kx, ky := unmorton(m)
		k := vertexKeyOf(kx, ky)
		g.vertexKey[id] = k
		t.vals[t.slot(k)] = int32(id + 1)
	}
	vertexOf := make([]int32, len(keys)) // per point: its vertex id, 0 when none
	for j, k := range keys {
		if v := t.vals[t.slot(k)]; v > 0 {
			vertexOf[j] = v
		}
	}
	t = nil
	for p := 0; p+1 < len(g.partStart); p++ {
		a, b := g.partStart[p], g.partStart[p+1]
		start := -1
		for j := a; j < b; j++ {
			if vertexOf[j] == 0 {
				continue
			}
			if start >= 0 {
				g.ePart = append(g.ePart, int32(p))
				g.eStart = append(g.eStart, start)
				g.eEnd = append(g.eEnd, j)
				g.src = append(g.src, vertexOf[start]-1)
				g.dst = append(g.dst, vertexOf[j]-1)
			}
			start = j
		}
	}
	// costs: geodesic lengths, on every core
	g.cost = make([]float64, len(g.ePart))
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for e := w; e < len(g.cost); e += workers {
				c := 0.0
				for j := g.eStart[e]; j < g.eEnd[e]; j++ {
					s, _ := geodesicInverse(g.px[j], g.py[j], g.px[j+1], g.py[j+1])
					c += s
				}
				g.cost[e] = c
			}
		}(w)
	}
	wg.Wait()
}

// rebuildGraphGo rebuilds the routing graph whole in tx when a whole
// build is due (forced, first build, or full_generation moved) and the node
// tolerance is 0, under route_graph_rebuild's lock, with
// route_graph_state updated as the SQL function does. It returns the graph
// built, nil when the SQL function is to do the work (an incremental
// refresh, a node tolerance, or coordinates a vertex key cannot hold).
func rebuildGraphGo(ctx context.Context, tx pgx.Tx, force bool) (*nodedGraph, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7283746)`); err != nil {
		return nil, err
	}
	var gen, built, full int64
	var tol float64
	if err := tx.QueryRow(ctx, `SELECT generation, built_generation, full_generation, node_tolerance_m FROM lastmile.route_graph_state`).
		Scan(&gen, &built, &full, &tol); err != nil {
		return nil, fmt.Errorf("routing graph state: %w", err)
	}
	if tol > 0 || !(force || (gen > built && (built == 0 || full > built))) {
		return nil, nil
	}
	tm := newStepTimer()
	sp, err := tx.Begin(ctx) // a savepoint: left to SQL, nothing was done
	if err != nil {
		return nil, err
	}
	g, keys, err := readRoads(ctx, sp)
	if errors.Is(err, errNotInGo) {
		return nil, sp.Rollback(ctx)
	}
	if err != nil {
		return nil, err
	}
	if err := sp.Commit(ctx); err != nil {
		return nil, err
	}
	tm.step("build: roads read")
	nodeRoads(g, keys)
	keys = nil
	tm.step("build: noded")
	if err := writeGraph(ctx, tx, g, tm); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `UPDATE lastmile.route_graph_state SET built_generation = $1, built_at = now(),
		edges = $2, vertices = $3, tolerance_joins = 0`, gen, len(g.cost), len(g.vertexKey)); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `ANALYZE lastmile.route_vertices; ANALYZE lastmile.route_edges`); err != nil {
		return nil, err
	}
	tm.step("build: analyzed")
	return g, nil
}

// writeGraph replaces route_vertices, route_edges and route_pack with g's
// (binary COPY), as a whole rebuild does.
func writeGraph(ctx context.Context, tx pgx.Tx, g *nodedGraph, tm *stepTimer) error {
	if _, err := tx.Exec(ctx, `DELETE FROM lastmile.route_changes;
		TRUNCATE lastmile.route_edges, lastmile.route_vertices RESTART IDENTITY`); err != nil {
		return err
	}
	// the pack is written below from memory: the insert trigger's marks
	// (a scan of every row copied) are not needed
	insertTrigger := true
	if sp, err := tx.Begin(ctx); err != nil {
		return err
	} else if _, err := sp.Exec(ctx, `ALTER TABLE lastmile.route_edges DISABLE TRIGGER route_edges_pack_insert`); err != nil {
		if err := sp.Rollback(ctx); err != nil { // not the table's owner: the trigger runs
			return err
		}
	} else if err := sp.Commit(ctx); err != nil {
		return err
	} else {
		insertTrigger = false
	}
	// the edges' secondary indexes are built after the COPY, not row by row
	// (two GiST indexes: 50 of 73 s of a cold answer at 750 000 edges were
	// their inserts); the TRUNCATE above holds the table exclusively until
	// commit anyway, so dropping them blocks no reader longer
	indexes, err := dropIndexes(ctx, tx, "lastmile.route_edges")
	if err != nil {
		return err
	}
	v := 0
	if err := copyRows(ctx, tx, `COPY lastmile.route_vertices (id, x, y) FROM STDIN (FORMAT binary)`, func(buf []byte) ([]byte, bool) {
		if v == len(g.vertexKey) {
			return buf, false
		}
		kx, ky := keyXY(g.vertexKey[v])
		v++
		buf = binary.BigEndian.AppendUint16(buf, 3)
		buf = appendInt8(buf, int64(v))
		buf = appendFloat8(buf, float64(kx)/1e7)
		buf = appendFloat8(buf, float64(ky)/1e7)
		return buf, true
	}); err != nil {
		return fmt.Errorf("writing the routing graph's vertices: %w", err)
	}
	tm.step("build: vertices written")
	e := 0
	if err := copyRows(ctx, tx, `COPY lastmile.route_edges (id, road_id, part, source, target, cost, status, completed_on, geom) FROM STDIN (FORMAT binary)`, func(buf []byte) ([]byte, bool) {
		if e == len(g.cost) {
			return buf, false
		}
		p := g.ePart[e]
		buf = binary.BigEndian.AppendUint16(buf, 9)
		buf = appendInt8(buf, int64(e+1))
		buf = appendInt8(buf, g.partRoad[p])
		buf = binary.BigEndian.AppendUint32(buf, 4)
		buf = binary.BigEndian.AppendUint32(buf, uint32(g.partNo[p]))
		buf = appendInt8(buf, int64(g.src[e])+1)
		buf = appendInt8(buf, int64(g.dst[e])+1)
		buf = appendFloat8(buf, g.cost[e])
		st := g.statuses[g.partStatus[p]]
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(st)))
		buf = append(buf, st...)
		if d := g.partDate[p]; d == nil {
			buf = binary.BigEndian.AppendUint32(buf, 0xffffffff)
		} else {
			buf = binary.BigEndian.AppendUint32(buf, 4)
			buf = append(buf, d...)
		}
		n := g.eEnd[e] - g.eStart[e] + 1
		buf = binary.BigEndian.AppendUint32(buf, uint32(13+16*n))
		// EWKB, little-endian LineString with SRID 4326
		buf = append(buf, 1)
		buf = binary.LittleEndian.AppendUint32(buf, 0x20000002)
		buf = binary.LittleEndian.AppendUint32(buf, 4326)
		buf = binary.LittleEndian.AppendUint32(buf, uint32(n))
		for j := g.eStart[e]; j <= g.eEnd[e]; j++ {
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(g.px[j]))
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(g.py[j]))
		}
		e++
		return buf, true
	}); err != nil {
		return fmt.Errorf("writing the routing graph's edges: %w", err)
	}
	tm.step("build: edges written")
	for _, def := range indexes {
		if _, err := tx.Exec(ctx, def); err != nil {
			return fmt.Errorf("indexing the routing graph's edges: %w", err)
		}
	}
	tm.step("build: edges indexed")
	if !insertTrigger {
		if _, err := tx.Exec(ctx, `ALTER TABLE lastmile.route_edges ENABLE TRIGGER route_edges_pack_insert`); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence('lastmile.route_vertices', 'id'), greatest($1::bigint, 1), $1::bigint > 0),
		setval(pg_get_serial_sequence('lastmile.route_edges', 'id'), greatest($2::bigint, 1), $2::bigint > 0)`, len(g.vertexKey), len(g.cost)); err != nil {
		return err
	}
	err = writePack(ctx, tx, g)
	tm.step("build: packed")
	return err
}

// dropIndexes drops table's indexes that back no constraint and returns
// their definitions; none when the role may not drop them (not the table's
// owner): they are then filled row by row.
func dropIndexes(ctx context.Context, tx pgx.Tx, table string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
		WHERE i.indrelid = $1::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
		ORDER BY 1`, table)
	if err != nil {
		return nil, err
	}
	var names, defs []string
	var name, def string
	if _, err := pgx.ForEachRow(rows, []any{&name, &def}, func() error {
		names, defs = append(names, name), append(defs, def)
		return nil
	}); err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, nil
	}
	sp, err := tx.Begin(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := sp.Exec(ctx, `DROP INDEX `+strings.Join(names, ", ")); err != nil {
		return nil, sp.Rollback(ctx)
	}
	return defs, sp.Commit(ctx)
}

// writePack writes route_pack from g (the records route_pack_sync makes)
// and clears route_pack_dirty.
func writePack(ctx context.Context, tx pgx.Tx, g *nodedGraph) error {
	if _, err := tx.Exec(ctx, `TRUNCATE lastmile.route_pack, lastmile.route_pack_dirty`); err != nil {
		return err
	}
	next := 1 // the next edge id
	if err := copyRows(ctx, tx, `COPY lastmile.route_pack (chunk, data) FROM STDIN (FORMAT binary)`, func(buf []byte) ([]byte, bool) {
		if next > len(g.cost) {
			return buf, false
		}
		chunk := next >> packChunkBits
		last := min((chunk+1)<<packChunkBits-1, len(g.cost))
		buf = binary.BigEndian.AppendUint16(buf, 2)
		buf = binary.BigEndian.AppendUint32(buf, 4)
		buf = binary.BigEndian.AppendUint32(buf, uint32(chunk))
		buf = binary.BigEndian.AppendUint32(buf, uint32((last-next+1)*packRecordSize))
		for id := next; id <= last; id++ {
			e := id - 1
			p := g.ePart[e]
			day := int32(dayNever)
			if g.statuses[g.partStatus[p]] == "completed" {
				day = dayUndated
				if d := g.partDate[p]; d != nil {
					day = int32(binary.BigEndian.Uint32(d))
				}
			}
			buf = binary.BigEndian.AppendUint64(buf, uint64(id))
			buf = binary.BigEndian.AppendUint32(buf, uint32(g.src[e]+1))
			buf = binary.BigEndian.AppendUint32(buf, uint32(g.dst[e]+1))
			buf = binary.BigEndian.AppendUint64(buf, uint64(g.partRoad[p]))
			buf = binary.BigEndian.AppendUint32(buf, uint32(day))
			buf = binary.BigEndian.AppendUint64(buf, math.Float64bits(g.cost[e]))
		}
		next = last + 1
		return buf, true
	}); err != nil {
		return fmt.Errorf("packing the routing graph: %w", err)
	}
	return nil
}

func appendInt8(buf []byte, v int64) []byte {
	buf = binary.BigEndian.AppendUint32(buf, 8)
	return binary.BigEndian.AppendUint64(buf, uint64(v))
}

func appendFloat8(buf []byte, v float64) []byte {
	buf = binary.BigEndian.AppendUint32(buf, 8)
	return binary.BigEndian.AppendUint64(buf, math.Float64bits(v))
}

// copyRows runs a binary COPY FROM STDIN whose rows row appends (field
// count, then each field's length and bytes), until it returns false.
func copyRows(ctx context.Context, tx pgx.Tx, sql string, row func([]byte) ([]byte, bool)) error {
	r := &rowReader{row: row, buf: append([]byte(nil), "PGCOPY\n\377\r\n\000\000\000\000\000\000\000\000\000"...)}
	_, err := tx.Conn().PgConn().CopyFrom(ctx, r, sql)
	return err
}

type rowReader struct {
	row  func([]byte) ([]byte, bool)
	buf  []byte
	pos  int
	done bool
}

func (r *rowReader) Read(p []byte) (int, error) {
	for r.pos == len(r.buf) {
		if r.done {
			return 0, io.EOF
		}
		r.buf, r.pos = r.buf[:0], 0
		for len(r.buf) < 1<<16 {
			var more bool
			if r.buf, more = r.row(r.buf); !more {
				r.buf = binary.BigEndian.AppendUint16(r.buf, 0xffff)
				r.done = true
				break
			}
		}
	}
	n := copy(p, r.buf[r.pos:])
	r.pos += n
	return n, nil
}
