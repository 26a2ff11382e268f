package draw

import (
	"image/color"
	"math"

	"github.com/go-text/typesetting/font"
	ot "github.com/go-text/typesetting/font/opentype"
)

// Anchor is the part of a label put at its point (MapLibre text-anchor).
type Anchor uint8

// Anchors; the zero value is MapLibre's default.
const (
	AnchorCenter Anchor = iota
	AnchorLeft
	AnchorRight
	AnchorTop
	AnchorBottom
	AnchorTopLeft
	AnchorTopRight
	AnchorBottomLeft
	AnchorBottomRight
)

var anchorNames = [...]string{"center", "left", "right", "top", "bottom", "top-left", "top-right", "bottom-left", "bottom-right"}

// ParseAnchor reads a MapLibre text-anchor value ("center", "top-left", …).
func ParseAnchor(s string) (Anchor, bool) {
	for i, n := range anchorNames {
		if n == s {
			return Anchor(i), true
		}
	}
	return AnchorCenter, false
}

// String returns the MapLibre name of a.
func (a Anchor) String() string { return anchorNames[a] }

// Fraction is where the anchor sits in a box, 0–1 across and down.
func (a Anchor) Fraction() (fx, fy float64) {
	fx, fy = 0.5, 0.5
	switch a {
	case AnchorLeft, AnchorTopLeft, AnchorBottomLeft:
		fx = 0
	case AnchorRight, AnchorTopRight, AnchorBottomRight:
		fx = 1
	}
	switch a {
	case AnchorTop, AnchorTopLeft, AnchorTopRight:
		fy = 0
	case AnchorBottom, AnchorBottomLeft, AnchorBottomRight:
		fy = 1
	}
	return fx, fy
}

// TextStyle says how text is painted.
type TextStyle struct {
	// Color, not premultiplied, and Opacity (0–1), which applies to the
	// halo too.
	Color   color.NRGBA
	Opacity float64
	// HaloColor is painted beneath the glyphs out to HaloWidth pixels
	// from their outlines (MapLibre text-halo-width); HaloBlur (pixels)
	// softens its edge.
	HaloColor color.NRGBA
	HaloWidth float64
	HaloBlur  float64
}

// Placement is text placed on the canvas: glyphs with their positions,
// and the boxes a collision index should test before it is drawn.
// Placements are immutable and may be drawn on any canvas.
type Placement struct {
	// Boxes, in canvas coordinates (before the canvas offset), cover the
	// text: one box for a point label, one per glyph along a line.
	Boxes  []Rect
	glyphs []placedGlyph
	fonts  *Fonts
}

// placedGlyph is a glyph's origin on the canvas, its size (pixels per
// em) and its rotation.
type placedGlyph struct {
	x, y, size, cos, sin float64
	face                 uint8
	id                   font.GID
}

// PlaceText places block b with its anchor at at, moved by offset (pixels,
// in the text's own frame) and rotated clockwise by rotate degrees round
// at (MapLibre text-anchor, text-offset times the size, text-rotate).
func PlaceText(b *Block, at Point, anchor Anchor, offset Point, rotate float64) *Placement {
	p := &Placement{}
	fx, fy := anchor.Fraction()
	ox, oy := offset.X-fx*b.Width, offset.Y-fy*b.Height
	sin, cos := math.Sincos(rotate * math.Pi / 180)
	turn := func(x, y float64) Point {
		x, y = x+ox, y+oy
		return Point{at.X + x*cos - y*sin, at.Y + x*sin + y*cos}
	}
	for _, l := range b.Lines {
		p.fonts = l.Run.fonts
		for _, g := range l.Run.Glyphs {
			q := turn(l.X+g.X, l.Y+g.Y)
			p.glyphs = append(p.glyphs, placedGlyph{q.X, q.Y, l.Run.Size, cos, sin, g.face, g.id})
		}
	}
	if len(p.glyphs) > 0 {
		p.Boxes = []Rect{bounds(turn(0, 0), turn(b.Width, 0), turn(b.Width, b.Height), turn(0, b.Height))}
	}
	return p
}

// DrawText places b as PlaceText does and draws it.
func (c *Canvas) DrawText(b *Block, at Point, anchor Anchor, offset Point, rotate float64, s TextStyle) {
	c.DrawPlacement(PlaceText(b, at, anchor, offset, rotate), s)
}

// DrawPlacement draws placed text: the halo first, the glyphs over it.
// Upright text up to 48 pixels is drawn from glyph bitmaps cached by
// Fonts (at quarter-pixel positions), other text from the outlines.
func (c *Canvas) DrawPlacement(p *Placement, s TextStyle) {
	if p == nil || len(p.glyphs) == 0 {
		return
	}
	fill, halo := premul(s.Color, s.Opacity), premul(s.HaloColor, s.Opacity)
	haloWidth := s.HaloWidth
	if !(haloWidth > 0) || halo>>24 == 0 {
		haloWidth = 0
	}
	blur := 0
	if s.HaloBlur > 0 {
		blur = int(math.Round(s.HaloBlur))
	}
	if p.cacheable() {
		c.drawBitmaps(p, fill, halo, haloWidth, blur)
	} else {
		c.drawOutlines(p, fill, halo, haloWidth, blur)
	}
}

