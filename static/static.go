// Package static serves the map page, embedded in the binary.
package static

import (
	"github.com/gorilla/mux"
)

// Page serves the map page at /.
type Page struct{}

// New returns the page handler.
func New() *Page { return &Page{} }

// Register adds the page routes.
func (p *Page) Register(r *mux.Router) {}
