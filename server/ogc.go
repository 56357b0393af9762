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
// with Allow. A collection is writable when the router serves POST on its
// items and PUT, PATCH and DELETE on an item, as it does for every catalog
// layer (writes then need a token with scope write:<layer>, as always);
// Allow says what the resource supports, not what the caller's token may do.
func (s *Server) ogcOptions(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.ogcLayer(r); err != nil {
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

// describe returns a collection's JSON, with its extent from the database.
func (s *Server) describe(ctx context.Context, r *http.Request, l *layer.Layer) (*collection, error) {
	b := respond.BaseURL(r) + "/ogc/collections/" + l.Name
	c := &collection{
		ID: l.Name, Title: l.Title,
		Description: fmt.Sprintf("%s (%s). Geometry: %v. The temporal extent and the datetime parameter are on completed_on (the completion date); filter other dates with filter=, e.g. started_on >= DATE('2015-01-01').", l.Title, l.TitleZH, l.GeomKinds),
		ItemType:    "feature", CRS: CRSURIs(), StorageCRS: CRS84,
		Links: []link{
			{Href: b, Rel: "self", Type: JSONType, Title: "this collection"},
			{Href: b + "/items", Rel: "items", Type: GeoJSONType, Title: l.Title},
			{Href: b + "/queryables", Rel: queryablesRel, Type: SchemaType, Title: "the properties filter= can use"},
		},
	}
	x, err := s.deps.Store.Extent(ctx, l)
	if err != nil {
		return nil, err
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
	c.Extent = e
	return c, nil
}

func (s *Server) ogcCollections(w http.ResponseWriter, r *http.Request) error {
	if err := s.canRead(r.Context()); err != nil {
		return err
	}
	b := respond.BaseURL(r)
	var cs []*collection
	for _, l := range s.deps.Catalog.Layers() {
		c, err := s.describe(r.Context(), r, l)
		if err != nil {
			return err
		}
		cs = append(cs, c)
	}
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
	l, err := s.ogcLayer(r)
	if err != nil {
		return err
	}
	c, err := s.describe(r.Context(), r, l)
	if err != nil {
		return err
	}
	respond.JSON(w, http.StatusOK, c)
	return nil
}
