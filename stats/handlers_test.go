package stats

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

func TestHandlers(t *testing.T) {
	pool := pgtest.New(t)
	addArea(t, pool, "county", "130101000000", "上河县")
	addRoad(t, pool, road{ext: "r", surface: "asphalt", admin: "130101001001", completedOn: "2015-01-01", funding: 12.5, pts: meridianRoad(110, 30, 1500)})
	addVillage(t, pool, village{name: "近村", code: "130101001001", pop: 100, poorHH: 3, lon: 110.005, lat: 30.005})
	addVillage(t, pool, village{name: "远村", code: "130101001002", pop: 200, poorHH: 7, lon: 110.05, lat: 30.005})
	r := mux.NewRouter()
	NewHandler(pool, layer.Default(), slog.Default()).Register(r)

	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w
	}
	for _, tc := range []struct {
		name, path string
		status     int
		ctype      string
		body       []string // substrings the body must hold
	}{
		{"coverage json", "/api/stats/coverage?within_m=1000&source_filter=hardened&list=uncovered", 200, "application/json",
			[]string{`"definition":"A villages feature counts as covered`, `"parameters":{`, `"within_m":1000`, `"source_filter":"hardened"`,
				`"groups":[{`, `"code":"130101000000"`, `"name":"上河县"`, `"total":2`, `"covered":1`, `"pct":50`, `"uncovered":[{`, `"name":"远村"`}},
		{"coverage csv", "/api/stats/coverage?format=csv", 200, "text/csv",
			[]string{"code,name,total,covered,uncovered,pct,population,population_covered,population_pct,poor_households,poor_households_covered\r\n130101000000,上河县,2,1,1,50,300,100,33.3,10,3\r\ntotal,total,2,1,1,50,300,100,33.3,10,3\r\n"}},
		{"coverage csv list with bom", "/api/stats/coverage?format=csv&list=uncovered&bom=true", 200, "text/csv",
			[]string{"\ufeffid,name,code,lon,lat,distance_m,population,poor_households\r\n2,远村,130101001002,110.05,30.005,4824.07,200,7\r\n"}},
		{"rai", "/api/stats/rai", 200, "application/json", []string{`"rai":33.3`, `Rural Access Index`}},
		{"lengths csv", "/api/stats/lengths?layer=roads&group_by=county,year&format=csv", 200, "text/csv",
			[]string{"county,county_name,year,km,count,funding_yuan\r\n130101000000,上河县,2015,1.5,1,12.5\r\ntotal,,,1.5,1,12.5\r\n"}},
		{"progress", "/api/stats/progress?layer=roads&group_by=county", 200, "application/json", []string{`"completed":1`, `"pct":100`}},
		{"network csv", "/api/stats/network?source_filter=hardened&format=csv", 200, "text/csv",
			[]string{"component,edges,km,villages,qualifying,lon,lat\r\n1,1,1.5,2,true,"}},
		{"network json", "/api/stats/network?source_filter=hardened", 200, "application/json",
			[]string{`"components":1`, `"dangling_ends":0`, `"unconnected_villages":0`, `"node_tolerance_m":0`}},
		{"network bad gap", "/api/stats/network?gap_m=500&list=all", 400, "application/json",
			[]string{`"field":"gap_m"`, `"field":"list"`}},
		{"bad within", "/api/stats/coverage?within_m=-1&group_by=state", 400, "application/json",
			[]string{`"code":"invalid"`, `"field":"within_m"`, `"message":"must be at least 0"`, `"field":"group_by"`}},
		{"unknown layer", "/api/stats/lengths?layer=canals", 400, "application/json", []string{`"field":"layer"`, `is not a layer`}},
		{"not a line layer", "/api/stats/lengths?layer=villages", 400, "application/json", []string{`must be a layer of lines`}},
		{"unknown field", "/api/stats/coverage?source_filter=colour:red", 400, "application/json", []string{`not a filterable field of roads`}},
		{"unknown parameter", "/api/stats/progress?colour=red", 400, "application/json", []string{`"field":"colour"`, `is not a parameter`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := get(tc.path)
			if w.Code != tc.status || !strings.HasPrefix(w.Header().Get("Content-Type"), tc.ctype) {
				t.Fatalf("status %d %s, want %d %s: %s", w.Code, w.Header().Get("Content-Type"), tc.status, tc.ctype, w.Body)
			}
			body := w.Body.String()
			for _, s := range tc.body {
				if !strings.Contains(body, s) {
					t.Errorf("body lacks %q:\n%s", s, body)
				}
			}
			if strings.HasPrefix(tc.ctype, "application/json") && !json.Valid(w.Body.Bytes()) {
				t.Errorf("invalid JSON: %s", body)
			}
		})
	}
}
