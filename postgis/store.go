package postgis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/ewkb"
	"github.com/paulmach/orb/encoding/wkb"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/geo"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgsql"
)

// Feature is one stored feature: geometry as an orb type, attributes as
// JSON-ready values (dates as "YYYY-MM-DD" strings), and the feature as the
// GeoJSON every response sends (features.go).
type Feature struct {
	ID         int64
	Layer      string
	Version    int
	Geometry   orb.Geometry
	Properties map[string]any
	JSON       []byte // the GeoJSON Feature, rendered by PostGIS
}

// Actor says who writes, for history: the token's name, the request id and
// the source (an imported file's name).
type Actor struct {
	Name      string
	RequestID string
	Source    string
}

type actorKey struct{}

// WithActor returns ctx carrying the actor of the writes made with it.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor in ctx (zero when none).
func ActorFrom(ctx context.Context) Actor {
	a, _ := ctx.Value(actorKey{}).(Actor)
	return a
}

// SetActor records the actor in the transaction so the history triggers see
// it. Imports call it too.
func SetActor(ctx context.Context, tx pgx.Tx, a Actor) error {
	_, err := tx.Exec(ctx, `SELECT set_config('lastmile.actor', $1, true),
		set_config('lastmile.request_id', $2, true), set_config('lastmile.source', $3, true)`,
		a.Name, a.RequestID, a.Source)
	return err
}

// Precondition is what a write requires of the feature's current version:
// HTTP If-Match (RFC 9110 §13.1.1). The zero value requires nothing — the
// write applies to whatever version it finds, and the history records it as
// unconditional.
type Precondition struct {
	// Versions, when not empty: the write applies only if the current version
	// is one of them (If-Match: "3", or a list "3", "4").
	Versions []int
	// Any: the write applies at any current version (If-Match: *).
	Any bool
}

// IfVersion is the precondition that the feature is still at one of versions.
func IfVersion(versions ...int) Precondition { return Precondition{Versions: versions} }

// Kind is how the history records p (feature_history.precondition):
// "if-match", "any" or "none".
func (p Precondition) Kind() string {
	switch {
	case len(p.Versions) > 0:
		return "if-match"
	case p.Any:
		return "any"
	}
	return "none"
}

// holds reports whether a feature at version current satisfies p.
func (p Precondition) holds(current int) bool {
	return len(p.Versions) == 0 || slices.Contains(p.Versions, current)
}

// ChangeFunc is told, after a commit, which layer changed and the bounds of
// the geometries before and after (for tile-cache invalidation).
type ChangeFunc func(layer string, bounds []orb.Bound)

// Store reads and writes features of any catalog layer.
type Store struct {
	pool     *pgxpool.Pool
	catalog  *layer.Catalog
	onChange []ChangeFunc
}

// NewStore returns a store over pool for the catalog's layers.
func NewStore(pool *pgxpool.Pool, catalog *layer.Catalog) *Store {
	return &Store{pool: pool, catalog: catalog}
}

// OnChange registers f to be called after every committed write. Call it
// while wiring, before serving.
func (s *Store) OnChange(f ChangeFunc) { s.onChange = append(s.onChange, f) }

// Changed tells the OnChange functions that layer changed within bounds.
// Importers that write outside the store call it after their commit.
func (s *Store) Changed(layerName string, bounds []orb.Bound) {
	for _, f := range s.onChange {
		f(layerName, bounds)
	}
}

// Layer returns the catalog layer named name, or a not-found error.
func (s *Store) Layer(name string) (*layer.Layer, error) {
	l, ok := s.catalog.Layer(name)
	if !ok {
		return nil, lastmile.Errorf(lastmile.ENOTFOUND, "no layer %q (layers: %s)", name, strings.Join(s.catalog.Names(), ", "))
	}
	return l, nil
}

// prepare looks up the layer and validates a write to it.
func (s *Store) prepare(layerName string, props map[string]any, geom orb.Geometry, partial bool) (*layer.Layer, map[string]any, error) {
	l, err := s.Layer(layerName)
	if err != nil {
		return nil, nil, err
	}
	values, err := validate(l, props, geom, partial)
	return l, values, err
}

// validate checks properties and geometry against the layer; geom may be
// nil only when partial (a patch that keeps the geometry).
func validate(l *layer.Layer, props map[string]any, geom orb.Geometry, partial bool) (map[string]any, error) {
	values, problems := l.Validate(props, partial)
	if geom != nil || !partial {
		if kind := geo.Kind(geom); geom != nil && !l.AllowsGeometry(kind) {
			problems = append(problems, lastmile.Problem{Field: "geometry",
				Message: fmt.Sprintf("%s is not allowed in layer %s (allowed: %s)", kind, l.Name, strings.Join(l.GeomKinds, ", "))})
		} else {
			for _, msg := range geo.Validate(geom) {
				problems = append(problems, lastmile.Problem{Field: "geometry", Message: msg})
			}
			if msg := l.CheckVertices(geom); msg != "" {
				problems = append(problems, lastmile.Problem{Field: "geometry", Message: msg})
			}
		}
	}
	if len(problems) > 0 {
		return nil, lastmile.Invalid(fmt.Sprintf("the %s feature is invalid", l.Name), problems...)
	}
	return values, nil
}

