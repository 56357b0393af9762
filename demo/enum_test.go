package demo

import (
	"testing"

	"github.com/lastmile/lastmile/layer"
)

// The demo generator emits only enum codes the catalog declares: every enum
// attribute of every feature, and the surfaces it records under props
// (current_surface of a planned road).
func TestEnumDemoValues(t *testing.T) {
	cat := layer.Default()
	c := Generate(1)
	checked := 0
	declared := func(l *layer.Layer, field string, v any, ext string) {
		f, ok := l.Field(field)
		if !ok || f.Type != layer.Enum {
			return
		}
		checked++
		s, _ := v.(string)
		if _, ok := f.Value(s); !ok {
			t.Errorf("%s: %s.%s = %v, which the catalog does not declare (%v)", ext, l.Name, field, v, f.Enum)
		}
	}
	for _, dl := range c.Layers {
		l, ok := cat.Layer(dl.Name)
		if !ok {
			t.Fatalf("demo layer %s is not in the catalog", dl.Name)
		}
		for _, f := range dl.Features {
			if f.Status != "" {
				declared(l, "status", f.Status, f.ExtID)
			}
			for k, v := range f.Attrs {
				declared(l, k, v, f.ExtID)
			}
			if s, ok := f.Props["current_surface"]; ok {
				declared(l, "surface", s, f.ExtID+" props.current_surface")
			}
		}
	}
	if checked < 1000 {
		t.Errorf("checked %d enum values, the demo county has thousands", checked)
	}
}
