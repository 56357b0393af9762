package server

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb/geojson"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/auth"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/server/respond"
)

// featureSQL renders one row of a table aliased t as a GeoJSON Feature, in
// PostGIS: the properties are the catalog's fields (plus length_m on line
// layers), in catalog order. Columns are named explicitly: to_jsonb(t) would
// also render both geometry columns as JSON only to drop them.
func featureSQL(l *layer.Layer) string {
	var props []string
	for _, f := range l.Fields {
		props = append(props, fmt.Sprintf("'%s', t.%s", f.Name, pgx.Identifier{f.Name}.Sanitize()))
	}
	if l.IsLinear() {
		props = append(props, "'length_m', t.length_m")
	}
	return `json_build_object('type', 'Feature', 'id', t.id,
	'geometry', ST_AsGeoJSON(t.geom, 9)::json,
	'properties', json_build_object(` + strings.Join(props, ", ") + `))::text`
}

func tableOf(l *layer.Layer) string { return pgx.Identifier{"lastmile", l.Table}.Sanitize() }

// ogcItems streams the features matching the query as a GeoJSON
// FeatureCollection: the prefix, then each row's JSON as PostgreSQL returns
// it, then the suffix. Nothing is held in memory but one row and the write
// buffer. numberMatched and the page come from one snapshot.
func (s *Server) ogcItems(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := s.canRead(ctx); err != nil {
		return err
	}
	l, err := s.ogcLayer(r)
	if err != nil {
		return err
	}
	q, err := ParseItemsQuery(l, r.URL.Query())
	if err != nil {
		return err
	}
	where, args := q.Where()
	tx, err := s.deps.Pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var matched int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+tableOf(l)+` t WHERE `+where, args...).Scan(&matched); err != nil {
		return err
	}
	returned := max(0, min(q.Limit, matched-q.Offset))
	// The page's ids first, then their JSON: rows skipped by OFFSET are
	// never rendered.
	page := fmt.Sprintf(`SELECT id FROM %s WHERE %s ORDER BY id LIMIT $%d OFFSET $%d`, tableOf(l), where, len(args)+1, len(args)+2)
	rows, err := tx.Query(ctx, `SELECT `+featureSQL(l)+` FROM (`+page+`) p JOIN `+tableOf(l)+` t USING (id) ORDER BY t.id`,
		append(args, q.Limit, q.Offset)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	// The first row (or the query's error) arrives before anything is
	// written, so a failing query still gets a proper error response.
	more := rows.Next()
	if !more {
		if err := rows.Err(); err != nil {
			return err
		}
	}

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
	for ; more; more = rows.Next() {
		if n > 0 {
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
		bw.Write(rows.RawValues()[0])
		n++
	}
	if err := rows.Err(); err != nil || n != returned {
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
	l, err := s.ogcLayer(r)
	if err != nil {
		return err
	}
	id, err := featureID(r)
	if err != nil {
		return err
	}
	var (
		version int
		body    []byte
	)
	err = s.deps.Pool.QueryRow(ctx, `SELECT t.version, `+featureSQL(l)+` FROM `+tableOf(l)+` t WHERE t.id = $1`, id).Scan(&version, &body)
	if errors.Is(err, pgx.ErrNoRows) {
		return lastmile.Errorf(lastmile.ENOTFOUND, "%s feature %d does not exist", l.Name, id)
	}
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(version))
	if respond.MatchETag(r.Header.Get("If-None-Match"), true, etag(version)) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	w.Header().Set("Content-Type", GeoJSONType)
	w.WriteHeader(http.StatusOK)
	w.Write(body)
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

// ifMatch returns the version in the If-Match header: 428 when missing, 400
// when it is not one of our ETags. Writes name the one version they change,
// so "*" and lists are refused. A weak tag (W/"3") is taken as its version:
// proxies that compress (nginx's gzip) weaken the ETags they pass on, and
// the store compares the version itself.
func ifMatch(r *http.Request) (int, error) {
	raw := strings.TrimSpace(r.Header.Get("If-Match"))
	if raw == "" {
		return 0, lastmile.Errorf(lastmile.EPRECONDREQUIRED,
			`this write needs an If-Match header with the feature's ETag (GET the feature, then send If-Match: "<version>")`)
	}
	n, err := -1, error(nil)
	if tags, _, ok := respond.ParseETags(raw); ok && len(tags) == 1 {
		n, err = strconv.Atoi(strings.Trim(tags[0].Tag, `"`))
	}
	if err != nil || n < 1 {
		return 0, lastmile.Invalid("the If-Match header is not valid",
			lastmile.Problem{Field: "If-Match", Value: shorten(raw), Message: `must be the feature's ETag, e.g. "3" (a * or a list is not accepted: writes name the version they change)`})
	}
	return n, nil
}

// decodeBody reads and decodes the GeoJSON Feature of a write (a merge
// patch of one for PATCH).
func decodeBody(r *http.Request) (*FeatureInput, error) {
	b, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if r.Method == http.MethodPatch {
		return DecodePatch(b)
	}
	return DecodeFeature(b)
}

// writeFeature answers a write with the stored feature and its ETag.
func writeFeature(w http.ResponseWriter, status int, f *postgis.Feature) error {
	gf := geojson.NewFeature(f.Geometry)
	gf.ID = f.ID
	gf.Properties = f.Properties
	b, err := json.Marshal(gf)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(f.Version))
	w.Header().Set("Content-Type", GeoJSONType)
	w.WriteHeader(status)
	w.Write(b)
	w.Write([]byte("\n"))
	return nil
}

func (s *Server) ogcCreate(w http.ResponseWriter, r *http.Request) error {
	ctx, l, err := s.writeContext(r)
	if err != nil {
		return err
	}
	in, err := decodeBody(r)
	if err != nil {
		return err
	}
	f, err := s.deps.Store.Create(ctx, l.Name, nonNil(in.Properties), in.Geometry)
	if err != nil {
		return err
	}
	w.Header().Set("Location", fmt.Sprintf("%s/ogc/collections/%s/items/%d", respond.BaseURL(r), l.Name, f.ID))
	return writeFeature(w, http.StatusCreated, f)
}

func nonNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
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
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	in, err := decodeBody(r)
	if err != nil {
		return err
	}
	var f *postgis.Feature
	if patch {
		f, err = s.deps.Store.Patch(ctx, l.Name, id, version, nonNil(in.Properties), in.Geometry)
	} else {
		f, err = s.deps.Store.Replace(ctx, l.Name, id, version, nonNil(in.Properties), in.Geometry)
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
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	if err := s.deps.Store.Delete(ctx, l.Name, id, version); err != nil {
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
