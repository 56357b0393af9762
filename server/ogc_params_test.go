package server

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgsql"
)

func roadsLayer(t testing.TB) *layer.Layer {
	l, ok := layer.Default().Layer("roads")
	if !ok {
		t.Fatal("no roads layer")
	}
	return l
}

func date(s string) *time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return &d
}

func TestParseItemsQuery(t *testing.T) {
	l := roadsLayer(t)
	tests := []struct {
		name  string
		query string
		want  ItemsQuery
	}{
		{"defaults", "", ItemsQuery{Limit: 100}},
		{"limit and offset", "limit=10&offset=20", ItemsQuery{Limit: 10, Offset: 20}},
		{"max limit", "limit=10000", ItemsQuery{Limit: 10000}},
		{"bbox", "bbox=9.47,47.04,9.64,47.27", ItemsQuery{Limit: 100, BBox: []float64{9.47, 47.04, 9.64, 47.27}}},
		{"bbox 3d", "bbox=9,47,0,10,48,100", ItemsQuery{Limit: 100, BBox: []float64{9, 47, 10, 48}}},
		{"bbox crs84", "bbox=1,2,3,4&bbox-crs=http://www.opengis.net/def/crs/OGC/1.3/CRS84", ItemsQuery{Limit: 100, BBox: []float64{1, 2, 3, 4}}},
		{"antimeridian", "bbox=170,-10,-170,10", ItemsQuery{Limit: 100, BBox: []float64{170, -10, -170, 10}}},
		{"date", "datetime=2015-06-01", ItemsQuery{Limit: 100, Time: &Interval{Start: date("2015-06-01"), End: date("2015-06-01")}}},
		{"date-time", "datetime=2015-06-01T23:30:00-02:00", ItemsQuery{Limit: 100, Time: &Interval{Start: date("2015-06-02"), End: date("2015-06-02")}}},
		{"interval", "datetime=2015-01-01/2015-12-31", ItemsQuery{Limit: 100, Time: &Interval{Start: date("2015-01-01"), End: date("2015-12-31")}}},
		{"open start", "datetime=../2015-12-31", ItemsQuery{Limit: 100, Time: &Interval{Start: nil, End: date("2015-12-31")}}},
		{"open end", "datetime=2015-01-01/", ItemsQuery{Limit: 100, Time: &Interval{Start: date("2015-01-01"), End: nil}}},
		{"enum filter", "status=completed&surface=cement,asphalt", ItemsQuery{Limit: 100, Filters: []Filter{
			{Field: "status", Values: []string{"completed"}}, {Field: "surface", Values: []string{"cement", "asphalt"}}}}},
		{"number filter", "width_m=4.5,6", ItemsQuery{Limit: 100, Filters: []Filter{{Field: "width_m", Values: []float64{4.5, 6}}}}},
		{"synonyms filter as codes", "surface=水泥,tarmac", ItemsQuery{Limit: 100, Filters: []Filter{{Field: "surface", Values: []string{"cement", "asphalt"}}}}},
		{"integer filter", "version=1,2", ItemsQuery{Limit: 100, Filters: []Filter{{Field: "version", Values: []int64{1, 2}}}}},
		{"date filter", "completed_on=2015-01-02", ItemsQuery{Limit: 100, Filters: []Filter{{Field: "completed_on", Values: []time.Time{*date("2015-01-02")}}}}},
		{"text filter with SQL stays a value", "name=' OR 1=1 --", ItemsQuery{Limit: 100, Filters: []Filter{{Field: "name", Values: []string{"' OR 1=1 --"}}}}},
		{"f=json", "f=json", ItemsQuery{Limit: 100}},
		{"GDAL 3.6 date with an empty time", "datetime=2015-01-01T/..", ItemsQuery{Limit: 100, Time: &Interval{Start: date("2015-01-01")}}},
		{"QGIS 3.22 open interval", "datetime=2015-01-01T00:00:00Z/9999-12-31T00:00:00Z", ItemsQuery{Limit: 100, Time: &Interval{Start: date("2015-01-01"), End: date("9999-12-31")}}},
		{"QGIS 3.22 open start", "datetime=0000-01-01T00:00:00Z/2015-12-31T00:00:00Z", ItemsQuery{Limit: 100, Time: &Interval{Start: date("0000-01-01"), End: date("2015-12-31")}}},
		{"GDAL 3.6 date-time upper bound", "datetime=../2015-12-31T", ItemsQuery{Limit: 100, Time: &Interval{End: date("2015-12-31")}}},
		{"bbox in EPSG:4490 is lat,lon", "bbox=47.04,9.47,47.27,9.64&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4490",
			ItemsQuery{Limit: 100, BBox: []float64{9.47, 47.04, 9.64, 47.27}, BBoxSRID: 4490}},
		{"bbox in EPSG:3857", "bbox=1054000,5950000,1074000,5980000&bbox-crs=EPSG:3857",
			ItemsQuery{Limit: 100, BBox: []float64{1054000, 5950000, 1074000, 5980000}, BBoxSRID: 3857}},
		{"crs EPSG:4490", "crs=http://www.opengis.net/def/crs/EPSG/0/4490", ItemsQuery{Limit: 100, Output: postgis.Output{SRID: 4490, LatLon: true}}},
		{"crs Gauss-Kruger zone", "crs=[EPSG:4527]", ItemsQuery{Limit: 100, Output: postgis.Output{SRID: 4527, Projected: true}}},
		{"crs CRS84", "crs=" + CRS84, ItemsQuery{Limit: 100, Output: postgis.Output{SRID: 4326}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseItemsQuery(l, q)
			if err != nil {
				t.Fatalf("ParseItemsQuery(%q): %v", tt.query, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseItemsQuery(%q)\n got %+v\nwant %+v", tt.query, got, tt.want)
			}
		})
	}
}

func TestParseItemsQueryErrors(t *testing.T) {
	l := roadsLayer(t)
	tests := []struct {
		name, query string
		field, msg  string // the first problem's field and a part of its message
	}{
		{"limit -1", "limit=-1", "limit", "at least 1"},
		{"limit 0", "limit=0", "limit", "at least 1"},
		{"limit 1e9", "limit=1e9", "limit", "whole number"},
		{"limit too large", "limit=1000000000", "limit", "at most 10000"},
		{"limit twice", "limit=1&limit=2", "limit", "given 2 times"},
		{"offset negative", "offset=-5", "offset", "≥ 0"},
		{"offset text", "offset=abc", "offset", "whole number"},
		{"offset huge", "offset=99999999999999999999", "offset", "whole number"},
		{"bbox 3 numbers", "bbox=1,2,3", "bbox", "got 3"},
		{"bbox lon > 180", "bbox=170,10,181,20", "bbox", "longitude 181"},
		{"bbox lat > 90", "bbox=10,-91,20,20", "bbox", "latitude -91"},
		{"bbox NaN", "bbox=NaN,1,2,3", "bbox", "not a finite number"},
		{"bbox inverted lat", "bbox=1,20,2,10", "bbox", "above maximum"},
		{"bbox-crs not served", "bbox-crs=EPSG:2000", "bbox-crs", "not a served CRS"},
		{"crs not served", "crs=http://www.opengis.net/def/crs/EPSG/0/4555", "crs", "not a served CRS"},
		{"bbox in EPSG:4326 is lat,lon", "bbox=117,37,118,38&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4326", "bbox", "latitude first"},
		{"filter-crs", "filter=surface='cement'&filter-crs=EPSG:4490", "filter-crs", "CRS84 only"},
		{"filter syntax", "filter=surface = 'cement' AND", "filter", "syntax error at character"},
		{"filter not a queryable", "filter=colour = 'red'", "filter", `"colour" is not a queryable`},
		{"filter enum value", "filter=surface = 'gold'", "filter", "not a value of surface"},
		{"filter json", `filter={"op":"=","args":[{"property":"surface"}]}&filter-lang=cql2-json`, "filter", "at"},
		{"filter-lang", "filter=x&filter-lang=sql", "filter-lang", "cql2-text"},
		{"filter-lang alone", "filter-lang=cql2-text", "filter-lang", "without a filter"},
		{"datetime garbage", "datetime=yesterday", "datetime", "not a date"},
		{"datetime backwards", "datetime=2016-01-01/2015-01-01", "datetime", "ends before"},
		{"datetime open both", "datetime=../..", "datetime", "at least one end"},
		{"unknown field", "colour=red", "colour", "not a parameter or a filterable field"},
		{"object field", "props=x", "props", "not a parameter or a filterable field"},
		{"enum value", "surface=gold", "surface", "must be one of"},
		{"SQL in enum", "status=' OR 1=1 --", "status", "must be one of"},
		{"number", "width_m=wide", "width_m", "must be a number"}, // the one value parser's wording (layer.ParseValue), as tiles and statistics
		{"empty value", "surface=cement,,asphalt", "surface", "empty value"},
		{"integer", "version=1.5", "version", "must be an integer"},
		{"integer beyond the column", "version=2147483648", "version", "must be an integer"},
		{"updated_at is not filterable", "updated_at=2016-01-01", "updated_at", "not a parameter or a filterable field"},
		{"admin code pattern", "admin_code=12", "admin_code", "must match"},
		{"f=html", "f=html", "f", "only json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ParseItemsQuery(l, q)
			var e *lastmile.Error
			if !errors.As(err, &e) || e.Code != lastmile.EINVALID || len(e.Details) == 0 {
				t.Fatalf("ParseItemsQuery(%q) = %v, want an invalid error with details", tt.query, err)
			}
			if e.Details[0].Field != tt.field || !strings.Contains(e.Details[0].Message, tt.msg) {
				t.Errorf("ParseItemsQuery(%q): problem %+v, want field %q and message containing %q", tt.query, e.Details[0], tt.field, tt.msg)
			}
		})
	}
}

