package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/auth"
	"github.com/lastmile/lastmile/cql2"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/server/respond"
)

// Media types of the feature API.
const (
	GeoJSONType = "application/geo+json"
	JSONType    = "application/json"
	OpenAPIType = "application/vnd.oai.openapi+json;version=3.0"
	SchemaType  = "application/schema+json"
)

// queryablesRel is the link relation of a collection's queryables (Part 3).
const queryablesRel = "http://www.opengis.net/def/rel/ogc/1.0/queryables"

// Conformance classes served (OGC API Features Part 1 core, GeoJSON,
// OpenAPI 3; Part 4 create/replace/delete and update).
var conformance = []string{
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
	"http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
	"http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
	"http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
	// Part 5: a JSON Schema per collection (/schema), with the core roles
	// (id, primary-geometry, primary-instant).
	"http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/schemas",
	"http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/core-roles-features",
	// Sorting (Part 8 draft): sortby=field,-field.
	"http://www.opengis.net/spec/ogcapi-features-8/1.0/conf/sorting",
}

// conformsTo is every class served: the core list and Part 3 with CQL2.
func conformsTo() []string { return append(slices.Clone(conformance), cql2.Conformance...) }

// ogcRoutes registers OGC API Features under /ogc.
func (s *Server) ogcRoutes(r *mux.Router) {
	get := []string{http.MethodGet, http.MethodHead}
	h := func(f respond.HandlerFunc) http.Handler { return f }
	r.Handle("/ogc", h(s.ogcLanding)).Methods(get...)
	r.Handle("/ogc/", h(s.ogcLanding)).Methods(get...)
	r.Handle("/ogc/conformance", h(s.ogcConformance)).Methods(get...)
	r.Handle("/ogc/api", h(s.ogcAPI)).Methods(get...)
	r.Handle("/ogc/collections", h(s.ogcCollections)).Methods(get...)
	r.Handle("/ogc/collections/{layer}", h(s.ogcCollection)).Methods(get...)
	r.Handle("/ogc/collections/{layer}/queryables", h(s.ogcQueryables)).Methods(get...)
	r.Handle("/ogc/collections/{layer}/schema", h(s.ogcSchema)).Methods(get...)
	r.Handle("/ogc/collections/{layer}/items", h(s.ogcItems)).Methods(get...)
	r.Handle("/ogc/collections/{layer}/items", h(s.ogcCreate)).Methods(http.MethodPost)
	r.Handle("/ogc/collections/{layer}/items/{id}", h(s.ogcItem)).Methods(get...)
	r.Handle("/ogc/collections/{layer}/items/{id}", h(s.ogcReplace)).Methods(http.MethodPut)
	r.Handle("/ogc/collections/{layer}/items/{id}", h(s.ogcPatch)).Methods(http.MethodPatch)
	r.Handle("/ogc/collections/{layer}/items/{id}", h(s.ogcDelete)).Methods(http.MethodDelete)
	r.Handle("/ogc/collections/{layer}/items/{id}/history", h(s.ogcHistory)).Methods(get...)
	// OPTIONS: QGIS (3.32 and later) turns editing on only when Allow lists
	// POST on /items, then PUT, PATCH and DELETE on /items/{id} (the first
	// feature's, or "unknown_id" for an empty layer: the id is not checked).
	r.Handle("/ogc/collections/{layer}/items", h(s.ogcOptions)).Methods(http.MethodOptions)
	r.Handle("/ogc/collections/{layer}/items/{id}", h(s.ogcOptions)).Methods(http.MethodOptions)
}

