package server

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/auth"
	"github.com/lastmile/lastmile/geo"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/server/respond"
)

// ogcItems streams the features matching the query as a GeoJSON
// FeatureCollection (writeItems). numberMatched and the page come from one
// snapshot; a failing query is an error response, since the store reads
// the first row before anything is written.
func (s *Server) ogcItems(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := s.canRead(ctx); err != nil {
		return err
	}
	c, err := s.ogcColl(r)
	if err != nil {
		return err
	}
	l := c.base()
	q, err := ParseItemsQuery(l, r.URL.Query())
	if err != nil {
		return err
	}
	q.Kinds = c.Kinds
	return s.deps.Store.Items(ctx, l, q, func(matched int, features iter.Seq2[[]byte, error]) error {
		return writeItems(w, r, l, q, matched, features)
	})
}

// writeItems writes a page of features as a GeoJSON FeatureCollection: the
// prefix, then each feature's JSON as PostgreSQL rendered it, then the
// suffix. Nothing is held in memory but one row and the write buffer.
func writeItems(w http.ResponseWriter, r *http.Request, l *layer.Layer, q ItemsQuery, matched int, features iter.Seq2[[]byte, error]) error {
	ctx := r.Context()
	returned := max(0, min(q.Limit, matched-q.Offset))
	self := respond.BaseURL(r) + r.URL.Path
	selfHref := self
	if r.URL.RawQuery != "" {
		selfHref += "?" + r.URL.RawQuery
	}
	links := []link{{Href: selfHref, Rel: "self", Type: GeoJSONType, Title: "this page"}}
	if q.Offset+returned < matched {
		links = append(links, link{Href: pageURL(self, r.URL.Query(), q.Offset+q.Limit, q.Limit), Rel: "next", Type: GeoJSONType, Title: "next page"})
	}
	if q.Offset > 0 {
		links = append(links, link{Href: pageURL(self, r.URL.Query(), max(0, q.Offset-q.Limit), q.Limit), Rel: "prev", Type: GeoJSONType, Title: "previous page"})
	}
	linksJSON, _ := json.Marshal(links)

	w.Header().Set("Content-Type", GeoJSONType)
	w.Header().Set("Content-Crs", "<"+outputCRS(q.Output)+">")
	w.Header().Add("Vary", "Accept-Encoding")
	var out io.Writer = w
	var gz *gzip.Writer
	if respond.AcceptsGzip(r) {
		// Pages are large and repetitive (GeoJSON compresses several-fold); the
		// fastest level keeps the stream CPU-cheap.
		w.Header().Set("Content-Encoding", "gzip")
		gz = respond.GzipWriter(w)
		defer respond.PutGzipWriter(gz)
		out = gz
	}
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(out, 64<<10)
	fmt.Fprintf(bw, `{"type":"FeatureCollection","numberMatched":%d,"numberReturned":%d,"timeStamp":%q,"links":%s,"features":[`,
		matched, returned, time.Now().UTC().Format(time.RFC3339), linksJSON)
	n := 0
	var err error
	for b, ferr := range features {
		if ferr != nil {
			err = ferr
			break
		}
		if n > 0 {
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
		bw.Write(b)
		n++
	}
	if err != nil || n != returned {
		// Headers are gone: cut the connection so the client sees a
		// truncated response, never a complete-looking wrong one.
		respond.Logger(ctx).Error("streaming items failed", "layer", l.Name, "err", err, "rows", n, "expected", returned)
		panic(http.ErrAbortHandler)
	}
	bw.WriteString("\n]}\n")
	if err := bw.Flush(); err != nil {
		return nil // the client went away; nothing more to say
	}
	if gz != nil {
		gz.Close()
	}
	return nil
}

// pageURL is the items URL with the query's other parameters kept and
// offset and limit set.
func pageURL(base string, q url.Values, offset, limit int) string {
	q.Set("offset", strconv.Itoa(offset))
	q.Set("limit", strconv.Itoa(limit))
	return base + "?" + q.Encode()
}

// etag is a feature version as a strong entity tag.
func etag(version int) string { return strconv.Quote(strconv.Itoa(version)) }

func (s *Server) ogcItem(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := s.canRead(ctx); err != nil {
		return err
	}
	c, err := s.ogcColl(r)
	if err != nil {
		return err
	}
	l := c.base()
	id, err := featureID(r)
	if err != nil {
		return err
	}
	var out postgis.Output
	if v := r.URL.Query().Get("crs"); v != "" {
		c, msg := ParseCRS(v)
		if msg != "" {
			return lastmile.Invalid("the query parameters are invalid", lastmile.Problem{Field: "crs", Value: lastmile.Clip(v), Message: msg})
		}
		out = postgis.Output{SRID: c.SRID, LatLon: c.LatLon, Projected: c.Projected}
	}
	f, err := s.deps.Store.Get(ctx, l.Name, id)
	if err != nil {
		return err
	}
	if c.Kinds != nil && !slices.Contains(c.Kinds, geo.Kind(f.Geometry)) {
		return lastmile.Errorf(lastmile.ENOTFOUND, "%s feature %d is a %s, not in %s (read it from /ogc/collections/%s)", l.Name, id, geo.Kind(f.Geometry), c.Name, l.Name)
	}
	if out != (postgis.Output{}) {
		// The feature in another CRS: the same rendering, through the items
		// query on its id.
		if err := s.reproject(ctx, l, f, out); err != nil {
			return err
		}
	}
	w.Header().Set("Content-Crs", "<"+outputCRS(out)+">")
	version := f.Version
	w.Header().Set("ETag", etag(version))
	if respond.MatchETag(r.Header.Get("If-None-Match"), true, etag(version)) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	w.Header().Set("Content-Type", GeoJSONType)
	w.WriteHeader(http.StatusOK)
	w.Write(f.JSON)
	w.Write([]byte("\n"))
	return nil
}

// writeContext checks the caller may write the layer and returns a context
// carrying the token's name as the actor of the history.
func (s *Server) writeContext(r *http.Request) (context.Context, *layer.Layer, error) {
	l, err := s.ogcLayer(r)
	if err != nil {
		return nil, nil, err
	}
	ctx := r.Context()
	if err := auth.Require(ctx, l.WriteScope()); err != nil {
		return nil, nil, err
	}
	p := auth.From(ctx)
	return postgis.WithActor(ctx, postgis.Actor{Name: p.Name, RequestID: respond.RequestID(ctx)}), l, nil
}

// precondition reads the If-Match of a write (ParseIfMatch); without one
// the write is unconditional, or a 428 when the server runs with
// --require-if-match. Several If-Match lines are one list (RFC 9110 §5.3).
func (s *Server) precondition(r *http.Request) (postgis.Precondition, error) {
	raw := strings.TrimSpace(strings.Join(r.Header.Values("If-Match"), ", "))
	if raw == "" && s.opts.RequireIfMatch {
		return postgis.Precondition{}, lastmile.Errorf(lastmile.EPRECONDREQUIRED,
			`this server requires an If-Match header on writes (--require-if-match): GET the feature, then send If-Match with its ETag, e.g. If-Match: "3"`)
	}
	return ParseIfMatch(raw)
}

// ParseIfMatch reads an If-Match value (RFC 9110 §13.1.1) as what a write
// requires of the feature's version:
//   - empty: nothing — the write applies to the version it finds, and the
//     history records it as unconditional (QGIS and most OGC API Features
//     clients never send If-Match);
//   - "*": the feature exists, at any version;
//   - one strong tag or a list ("3", "4"): the current version is one of them
//     (else the store answers 412);
//   - a weak tag (W/"3") is a 400: If-Match uses the strong comparison, which
//     a weak tag never passes; so is anything that is not "*" or a list of
//     this API's ETags (a version in quotes).
func ParseIfMatch(raw string) (postgis.Precondition, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return postgis.Precondition{}, nil
	}
	bad := func(msg string) error {
		return lastmile.Invalid("the If-Match header is not valid",
			lastmile.Problem{Field: "If-Match", Value: lastmile.Clip(raw), Message: msg})
	}
	tags, any, ok := respond.ParseETags(raw)
	switch {
	case any:
		return postgis.Precondition{Any: true}, nil
	case !ok:
		return postgis.Precondition{}, bad(`must be *, or one or more ETags as the server sent them, e.g. "3" or "3", "4"`)
	}
	var versions []int
	for _, t := range tags {
		if t.Weak {
			return postgis.Precondition{}, bad(fmt.Sprintf(`W/%s is a weak ETag: If-Match uses the strong comparison (RFC 9110 §13.1.2), which a weak ETag never passes; send the ETag as the server sent it, %s (a proxy that compresses responses may weaken ETags: have it pass them on unchanged)`, lastmile.Clip(t.Tag), lastmile.Clip(t.Tag)))
		}
		n, err := strconv.Atoi(strings.Trim(t.Tag, `"`))
		if err != nil || n < 1 || t.Tag != etag(n) {
			return postgis.Precondition{}, bad(fmt.Sprintf(`%s is not an ETag of this API: a feature's ETag is its version in quotes, e.g. "3"`, lastmile.Clip(t.Tag)))
		}
		versions = append(versions, n)
	}
	return postgis.IfVersion(versions...), nil
}

