package ingest

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/lastmile/lastmile/layer"
)

// BenchmarkReadNormalise measures the Go side of an import (GeoJSONSeq
// parsing, attribute mapping, validation, EWKB encoding) per feature.
func BenchmarkReadNormalise(b *testing.B) {
	var sb strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&sb, `{"type":"Feature","id":"syn-%d","properties":{"name":"Road %d","status":"completed","surface":"cement","road_class":"village","tech_grade":"class4","width_m":4,"completed_on":"2015-06-01"},"geometry":{"type":"LineString","coordinates":[[107.1,26.1],[107.102,26.101],[107.104,26.1],[107.106,26.101],[107.108,26.1]]}}`+"\n", i, i)
	}
	data := sb.String()
	roads, _ := layer.Default().Layer("roads")
	s := &staging{layer: roads, srids: map[int]bool{}}
	for _, f := range roads.Fields {
		if !f.ReadOnly && f.Name != "ext_id" && f.Name != "props" {
			s.cols = append(s.cols, f)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := NewGeoJSONSeqReader(strings.NewReader(data))
		n := newNormaliser(roads, CRS{Name: "EPSG:4326", SRID: 4326}, nil, "x", false)
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			row, problems := n.normalise(rec)
			if len(problems) > 0 {
				b.Fatal(problems)
			}
			if _, err := s.values(row); err != nil {
				b.Fatal(err)
			}
		}
	}
}
