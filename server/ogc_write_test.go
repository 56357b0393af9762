package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lastmile/lastmile/server"
)

func TestOGCWriteLifecycleAndHistory(t *testing.T) {
	e := newOGC(t, server.Options{})
	tok := e.token(t, "Water bureau", "write:water_pipelines", "write:facilities")
	auth := []string{"Authorization", "Bearer " + tok}
	items := "/ogc/collections/water_pipelines/items"

	// Create.
	status, h, body := e.do(t, "POST", items, `{"type":"Feature","geometry":{"type":"LineString","coordinates":[[9.5,47.1],[9.51,47.11]]},
		"properties":{"name":"main A","status":"planned","diameter_mm":110,"props":{"contractor":"Vaduz Bau"}}}`, auth...)
	if status != 201 || h.Get("ETag") != `"1"` {
		t.Fatalf("POST: %d ETag %q: %s", status, h.Get("ETag"), body)
	}
	var created struct {
		ID         int64
		Properties map[string]any
	}
	json.Unmarshal(body, &created)
	item := fmt.Sprintf("%s/%d", items, created.ID)
	if h.Get("Location") != e.url+item {
		t.Errorf("Location %q, want %q", h.Get("Location"), e.url+item)
	}
	if created.Properties["updated_by"] != "Water bureau" || created.Properties["diameter_mm"] != 110.0 {
		t.Errorf("created properties %v", created.Properties)
	}

	// Patch a property: version 2; a stale second patch is refused.
	status, h, body = e.do(t, "PATCH", item, `{"type":"Feature","properties":{"status":"completed","completed_on":"2016-09-30"}}`,
		append([]string{"If-Match", `"1"`, "Content-Type", "application/merge-patch+json"}, auth...)...)
	if status != 200 || h.Get("ETag") != `"2"` {
		t.Fatalf("PATCH: %d ETag %q: %s", status, h.Get("ETag"), body)
	}
	if status, _, body := e.do(t, "PATCH", item, `{"type":"Feature","properties":{"name":"lost"}}`, append([]string{"If-Match", `"1"`}, auth...)...); status != 412 {
		t.Fatalf("stale PATCH: %d %s", status, body)
	}

	// Patch the geometry only.
	status, h, body = e.do(t, "PATCH", item, `{"type":"Feature","geometry":{"type":"LineString","coordinates":[[9.5,47.1],[9.52,47.12]]}}`,
		append([]string{"If-Match", `"2"`}, auth...)...)
	if status != 200 || h.Get("ETag") != `"3"` {
		t.Fatalf("PATCH geometry: %d ETag %q: %s", status, h.Get("ETag"), body)
	}

	// Replace: fields absent from the body go back to their defaults.
	status, h, body = e.do(t, "PUT", item, `{"type":"Feature","geometry":{"type":"LineString","coordinates":[[9.5,47.1],[9.52,47.12]]},
		"properties":{"name":"main A","status":"completed"}}`, append([]string{"If-Match", `"3"`}, auth...)...)
	if status != 200 || h.Get("ETag") != `"4"` {
		t.Fatalf("PUT: %d ETag %q: %s", status, h.Get("ETag"), body)
	}
	var replaced struct{ Properties map[string]any }
	json.Unmarshal(body, &replaced)
	if replaced.Properties["diameter_mm"] != nil || replaced.Properties["completed_on"] != nil {
		t.Errorf("PUT kept fields it should have reset: %v", replaced.Properties)
	}

	// GET agrees with the write's ETag.
	if status, h, _ := e.do(t, "GET", item, ""); status != 200 || h.Get("ETag") != `"4"` {
		t.Errorf("GET after PUT: %d ETag %q", status, h.Get("ETag"))
	}

	// Delete, then the feature is gone but its history stays.
	if status, _, body := e.do(t, "DELETE", item, "", append([]string{"If-Match", `"4"`}, auth...)...); status != 204 {
		t.Fatalf("DELETE: %d %s", status, body)
	}
	if status, _, _ := e.do(t, "GET", item, ""); status != 404 {
		t.Errorf("GET after DELETE: %d", status)
	}
	var hist struct {
		Layer    string
		ID       int64
		Versions []struct {
			Op        string
			Version   int
			Actor     string
			RequestID string `json:"request_id"`
			Changed   []string
			Before    json.RawMessage `json:"geometry_before"`
			After     json.RawMessage `json:"geometry_after"`
		}
	}
	e.getJSON(t, item+"/history", &hist)
	var ops []string
	for _, v := range hist.Versions {
		ops = append(ops, fmt.Sprintf("%s v%d by %s: %s", v.Op, v.Version, v.Actor, strings.Join(v.Changed, ",")))
		if v.RequestID == "" {
			t.Errorf("version %d has no request id", v.Version)
		}
	}
	want := []string{
		"insert v1 by Water bureau: diameter_mm,name,props,status,geometry",
		"update v2 by Water bureau: completed_on,status",
		"update v3 by Water bureau: geometry",
		"update v4 by Water bureau: completed_on,diameter_mm,props",
		"delete v4 by Water bureau: name,props,status,geometry",
	}
	if !slices.Equal(ops, want) {
		t.Errorf("history\n got %q\nwant %q", ops, want)
	}
	if v := hist.Versions[2]; string(v.Before) != `{"type":"LineString","coordinates":[[9.5,47.1],[9.51,47.11]]}` ||
		string(v.After) != `{"type":"LineString","coordinates":[[9.5,47.1],[9.52,47.12]]}` {
		t.Errorf("geometry change: before %s after %s", v.Before, v.After)
	}

	// A revoked token no longer writes.
	if _, err := e.tokens.Revoke(t.Context(), "1"); err != nil {
		t.Fatal(err)
	}
	if status, _, body := e.do(t, "POST", "/ogc/collections/facilities/items", `{}`, auth...); status != 401 {
		t.Errorf("revoked token: %d %s", status, body)
	}
}

