package draw

import (
	"math"
	"slices"
	"sort"
)

// Length is the length of a polyline in pixels.
func Length(line []Point) float64 {
	l := 0.0
	for i := 1; i < len(line); i++ {
		l += math.Hypot(line[i].X-line[i-1].X, line[i].Y-line[i-1].Y)
	}
	return l
}

// PlaceAlong places run r along line (pixels) with its middle at
// distance at from the line's start, as MapLibre places symbol-placement
// line labels: each glyph centred on the line at its own distance, turned
// to the direction of the segment under it, the text's em box centred on
// the line and reading left to right (the line is followed backwards when
// it runs right to left). It refuses (false) when the text does not fit
// between the line's ends, or when the line turns, within any stretch of
// about a character's width (0.6 em) under the text, by more than
// maxAngle degrees in all (MapLibre text-max-angle). The placement has a
// collision box per glyph.
func PlaceAlong(r *Run, line []Point, at, maxAngle float64) (*Placement, bool) {
	pts := dedupe(append([]Point(nil), line...))
	if len(pts) < 2 || len(r.Glyphs) == 0 {
		return nil, false
	}
	cum := distances(pts, nil)
	total, half := cum[len(cum)-1], r.Width/2
	if at-half < 0 || at+half > total {
		return nil, false
	}
	first, _ := pointAt(pts, cum, at-half)
	last, _ := pointAt(pts, cum, at+half)
	if last.X < first.X || last.X == first.X && last.Y < first.Y {
		slices.Reverse(pts)
		cum = distances(pts, cum)
		at = total - at
	}
	if !straightEnough(pts, cum, at-half, at+half, 0.6*r.Size, maxAngle*math.Pi/180) {
		return nil, false
	}
	p := &Placement{fonts: r.fonts}
	// The em box, from Ascent above the baseline to Descent below it, is
	// centred on the line.
	down := (r.Ascent - r.Descent) / 2
	for _, g := range r.Glyphs {
		mid, k := pointAt(pts, cum, at-half+g.X+g.Advance/2)
		a, b := pts[k], pts[k+1]
		l := math.Hypot(b.X-a.X, b.Y-a.Y)
		cos, sin := (b.X-a.X)/l, (b.Y-a.Y)/l
		// In the glyph's frame x runs along the line and y across it,
		// down the text.
		frame := func(x, y float64) Point { return Point{mid.X + x*cos - y*sin, mid.Y + x*sin + y*cos} }
		o := frame(-g.Advance/2, down+g.Y)
		p.glyphs = append(p.glyphs, placedGlyph{o.X, o.Y, r.Size, cos, sin, g.face, g.id})
		top, bottom := down-r.Ascent, down+r.Descent
		p.Boxes = append(p.Boxes, bounds(frame(-g.Advance/2, top), frame(g.Advance/2, top),
			frame(g.Advance/2, bottom), frame(-g.Advance/2, bottom)))
	}
	return p, true
}

// distances returns the distance of each of pts from the first, in buf.
func distances(pts []Point, buf []float64) []float64 {
	buf = append(buf[:0], 0)
	for i := 1; i < len(pts); i++ {
		buf = append(buf, buf[i-1]+math.Hypot(pts[i].X-pts[i-1].X, pts[i].Y-pts[i-1].Y))
	}
	return buf
}

// pointAt is the point at distance d along pts (cumulative distances
// cum) and the index of the segment it lies on.
func pointAt(pts []Point, cum []float64, d float64) (Point, int) {
	k := sort.SearchFloat64s(cum, d) - 1
	k = max(0, min(len(pts)-2, k))
	a, b := pts[k], pts[k+1]
	t := (d - cum[k]) / (cum[k+1] - cum[k])
	return Point{a.X + t*(b.X-a.X), a.Y + t*(b.Y-a.Y)}, k
}

// straightEnough reports whether the turns of pts between distances from
// and to, summed over any stretch of window pixels, stay within maxAngle
// radians (MapLibre's checkMaxAngle).
func straightEnough(pts []Point, cum []float64, from, to, window, maxAngle float64) bool {
	type corner struct{ at, angle float64 }
	var recent []corner
	sum := 0.0
	for k := 1; k < len(pts)-1; k++ {
		if cum[k] <= from || cum[k] >= to {
			continue
		}
		a0 := math.Atan2(pts[k].Y-pts[k-1].Y, pts[k].X-pts[k-1].X)
		a1 := math.Atan2(pts[k+1].Y-pts[k].Y, pts[k+1].X-pts[k].X)
		turn := math.Abs(math.Remainder(a1-a0, 2*math.Pi))
		recent = append(recent, corner{cum[k], turn})
		sum += turn
		for cum[k]-recent[0].at > window {
			sum -= recent[0].angle
			recent = recent[1:]
		}
		if sum > maxAngle {
			return false
		}
	}
	return true
}