// ogcOptions answers OPTIONS on a collection's items and on one item: 204
// with Allow. A catalog layer is writable: the router serves POST on its
// items and PUT, PATCH and DELETE on an item (writes then need a token with
// scope write:<layer>, as always; Allow says what the resource supports, not
// what the caller's token may do). A per-kind view is read-only: GET, HEAD,
// OPTIONS.
func (s *Server) ogcOptions(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.ogcColl(r); err != nil {
		return err
	}
	w.Header().Set("Allow", s.allow(r))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// link is an OGC API link.
type link struct {
	Href  string `json:"href"`
	Rel   string `json:"rel"`
	Type  string `json:"type,omitempty"`
	Title string `json:"title,omitempty"`
}

// canRead checks the read scope when the server is private.
func (s *Server) canRead(ctx context.Context) error {
	if !s.opts.Private {
		return nil
	}
	return auth.Require(ctx, auth.ScopeRead)
}

// ogcLayer returns the catalog layer named in the path.
func (s *Server) ogcLayer(r *http.Request) (*layer.Layer, error) {
	name := mux.Vars(r)["layer"]
	if l, ok := s.deps.Catalog.Layer(name); ok {
		return l, nil
	}
	if v, ok := viewOf(s.deps.Catalog, name); ok {
		return nil, lastmile.Invalid("collection "+v.Name+" is read-only",
			lastmile.Problem{Field: "collection", Value: v.Name, Message: "is the " + v.group.en + " of " + v.Parent.Name + ", for reading; write and read history through /ogc/collections/" + v.Parent.Name})
	}
	return nil, lastmile.Errorf(lastmile.ENOTFOUND, "no collection %q (collections: %s)", lastmile.Clip(name), strings.Join(s.deps.Catalog.Names(), ", "))
}

// featureID parses the {id} path variable.
func featureID(r *http.Request) (int64, error) {
	raw := mux.Vars(r)["id"]
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 {
		return 0, lastmile.Invalid("the feature id is not valid",
			lastmile.Problem{Field: "id", Value: lastmile.Clip(raw), Message: "must be a positive whole number (the feature's id)"})
	}
	return id, nil
}

func (s *Server) ogcLanding(w http.ResponseWriter, r *http.Request) error {
	b := respond.BaseURL(r)
	respond.JSON(w, http.StatusOK, map[string]any{
		"title":       "lastmile",
		"description": "Rural-infrastructure layers (roads, water, power, housing, relocation) as OGC API Features",
		"links": []link{
			{Href: b + "/ogc", Rel: "self", Type: JSONType, Title: "this document"},
			{Href: b + "/ogc/api", Rel: "service-desc", Type: OpenAPIType, Title: "the API definition (OpenAPI 3)"},
			{Href: b + "/ogc/conformance", Rel: "conformance", Type: JSONType, Title: "conformance classes"},
			{Href: b + "/ogc/collections", Rel: "data", Type: JSONType, Title: "the collections (layers)"},
		},
	})
	return nil
}

func (s *Server) ogcConformance(w http.ResponseWriter, r *http.Request) error {
	respond.JSON(w, http.StatusOK, map[string]any{"conformsTo": conformsTo()})
	return nil
}

// collection is the JSON of one collection.
type collection struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	ItemType    string   `json:"itemType"`
	CRS         []string `json:"crs"`
	StorageCRS  string   `json:"storageCrs"`
	Extent      *extent  `json:"extent,omitempty"`
	Links       []link   `json:"links"`
}

type extent struct {
	Spatial struct {
		BBox [][]float64 `json:"bbox"`
		CRS  string      `json:"crs"`
	} `json:"spatial"`
	Temporal struct {
		Interval [][]*string `json:"interval"`
		TRS      string      `json:"trs"`
	} `json:"temporal"`
}

// describe returns a collection's JSON, with its extent from the database
// (a per-kind view has its layer's extent) and its title in the language
// of Accept-Language (both when it names neither).
func (s *Server) describe(ctx context.Context, r *http.Request, c coll) (*collection, error) {
	x, err := s.deps.Store.Extent(ctx, c.base())
	if err != nil {
		return nil, err
	}
	return describeWith(r, c, x), nil
}

