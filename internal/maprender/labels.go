package maprender

import (
	"math"
	"sort"
	"strings"

	"kiln/internal/draw"
	"kiln/internal/style"
)

// label is text or an icon placed for drawing.
type label struct {
	p    *draw.Placement // nil for an icon alone
	s    draw.TextStyle
	icon *placedIcon
}

// collider keeps the placed labels' boxes over the image and its label
// buffer.
type collider struct {
	*draw.Collisions
	area draw.Rect
}

func newCollider(d *drawing) *collider {
	b := d.v.LabelBuffer
	area := draw.Rect{MinX: -b, MinY: -b, MaxX: d.w + b, MaxY: d.h + b}
	return &collider{Collisions: draw.NewCollisions(area, 0), area: area}
}

// inside reports whether every box lies in the area labels may take.
func (c *collider) inside(boxes []draw.Rect) bool {
	for _, r := range boxes {
		if r.MinX < c.area.MinX || r.MinY < c.area.MinY || r.MaxX > c.area.MaxX || r.MaxY > c.area.MaxY {
			return false
		}
	}
	return true
}

var justifications = map[string]draw.Justify{"center": draw.JustifyCenter, "left": draw.JustifyLeft, "right": draw.JustifyRight}

// placeLabels places the text of a symbol layer's features, in the
// features' order (or symbol-sort-key's), each where it collides with
// nothing placed before.
func (d *drawing) placeLabels(l *style.Layer, coll *collider) []label {
	ratio := d.v.PixelRatio
	var feats []*feature
	d.matching(l, d.layoutZoom(), func(f *feature) { feats = append(feats, f) })
	if key := l.Layout["symbol-sort-key"]; key != nil {
		keys := make(map[*feature]float64, len(feats))
		for _, f := range feats {
			keys[f] = key.Number(&f.ctx)
		}
		sort.SliceStable(feats, func(i, j int) bool { return keys[feats[i]] < keys[feats[j]] })
	}
	var out []label
	placed := map[string][]draw.Point{} // centres of line labels by text, against repeats
	for _, f := range feats {
		lc := f.ctx // layout at the integer zoom, paint at the exact one
		lc.Zoom = d.layoutZoom()
		f.ctx.Zoom = d.v.Zoom
		text := l.LayoutProp("text-field").Text(&lc)
		switch l.LayoutProp("text-transform").Enum(&lc) {
		case "uppercase":
			text = strings.ToUpper(text)
		case "lowercase":
			text = strings.ToLower(text)
		}
		d.project(f)
		icon := d.icon(l, f, &lc)
		if strings.TrimSpace(text) == "" && icon == nil {
			continue
		}
		fonts := l.LayoutProp("text-font").Strings(&lc)
		size := l.LayoutProp("text-size").Number(&f.ctx) * ratio
		padding := l.LayoutProp("text-padding").Number(&lc) * ratio
		allowOverlap := l.LayoutProp("text-allow-overlap").Bool(&lc)
		ignorePlacement := l.LayoutProp("text-ignore-placement").Bool(&lc)
		letterSpacing := l.LayoutProp("text-letter-spacing").Number(&lc)
		ts := draw.TextStyle{
			Color:     l.PaintProp("text-color").Color(&f.ctx).NRGBA(),
			Opacity:   l.PaintProp("text-opacity").Number(&f.ctx),
			HaloColor: l.PaintProp("text-halo-color").Color(&f.ctx).NRGBA(),
			HaloWidth: l.PaintProp("text-halo-width").Number(&f.ctx) * ratio,
			HaloBlur:  l.PaintProp("text-halo-blur").Number(&f.ctx) * ratio,
		}
		if strings.TrimSpace(text) == "" || size <= 0 || ts.Opacity <= 0 {
			text = ""
		}
		fits := func(p *draw.Placement) bool {
			return p != nil && len(p.Boxes) > 0 && coll.inside(p.Boxes) && (allowOverlap || coll.Fits(p.Boxes, padding))
		}
		try := func(p *draw.Placement) bool {
			if !fits(p) {
				return false
			}
			if !ignorePlacement {
				coll.Insert(p.Boxes, padding)
			}
			out = append(out, label{p: p, s: ts})
			return true
		}
		switch placement := l.LayoutProp("symbol-placement").Enum(&lc); placement {
		case "line", "line-center":
			if text == "" {
				continue // icons along lines: not drawn by kiln
			}
			run := d.r.fonts.Shape(text, fonts, size, letterSpacing)
			spacing := max(l.LayoutProp("symbol-spacing").Number(&lc)*ratio, 1)
			maxAngle := l.LayoutProp("text-max-angle").Number(&lc)
			for _, line := range f.lines {
				length := draw.Length(line)
				if length < run.Width {
					continue
				}
				for _, at := range linePositions(length, spacing, placement == "line-center") {
					p, ok := draw.PlaceAlong(run, line, at, maxAngle)
					if !ok {
						continue
					}
					c := centre(p.Boxes)
					if repeated(placed[text], c, spacing*0.8) {
						continue
					}
					if try(p) {
						placed[text] = append(placed[text], c)
					}
				}
			}
		default:
			if f.ctx.GeometryType != "Point" {
				continue // kiln's label layers are points; areas have theirs
			}
			var p *draw.Placement
			if text != "" {
				p = d.pointText(l, f, &lc, text, fonts, size, letterSpacing)
			}
			if lb, ok := d.placePoint(l, &lc, coll, p, fits(p), padding, ignorePlacement, ts, icon); ok {
				out = append(out, lb)
			}
		}
	}
	return out
}