// decodeBody reads and decodes the GeoJSON Feature of a write (a merge
// patch of one for PATCH).
func (s *Server) decodeBody(r *http.Request) (*FeatureInput, error) {
	b, err := readBody(r)
	if err != nil {
		return nil, err
	}
	decode := DecodeFeature
	if r.Method == http.MethodPatch {
		decode = DecodePatch
	}
	in, err := decode(b)
	if err != nil {
		return nil, err
	}
	return in, s.toStorageCRS(r, in)
}

// storageTransformer transforms a geometry to the stored CRS
// (*postgis.Store does, by PostGIS).
type storageTransformer interface {
	ToStorage(ctx context.Context, g orb.Geometry, srid int, latLon bool) (orb.Geometry, error)
}

// toStorageCRS transforms the geometry of a write whose Content-Crs header
// names another served CRS (OGC API Features Part 2) to CRS84.
func (s *Server) toStorageCRS(r *http.Request, in *FeatureInput) error {
	raw := r.Header.Get("Content-Crs")
	if raw == "" {
		return nil
	}
	c, msg := ParseCRS(raw)
	if msg != "" {
		return lastmile.Invalid("the Content-Crs header is not valid", lastmile.Problem{Field: "Content-Crs", Value: lastmile.Clip(raw), Message: msg})
	}
	if c == CRS84CRS || in.Geometry == nil {
		return nil
	}
	t, ok := s.deps.Store.(storageTransformer)
	if !ok {
		return lastmile.Invalid("this server stores CRS84 only", lastmile.Problem{Field: "Content-Crs", Value: lastmile.Clip(raw), Message: "send the geometry in " + CRS84})
	}
	g, err := t.ToStorage(r.Context(), in.Geometry, c.SRID, c.LatLon)
	if err != nil {
		return err
	}
	in.Geometry = g
	return nil
}

