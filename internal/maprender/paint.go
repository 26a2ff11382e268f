package maprender

import (
	"image"
	"image/color"
	stdraw "image/draw"

	"kiln/internal/draw"
	"kiln/internal/style"
)

func (d *drawing) background(l *style.Layer) {
	c := &style.Context{Zoom: d.v.Zoom}
	col := l.PaintProp("background-color").Color(c).NRGBA()
	opacity := l.PaintProp("background-opacity").Number(c)
	if col.A == 255 && opacity >= 1 {
		// An opaque background covers everything: set the pixels.
		dst := d.canvas.Image()
		stdraw.Draw(dst, dst.Bounds(), image.NewUniform(col), image.Point{}, stdraw.Src)
		return
	}
	d.canvas.Fill([][]draw.Point{{{X: 0, Y: 0}, {X: d.w, Y: 0}, {X: d.w, Y: d.h}, {X: 0, Y: d.h}, {X: 0, Y: 0}}},
		draw.NonZero, col, opacity)
}

// fillBatch gathers the rings of consecutive features painted alike, to
// fill them in one pass.
type fillBatch struct {
	rings   [][]draw.Point
	col     color.NRGBA
	opacity float64
}

// maxBatch bounds the rings filled at once, keeping masks small.
const maxBatch = 512

func (d *drawing) fill(l *style.Layer) {
	colorProp, opacityProp := l.PaintProp("fill-color"), l.PaintProp("fill-opacity")
	outlineProp := l.Paint["fill-outline-color"]
	antialias := l.PaintProp("fill-antialias")
	var fills, outlines fillBatch
	flush := func(b *fillBatch, stroke bool) {
		if len(b.rings) == 0 {
			return
		}
		if stroke {
			d.canvas.Stroke(b.rings, draw.StrokeStyle{Width: 1, Color: b.col, Opacity: b.opacity})
		} else {
			// The data's holes run against their outer rings.
			d.canvas.Fill(b.rings, draw.NonZero, b.col, b.opacity)
		}
		b.rings = b.rings[:0]
	}
	add := func(b *fillBatch, stroke bool, col color.NRGBA, opacity float64, rings [][]draw.Point) {
		if col != b.col || opacity != b.opacity || len(b.rings) >= maxBatch {
			flush(b, stroke)
			b.col, b.opacity = col, opacity
		}
		b.rings = append(b.rings, rings...)
	}
	d.matching(l, d.v.Zoom, func(f *feature) {
		d.project(f)
		if len(f.polys) == 0 {
			return
		}
		opacity := opacityProp.Number(&f.ctx)
		if opacity <= 0 {
			return
		}
		col := colorProp.Color(&f.ctx).NRGBA()
		for _, p := range f.polys {
			add(&fills, false, col, opacity, p)
		}
		// MapLibre outlines a fill with fill-outline-color, one device
		// pixel wide, when it is set and antialiasing is on.
		if outlineProp != nil && antialias.Bool(&f.ctx) {
			for _, p := range f.polys {
				add(&outlines, true, outlineProp.Color(&f.ctx).NRGBA(), opacity, p)
			}
		}
	})
	flush(&fills, false)
	flush(&outlines, true)
}

// lineBatch gathers the lines of consecutive features stroked alike.
type lineBatch struct {
	lines [][]draw.Point
	s     draw.StrokeStyle
	gap   float64
}

func (d *drawing) line(l *style.Layer) {
	lz := &style.Context{Zoom: d.layoutZoom()}
	capProp, joinProp, miterProp := l.LayoutProp("line-cap"), l.LayoutProp("line-join"), l.LayoutProp("line-miter-limit")
	colorProp, widthProp, opacityProp := l.PaintProp("line-color"), l.PaintProp("line-width"), l.PaintProp("line-opacity")
	gapProp, offsetProp, dashProp := l.PaintProp("line-gap-width"), l.PaintProp("line-offset"), l.PaintProp("line-dasharray")
	ratio := d.v.PixelRatio
	var b lineBatch
	flush := func() {
		if len(b.lines) == 0 {
			return
		}
		if b.gap > 0 {
			// A gap width draws the line twice, on either side of the gap,
			// as casings are drawn round a road.
			s := b.s
			off := (b.gap + s.Width) / 2
			s.Offset = b.s.Offset + off
			d.canvas.Stroke(b.lines, s)
			s.Offset = b.s.Offset - off
			d.canvas.Stroke(b.lines, s)
		} else {
			d.canvas.Stroke(b.lines, b.s)
		}
		b.lines = b.lines[:0]
	}
	d.matching(l, d.v.Zoom, func(f *feature) {
		d.project(f)
		if len(f.lines) == 0 {
			return
		}
		width := widthProp.Number(&f.ctx) * ratio
		opacity := opacityProp.Number(&f.ctx)
		if width <= 0 || opacity <= 0 {
			return
		}
		lz.Properties, lz.GeometryType, lz.ID = f.ctx.Properties, f.ctx.GeometryType, f.ctx.ID
		s := draw.StrokeStyle{
			Width: width, Color: colorProp.Color(&f.ctx).NRGBA(), Opacity: opacity,
			Cap: caps[capProp.Enum(lz)], Join: joins[joinProp.Enum(lz)], MiterLimit: miterProp.Number(lz),
			Offset: offsetProp.Number(&f.ctx) * ratio,
		}
		if dash := dashProp.Numbers(&f.ctx); len(dash) > 0 {
			// Dashes are in line widths; MapLibre measures them in widths
			// of at least one pixel.
			unit := max(width, 1)
			s.Dash = make([]float64, len(dash))
			for i, v := range dash {
				s.Dash[i] = v * unit
			}
		}
		gap := gapProp.Number(&f.ctx) * ratio
		if !sameStroke(s, b.s) || gap != b.gap || len(b.lines) >= maxBatch {
			flush()
			b.s, b.gap = s, gap
		}
		b.lines = append(b.lines, f.lines...)
	})
	flush()
}

func sameStroke(a, b draw.StrokeStyle) bool {
	if a.Width != b.Width || a.Color != b.Color || a.Opacity != b.Opacity || a.Cap != b.Cap || a.Join != b.Join ||
		a.MiterLimit != b.MiterLimit || a.Offset != b.Offset || len(a.Dash) != len(b.Dash) {
		return false
	}
	for i := range a.Dash {
		if a.Dash[i] != b.Dash[i] {
			return false
		}
	}
	return true
}

var (
	caps  = map[string]draw.Cap{"butt": draw.CapButt, "round": draw.CapRound, "square": draw.CapSquare}
	joins = map[string]draw.Join{"miter": draw.JoinMiter, "round": draw.JoinRound, "bevel": draw.JoinBevel}
)

// layoutZoom is the zoom layout properties are evaluated at: MapLibre
// lays tiles out at their integer zoom.
func (d *drawing) layoutZoom() float64 {
	return float64(int(d.v.Zoom))
}
