package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"testing"

	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/server"
)

// volatile matches the parts of a response that differ between runs: the
// test server's address, the page's timeStamp and the rows' updated_at.
var volatile = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+`), "http://HOST"},
	{regexp.MustCompile(`"timeStamp":"[^"]+"`), `"timeStamp":"TIME"`},
	{regexp.MustCompile(`"updated_at" ?: ?"[^"]+"`), `"updated_at":"TIME"`},
}

func stable(b []byte) []byte {
	s := string(b)
	for _, v := range volatile {
		s = v.re.ReplaceAllString(s, v.with)
	}
	return []byte(s)
}

// TestOGCResponseBytes pins the exact bytes of the feature responses (a
// page of items, one item, a collection, a write's answer): the rendering
// of a feature is PostGIS's, and these goldens show any change to it.
func TestOGCResponseBytes(t *testing.T) {
	e := newOGC(t, server.Options{})
	ctx := postgis.WithActor(context.Background(), postgis.Actor{Name: "seed"})
	for i, p := range []map[string]any{
		{"name": "X012 王家庄路", "status": "completed", "surface": "cement", "road_class": "village", "tech_grade": "class4",
			"completed_on": "2015-06-30", "started_on": "2014-03-01", "funding_yuan": 1200000.5, "width_m": 4.5,
			"admin_code": "520100000001", "ext_id": "r-1", "props": map[string]any{"contractor": "Vaduz Bau", "lanes": 2}},
		{"name": "road 2", "status": "planned", "surface": "gravel", "road_class": "group"},
		{"name": "road 3", "status": "completed", "surface": "asphalt", "road_class": "county", "completed_on": "2016-01-02"},
	} {
		line := orb.LineString{{9.5 + 0.01*float64(i), 47.1}, {9.5123456789 + 0.01*float64(i), 47.1123456789}}
		if _, err := e.store.Create(ctx, "roads", p, line); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.store.Create(ctx, "villages", map[string]any{"name": "Triesen", "code": "520100000002", "population": 5000,
		"is_poor_village": false}, orb.Point{9.53, 47.1}); err != nil {
		t.Fatal(err)
	}
	tok := e.token(t, "Road bureau", "write:roads")
	auth := []string{"Authorization", "Bearer " + tok}
	for _, tt := range []struct {
		name, method, path, body string
		headers                  []string
		status                   int
	}{
		{"items_page.json", "GET", "/ogc/collections/roads/items?limit=2&offset=1&bbox=9,47,10,48", "", nil, 200},
		{"items_filtered.json", "GET", "/ogc/collections/roads/items?surface=cement&datetime=2015-01-01/..", "", nil, 200},
		{"items_empty.json", "GET", "/ogc/collections/roads/items?surface=earth", "", nil, 200},
		{"items_villages.json", "GET", "/ogc/collections/villages/items", "", nil, 200},
		{"item.json", "GET", "/ogc/collections/roads/items/1", "", nil, 200},
		{"collection.json", "GET", "/ogc/collections/roads", "", nil, 200},
		{"collection_empty.json", "GET", "/ogc/collections/facilities", "", nil, 200},
		{"create.json", "POST", "/ogc/collections/roads/items", `{"type":"Feature","geometry":{"type":"LineString","coordinates":[[9.6,47.2],[9.6123456789012,47.2123456789012]]},
			"properties":{"name":"new road","status":"planned","funding_yuan":300000,"props":{"k":"v"}}}`, auth, 201},
		{"patch.json", "PATCH", "/ogc/collections/roads/items/2", `{"properties":{"surface":"cement","width_m":3.25}}`,
			append([]string{"If-Match", `"1"`}, auth...), 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := e.do(t, tt.method, tt.path, tt.body, tt.headers...)
			if status != tt.status {
				t.Fatalf("%s %s: %d, want %d: %s", tt.method, tt.path, status, tt.status, body)
			}
			server.Golden(t, "bytes/"+tt.name, stable(body))
			if tt.method != "GET" {
				// A write answers with the bytes a GET of the feature returns.
				var id struct{ ID int64 }
				json.Unmarshal(body, &id)
				_, _, got := e.do(t, "GET", fmt.Sprintf("/ogc/collections/roads/items/%d", id.ID), "")
				if string(got) != string(body) {
					t.Errorf("GET after %s:\n%s\nwrite answered:\n%s", tt.method, got, body)
				}
			}
		})
	}
}