// A long Chinese value is quoted clipped on a character boundary.
func TestParseItemsQueryClipsChinese(t *testing.T) {
	_, err := ParseItemsQuery(roadsLayer(t), url.Values{"surface": {"cement," + strings.Repeat("路面", 100)}})
	var e *lastmile.Error
	if !errors.As(err, &e) || len(e.Details) != 1 {
		t.Fatalf("got %v, want one problem", err)
	}
	if want := strings.Repeat("路面", 39) + "路…"; e.Details[0].Value != want {
		t.Errorf("value %q, want %q", e.Details[0].Value, want)
	}
}

func TestParseItemsQueryReportsEveryProblem(t *testing.T) {
	q, _ := url.ParseQuery("limit=0&bbox=1,2&surface=gold")
	_, err := ParseItemsQuery(roadsLayer(t), q)
	var e *lastmile.Error
	if !errors.As(err, &e) || len(e.Details) != 3 {
		t.Fatalf("got %v, want 3 problems", err)
	}
}

// FuzzParseItemsQuery checks that no query makes the parser panic, that a
// query it accepts is within the documented limits, and that the SQL it
// builds carries request text only as parameters.
func FuzzParseItemsQuery(f *testing.F) {
	for _, s := range []string{
		"", "limit=10&offset=20", "bbox=9.47,47.04,9.64,47.27", "bbox=170,-10,-170,10",
		"datetime=2015-01-01/..", "status=completed&surface=cement,asphalt", "name=' OR 1=1 --",
		"limit=1e9", "bbox=1,2,3", "width_m=NaN", "completed_on=2015-13-40", "%zz", "a=b&a=c",
	} {
		f.Add(s)
	}
	l := roadsLayer(f)
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		got, err := ParseItemsQuery(l, q)
		if err != nil {
			var e *lastmile.Error
			if !errors.As(err, &e) || e.Code != lastmile.EINVALID {
				t.Fatalf("error %v is not an invalid *lastmile.Error", err)
			}
			return
		}
		if got.Limit < 1 || got.Limit > MaxLimit || got.Offset < 0 || got.Offset > MaxOffset {
			t.Fatalf("accepted out-of-range paging %+v", got)
		}
		var args pgsql.Args
		where := got.Where(&args)
		for _, bad := range []string{"'", ";", "--", "/*", "\\"} {
			if strings.Contains(where, bad) {
				t.Fatalf("SQL %q contains %q", where, bad)
			}
		}
		for _, f := range got.Filters {
			if _, ok := l.Field(f.Field); !ok {
				t.Fatalf("filter on %q, not a catalog field", f.Field)
			}
		}
		if strings.Count(where, "$") < len(args) {
			t.Fatalf("SQL %q has fewer placeholders than %d args", where, len(args))
		}
	})
}