// write runs fn in a transaction carrying the actor and the write's
// precondition (for the history), maps constraint violations to invalid
// errors, and reports changes after the commit.
func (s *Store) write(ctx context.Context, l *layer.Layer, pre Precondition, values map[string]any, fn func(tx pgx.Tx) ([]orb.Bound, error)) error {
	var bounds []orb.Bound
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := SetActor(ctx, tx, ActorFrom(ctx)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT set_config('lastmile.precondition', $1, true)`, pre.Kind()); err != nil {
			return err
		}
		var err error
		bounds, err = fn(tx)
		return err
	})
	if err != nil {
		return mapWriteError(err, values)
	}
	if len(bounds) > 0 {
		s.Changed(l.Name, bounds)
	}
	return nil
}

// Create inserts a feature and returns it as stored; the history records
// it as unconditional ("none").
func (s *Store) Create(ctx context.Context, layerName string, props map[string]any, geom orb.Geometry) (f *Feature, err error) {
	defer lastmile.Wrap(&err, "store.Create(%s)", layerName)
	l, values, err := s.prepare(layerName, props, geom, false)
	if err != nil {
		return nil, err
	}
	g, err := ewkb.Marshal(geom, 4326)
	if err != nil {
		return nil, lastmile.Invalid("geometry cannot be encoded", lastmile.Problem{Field: "geometry", Message: err.Error()})
	}
	_, cols, vals := columnValues(values)
	var args pgsql.Args
	placeholders := make([]string, len(vals))
	for i, v := range vals {
		placeholders[i] = args.Add(v)
	}
	sql := fmt.Sprintf(`INSERT INTO %s (%s) VALUES (%s) RETURNING id`, pgsql.Table(l),
		strings.Join(append(cols, "geom"), ", "),
		strings.Join(append(placeholders, "ST_GeomFromEWKB("+args.Add(g)+")"), ", "))
	err = s.write(ctx, l, Precondition{}, values, func(tx pgx.Tx) ([]orb.Bound, error) {
		if err := checkGeometry(ctx, tx, g); err != nil {
			return nil, err
		}
		var id int64
		if err := tx.QueryRow(ctx, sql, args...).Scan(&id); err != nil {
			return nil, err
		}
		if err := checkStored(ctx, tx, l, id); err != nil {
			return nil, err
		}
		f, err = getFeature(ctx, tx, l, id)
		return []orb.Bound{geom.Bound()}, err
	})
	return f, err
}

// checkStored checks the written row as it now stands (a patch merges into
// the stored one): its admin_code, when an admin area has that code, must
// name an area within AdminToleranceM of the geometry, or its kilometres
// would be counted in a township they are not in; and a completed feature
// cannot have been completed after today.
func checkStored(ctx context.Context, tx pgx.Tx, l *layer.Layer, id int64) error {
	var problems []lastmile.Problem
	if ChecksAdminCode(l) {
		m, err := AdminMismatches(ctx, tx, `(SELECT id AS key, admin_code AS code, geom AS g FROM `+pgsql.Table(l)+` WHERE id = $1)`, 1, id)
		if err != nil {
			return err
		}
		for _, m := range m {
			problems = append(problems, m.Problem())
		}
	}
	if _, ok := l.Field("completed_on"); ok {
		var on time.Time
		err := tx.QueryRow(ctx, `SELECT completed_on FROM `+pgsql.Table(l)+`
			WHERE id = $1 AND status = 'completed' AND completed_on > current_date`, id).Scan(&on)
		switch {
		case err == nil:
			problems = append(problems, lastmile.Problem{Field: "completed_on", Value: on.Format(time.DateOnly),
				Message: "is in the future, but status is completed (use planned or under_construction, or the actual completion date)"})
		case err != pgx.ErrNoRows:
			return err
		}
	}
	if len(problems) > 0 {
		return lastmile.Invalid(fmt.Sprintf("the %s feature is invalid", l.Name), problems...)
	}
	return nil
}

// Replace sets every writable field of feature id (absent ones to their
// default) and its geometry, if its version satisfies pre.
func (s *Store) Replace(ctx context.Context, layerName string, id int64, pre Precondition, props map[string]any, geom orb.Geometry) (f *Feature, err error) {
	defer lastmile.Wrap(&err, "store.Replace(%s, %d)", layerName, id)
	l, values, err := s.prepare(layerName, props, geom, false)
	if err != nil {
		return nil, err
	}
	for _, fd := range l.Fields {
		if _, ok := values[fd.Name]; !ok && !fd.ReadOnly {
			values[fd.Name] = defaultValue{}
		}
	}
	return s.update(ctx, l, id, pre, values, geom, false)
}

// Patch merges props into feature id (a null sets a field to NULL; an
// object field such as props given as a map[string]any is merged member
// by member, RFC 7396: lastmile.json_merge_patch; a layer.WholeObject
// replaces it) and replaces its geometry when geom is not
// nil, if its version satisfies pre.
func (s *Store) Patch(ctx context.Context, layerName string, id int64, pre Precondition, props map[string]any, geom orb.Geometry) (f *Feature, err error) {
	defer lastmile.Wrap(&err, "store.Patch(%s, %d)", layerName, id)
	l, values, err := s.prepare(layerName, props, geom, true)
	if err != nil {
		return nil, err
	}
	return s.update(ctx, l, id, pre, values, geom, true)
}

// defaultValue marks a column to be set to its DEFAULT.
type defaultValue struct{}

// update sets values (and geom when not nil) on feature id; with merge,
// object fields are merge-patched rather than replaced.
func (s *Store) update(ctx context.Context, l *layer.Layer, id int64, pre Precondition, values map[string]any, geom orb.Geometry, merge bool) (f *Feature, err error) {
	names, cols, vals := columnValues(values)
	var sets []string
	var params pgsql.Args
	for i, c := range cols {
		if _, ok := vals[i].(defaultValue); ok {
			sets = append(sets, c+" = DEFAULT")
			continue
		}
		if f, ok := l.Field(names[i]); merge && ok && f.Type == layer.Object && isMap(vals[i]) {
			sets = append(sets, c+" = coalesce(lastmile.json_merge_patch("+c+", "+params.Add(vals[i])+"::jsonb), '{}')")
			continue
		}
		sets = append(sets, c+" = "+params.Add(vals[i]))
	}
	var g []byte
	if geom != nil {
		if g, err = ewkb.Marshal(geom, 4326); err != nil {
			return nil, lastmile.Invalid("geometry cannot be encoded", lastmile.Problem{Field: "geometry", Message: err.Error()})
		}
		sets = append(sets, "geom = ST_GeomFromEWKB("+params.Add(g)+")")
	}
	sql := fmt.Sprintf(`UPDATE %s SET %s WHERE id = %s`, pgsql.Table(l), strings.Join(sets, ", "), params.Add(id))
	err = s.write(ctx, l, pre, values, func(tx pgx.Tx) ([]orb.Bound, error) {
		old, version, err := lockVersion(ctx, tx, l, id, pre)
		if err != nil {
			return nil, err
		}
		if g != nil {
			if err := checkGeometry(ctx, tx, g); err != nil {
				return nil, err
			}
		}
		if len(sets) > 0 {
			if _, err := tx.Exec(ctx, sql, params...); err != nil {
				return nil, err
			}
		}
		if len(sets) > 0 {
			if err := checkStored(ctx, tx, l, id); err != nil {
				return nil, err
			}
		}
		if f, err = getFeature(ctx, tx, l, id); err != nil {
			return nil, err
		}
		if f.Version == version { // nothing changed
			return nil, nil
		}
		return []orb.Bound{old.Bound(), f.Geometry.Bound()}, nil
	})
	return f, err
}

// Delete removes feature id if its version satisfies pre. Its history stays.
func (s *Store) Delete(ctx context.Context, layerName string, id int64, pre Precondition) (err error) {
	defer lastmile.Wrap(&err, "store.Delete(%s, %d)", layerName, id)
	l, err := s.Layer(layerName)
	if err != nil {
		return err
	}
	return s.write(ctx, l, pre, nil, func(tx pgx.Tx) ([]orb.Bound, error) {
		old, _, err := lockVersion(ctx, tx, l, id, pre)
		if err != nil {
			return nil, err
		}
		_, err = tx.Exec(ctx, `DELETE FROM `+pgsql.Table(l)+` WHERE id = $1`, id)
		return []orb.Bound{old.Bound()}, err
	})
}

// lockVersion locks feature id and checks its version against pre; it
// returns the current geometry and version. A stale version is a
// precondition error, never a silent overwrite.
func lockVersion(ctx context.Context, tx pgx.Tx, l *layer.Layer, id int64, pre Precondition) (orb.Geometry, int, error) {
	var current int
	var geom []byte
	err := tx.QueryRow(ctx, `SELECT version, ST_AsBinary(geom) FROM `+pgsql.Table(l)+` WHERE id = $1 FOR UPDATE`, id).Scan(&current, &geom)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, lastmile.Errorf(lastmile.ENOTFOUND, "%s feature %d does not exist", l.Name, id)
	}
	if err != nil {
		return nil, 0, err
	}
	if !pre.holds(current) {
		want := make([]string, len(pre.Versions))
		for i, v := range pre.Versions {
			want[i] = strconv.Itoa(v)
		}
		return nil, 0, lastmile.Errorf(lastmile.EPRECONDITION, "%s feature %d is at version %d, not %s: it was changed by someone else; reload it and apply your change again", l.Name, id, current, strings.Join(want, " or "))
	}
	g, err := wkb.Unmarshal(geom)
	return g, current, err
}

func isMap(v any) bool { _, ok := v.(map[string]any); return ok }

// columnValues returns the quoted column names and values in a stable order.
func columnValues(values map[string]any) (names, cols []string, args []any) {
	names = make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	cols = make([]string, len(names))
	args = make([]any, len(names))
	for i, n := range names {
		cols[i] = pgsql.Ident(n)
		args[i] = values[n]
	}
	return names, cols, args
}

// HistoryEntry is one recorded write of a feature.
type HistoryEntry struct {
	Op        string    `json:"op"`
	Version   int       `json:"version"`
	Actor     string    `json:"actor"`
	At        time.Time `json:"at"`
	RequestID string    `json:"request_id,omitempty"`
	Source    string    `json:"source,omitempty"`
	// Precondition is what the write required of the version: "if-match",
	// "any" (If-Match: *) or "none" (no If-Match: unconditional); empty for
	// writes outside the feature API (imports, SQL) and older rows.
	Precondition string          `json:"precondition,omitempty"`
	Changed      []string        `json:"changed"`
	Old          map[string]any  `json:"old,omitempty"`
	New          map[string]any  `json:"new,omitempty"`
	OldGeom      json.RawMessage `json:"geometry_before,omitempty"`
	NewGeom      json.RawMessage `json:"geometry_after,omitempty"`
}

// History returns every recorded write of feature id, oldest first. It works
// for deleted features too.
func (s *Store) History(ctx context.Context, layerName string, id int64) (_ []HistoryEntry, err error) {
	defer lastmile.Wrap(&err, "store.History(%s, %d)", layerName, id)
	l, err := s.Layer(layerName)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT op, version, actor, at, coalesce(request_id, ''), coalesce(source, ''), coalesce(precondition, ''),
			old_row, new_row, ST_AsGeoJSON(old_geom), ST_AsGeoJSON(new_geom),
			coalesce(old_geom IS DISTINCT FROM new_geom AND NOT (old_geom IS NOT NULL AND new_geom IS NOT NULL AND ST_Equals(old_geom, new_geom)), false)
		FROM lastmile.feature_history_full WHERE layer = $1 AND feature_id = $2 ORDER BY id`, l.Table, id)
	if err != nil {
		return nil, err
	}
	var out []HistoryEntry
	for rows.Next() {
		var (
			h                HistoryEntry
			oldRow, newRow   []byte
			oldGeom, newGeom *string
			geomChanged      bool
		)
		if err := rows.Scan(&h.Op, &h.Version, &h.Actor, &h.At, &h.RequestID, &h.Source, &h.Precondition,
			&oldRow, &newRow, &oldGeom, &newGeom, &geomChanged); err != nil {
			return nil, err
		}
		if oldRow != nil {
			json.Unmarshal(oldRow, &h.Old)
		}
		if newRow != nil {
			json.Unmarshal(newRow, &h.New)
		}
		if oldGeom != nil {
			h.OldGeom = json.RawMessage(*oldGeom)
		}
		if newGeom != nil {
			h.NewGeom = json.RawMessage(*newGeom)
		}
		h.Changed = changedFields(h.Old, h.New)
		if geomChanged {
			h.Changed = append(h.Changed, "geometry")
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, lastmile.Errorf(lastmile.ENOTFOUND, "%s feature %d has no history (it never existed)", l.Name, id)
	}
	return out, nil
}

// changedFields lists the attributes that differ between two row images,
// leaving out the ones the server maintains.
func changedFields(old, new map[string]any) []string {
	skip := map[string]bool{"version": true, "updated_at": true, "updated_by": true, "length_m": true, "id": true}
	keys := map[string]bool{}
	for k := range old {
		keys[k] = true
	}
	for k := range new {
		keys[k] = true
	}
	changed := []string{}
	for k := range keys {
		if skip[k] {
			continue
		}
		a, _ := json.Marshal(old[k])
		b, _ := json.Marshal(new[k])
		if string(a) != string(b) {
			changed = append(changed, k)
		}
	}
	sort.Strings(changed)
	return changed
}
