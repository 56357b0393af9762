package ingest

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/lastmile/lastmile/auth"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

func TestHandler(t *testing.T) {
	pool := pgtest.New(t)
	catalog := layer.Default()
	h := NewHandler(pool, catalog, postgis.NewStore(pool, catalog), nil)
	r := mux.NewRouter()
	h.Register(r)
	// a stand-in for the server's auth middleware
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch req.Header.Get("Authorization") {
		case "Bearer roads":
			req = req.WithContext(auth.With(req.Context(), &auth.Principal{Name: "bureau", Scopes: []string{"write:roads"}}))
		case "Bearer read":
			req = req.WithContext(auth.With(req.Context(), &auth.Principal{Name: "reader", Scopes: []string{"read"}}))
		}
		r.ServeHTTP(w, req)
	}))
	defer srv.Close()
	file := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(fixtures, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var multi bytes.Buffer
	mw := multipart.NewWriter(&multi)
	fw, _ := mw.CreateFormFile("file", "roads_wkt.csv")
	fw.Write(file("roads_wkt.csv"))
	fw, _ = mw.CreateFormFile("file2", "roads.kml")
	fw.Write(file("roads.kml"))
	mw.Close()

	tests := []struct {
		name        string
		path        string
		token       string
		contentType string
		body        []byte
		status      int
		want        string // in the response body
	}{
		{"no token", "/api/import/roads", "", "application/geo+json", file("roads.geojson"), 401, `"unauthorized"`},
		{"wrong scope", "/api/import/roads", "read", "application/geo+json", file("roads.geojson"), 403, `lacks scope \"write:roads\"`},
		{"unknown layer", "/api/import/bridges", "roads", "application/geo+json", file("roads.geojson"), 404, `no layer`},
		{"GeoJSON body", "/api/import/roads?filename=roads.geojson", "roads", "application/geo+json", file("roads.geojson"), 200, `"inserted":3`},
		{"again: unchanged", "/api/import/roads?filename=roads.geojson", "roads", "application/geo+json", file("roads.geojson"), 200, `"unchanged":3`},
		{"GeoJSONSeq sniffed", "/api/import/roads", "roads", "", file("roads.geojsonl"), 200, `"inserted":2`},
		{"multipart CSV and KML", "/api/import/roads", "roads", mw.FormDataContentType(), multi.Bytes(), 200, `"source":"roads.kml"`},
		{"OSM PBF, roads only", "/api/import/roads?format=osm&filename=li.osm.pbf", "roads", "application/octet-stream", osmBody(t), 200, `"inserted":2181`},
		{"invalid rows", "/api/import/roads", "roads", "application/geo+json", file("roads_bad.geojson"), 400, `"row":2,"field":"surface"`},
		{"truncated", "/api/import/roads", "roads", "application/geo+json", file("roads_truncated.geojson"), 400, `truncated`},
		{"bad flag", "/api/import/roads?dry_run=maybe", "roads", "application/geo+json", file("roads.geojson"), 400, `"field":"dry_run"`},
		{"bad crs", "/api/import/roads?crs=mars", "roads", "application/geo+json", file("roads.geojson"), 400, `"field":"crs"`},
		{"bad map", "/api/import/roads?map=colour=颜色", "roads", "application/geo+json", file("roads.geojson"), 400, `not a writable field`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", srv.URL+tt.path, bytes.NewReader(tt.body))
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var buf bytes.Buffer
			buf.ReadFrom(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(buf.String(), tt.want) {
				t.Fatalf("status %d body %s, want %d with %s", resp.StatusCode, buf.String(), tt.status, tt.want)
			}
			if !json.Valid(buf.Bytes()) {
				t.Fatalf("body is not JSON: %s", buf.String())
			}
		})
	}
	if n := queryInt(t, pool, `SELECT count(*) FROM feature_history WHERE actor = 'bureau' AND source = 'roads.geojson'`); n != 3 {
		t.Fatalf("history rows by bureau from roads.geojson = %d, want 3", n)
	}
}

func osmBody(t *testing.T) []byte {
	b, err := os.ReadFile(osmExtract)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