// describeWith is describe with the extent x of the collection's layer.
func describeWith(r *http.Request, c coll, x postgis.Extent) *collection {
	l := c.Layer
	b := respond.BaseURL(r) + "/ogc/collections/" + l.Name
	lang := requestLang(r)
	en, zh := c.titles()
	title := inLang(lang, en, zh)
	desc := fmt.Sprintf("%s (%s). Geometry: %v. The temporal extent and the datetime parameter are on completed_on (the completion date); filter other dates with filter=, e.g. started_on >= DATE('2015-01-01'). Sort with sortby=field,-field.", en, zh, l.GeomKinds)
	if c.Parent != nil {
		desc = fmt.Sprintf("%s (%s): the %s features of %s only, read-only (write through %s). Geometry: %v. datetime is on completed_on.", en, zh, strings.Join(c.Kinds, "/"), c.Parent.Name, c.Parent.Name, l.GeomKinds)
	}
	col := &collection{
		ID: l.Name, Title: title,
		Description: desc,
		ItemType:    "feature", CRS: CRSURIs(), StorageCRS: CRS84,
		Links: []link{
			{Href: b, Rel: "self", Type: JSONType, Title: "this collection"},
			{Href: b + "/items", Rel: "items", Type: GeoJSONType, Title: title},
			{Href: b + "/queryables", Rel: queryablesRel, Type: SchemaType, Title: "the properties filter= can use"},
			{Href: b + "/schema", Rel: "describedby", Type: SchemaType, Title: "the schema of the features (OGC API Features Part 5)"},
			// GDAL's OAPIF driver (3.6) looks for this spelling and reads a
			// schema of the GeoJSON Feature (properties under "properties").
			{Href: b + "/schema?profile=geojson", Rel: "describedBy", Type: SchemaType, Title: "the schema of the GeoJSON features"},
		},
	}
	if c.Parent != nil {
		col.Links = append(col.Links, link{Href: respond.BaseURL(r) + "/ogc/collections/" + c.Parent.Name, Rel: "related", Type: JSONType, Title: "the whole layer, every kind of geometry (writable)"})
	} else {
		for _, v := range kindViews(l) {
			col.Links = append(col.Links, link{Href: respond.BaseURL(r) + "/ogc/collections/" + v.Name, Rel: "related", Type: JSONType, Title: "its " + v.group.en + " only"})
		}
	}
	e := &extent{}
	e.Spatial.CRS = CRS84
	e.Temporal.TRS = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
	if b := x.Bound; b != nil {
		e.Spatial.BBox = [][]float64{{b.Min[0], b.Min[1], b.Max[0], b.Max[1]}}
	} else {
		e.Spatial.BBox = [][]float64{{-180, -90, 180, 90}}
	}
	iv := []*string{nil, nil}
	if x.Start != nil {
		a, z := x.Start.Format(time.DateOnly)+"T00:00:00Z", x.End.Format(time.DateOnly)+"T00:00:00Z"
		iv = []*string{&a, &z}
	}
	e.Temporal.Interval = [][]*string{iv}
	col.Extent = e
	return col
}

func (s *Server) ogcCollections(w http.ResponseWriter, r *http.Request) error {
	if err := s.canRead(r.Context()); err != nil {
		return err
	}
	b := respond.BaseURL(r)
	var cs []*collection
	var x postgis.Extent
	for _, c := range collections(s.deps.Catalog) {
		if c.Parent == nil { // a view has the extent of its layer, just read
			var err error
			if x, err = s.deps.Store.Extent(r.Context(), c.Layer); err != nil {
				return err
			}
		}
		cs = append(cs, describeWith(r, c, x))
	}
	w.Header().Add("Vary", "Accept-Language")
	respond.JSON(w, http.StatusOK, map[string]any{
		"links":       []link{{Href: b + "/ogc/collections", Rel: "self", Type: JSONType, Title: "the collections"}},
		"collections": cs,
	})
	return nil
}

func (s *Server) ogcCollection(w http.ResponseWriter, r *http.Request) error {
	if err := s.canRead(r.Context()); err != nil {
		return err
	}
	l, err := s.ogcColl(r)
	if err != nil {
		return err
	}
	c, err := s.describe(r.Context(), r, l)
	if err != nil {
		return err
	}
	w.Header().Add("Vary", "Accept-Language")
	respond.JSON(w, http.StatusOK, c)
	return nil
}
