package report

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"

	"github.com/lastmile/lastmile"
)

// The map is drawn from the vector tiles lastmile serves (GET
// /tiles/{layers}/{z}/{x}/{y}.mvt, through Builder.Tiles): each tile's
// features become SVG paths inside a clip of that tile's square, so lines
// cut at tile edges join up and the clipping buffer never shows.
const (
	mapLayers   = "admin_areas,roads,water_pipelines,house_renovations,villages"
	mapMaxZoom  = 12 // every layer's points are at full detail from here (house_renovations' detail zoom)
	mapMinZoom  = 10 // house_renovations' lowest zoom
	mapMaxTiles = 64
	mapWidthMM  = 184.0 // the widest the map is printed (the page's text width)
	mapHeightMM = 152.0 // the tallest, so that it fits on the first page
	tileUnits   = 256   // SVG units per tile
)

// Colours, as on the map page (static/page/app.js).
var (
	surfaceColors = map[string]string{"asphalt": "#1d3557", "cement": "#2a6fdb", "stone": "#5e8fc9", "gravel": "#d4891c", "earth": "#9c5a2c"}
	statusColors  = map[string]string{"completed": "#0a9396", "under_construction": "#ee9b00", "planned": "#9b5de5"}
	roadWidths    = map[string]float64{"county": 2.2, "township": 1.7, "village": 1.1, "group": 0.7}
	villageColors = map[string]string{"covered": "#2b9348", "straight": "#f4a261", "uncovered": "#e63946", "outside": "#a5a5a5"}
)

// Map is the rendered map.
type Map struct {
	SVG         template.HTML
	Zoom, Tiles int
	ScaleKm     float64 // length of the scale bar
	Took        time.Duration
}

// tileRange returns the tiles at zoom z covering the bounds.
func tileRange(z int, west, south, east, north float64) (x0, y0, x1, y1 int) {
	n := float64(int(1) << z)
	tx := func(lon float64) int { return clamp(int(math.Floor((lon+180)/360*n)), int(n)-1) }
	ty := func(lat float64) int {
		r := lat * math.Pi / 180
		return clamp(int(math.Floor((1-math.Log(math.Tan(r)+1/math.Cos(r))/math.Pi)/2*n)), int(n)-1)
	}
	return tx(west), ty(north), tx(east), ty(south)
}

func clamp(v, max int) int { return min(max, maxInt(0, v)) }

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// worldXY returns the SVG coordinates (tileUnits per tile at zoom z) of a
// lon/lat.
func worldXY(z int, lon, lat float64) (float64, float64) {
	n := float64(int(1)<<z) * tileUnits
	r := lat * math.Pi / 180
	return (lon + 180) / 360 * n, (1 - math.Log(math.Tan(r)+1/math.Cos(r))/math.Pi) / 2 * n
}

// bufferWriter is the http.ResponseWriter of an in-process tile request.
type bufferWriter struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (w *bufferWriter) Header() http.Header { return w.h }
func (w *bufferWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}
func (w *bufferWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}

// tile fetches one tile from the tile handler; nil for an empty tile.
func (x *build) tile(z, tx, ty int) (mvt.Layers, error) {
	req, err := http.NewRequestWithContext(x.ctx, http.MethodGet, fmt.Sprintf("/tiles/%s/%d/%d/%d.mvt", mapLayers, z, tx, ty), nil)
	if err != nil {
		return nil, err
	}
	w := &bufferWriter{h: http.Header{}}
	x.b.Tiles.ServeHTTP(w, req)
	switch w.status {
	case http.StatusOK:
		return mvt.Unmarshal(w.body.Bytes())
	case http.StatusNoContent:
		return nil, nil
	case http.StatusServiceUnavailable:
		return nil, lastmile.Errorf(lastmile.EUNAVAILABLE, "the map tiles are unavailable; try again shortly")
	}
	return nil, fmt.Errorf("map tile %d/%d/%d: HTTP %d: %.200s", z, tx, ty, w.status, w.body.String())
}

