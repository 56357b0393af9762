package archive

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go

	"github.com/lastmile/lastmile/tiles"
)

// MBTiles 1.3 (https://github.com/mapbox/mbtiles-spec): SQLite with the
// deduplicating map/images schema and a view named tiles, gzipped MVT
// (format pbf), TMS rows (y counted from the south), and the vector layers
// in the metadata's json row.

const mbtilesSchema = `
CREATE TABLE metadata (name TEXT NOT NULL, value TEXT);
CREATE UNIQUE INDEX metadata_name ON metadata (name);
CREATE TABLE map (zoom_level INTEGER NOT NULL, tile_column INTEGER NOT NULL, tile_row INTEGER NOT NULL, tile_id TEXT NOT NULL);
CREATE TABLE images (tile_id TEXT NOT NULL, tile_data BLOB NOT NULL);
CREATE VIEW tiles AS
    SELECT map.zoom_level AS zoom_level, map.tile_column AS tile_column, map.tile_row AS tile_row, images.tile_data AS tile_data
    FROM map JOIN images ON images.tile_id = map.tile_id;
`

// Indexes are built after the rows are in (faster than maintaining them).
const mbtilesIndexes = `
CREATE UNIQUE INDEX map_index ON map (zoom_level, tile_column, tile_row);
CREATE UNIQUE INDEX images_id ON images (tile_id);
`

func openSQLite(path string, readOnly bool) (*sql.DB, error) {
	dsn := "file:" + path + "?_pragma=busy_timeout(5000)"
	if readOnly {
		dsn += "&mode=ro"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// writeMBTiles writes the set as a new MBTiles file at path (replaced if
// present), in one transaction.
func writeMBTiles(path string, s *tileSet, meta *Metadata) (err error) {
	os.Remove(path)
	db, err := openSQLite(path, false)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := db.Close(); err == nil {
			err = cerr
		}
	}()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA page_size = 4096"); err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, mbtilesSchema); err != nil {
		return fmt.Errorf("mbtiles schema: %w", err)
	}
	rows, err := meta.mbtilesRows()
	if err != nil {
		return err
	}
	for _, kv := range rows {
		if _, err := tx.ExecContext(ctx, "INSERT INTO metadata (name, value) VALUES (?, ?)", kv[0], kv[1]); err != nil {
			return err
		}
	}
	insImage, err := tx.PrepareContext(ctx, "INSERT INTO images (tile_id, tile_data) VALUES (?, ?)")
	if err != nil {
		return err
	}
	insMap, err := tx.PrepareContext(ctx, "INSERT INTO map (zoom_level, tile_column, tile_row, tile_id) VALUES (?, ?, ?, ?)")
	if err != nil {
		return err
	}
	written := map[Hash]bool{}
	for _, id := range s.ids() {
		h := s.tiles[id]
		key := hex.EncodeToString(h[:16])
		if !written[h] {
			gz, err := s.content(h)
			if err != nil {
				return err
			}
			if _, err := insImage.ExecContext(ctx, key, gz); err != nil {
				return err
			}
			written[h] = true
		}
		z, x, y := TileZXY(id)
		if _, err := insMap.ExecContext(ctx, z, x, (1<<z)-1-y, key); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, mbtilesIndexes); err != nil {
		return err
	}
	return tx.Commit()
}

// mbtilesRows are the metadata table's rows.
func (m *Metadata) mbtilesRows() ([][2]string, error) {
	layersJSON, err := json.Marshal(map[string]any{"vector_layers": m.VectorLayers})
	if err != nil {
		return nil, err
	}
	source, err := json.Marshal(m.Source)
	if err != nil {
		return nil, err
	}
	style, err := json.Marshal(m.Style)
	if err != nil {
		return nil, err
	}
	return [][2]string{
		{"lastmile_style", string(style)},
		{"name", m.Name}, {"description", m.Description}, {"attribution", m.Attribution},
		{"version", m.Version}, {"type", "overlay"}, {"format", "pbf"}, {"scheme", "tms"},
		{"minzoom", strconv.Itoa(m.MinZoom)}, {"maxzoom", strconv.Itoa(m.MaxZoom)},
		{"bounds", m.boundsText()}, {"center", m.centerText()},
		{"json", string(layersJSON)}, {"lastmile", string(source)},
	}, nil
}

// mbReader reads an MBTiles file.
type mbReader struct {
	db   *sql.DB
	meta *Metadata
}

func openMBTiles(path string) (*mbReader, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	db, err := openSQLite(path, true)
	if err != nil {
		return nil, err
	}
	r := &mbReader{db: db}
	if err := r.init(); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

func (r *mbReader) init() error {
	rows, err := r.db.Query("SELECT name, value FROM metadata")
	if err != nil {
		return fmt.Errorf("not an MBTiles file: %w", err)
	}
	defer rows.Close()
	kv := map[string]string{}
	for rows.Next() {
		var k string
		var v sql.NullString
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		kv[k] = v.String
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if kv["format"] != "pbf" {
		return fmt.Errorf("MBTiles format %q: only vector tiles (pbf) are read", kv["format"])
	}
	m := &Metadata{Name: kv["name"], Description: kv["description"], Attribution: kv["attribution"], Version: kv["version"]}
	m.MinZoom, _ = strconv.Atoi(kv["minzoom"])
	m.MaxZoom, _ = strconv.Atoi(kv["maxzoom"])
	parseFloats(kv["bounds"], m.Bounds[:])
	parseFloats(kv["center"], m.Center[:])
	var layers struct {
		VectorLayers []tiles.VectorLayer `json:"vector_layers"`
	}
	if s := kv["json"]; s != "" {
		if err := json.Unmarshal([]byte(s), &layers); err != nil {
			return fmt.Errorf("metadata json: %w", err)
		}
	}
	m.VectorLayers = layers.VectorLayers
	if s := kv["lastmile"]; s != "" {
		if err := json.Unmarshal([]byte(s), &m.Source); err != nil {
			return fmt.Errorf("metadata lastmile: %w", err)
		}
	}
	if s := kv["lastmile_style"]; s != "" && s != "null" {
		if err := json.Unmarshal([]byte(s), &m.Style); err != nil {
			return fmt.Errorf("metadata lastmile_style: %w", err)
		}
	}
	r.meta = m
	return nil
}

func parseFloats(s string, out []float64) {
	for i, part := range strings.Split(s, ",") {
		if i < len(out) {
			out[i], _ = strconv.ParseFloat(strings.TrimSpace(part), 64)
		}
	}
}

func (r *mbReader) Metadata() *Metadata { return r.meta }

func (r *mbReader) Tile(z, x, y int) ([]byte, error) {
	var b []byte
	err := r.db.QueryRow("SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
		z, x, (1<<z)-1-y).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return b, err
}

func (r *mbReader) Each(fn func(z, x, y int, gz []byte) error) error {
	rows, err := r.db.Query("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var z, x, row int
		var b []byte
		if err := rows.Scan(&z, &x, &row, &b); err != nil {
			return err
		}
		if err := fn(z, x, (1<<z)-1-row, b); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (r *mbReader) Close() error { return r.db.Close() }
