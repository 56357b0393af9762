package server_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/lastmile/lastmile/server"
)

// TestQGISEditingSequence replays, request by request, what QGIS 3.32 and
// later send when a user edits an OGC API Features layer (read from its
// OAPIF provider: qgsoapifprovider.cpp computeCapabilities, addFeatures,
// changeAttributeValues, changeGeometryValues, deleteFeatures, and the
// create/patch/put/delete requests), against a real server over PostGIS:
//
//  1. the first page (?limit=10), whose first feature id QGIS keeps;
//  2. OPTIONS on /items: editing is on only if Allow lists POST;
//  3. OPTIONS on /items/{first id}: PUT (attributes, geometry), DELETE, PATCH;
//  4. POST of the new feature with every field of the layer as QGIS read
//     them — nulls for the empty ones, the read-only ones included — and no
//     If-Match (QGIS never sends one); the id comes from Location;
//  5. GET of the new feature (QGIS refreshes it);
//  6. PATCH application/merge-patch+json {"properties": {…changed}};
//  7. PATCH {"geometry": …};
//  8. PUT of the feature as read (id, version, updated_at, updated_by,
//     length_m, props as the JSON text QGIS holds), one attribute changed —
//     what QGIS sends when Allow lacks PATCH;
//  9. DELETE.
//
// Each change is then checked in the history: applied, by the token's
// name, recorded as unconditional (precondition "none").
func TestQGISEditingSequence(t *testing.T) {
	e := newOGC(t, server.Options{})
	seedRoads(t, e)
	tok := e.token(t, "Road bureau (QGIS)", "write:roads")
	bearer := []string{"Authorization", "Bearer " + tok}
	items := "/ogc/collections/roads/items"

	type step struct {
		method, path string
		status       int
	}
	var steps []step
	do := func(method, path, body string, want int, headers ...string) ([]byte, map[string][]string) {
		t.Helper()
		status, h, b := e.do(t, method, path, body, headers...)
		steps = append(steps, step{method, path, status})
		if status != want {
			t.Errorf("%s %s: %d, want %d: %s", method, path, status, want, b)
		}
		return b, h
	}
	defer func() {
		var lines []string
		for i, s := range steps {
			lines = append(lines, fmt.Sprintf("%2d. %-7s %s → %d", i+1, s.method, s.path, s.status))
		}
		t.Logf("QGIS editing sequence:\n%s", strings.Join(lines, "\n"))
	}()

	// 1. The first page.
	b, _ := do("GET", items+"?limit=10", "", 200)
	var page featureCollection
	json.Unmarshal(b, &page)
	if len(page.Features) == 0 {
		t.Fatalf("no features on the first page: %s", b)
	}
	first := page.Features[0].ID

	// 2–3. Capabilities.
	_, h := do("OPTIONS", items, "", 204, bearer...)
	if got := strings.Join(h["Allow"], ","); got != "GET, HEAD, POST, OPTIONS" {
		t.Errorf("OPTIONS %s: Allow %q, want GET, HEAD, POST, OPTIONS", items, got)
	}
	_, h = do("OPTIONS", fmt.Sprintf("%s/%d", items, first), "", 204, bearer...)
	allow := strings.Split(strings.Join(h["Allow"], ","), ", ")
	for _, m := range []string{"PUT", "PATCH", "DELETE"} {
		if !slices.Contains(allow, m) { // QGIS: split(',') then trimmed, exact case
			t.Errorf("OPTIONS item: Allow %q lacks %s", allow, m)
		}
	}

	// 4. Create: every field as QGIS holds them for a new feature.
	created := `{"type":"Feature","geometry":{"type":"LineString","coordinates":[[9.58,47.18],[9.59,47.19]]},"properties":{` +
		`"ext_id":null,"name":"X015 新修路","admin_code":null,"status":"under_construction","started_on":"2016-03-01","completed_on":null,` +
		`"funding_yuan":null,"props":null,"version":null,"updated_at":null,"updated_by":null,` +
		`"road_class":"village","tech_grade":null,"surface":"gravel","width_m":4.5,"length_m":null}}`
	b, h = do("POST", items, created, 201, append([]string{"Content-Type", "application/geo+json"}, bearer...)...)
	location := strings.Join(h["Location"], "")
	i := strings.LastIndex(location, "/items/")
	if i < 0 {
		t.Fatalf("POST: no Location with /items/ (QGIS reads the new id there): %q %s", location, b)
	}
	id := location[i+len("/items/"):]
	item := items + "/" + id

	// 5. QGIS refreshes the new feature.
	b, _ = do("GET", item, "", 200)
	var read struct {
		ID         json.Number    `json:"id"`
		Geometry   map[string]any `json:"geometry"`
		Properties map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(b, &read); err != nil || read.Properties["props"] == nil || read.Properties["status"] != "under_construction" {
		t.Errorf("GET the created feature: %v %s", err, b)
	}

	// 6–7. Attribute and geometry changes, as merge patches without If-Match.
	patch := append([]string{"Content-Type", "application/merge-patch+json"}, bearer...)
	do("PATCH", item, `{"properties":{"surface":"cement","width_m":5.0,"tech_grade":null}}`, 200, patch...)
	do("PATCH", item, `{"geometry":{"type":"LineString","coordinates":[[9.58,47.18],[9.59,47.19],[9.6,47.195]]}}`, 200, patch...)

	// 8. The feature as QGIS now holds it, sent back whole with one change.
	b, _ = do("GET", item, "", 200)
	json.Unmarshal(b, &read)
	props := read.Properties
	if props["version"] != 3.0 || props["surface"] != "cement" || props["length_m"] == nil {
		t.Errorf("after the patches: %v", props)
	}
	if _, isText := props["props"].(string); !isText { // QGIS holds a JSON object field as text
		propsText, _ := json.Marshal(props["props"])
		props["props"] = string(propsText)
	}
	props["status"] = "completed"
	props["completed_on"] = "2016-11-30"
	props["updated_at"] = strings.TrimSuffix(fmt.Sprint(props["updated_at"]), "+00:00") // a QDateTime as text
	put, _ := json.Marshal(map[string]any{"type": "Feature", "id": id, "geometry": read.Geometry, "properties": props})
	b, _ = do("PUT", item, string(put), 200, append([]string{"Content-Type", "application/geo+json"}, bearer...)...)
	var replaced struct{ Properties map[string]any }
	json.Unmarshal(b, &replaced)
	if replaced.Properties["version"] != 4.0 || replaced.Properties["status"] != "completed" || replaced.Properties["surface"] != "cement" ||
		replaced.Properties["name"] != "X015 新修路" || replaced.Properties["started_on"] != "2016-03-01" {
		t.Errorf("PUT of the feature as read: %v", replaced.Properties)
	}

	// 9. Delete.
	do("DELETE", item, "", 204, bearer...)
	do("GET", item, "", 404)

	// The history: every change applied, recorded as unconditional.
	var hist struct {
		Versions []struct {
			Op, Actor, Precondition string
			Version                 int
			Changed                 []string
		}
	}
	e.getJSON(t, item+"/history", &hist)
	var got []string
	for _, v := range hist.Versions {
		got = append(got, fmt.Sprintf("%s v%d %s by %s: %s", v.Op, v.Version, v.Precondition, v.Actor, strings.Join(v.Changed, ",")))
	}
	want := []string{
		"insert v1 none by Road bureau (QGIS): name,props,road_class,started_on,status,surface,width_m,geometry",
		"update v2 none by Road bureau (QGIS): surface,width_m",
		"update v3 none by Road bureau (QGIS): geometry",
		"update v4 none by Road bureau (QGIS): completed_on,status",
		"delete v4 none by Road bureau (QGIS): completed_on,name,props,road_class,started_on,status,surface,width_m,geometry",
	}
	if !slices.Equal(got, want) {
		t.Errorf("history\n got %q\nwant %q", got, want)
	}
}

// TestOGCWritesReadOnlyAndNulls: on every write the members the server
// maintains are ignored, props null is the empty object and a string
// holding a JSON object is that object, a merge-patch null clears an
// optional field and is a 400 naming the field on a required one or the
// geometry; a stale If-Match is still 412, * and lists are understood.
func TestOGCWritesReadOnlyAndNulls(t *testing.T) {
	e := newOGC(t, server.Options{})
	tok := e.token(t, "Road bureau", "write:roads")
	// Basic with the token as the password writes as Bearer does.
	basic := []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("anyone:"+tok))}
	items := "/ogc/collections/roads/items"
	line := `{"type":"LineString","coordinates":[[9.5,47.1],[9.51,47.11]]}`
	status, h, body := e.do(t, "POST", items, `{"type":"Feature","id":77,"geometry":`+line+`,"properties":{"id":77,"status":"planned",`+
		`"version":9,"updated_at":"2001-01-01T00:00:00Z","updated_by":"someone else","length_m":1,"props":"{\"contractor\": \"Vaduz Bau\", \"lot\": 3}"}}`, basic...)
	if status != 201 {
		t.Fatalf("POST with read-only members: %d %s", status, body)
	}
	var f struct {
		ID         int64
		Properties map[string]any
	}
	json.Unmarshal(body, &f)
	var stored map[string]any // props as the read side renders it: JSON text
	json.Unmarshal([]byte(fmt.Sprint(f.Properties["props"])), &stored)
	if f.ID == 77 || f.Properties["version"] != 1.0 || f.Properties["updated_by"] != "Road bureau" || f.Properties["length_m"] == 1.0 ||
		fmt.Sprint(stored) != "map[contractor:Vaduz Bau lot:3]" {
		t.Errorf("created %d: %v", f.ID, f.Properties)
	}
	item := fmt.Sprintf("%s/%d", items, f.ID)
	etag := h.Get("ETag")

	tests := []struct {
		name, method, body string
		headers            []string
		status             int
		want               string // in the body
	}{
		{"props null is empty", "PATCH", `{"properties":{"props":null,"name":"a"}}`, nil, 200, `"props" : "{}"`},
		{"props as a string", "PATCH", `{"properties":{"props":"{\"lot\": 4}"}}`, nil, 200, `"props" : "{\"lot\": 4}"`},
		{"props an empty string is empty", "PATCH", `{"properties":{"props":""}}`, nil, 200, `"props" : "{}"`},
		{"props a string that is no object", "PATCH", `{"properties":{"props":"lot 4"}}`, nil, 400, `"field":"props"`},
		{"null clears an optional field", "PATCH", `{"properties":{"name":null}}`, nil, 200, `"name" : null`},
		{"null on a required field", "PATCH", `{"properties":{"status":null}}`, nil, 400, `"field":"status","message":"is required and cannot be null"`},
		{"null geometry", "PATCH", `{"geometry":null}`, nil, 400, `"field":"geometry"`},
		{"PUT props null", "PUT", `{"type":"Feature","geometry":` + line + `,"properties":{"status":"planned","props":null,"width_m":3,"length_m":12.5,"version":1}}`, nil, 200, `"props" : "{}"`},
		{"PUT null geometry", "PUT", `{"type":"Feature","geometry":null,"properties":{"status":"planned"}}`, nil, 400, "geometry is missing"},
		{"PUT with its own id as a string", "PUT", `{"type":"Feature","id":"` + fmt.Sprint(f.ID) + `","geometry":` + line + `,"properties":{"status":"completed","completed_on":"2016-01-01"}}`, nil, 200, `"status" : "completed"`},
		{"If-Match *", "PATCH", `{"properties":{"name":"star"}}`, []string{"If-Match", "*"}, 200, `"name" : "star"`},
		{"a stale If-Match", "PATCH", `{"properties":{"name":"lost"}}`, []string{"If-Match", etag}, 412, "it was changed by someone else"},
		{"a list holding the version", "PATCH", `{"properties":{"name":"listed"}}`, []string{"If-Match", `"1", "8"`}, 200, `"name" : "listed"`},
		{"a weak tag", "PATCH", `{"properties":{"name":"weak"}}`, []string{"If-Match", `W/"9"`}, 400, "strong comparison"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := e.do(t, tt.method, item, tt.body, append(tt.headers, basic...)...)
			if status != tt.status || !strings.Contains(string(body), tt.want) {
				t.Errorf("%d %s, want %d with %s", status, body, tt.status, tt.want)
			}
		})
	}
	var hist struct {
		Versions []struct {
			Version      int
			Precondition string
		}
	}
	e.getJSON(t, item+"/history", &hist)
	var got []string
	for _, v := range hist.Versions {
		got = append(got, fmt.Sprintf("v%d %s", v.Version, v.Precondition))
	}
	// v1 create, v2–v5 patches and PUTs without If-Match, v6 PUT, v7 *, v8 the list.
	if want := []string{"v1 none", "v2 none", "v3 none", "v4 none", "v5 none", "v6 none", "v7 none", "v8 any", "v9 if-match"}; !slices.Equal(got, want) {
		t.Errorf("history %q, want %q", got, want)
	}
}

