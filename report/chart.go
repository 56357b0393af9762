package report

import (
	"fmt"
	"html/template"
	"math"
	"strings"
)

// barChart draws km hardened per year as an inline SVG bar chart, each
// bar labelled with its value.
func barChart(years []YearKm, noDate string) template.HTML {
	if len(years) == 0 {
		return ""
	}
	const (
		width, height       = 690.0, 190.0
		left, right, bottom = 34.0, 6.0, 22.0
		top                 = 16.0
	)
	// Years without any road hardened get an empty slot.
	var full []YearKm
	for i, y := range years {
		if i > 0 && y.Year != "" && years[i-1].Year != "" {
			var prev, cur int
			fmt.Sscan(years[i-1].Year, &prev)
			fmt.Sscan(y.Year, &cur)
			for g := prev + 1; g < cur && cur-prev < 200; g++ {
				full = append(full, YearKm{Year: fmt.Sprint(g)})
			}
		}
		full = append(full, y)
	}
	years = full
	maxKm := 0.0
	for _, y := range years {
		maxKm = math.Max(maxKm, y.Km)
	}
	if maxKm == 0 {
		maxKm = 1
	}
	step := niceKm(maxKm / 4)
	top2 := math.Ceil(maxKm/step) * step
	plotH := height - top - bottom
	slot := (width - left - right) / float64(len(years))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %g %g" class="chart" role="img">`, width, height)
	for v := 0.0; v <= top2+step/2; v += step {
		y := top + plotH - v/top2*plotH
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#ddd" stroke-width="0.6"/><text x="%g" y="%.1f" font-size="8" text-anchor="end" fill="#555">%g</text>`,
			left, width-right, y, y, left-4, y+3, v)
	}
	for i, y := range years {
		h := y.Km / top2 * plotH
		x := left + float64(i)*slot + slot*0.15
		bw := slot * 0.7
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#2a6fdb"/>`, x, top+plotH-h, bw, h)
		v := fmtKm(y.Km)
		if y.Roads == 0 {
			v = "–"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="7.5" text-anchor="middle" fill="#222">%s</text>`, x+bw/2, top+plotH-h-3, v)
		label := y.Year
		if label == "" {
			label = noDate
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" font-size="8" text-anchor="middle" fill="#333">%s</text>`, x+bw/2, height-bottom+12, template.HTMLEscapeString(label))
	}
	fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%g" y2="%g" stroke="#333" stroke-width="0.8"/>`, left, width-right, top+plotH, top+plotH)
	b.WriteString("</svg>")
	return template.HTML(b.String())
}
