package maprender

import (
	"image"
	"image/color"
	stdraw "image/draw"
	"math"

	xdraw "golang.org/x/image/draw"

	"kiln/internal/draw"
	"kiln/internal/sprite"
	"kiln/internal/style"
)

// placedIcon is an icon-image at its place on the image.
type placedIcon struct {
	icon    sprite.Icon
	box     draw.Rect // where it is drawn, image pixels
	opacity float64
	tint    color.NRGBA // icon-color, for SDF icons
	padding float64
	// allowOverlap and ignorePlacement are the icon's own placement rules,
	// optional whether the text may show without it.
	allowOverlap, ignorePlacement, optional bool
}

// icon is f's icon-image in layer l, placed at its point; nil without one.
func (d *drawing) icon(l *style.Layer, f *feature, lc *style.Context) *placedIcon {
	if d.r.sprites == nil || f.ctx.GeometryType != "Point" {
		return nil
	}
	name := l.LayoutProp("icon-image").String(lc)
	if name == "" {
		return nil
	}
	ratio := d.v.PixelRatio
	ic, ok := d.r.sprites.Icon(name, ratio)
	if !ok {
		return nil // MapLibre skips an image the sprite lacks
	}
	size := l.LayoutProp("icon-size").Number(lc)
	opacity := l.PaintProp("icon-opacity").Number(&f.ctx)
	if size <= 0 || opacity <= 0 {
		return nil
	}
	b := ic.Image.Bounds()
	w := float64(b.Dx()) / ic.PixelRatio * size * ratio
	h := float64(b.Dy()) / ic.PixelRatio * size * ratio
	anchor, _ := draw.ParseAnchor(l.LayoutProp("icon-anchor").Enum(lc))
	fx, fy := anchor.Fraction()
	x, y := f.point.X-fx*w, f.point.Y-fy*h
	if o := l.LayoutProp("icon-offset").Numbers(lc); len(o) == 2 {
		x, y = x+o[0]*size*ratio, y+o[1]*size*ratio
	}
	// Whole pixels: icons stay crisp.
	x, y = math.Round(x), math.Round(y)
	return &placedIcon{
		icon: ic, box: draw.Rect{MinX: x, MinY: y, MaxX: x + w, MaxY: y + h},
		opacity: opacity, tint: l.PaintProp("icon-color").Color(&f.ctx).NRGBA(),
		padding:         l.LayoutProp("icon-padding").Number(lc) * ratio,
		allowOverlap:    l.LayoutProp("icon-allow-overlap").Bool(lc),
		ignorePlacement: l.LayoutProp("icon-ignore-placement").Bool(lc),
		optional:        l.LayoutProp("icon-optional").Bool(lc),
	}
}

// placePoint decides a point symbol's text p (fitting or not, as textFits
// says) and icon together, as MapLibre does: both must fit unless one is
// optional, in which case the other may show alone.
func (d *drawing) placePoint(l *style.Layer, lc *style.Context, coll *collider, p *draw.Placement, textFits bool,
	padding float64, ignorePlacement bool, ts draw.TextStyle, icon *placedIcon) (label, bool) {
	iconFits := icon != nil && coll.inside([]draw.Rect{icon.box}) &&
		(icon.allowOverlap || coll.Fits([]draw.Rect{icon.box}, icon.padding))
	showText, showIcon := textFits, iconFits
	if p != nil && icon != nil {
		textOptional := l.LayoutProp("text-optional").Bool(lc)
		switch {
		case !textOptional && !icon.optional:
			showText = textFits && iconFits
			showIcon = showText
		case textOptional && !icon.optional:
			showText = textFits && iconFits
		case icon.optional && !textOptional:
			showIcon = iconFits && textFits
		}
	}
	var lb label
	if showText {
		if !ignorePlacement {
			coll.Insert(p.Boxes, padding)
		}
		lb.p, lb.s = p, ts
	}
	if showIcon {
		if !icon.ignorePlacement {
			coll.Insert([]draw.Rect{icon.box}, icon.padding)
		}
		lb.icon = icon
	}
	return lb, showText || showIcon
}

// drawIcon composites an icon onto the image, scaled to its box.
func (d *drawing) drawIcon(pi *placedIcon) {
	dst := d.canvas.Image()
	o := dst.Bounds().Min
	r := image.Rect(int(pi.box.MinX)+o.X, int(pi.box.MinY)+o.Y,
		int(math.Round(pi.box.MaxX))+o.X, int(math.Round(pi.box.MaxY))+o.Y)
	if !r.Overlaps(dst.Bounds()) {
		return
	}
	var src image.Image = pi.icon.Image
	if pi.icon.SDF {
		src = tinted(pi.icon.Image, pi.tint)
	}
	var mask image.Image
	if pi.opacity < 1 {
		mask = image.NewUniform(color.Alpha{A: uint8(pi.opacity*255 + 0.5)})
	}
	sb := src.Bounds()
	if r.Dx() == sb.Dx() && r.Dy() == sb.Dy() {
		stdraw.DrawMask(dst, r, src, sb.Min, mask, image.Point{}, stdraw.Over)
		return
	}
	xdraw.CatmullRom.Scale(dst, r, src, sb, xdraw.Over, &xdraw.Options{SrcMask: mask})
}

// tinted turns a signed distance field icon into the colour c, with
// MapLibre's edge at 0.75 of the range.
func tinted(sdf *image.NRGBA, c color.NRGBA) *image.NRGBA {
	b := sdf.Bounds()
	out := image.NewNRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			v := float64(sdf.NRGBAAt(x, y).A) / 255
			a := min(max((v-0.75)*8+0.5, 0), 1)
			out.SetNRGBA(x, y, color.NRGBA{c.R, c.G, c.B, uint8(a * float64(c.A))})
		}
	}
	return out
}