// pointText lays out a point label's text at its place.
func (d *drawing) pointText(l *style.Layer, f *feature, lc *style.Context, text string, fonts []string, size, letterSpacing float64) *draw.Placement {
	justify := l.LayoutProp("text-justify").Enum(lc)
	anchorName := l.LayoutProp("text-anchor").Enum(lc)
	anchor, _ := draw.ParseAnchor(anchorName)
	j, ok := justifications[justify]
	if !ok { // auto: towards the anchor's side
		j = draw.JustifyCenter
		if strings.HasSuffix(anchorName, "left") {
			j = draw.JustifyLeft
		} else if strings.HasSuffix(anchorName, "right") {
			j = draw.JustifyRight
		}
	}
	block := d.r.fonts.Layout(text, fonts, size, draw.LayoutOptions{
		MaxWidth:      l.LayoutProp("text-max-width").Number(lc),
		LineHeight:    l.LayoutProp("text-line-height").Number(lc),
		LetterSpacing: letterSpacing,
		Justify:       j,
	})
	var off draw.Point
	if o := l.LayoutProp("text-offset").Numbers(lc); len(o) == 2 {
		off = draw.Point{X: o[0] * size, Y: o[1] * size}
	}
	return draw.PlaceText(block, f.point, anchor, off, l.LayoutProp("text-rotate").Number(lc))
}

// linePositions are where along a line of the given length labels are
// tried: every spacing pixels, the set centred on the line, or only its
// middle. They depend on the whole line only, not on the image, so that
// neighbouring metatiles try the same places.
func linePositions(length, spacing float64, centreOnly bool) []float64 {
	if centreOnly || length < spacing {
		return []float64{length / 2}
	}
	n := int(length / spacing)
	first := (length - float64(n-1)*spacing) / 2
	out := make([]float64, n)
	for i := range out {
		out[i] = first + float64(i)*spacing
	}
	return out
}

func centre(boxes []draw.Rect) draw.Point {
	var c draw.Point
	for _, b := range boxes {
		c.X += (b.MinX + b.MaxX) / 2
		c.Y += (b.MinY + b.MaxY) / 2
	}
	n := float64(len(boxes))
	return draw.Point{X: c.X / n, Y: c.Y / n}
}

// repeated reports whether a label with the same text was placed within
// dist of c: the parts of a street split into many ways are labelled
// about once per spacing, not once per part.
func repeated(centres []draw.Point, c draw.Point, dist float64) bool {
	for _, o := range centres {
		if math.Hypot(o.X-c.X, o.Y-c.Y) < dist {
			return true
		}
	}
	return false
}

// drawLabels draws a layer's placed labels that show in the image.
func (d *drawing) drawLabels(l *style.Layer, labels []label) {
	for _, lb := range labels {
		if lb.icon != nil {
			d.drawIcon(lb.icon)
		}
		if lb.p != nil && lb.visibleIn(d.w, d.h) {
			d.canvas.DrawPlacement(lb.p, lb.s)
		}
	}
}

func (lb label) visibleIn(w, h float64) bool {
	pad := lb.s.HaloWidth + lb.s.HaloBlur + 1
	for _, r := range lb.p.Boxes {
		if r.MaxX+pad > 0 && r.MaxY+pad > 0 && r.MinX-pad < w && r.MinY-pad < h {
			return true
		}
	}
	return false
}