// writeFeature answers a write with the stored feature (the same bytes a
// GET of it returns) and its ETag.
func writeFeature(w http.ResponseWriter, status int, f *postgis.Feature) error {
	w.Header().Set("ETag", etag(f.Version))
	w.Header().Set("Content-Type", GeoJSONType)
	w.WriteHeader(status)
	w.Write(f.JSON)
	w.Write([]byte("\n"))
	return nil
}

func (s *Server) ogcCreate(w http.ResponseWriter, r *http.Request) error {
	ctx, l, err := s.writeContext(r)
	if err != nil {
		return err
	}
	in, err := s.decodeBody(r)
	if err != nil {
		return err
	}
	props, err := writableProperties(l, in)
	if err != nil {
		return err
	}
	f, err := s.deps.Store.Create(ctx, l.Name, props, in.Geometry)
	if err != nil {
		return err
	}
	w.Header().Set("Location", fmt.Sprintf("%s/ogc/collections/%s/items/%d", respond.BaseURL(r), l.Name, f.ID))
	return writeFeature(w, http.StatusCreated, f)
}

// update runs a replace or patch: scope, id, If-Match, body, store.
func (s *Server) update(w http.ResponseWriter, r *http.Request, patch bool) error {
	ctx, l, err := s.writeContext(r)
	if err != nil {
		return err
	}
	id, err := featureID(r)
	if err != nil {
		return err
	}
	pre, err := s.precondition(r)
	if err != nil {
		return err
	}
	in, err := s.decodeBody(r)
	if err != nil {
		return err
	}
	if err := checkBodyID(in, id); err != nil {
		return err
	}
	props, err := writableProperties(l, in)
	if err != nil {
		return err
	}
	var f *postgis.Feature
	if patch {
		f, err = s.deps.Store.Patch(ctx, l.Name, id, pre, props, in.Geometry)
	} else {
		f, err = s.deps.Store.Replace(ctx, l.Name, id, pre, props, in.Geometry)
	}
	if err != nil {
		return err
	}
	return writeFeature(w, http.StatusOK, f)
}