// mapOf draws the area: roads by surface (dashed when not completed),
// villages by coverage (covered along the network; in a straight line
// only; not covered), water pipelines and house renovations by status,
// township boundaries, the area outlined and everything outside it dimmed.
func (x *build) mapOf(s *Snapshot) (*Map, error) {
	start := time.Now()
	a := x.area
	padX, padY := (a.East-a.West)*0.03, (a.North-a.South)*0.03
	west, south, east, north := a.West-padX, a.South-padY, a.East+padX, a.North+padY
	z := mapMaxZoom
	var x0, y0, x1, y1 int
	for ; ; z-- {
		x0, y0, x1, y1 = tileRange(z, west, south, east, north)
		if (x1-x0+1)*(y1-y0+1) <= mapMaxTiles || z == mapMinZoom {
			break
		}
	}
	if (x1-x0+1)*(y1-y0+1) > 4*mapMaxTiles {
		return nil, lastmile.Invalid("the area is too large to map in a report", lastmile.Problem{Field: "admin_code", Value: a.Code,
			Message: fmt.Sprintf("its bounds need %d tiles at zoom %d (most %d)", (x1-x0+1)*(y1-y0+1), z, 4*mapMaxTiles)})
	}
	minX, minY := worldXY(z, west, north)
	maxX, maxY := worldXY(z, east, south)
	w, h := maxX-minX, maxY-minY
	wmm := math.Min(mapWidthMM, mapHeightMM*w/h)
	hmm := wmm * h / w
	u := w / (wmm * 96 / 25.4) // SVG units per printed CSS px

	status := map[int64]string{}
	for _, v := range s.Uncovered {
		if v.StraightUncovered {
			status[v.ID] = "uncovered"
		} else {
			status[v.ID] = "straight"
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.1f %.1f" style="width:%.1fmm;height:%.1fmm" role="img" data-zoom="%d">`,
		w, h, wmm, hmm, z)
	fmt.Fprintf(&b, `<rect width="%.1f" height="%.1f" fill="#f4f1ea"/>`, w, h)
	b.WriteString("<defs>")
	for ty := y0; ty <= y1; ty++ {
		for tx := x0; tx <= x1; tx++ {
			fmt.Fprintf(&b, `<clipPath id="lm-t%d-%d"><rect x="%.1f" y="%.1f" width="%d" height="%d"/></clipPath>`,
				tx, ty, float64(tx*tileUnits)-minX, float64(ty*tileUnits)-minY, tileUnits, tileUnits)
		}
	}
	b.WriteString("</defs>")
	tiles := 0
	for ty := y0; ty <= y1; ty++ {
		for tx := x0; tx <= x1; tx++ {
			layers, err := x.tile(z, tx, ty)
			if err != nil {
				return nil, err
			}
			if layers == nil {
				continue
			}
			tiles++
			ox, oy := float64(tx*tileUnits)-minX, float64(ty*tileUnits)-minY
			fmt.Fprintf(&b, `<g clip-path="url(#lm-t%d-%d)">`, tx, ty)
			drawTile(&b, layers, a, status, ox, oy, u)
			b.WriteString("</g>")
		}
	}
	// Scale bar: its length measured along the parallel through the map's
	// centre, on the WGS84 ellipsoid.
	lat := (south + north) / 2
	const (
		wgsA  = 6378137.0
		wgsE2 = 0.00669437999014
	)
	phi := lat * math.Pi / 180
	mPerDeg := math.Pi / 180 * wgsA * math.Cos(phi) / math.Sqrt(1-wgsE2*math.Sin(phi)*math.Sin(phi))
	km := niceKm((east - west) * mPerDeg / 1000 / 5)
	barUnits := km * 1000 / mPerDeg / 360 * float64(int(1)<<z) * tileUnits
	bx, by := 12*u, h-14*u
	fmt.Fprintf(&b, `<g class="scale"><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#fff" opacity="0.8"/>`, bx-4*u, by-12*u, barUnits+8*u+40*u, 18*u)
	fmt.Fprintf(&b, `<path d="M%.1f %.1fv%.1fh%.1fv%.1f" fill="none" stroke="#222" stroke-width="%.2f"/>`, bx, by-3*u, 4*u, barUnits, -4*u, 1.2*u)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="%.1f" fill="#222">%g km</text></g>`, bx+barUnits+4*u, by+1*u, 9*u, km)
	b.WriteString("</svg>")
	return &Map{SVG: template.HTML(b.String()), Zoom: z, Tiles: tiles, ScaleKm: km, Took: time.Since(start)}, nil
}

// niceKm rounds km down to 1, 2 or 5 × a power of ten.
func niceKm(km float64) float64 {
	if km <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(km)))
	for _, m := range []float64{5, 2, 1} {
		if m*p <= km {
			return m * p
		}
	}
	return p
}

// drawTile writes one tile's features in drawing order; (ox, oy) is the
// tile's SVG origin, u the SVG units per printed px.
func drawTile(b *strings.Builder, layers mvt.Layers, a Area, village map[int64]string, ox, oy, u float64) {
	by := map[string]*mvt.Layer{}
	for _, l := range layers {
		by[l.Name] = l
	}
	str := func(f *geojson.Feature, k string) string { s, _ := f.Properties[k].(string); return s }
	each := func(name string, fn func(f *geojson.Feature, scale float64)) {
		l := by[name]
		if l == nil {
			return
		}
		scale := float64(tileUnits) / float64(l.Extent)
		for _, f := range l.Features {
			fn(f, scale)
		}
	}
	path := func(g orb.Geometry, scale float64) string {
		var p strings.Builder
		var line func(ls []orb.Point, closed bool)
		line = func(ls []orb.Point, closed bool) {
			for i, pt := range ls {
				c := 'L'
				if i == 0 {
					c = 'M'
				}
				fmt.Fprintf(&p, "%c%.1f %.1f", c, ox+pt[0]*scale, oy+pt[1]*scale)
			}
			if closed {
				p.WriteByte('Z')
			}
		}
		switch g := g.(type) {
		case orb.LineString:
			line(g, false)
		case orb.MultiLineString:
			for _, l := range g {
				line(l, false)
			}
		case orb.Polygon:
			for _, r := range g {
				line(r, true)
			}
		case orb.MultiPolygon:
			for _, pg := range g {
				for _, r := range pg {
					line(r, true)
				}
			}
		}
		return p.String()
	}
	point := func(g orb.Geometry, scale float64) (float64, float64, bool) {
		p, ok := g.(orb.Point)
		return ox + p[0]*scale, oy + p[1]*scale, ok
	}
	// Areas: outside the report's area dimmed, inside white.
	each("admin_areas", func(f *geojson.Feature, scale float64) {
		code, level := str(f, "code"), str(f, "level")
		switch {
		case code == a.Code:
			fmt.Fprintf(b, `<path d="%s" fill="#ffffff" fill-rule="evenodd"/>`, path(f.Geometry, scale))
		case !a.Contains(code) && level == a.Level:
			fmt.Fprintf(b, `<path d="%s" fill="#e4e0d6" fill-rule="evenodd"/>`, path(f.Geometry, scale))
		}
	})
	each("water_pipelines", func(f *geojson.Feature, scale float64) {
		st := str(f, "status")
		c, ok := statusColors[st]
		if !ok {
			return
		}
		dash := ""
		if st != "completed" {
			dash = fmt.Sprintf(` stroke-dasharray="%.1f %.1f"`, 3*u, 2*u)
		}
		fmt.Fprintf(b, `<path d="%s" fill="none" stroke="%s" stroke-width="%.2f" opacity="0.7"%s/>`, path(f.Geometry, scale), c, 0.6*u, dash)
	})
	each("roads", func(f *geojson.Feature, scale float64) {
		st := str(f, "status")
		if st == "cancelled" {
			return
		}
		c, ok := surfaceColors[str(f, "surface")]
		if !ok {
			c = "#777777"
		}
		wd, ok := roadWidths[str(f, "road_class")]
		if !ok {
			wd = 1
		}
		dash := ""
		if st != "completed" {
			dash = fmt.Sprintf(` stroke-dasharray="%.1f %.1f" opacity="0.85"`, 4*u, 2*u)
		}
		fmt.Fprintf(b, `<path d="%s" fill="none" stroke="%s" stroke-width="%.2f" stroke-linecap="round"%s/>`, path(f.Geometry, scale), c, wd*u, dash)
	})
	each("admin_areas", func(f *geojson.Feature, scale float64) {
		code, level := str(f, "code"), str(f, "level")
		switch {
		case code == a.Code:
			fmt.Fprintf(b, `<path d="%s" fill="none" stroke="#3d405b" stroke-width="%.2f"/>`, path(f.Geometry, scale), 1.6*u)
		case level == "township" && a.Contains(code):
			fmt.Fprintf(b, `<path d="%s" fill="none" stroke="#6d6875" stroke-width="%.2f" stroke-dasharray="%.1f %.1f"/>`, path(f.Geometry, scale), 0.7*u, 3*u, 2*u)
		}
	})
	each("house_renovations", func(f *geojson.Feature, scale float64) {
		c, ok := statusColors[str(f, "status")]
		if !ok {
			return
		}
		if x, y, ok := point(f.Geometry, scale); ok {
			s := 2.4 * u
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`, x-s/2, y-s/2, s, s, c)
		}
	})
	each("villages", func(f *geojson.Feature, scale float64) {
		x, y, ok := point(f.Geometry, scale)
		if !ok {
			return
		}
		id, _ := f.ID.(float64)
		kind, r := "covered", 2.6
		if st, found := village[int64(id)]; found {
			kind = st
		}
		if !a.Contains(str(f, "code")) {
			kind, r = "outside", 1.8
		}
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="%.1f" fill="%s" stroke="#ffffff" stroke-width="%.2f" data-v="%s"/>`, x, y, r*u, villageColors[kind], 0.5*u, kind)
	})
}
