package server_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/auth"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/server"
)

// fakeStore is a server.FeatureStore whose methods call its function
// fields (benbjohnson/wtf's mock style). A call to a method whose field is
// nil fails with an error naming it, and every call is recorded, so a test
// can also check that bad input never reached the store.
type fakeStore struct {
	ItemsFn   func(ctx context.Context, l *layer.Layer, q postgis.ItemsQuery, page postgis.PageFunc) error
	ExtentFn  func(ctx context.Context, l *layer.Layer) (postgis.Extent, error)
	GetFn     func(ctx context.Context, layerName string, id int64) (*postgis.Feature, error)
	CreateFn  func(ctx context.Context, layerName string, props map[string]any, geom orb.Geometry) (*postgis.Feature, error)
	ReplaceFn func(ctx context.Context, layerName string, id int64, pre postgis.Precondition, props map[string]any, geom orb.Geometry) (*postgis.Feature, error)
	PatchFn   func(ctx context.Context, layerName string, id int64, pre postgis.Precondition, props map[string]any, geom orb.Geometry) (*postgis.Feature, error)
	DeleteFn  func(ctx context.Context, layerName string, id int64, pre postgis.Precondition) error
	HistoryFn func(ctx context.Context, layerName string, id int64) ([]postgis.HistoryEntry, error)

	mu    sync.Mutex
	calls []string
}

var _ server.FeatureStore = (*fakeStore)(nil)

func (s *fakeStore) record(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, name)
}

func unexpected(name string) error { return fmt.Errorf("fakeStore: unexpected call to %s", name) }

// Calls returns the names of the methods called so far.
func (s *fakeStore) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

func (s *fakeStore) Items(ctx context.Context, l *layer.Layer, q postgis.ItemsQuery, page postgis.PageFunc) error {
	s.record("Items")
	if s.ItemsFn == nil {
		return unexpected("Items")
	}
	return s.ItemsFn(ctx, l, q, page)
}

func (s *fakeStore) Extent(ctx context.Context, l *layer.Layer) (postgis.Extent, error) {
	s.record("Extent")
	if s.ExtentFn == nil {
		return postgis.Extent{}, unexpected("Extent")
	}
	return s.ExtentFn(ctx, l)
}

func (s *fakeStore) Get(ctx context.Context, layerName string, id int64) (*postgis.Feature, error) {
	s.record("Get")
	if s.GetFn == nil {
		return nil, unexpected("Get")
	}
	return s.GetFn(ctx, layerName, id)
}

func (s *fakeStore) Create(ctx context.Context, layerName string, props map[string]any, geom orb.Geometry) (*postgis.Feature, error) {
	s.record("Create")
	if s.CreateFn == nil {
		return nil, unexpected("Create")
	}
	return s.CreateFn(ctx, layerName, props, geom)
}

func (s *fakeStore) Replace(ctx context.Context, layerName string, id int64, pre postgis.Precondition, props map[string]any, geom orb.Geometry) (*postgis.Feature, error) {
	s.record("Replace")
	if s.ReplaceFn == nil {
		return nil, unexpected("Replace")
	}
	return s.ReplaceFn(ctx, layerName, id, pre, props, geom)
}

func (s *fakeStore) Patch(ctx context.Context, layerName string, id int64, pre postgis.Precondition, props map[string]any, geom orb.Geometry) (*postgis.Feature, error) {
	s.record("Patch")
	if s.PatchFn == nil {
		return nil, unexpected("Patch")
	}
	return s.PatchFn(ctx, layerName, id, pre, props, geom)
}

func (s *fakeStore) Delete(ctx context.Context, layerName string, id int64, pre postgis.Precondition) error {
	s.record("Delete")
	if s.DeleteFn == nil {
		return unexpected("Delete")
	}
	return s.DeleteFn(ctx, layerName, id, pre)
}

func (s *fakeStore) History(ctx context.Context, layerName string, id int64) ([]postgis.HistoryEntry, error) {
	s.record("History")
	if s.HistoryFn == nil {
		return nil, unexpected("History")
	}
	return s.HistoryFn(ctx, layerName, id)
}

// fakeTokens is a server.Authenticator over a fixed token → principal map.
type fakeTokens map[string]*auth.Principal

func (f fakeTokens) Authenticate(ctx context.Context, token string) (*auth.Principal, error) {
	if p, ok := f[token]; ok {
		return p, nil
	}
	return nil, lastmile.Errorf(lastmile.EUNAUTHORIZED, "the token is not valid (fakeTokens has no such token)")
}
