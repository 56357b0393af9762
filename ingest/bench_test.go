package ingest

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/lastmile/lastmile/layer"
)

// BenchmarkReadNormalise measures the Go side of an import (GeoJSONSeq
// parsing, attribute mapping, validation, EWKB and binary COPY encoding)
// per 1000 features.
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
	m := pgtype.NewMap()
	oids := []uint32{pgtype.Int4OID, pgtype.TextOID, pgtype.JSONBOID, 0} // geometry: not a pgx type
	for _, f := range s.cols {
		t, ok := m.TypeForName(strings.ReplaceAll(f.Type.PGType(), "double precision", "float8"))
		if !ok {
			b.Fatalf("no pgx type %s", f.Type.PGType())
		}
		oids = append(oids, t.OID)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := NewGeoJSONSeqReader(strings.NewReader(data))
		n := newNormaliser(roads, CRS{Name: "EPSG:4326", SRID: 4326}, nil, "x", false)
		src := func() ([]any, error) {
			rec, err := r.Next()
			if err == io.EOF {
				return nil, nil
			}
			row, problems := n.normalise(rec)
			if len(problems) > 0 {
				b.Fatal(problems)
			}
			return s.values(row)
		}
		cs := &copyStream{m: m, oids: oids, src: src, table: true}
		if _, err := io.Copy(io.Discard, cs); err != nil {
			b.Fatal(err)
		}
	}
}
