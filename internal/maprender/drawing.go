package maprender

import (
	"context"
	"math"

	"github.com/paulmach/orb"

	"kiln/internal/draw"
	"kiln/internal/mapdata"
	"kiln/internal/style"
)

// drawing is one Draw call: the view, the canvas and the features read so
// far, by source layer.
type drawing struct {
	r      *Renderer
	v      View
	canvas *draw.Canvas
	w, h   float64
	scale  float64 // image pixels per mercator metre
	zoom   int     // data zoom

	features map[string][]*feature // by source layer, in the source's order
	pads     map[string]float64    // how far around the image each source layer is read (pixels)
	labels   [][]label             // by style layer index: placed text
}

// feature is a map feature with what drawing it needs: its expression
// context and its geometry in image pixels, made when first needed.
type feature struct {
	f         *mapdata.Feature
	ctx       style.Context
	projected bool
	point     draw.Point
	lines     [][]draw.Point // line parts, or polygon rings
	polys     [][][]draw.Point
}

func newDrawing(r *Renderer, v View, c *draw.Canvas) *drawing {
	b := c.Image().Bounds()
	d := &drawing{
		r: r, v: v, canvas: c,
		w: float64(b.Dx()), h: float64(b.Dy()),
		zoom:     dataZoom(v.Zoom),
		features: map[string][]*feature{},
		pads:     map[string]float64{},
		labels:   make([][]label, len(r.style.Layers)),
	}
	c.SetOffset(draw.Point{X: float64(b.Min.X), Y: float64(b.Min.Y)})
	d.scale = d.w / (v.Bound.Max[0] - v.Bound.Min[0])
	return d
}

// linePad is how far beyond the image line and fill features are read
// (style pixels), for strokes whose middle is outside but whose edge
// shows.
const linePad = 32

func (d *drawing) run(ctx context.Context) error {
	layers := d.visibleLayers()
	// Read each source layer once, as far around the image as its widest
	// use needs.
	for _, l := range layers {
		if l == nil || l.Type == "background" {
			continue
		}
		pad := linePad * d.v.PixelRatio
		if l.Type == "symbol" {
			pad = max(pad, d.v.LabelBuffer+linePad*d.v.PixelRatio)
		}
		d.pads[l.SourceLayer] = max(d.pads[l.SourceLayer], pad)
	}
	for name, pad := range d.pads {
		if err := d.read(ctx, name, pad); err != nil {
			return err
		}
	}
	// Labels first, from the top layer down (upper layers win places);
	// then everything in style order.
	coll := newCollider(d)
	for i := len(d.r.style.Layers) - 1; i >= 0; i-- {
		l := d.r.style.Layers[i]
		if l.Type == "symbol" && layers[i] != nil {
			if err := ctx.Err(); err != nil {
				return err
			}
			d.labels[i] = d.placeLabels(l, coll)
		}
	}
	for i, l := range layers {
		if l == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		switch l.Type {
		case "background":
			d.background(l)
		case "fill":
			d.fill(l)
		case "line":
			d.line(l)
		case "symbol":
			d.drawLabels(l, d.labels[i])
		}
	}
	return nil
}

// visibleLayers lists the style's layers drawn in this view, by index; nil
// for the others.
func (d *drawing) visibleLayers() []*style.Layer {
	out := make([]*style.Layer, len(d.r.style.Layers))
	for i, l := range d.r.style.Layers {
		if l.Supported() && l.ShowsAt(d.v.Zoom) && (l.Type == "background" || l.SourceLayer != "") {
			out[i] = l
		}
	}
	return out
}

// read fetches the features of a source layer in the image and pad
// pixels around it.
func (d *drawing) read(ctx context.Context, layer string, pad float64) error {
	m := pad / d.scale
	b := d.v.Bound
	bbox := orb.Bound{Min: orb.Point{b.Min[0] - m, b.Min[1] - m}, Max: orb.Point{b.Max[0] + m, b.Max[1] + m}}
	var fs []*feature
	err := d.r.src.Features(ctx, layer, bbox, d.zoom, func(f *mapdata.Feature) error {
		fs = append(fs, &feature{f: f, ctx: style.Context{
			Zoom: d.v.Zoom, Properties: f.Props, GeometryType: geometryType(f.Geom), ID: featureID(f),
		}})
		return nil
	})
	d.features[layer] = fs
	return err
}

func geometryType(g orb.Geometry) string {
	switch g.(type) {
	case orb.Point, orb.MultiPoint:
		return "Point"
	case orb.LineString, orb.MultiLineString:
		return "LineString"
	}
	return "Polygon"
}

// featureID is the id vector tiles give the feature: the OSM id times 10
// plus 1, 2 or 3 for nodes, ways and relations.
func featureID(f *mapdata.Feature) any {
	switch f.OSMType {
	case 'n':
		return float64(f.OSMID*10 + 1)
	case 'w':
		return float64(f.OSMID*10 + 2)
	case 'r':
		return float64(f.OSMID*10 + 3)
	}
	return nil
}

// px is a mercator point in image pixels.
func (d *drawing) px(p orb.Point) draw.Point {
	return draw.Point{X: (p[0] - d.v.Bound.Min[0]) * d.scale, Y: (d.v.Bound.Max[1] - p[1]) * d.scale}
}

// minStep drops vertices closer than this (pixels) to the last one kept:
// they change nothing that shows.
const minStep = 0.3

func (d *drawing) pxLine(ls []orb.Point, closed bool) []draw.Point {
	out := make([]draw.Point, 0, len(ls))
	for i, p := range ls {
		q := d.px(p)
		if n := len(out); n > 0 && i < len(ls)-1 && math.Abs(q.X-out[n-1].X) < minStep && math.Abs(q.Y-out[n-1].Y) < minStep {
			continue
		}
		out = append(out, q)
	}
	if closed && len(out) > 0 && out[0] != out[len(out)-1] {
		out = append(out, out[0])
	}
	return out
}

// project makes f's pixel geometry.
func (d *drawing) project(f *feature) {
	if f.projected {
		return
	}
	f.projected = true
	switch g := f.f.Geom.(type) {
	case orb.Point:
		f.point = d.px(g)
	case orb.LineString:
		f.lines = [][]draw.Point{d.pxLine(g, false)}
	case orb.MultiLineString:
		for _, ls := range g {
			f.lines = append(f.lines, d.pxLine(ls, false))
		}
	case orb.Polygon:
		f.polys = [][][]draw.Point{d.pxPolygon(g)}
	case orb.MultiPolygon:
		for _, p := range g {
			f.polys = append(f.polys, d.pxPolygon(p))
		}
	}
	for _, p := range f.polys {
		f.lines = append(f.lines, p...)
	}
}

func (d *drawing) pxPolygon(p orb.Polygon) [][]draw.Point {
	rings := make([][]draw.Point, 0, len(p))
	for _, r := range p {
		if pr := d.pxLine(r, true); len(pr) >= 4 {
			rings = append(rings, pr)
		}
	}
	return rings
}

// matching yields the features of l's source layer that its filter lets
// through, their contexts at zoom z.
func (d *drawing) matching(l *style.Layer, z float64, fn func(*feature)) {
	for _, f := range d.features[l.SourceLayer] {
		f.ctx.Zoom = z
		if l.Matches(&f.ctx) {
			fn(f)
		}
	}
}