func (s *Server) ogcReplace(w http.ResponseWriter, r *http.Request) error {
	return s.update(w, r, false)
}
func (s *Server) ogcPatch(w http.ResponseWriter, r *http.Request) error { return s.update(w, r, true) }

func (s *Server) ogcDelete(w http.ResponseWriter, r *http.Request) error {
	ctx, l, err := s.writeContext(r)
	if err != nil {
		return err
	}
	id, err := featureID(r)
	if err != nil {
		return err
	}
	pre, err := s.precondition(r)
	if err != nil {
		return err
	}
	if err := s.deps.Store.Delete(ctx, l.Name, id, pre); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ogcHistory lists every recorded version of a feature, deleted or not.
func (s *Server) ogcHistory(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := s.canRead(ctx); err != nil {
		return err
	}
	l, err := s.ogcLayer(r)
	if err != nil {
		return err
	}
	id, err := featureID(r)
	if err != nil {
		return err
	}
	h, err := s.deps.Store.History(ctx, l.Name, id)
	if err != nil {
		return err
	}
	respond.JSON(w, http.StatusOK, map[string]any{"layer": l.Name, "id": id, "versions": h})
	return nil
}

// outputCRS is the URI of an output CRS, for Content-Crs.
func outputCRS(o postgis.Output) string {
	for _, c := range servedCRS {
		if c.SRID == o.SRID && c.LatLon == o.LatLon {
			return c.URI
		}
	}
	return CRS84
}

// idFilter selects one feature by id.
type idFilter int64

func (id idFilter) SQL(arg func(any) string) string { return `"id" = ` + arg(int64(id)) + "::bigint" }

// reproject replaces f's JSON with its rendering in the output CRS o.
func (s *Server) reproject(ctx context.Context, l *layer.Layer, f *postgis.Feature, o postgis.Output) error {
	found := false
	err := s.deps.Store.Items(ctx, l, ItemsQuery{Limit: 1, Filter: idFilter(f.ID), Output: o}, func(_ int, features iter.Seq2[[]byte, error]) error {
		for b, err := range features {
			if err != nil {
				return err
			}
			f.JSON = append([]byte(nil), b...)
			found = true
		}
		return nil
	})
	if err == nil && !found {
		return lastmile.Errorf(lastmile.ENOTFOUND, "%s feature %d does not exist", l.Name, f.ID)
	}
	return err
}
