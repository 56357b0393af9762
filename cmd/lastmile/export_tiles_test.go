package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lastmile/lastmile/archive"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

func TestExportTilesCommand(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	pool, err := postgis.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for _, sql := range []string{
		`INSERT INTO lastmile.admin_areas (level, code, name, geom) VALUES ('county', '130101000000', 'Test county', ST_Multi(ST_MakeEnvelope(110, 30, 110.2, 30.1, 4326)))`,
		`INSERT INTO lastmile.roads (surface, status, geom) VALUES ('cement', 'completed', ST_GeomFromText('LINESTRING(110.01 30.01, 110.15 30.08)', 4326)),
			('earth', 'planned', ST_GeomFromText('LINESTRING(110.02 30.05, 110.03 30.06)', 4326))`,
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "county.pmtiles")
	base := []string{"export", "tiles", "--database-url", url, "--quiet"}
	bad := []struct {
		name string
		args []string
		want string
	}{
		{"bbox with three numbers", []string{"--bbox", "110,30,111", "--out", out}, "invalid --bbox: bbox: must be four numbers"},
		{"bbox upside down", []string{"--bbox", "110,31,111,30", "--out", out}, "south must be less than north"},
		{"bbox longitude", []string{"--bbox", "190,30,191,31", "--out", out}, "must be a longitude from -180 to 180"},
		{"unknown admin code", []string{"--admin-code", "999999999999", "--out", out}, "no admin area with code 999999999999"},
		{"malformed admin code", []string{"--admin-code", "13", "--out", out}, "must be a 12-digit admin area code"},
		{"both areas", []string{"--admin-code", "130101000000", "--bbox", "110,30,111,31", "--out", out}, "not both"},
		{"no output", []string{"--admin-code", "130101000000"}, "--out FILE.pmtiles|FILE.mbtiles is required"},
		{"bad extension", []string{"--admin-code", "130101000000", "--out", filepath.Join(dir, "x.zip")}, "must end in .pmtiles or .mbtiles"},
		{"zoom range", []string{"--admin-code", "130101000000", "--minzoom", "12", "--maxzoom", "8", "--out", out}, "must not exceed --maxzoom 8"},
		{"zoom too deep", []string{"--admin-code", "130101000000", "--maxzoom", "30", "--out", out}, "must be from 0 to 22"},
		{"unknown layer", []string{"--admin-code", "130101000000", "--layers", "roads,rivers", "--out", out}, `no tile layer "rivers"`},
		{"bad filter", []string{"--admin-code", "130101000000", "--layers", "roads", "surface=marble", "--out", out}, "invalid tile filter"},
		{"not a filter", []string{"--admin-code", "130101000000", "surface", "--out", out}, "want filter=value"},
		{"update of nothing", []string{"--update", filepath.Join(dir, "none.pmtiles")}, "cannot update"},
		{"bad since", []string{"--update", out, "--since", "yesterday"}, "want an RFC 3339 time"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			err := run(ctx, append(append([]string{}, base...), tc.args...), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is more than one line: %q", err)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s was written", out)
			}
		})
	}

	var buf bytes.Buffer
	args := append(append([]string{}, base...), "--admin-code", "130101000000", "--layers", "roads", "--minzoom", "8", "--maxzoom", "12", "status=completed", "--out", out)
	if err := run(ctx, args, &buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "wrote "+out+": ") {
		t.Errorf("output: %s", buf.String())
	}
	r, err := archive.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	m := r.Metadata()
	r.Close()
	if m.Source.Layers != "roads" || m.Source.Filters != "status=completed" || m.Source.AdminCode != "130101000000" || m.MinZoom != 8 || m.MaxZoom != 12 {
		t.Errorf("metadata: %+v", m)
	}
	if _, err := pool.Exec(ctx, `UPDATE lastmile.roads SET surface = 'asphalt' WHERE surface = 'cement'`); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := run(ctx, append(append([]string{}, base...), "--update", out), &buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "2 edited geometries since the archive was made") {
		t.Errorf("update output: %s", buf.String())
	}
	for _, args := range [][]string{{"--update", out, "--bbox", "1,2,3,4"}, {"--update", out, "--out", out}} {
		if err := run(ctx, append(append([]string{}, base...), args...), &bytes.Buffer{}); err == nil {
			t.Errorf("%v: no error", args)
		}
	}

	// lastmile serve --tiles-archive FILE serves it read-only, without a
	// database: its tiles at the tile URLs, the file at /archive.pmtiles
	// with Range support (what the map page's ?pmtiles= reads).
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(sctx, []string{"serve", "--tiles-archive", out, "--addr", "127.0.0.1:0"}, pw)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("serve --tiles-archive: %v", err)
	}
	go io.Copy(io.Discard, pr)
	srv := strings.TrimSpace(line[strings.Index(line, "http://"):])
	req, _ := http.NewRequest(http.MethodGet, srv+"/archive.pmtiles", nil)
	req.Header.Set("Range", "bytes=0-6")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	magic, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusPartialContent || string(magic) != "PMTiles" {
		t.Errorf("GET /archive.pmtiles bytes 0-6: %d %q, want 206 \"PMTiles\"", res.StatusCode, magic)
	}
	res, err = http.Get(srv + "/tiles/roads.json?status=completed")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET /tiles/roads.json from the archive: %d", res.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve --tiles-archive: %v", err)
	}
}