// TestOGCConcurrentWriters: in each of several rounds, writers race on the
// current version — exactly one wins per version, the others get 412; the
// history has one row per accepted version and no update is lost.
func TestOGCConcurrentWriters(t *testing.T) {
	e := newOGC(t, server.Options{})
	ids := seedRoads(t, e)
	tok := e.token(t, "Road bureau", "write:roads")
	item := fmt.Sprintf("/ogc/collections/roads/items/%d", ids[0])
	const writers, rounds = 8, 5
	lastWinner := 0
	for round := 1; round <= rounds; round++ {
		statuses := make([]int, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				width := round*10 + i
				req, _ := http.NewRequest("PATCH", e.url+item, strings.NewReader(fmt.Sprintf(`{"type":"Feature","properties":{"width_m":%d}}`, width)))
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("If-Match", fmt.Sprintf(`"%d"`, round))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				statuses[i] = resp.StatusCode
			}()
		}
		wg.Wait()
		var ok, stale int
		for i, s := range statuses {
			switch s {
			case 200:
				ok++
				lastWinner = round*10 + i
			case 412:
				stale++
			}
		}
		if ok != 1 || stale != writers-1 {
			t.Fatalf("round %d: statuses %v: want one 200 and %d 412", round, statuses, writers-1)
		}
	}
	var version, history int
	var width float64
	e.pool.QueryRow(t.Context(), `SELECT version, width_m FROM lastmile.roads WHERE id = $1`, ids[0]).Scan(&version, &width)
	e.pool.QueryRow(t.Context(), `SELECT count(*) FROM lastmile.feature_history WHERE layer = 'roads' AND feature_id = $1`, ids[0]).Scan(&history)
	if version != rounds+1 || history != rounds+1 || int(width) != lastWinner {
		t.Errorf("after %d rounds: version %d, history rows %d, width %v (last winner wrote %d)", rounds, version, history, width, lastWinner)
	}
}

func TestOGCPrivate(t *testing.T) {
	e := newOGC(t, server.Options{Private: true})
	seedRoads(t, e)
	reader := e.token(t, "Analyst", "read")
	writer := e.token(t, "Road bureau", "write:roads")
	admin := e.token(t, "Root", "admin")
	tests := []struct {
		name, path, token string
		status            int
	}{
		{"landing stays public", "/ogc", "", 200},
		{"api stays public", "/ogc/api", "", 200},
		{"collections need read", "/ogc/collections", "", 401},
		{"items need read", "/ogc/collections/roads/items", "", 401},
		{"item needs read", "/ogc/collections/roads/items/1", "", 401},
		{"history needs read", "/ogc/collections/roads/items/1/history", "", 401},
		{"read token reads", "/ogc/collections/roads/items", reader, 200},
		{"write token alone cannot read", "/ogc/collections/roads/items", writer, 403},
		{"admin reads", "/ogc/collections/roads/items/1", admin, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h []string
			if tt.token != "" {
				h = []string{"Authorization", "Bearer " + tt.token}
			}
			if status, _, body := e.do(t, "GET", tt.path, "", h...); status != tt.status {
				t.Errorf("GET %s: %d, want %d: %s", tt.path, status, tt.status, body)
			}
		})
	}
}