// drawOutlines draws placed text from its glyph outlines.
func (c *Canvas) drawOutlines(p *Placement, fill, halo uint32, haloWidth float64, blur int) {
	c.text.reset()
	for _, g := range p.glyphs {
		c.addGlyph(p.fonts, g, c.offset)
	}
	if haloWidth > 0 {
		c.dilate(&c.text, &c.shape, haloWidth)
		c.paint(&c.shape, halo, blur)
	}
	c.paint(&c.text, fill, 0)
}

// cacheable reports whether p is upright text of a size drawn from cached
// glyph bitmaps.
func (p *Placement) cacheable() bool {
	for _, g := range p.glyphs {
		if g.cos != 1 || g.sin != 0 || g.size > maxBitmapSize {
			return false
		}
	}
	return true
}

// dilate puts into dst the outline of the glyphs in src pushed out by d
// pixels: the glyphs with their halo.
func (c *Canvas) dilate(src, dst *path, d float64) {
	dst.reset()
	c.strk.reset(dst, d, CapButt, JoinRound, 1)
	for i := range src.ends {
		pts := dedupe(append(c.pts[:0], src.polygon(i)...))
		if len(pts) > 1 && near(pts[0], pts[len(pts)-1]) {
			pts = pts[:len(pts)-1]
		}
		c.strk.dilation(pts)
		c.pts = pts
	}
}

// glyphTolerance is how far (pixels) flattened glyph curves may stray.
const glyphTolerance = 0.1

// addGlyph adds a glyph's contours to c.text, flattened, in pixels,
// moved by d.
func (c *Canvas) addGlyph(f *Fonts, g placedGlyph, d Point) {
	o := f.outline(g.face, g.id)
	scale := g.size / f.faces[g.face].upem
	ox, oy := g.x+d.X, g.y+d.Y
	tf := func(q ot.SegmentPoint) Point {
		x, y := float64(q.X)*scale, -float64(q.Y)*scale
		return Point{ox + x*g.cos - y*g.sin, oy + x*g.sin + y*g.cos}
	}
	pts := c.pts[:0]
	flush := func() {
		if len(pts) >= 3 {
			if o.reverse {
				for i, j := 0, len(pts)-1; i < j; i, j = i+1, j-1 {
					pts[i], pts[j] = pts[j], pts[i]
				}
			}
			c.text.addPolygon(pts)
		}
		pts = pts[:0]
	}
	for _, s := range o.segs {
		if s.Op != ot.SegmentOpMoveTo && len(pts) == 0 {
			continue // a contour must start with a move
		}
		switch s.Op {
		case ot.SegmentOpMoveTo:
			flush()
			pts = append(pts, tf(s.Args[0]))
		case ot.SegmentOpLineTo:
			pts = append(pts, tf(s.Args[0]))
		case ot.SegmentOpQuadTo:
			p0, p1, p2 := pts[len(pts)-1], tf(s.Args[0]), tf(s.Args[1])
			n := curveSteps(math.Hypot(p0.X-2*p1.X+p2.X, p0.Y-2*p1.Y+p2.Y))
			for i := 1; i <= n; i++ {
				t := float64(i) / float64(n)
				k0, k1, k2 := (1-t)*(1-t), 2*t*(1-t), t*t
				pts = append(pts, Point{k0*p0.X + k1*p1.X + k2*p2.X, k0*p0.Y + k1*p1.Y + k2*p2.Y})
			}
		case ot.SegmentOpCubeTo:
			p0, p1, p2, p3 := pts[len(pts)-1], tf(s.Args[0]), tf(s.Args[1]), tf(s.Args[2])
			n := curveSteps(1.5 * max(math.Hypot(p0.X-2*p1.X+p2.X, p0.Y-2*p1.Y+p2.Y),
				math.Hypot(p1.X-2*p2.X+p3.X, p1.Y-2*p2.Y+p3.Y)))
			for i := 1; i <= n; i++ {
				t := float64(i) / float64(n)
				u := 1 - t
				k0, k1, k2, k3 := u*u*u, 3*u*u*t, 3*u*t*t, t*t*t
				pts = append(pts, Point{k0*p0.X + k1*p1.X + k2*p2.X + k3*p3.X, k0*p0.Y + k1*p1.Y + k2*p2.Y + k3*p3.Y})
			}
		}
	}
	flush()
	c.pts = pts
}

// curveSteps is how many chords flatten a curve whose control polygon
// bends by dd pixels (|p0 - 2p1 + p2|) to within glyphTolerance: a chord
// strays by a quarter of its piece's bend, which falls with the square of
// the number of pieces.
func curveSteps(dd float64) int {
	return max(1, int(math.Ceil(math.Sqrt(dd/(4*glyphTolerance)))))
}