// TestOGCPatchMergesProps: a PATCH (any of the three body types) whose
// props is an object merges it member by member (RFC 7396: null removes a
// member); props as a string (QGIS's text form) or null replaces the whole
// object; a PUT replaces it.
func TestOGCPatchMergesProps(t *testing.T) {
	e := newOGC(t, server.Options{})
	auth := []string{"Authorization", "Bearer " + e.token(t, "Road bureau", "write:roads")}
	items := "/ogc/collections/roads/items"
	line := `{"type":"LineString","coordinates":[[9.5,47.1],[9.51,47.11]]}`
	status, _, body := e.do(t, "POST", items, `{"type":"Feature","geometry":`+line+`,"properties":{"status":"planned","props":{"lot":3,"contractor":{"name":"Vaduz Bau","tel":"123"}}}}`, auth...)
	if status != 201 {
		t.Fatalf("POST: %d %s", status, body)
	}
	var f struct{ ID int64 }
	json.Unmarshal(body, &f)
	item := fmt.Sprintf("%s/%d", items, f.ID)
	for _, tc := range []struct{ method, ctype, body, want string }{
		{"PATCH", "application/merge-patch+json", `{"properties":{"props":{"contractor":{"tel":null},"phase":2}}}`, `{"lot": 3, "phase": 2, "contractor": {"name": "Vaduz Bau"}}`},
		{"PATCH", "application/geo+json", `{"type":"Feature","properties":{"props":{"lot":null}}}`, `{"phase": 2, "contractor": {"name": "Vaduz Bau"}}`},
		{"PATCH", "application/json", `{"properties":{"props":"{\"lot\": 5}"}}`, `{"lot": 5}`},
		{"PATCH", "application/merge-patch+json", `{"properties":{"name":"n"}}`, `{"lot": 5}`},
		{"PATCH", "application/merge-patch+json", `{"properties":{"props":null}}`, `{}`},
		{"PATCH", "application/merge-patch+json", `{"properties":{"props":{"a":{"b":1}}}}`, `{"a": {"b": 1}}`},
		{"PUT", "application/geo+json", `{"type":"Feature","geometry":` + line + `,"properties":{"status":"planned","props":{"z":1}}}`, `{"z": 1}`},
	} {
		status, _, body := e.do(t, tc.method, item, tc.body, append([]string{"Content-Type", tc.ctype}, auth...)...)
		var got struct{ Properties map[string]any }
		json.Unmarshal(body, &got)
		if status != 200 || got.Properties["props"] != tc.want {
			t.Errorf("%s %s %s: %d props %v, want %s", tc.method, tc.ctype, tc.body, status, got.Properties["props"], tc.want)
		}
	}
}