// FuzzItemsFilterCRS feeds arbitrary filter, crs and bbox parameters to
// ParseItemsQuery: it never panics, and an accepted filter writes SQL in
// which the input appears only as parameters.
func FuzzItemsFilterCRS(f *testing.F) {
	f.Add("surface = 'cement' AND width_m > 4", "cql2-text", "EPSG:4490", "47,9,48,10", "EPSG:4490")
	f.Add(`{"op":"=","args":[{"property":"surface"},"cement"]}`, "cql2-json", CRS84, "9,47,10,48", "")
	f.Add("S_INTERSECTS(geometry, BBOX(1,2,3,4)) OR name LIKE '%x'", "", "[EPSG:4527]", "1,2,3,4", "EPSG:3857")
	l := roadsLayer(f)
	f.Fuzz(func(t *testing.T, filter, lang, crs, bbox, bboxCRS string) {
		q := url.Values{"filter": {filter}, "crs": {crs}, "bbox": {bbox}}
		if lang != "" {
			q.Set("filter-lang", lang)
		}
		if bboxCRS != "" {
			q.Set("bbox-crs", bboxCRS)
		}
		got, err := ParseItemsQuery(l, q)
		if err != nil {
			return
		}
		var a pgsql.Args
		sql := got.Where(&a)
		if len(filter) > 8 && strings.Contains(sql, filter) {
			t.Errorf("the filter text reached the SQL: %s", sql)
		}
	})
}
