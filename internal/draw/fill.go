package draw

import (
	"image/color"
	"slices"
)

// FillRule says which points a set of rings covers.
type FillRule uint8

const (
	// EvenOdd covers the points that an odd number of rings surround,
	// whatever the rings' orientation, so holes need no particular winding.
	// It is exact for rings that do not cross one another (valid OSM
	// polygons); rings are sorted out by nesting, which costs time
	// quadratic in the number of rings on screen.
	EvenOdd FillRule = iota
	// NonZero covers the points that the rings wind around a non-zero
	// number of times: holes must run against their outer ring, as in
	// kiln's map data (outers counter-clockwise, holes clockwise). The
	// cheaper rule for polygons with many holes.
	NonZero
)

// Fill fills the area enclosed by rings (each implicitly closed; outer
// rings and holes in any order, of any number of polygons) with c at the
// given opacity (0–1), antialiased.
func (c *Canvas) Fill(rings [][]Point, rule FillRule, col color.NRGBA, opacity float64) {
	src := premul(col, opacity)
	if src>>24 == 0 {
		return
	}
	p := &c.shape
	p.reset()
	view := box{float64(c.clip.Min.X), float64(c.clip.Min.Y), float64(c.clip.Max.X), float64(c.clip.Max.Y)}
	for _, ring := range rings {
		if len(ring) < 3 {
			continue
		}
		// A ring outside the view neither shows nor, for EvenOdd,
		// surrounds a ring that shows.
		if pts, b := c.translated(ring); b.meets(view) {
			p.addPolygon(pts)
		}
	}
	if rule == EvenOdd && len(p.ends) > 1 {
		orientByNesting(p)
	}
	c.paint(p, src, 0)
}

// translated returns pts moved by the canvas offset, in scratch space,
// and their bounds.
func (c *Canvas) translated(pts []Point) ([]Point, box) {
	buf, b := c.pts[:0], emptyBox()
	for _, q := range pts {
		q = Point{q.X + c.offset.X, q.Y + c.offset.Y}
		b.x0, b.x1 = min(b.x0, q.X), max(b.x1, q.X)
		b.y0, b.y1 = min(b.y0, q.Y), max(b.y1, q.Y)
		buf = append(buf, q)
	}
	c.pts = buf
	return buf, b
}

// orientByNesting makes the non-zero rasterizer compute even-odd: each
// ring is turned to run one way if an even number of other rings surround
// it and the other way if an odd number do.
func orientByNesting(p *path) {
	for i := range p.ends {
		ring := p.polygon(i)
		a := signedArea(ring)
		if a == 0 {
			continue
		}
		depth := 0
		for j := range p.ends {
			if j != i && p.boxes[i].within(p.boxes[j]) && surrounds(p.polygon(j), ring, a) {
				depth++
			}
		}
		if (a > 0) != (depth%2 == 0) {
			slices.Reverse(ring)
		}
	}
}

// surrounds reports whether ring outer surrounds ring inner (of signed
// area a), judged by points just inside three of inner's edges, so that
// rings touching at vertices or along edges, as OSM allows, are told
// apart.
func surrounds(outer, inner []Point, a float64) bool {
	n, votes := len(inner), 0
	for _, k := range [3]int{0, n / 3, 2 * n / 3} {
		p, q := inner[k], inner[(k+1)%n]
		// The interior is left of the edges (normal (-dy, dx)) when a > 0.
		e := 1e-6
		if a < 0 {
			e = -e
		}
		m := Point{(p.X+q.X)/2 - e*(q.Y-p.Y), (p.Y+q.Y)/2 + e*(q.X-p.X)}
		if contains(outer, m) {
			votes++
		}
	}
	return votes >= 2
}

// contains reports whether q is inside ring (crossing number).
func contains(ring []Point, q Point) bool {
	in := false
	prev := ring[len(ring)-1]
	for _, p := range ring {
		if (p.Y > q.Y) != (prev.Y > q.Y) && q.X < prev.X+(q.Y-prev.Y)*(p.X-prev.X)/(p.Y-prev.Y) {
			in = !in
		}
		prev = p
	}
	return in
}

// signedArea is twice the shoelace area of a closed ring: positive when it
// runs clockwise on screen (y down).
func signedArea(ring []Point) float64 {
	a := 0.0
	prev := ring[len(ring)-1]
	for _, p := range ring {
		a += prev.X*p.Y - p.X*prev.Y
		prev = p
	}
	return a
}
