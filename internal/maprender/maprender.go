// Package maprender draws the map: the features of the map data (package
// mapdata), styled by a MapLibre GL style (package style), drawn with
// package draw. It renders metatiles for the tile pipeline and static maps
// of any box and size, and is what Mapnik with openstreetmap-carto is to
// renderd.
//
// Zooms follow MapLibre and tileserver-gl: a style's zoom z draws the
// world 512·2^z pixels wide, so a 256-pixel tile at zoom z shows the style
// at zoom z-1 (and a @2x tile the same, at twice the pixels). The data is
// read at the zoom of the 256-pixel tile, as osm2pgsql-fed Mapnik styles
// do, so a raster tile at zoom 14 has zoom 14's buildings.
//
// Labels are placed as MapLibre places them: the symbol layers from the
// top of the style down, each feature's text tested against a collision
// index before it is drawn. A metatile places the labels of its area and
// of a buffer around it, in an order that does not depend on the area, so
// that a label crossing the edge between two metatiles is placed, or not,
// in both and shows whole.
package maprender

import (
	"context"
	"fmt"
	"image"
	"math"
	"sync"

	"github.com/paulmach/orb"

	"kiln/internal/draw"
	"kiln/internal/mapdata"
	"kiln/internal/sprite"
	"kiln/internal/style"
	"kiln/internal/tile"
)

// Source is the map data (see mapdata stores).
type Source interface {
	Features(ctx context.Context, layer string, bbox orb.Bound, zoom int, fn func(*mapdata.Feature) error) error
}

// Renderer draws one style from one source. It is safe for concurrent use.
type Renderer struct {
	src      Source
	style    *style.Style
	fonts    *draw.Fonts
	sprites  *sprite.Set // nil: the style has no icons kiln can draw
	canvases sync.Pool   // *draw.Canvas: their scratch buffers grow to a metatile's size once
}

// New returns a renderer of st over src, drawing text with fonts and
// icons from sprites (nil for none).
func New(src Source, st *style.Style, fonts *draw.Fonts, sprites *sprite.Set) *Renderer {
	return &Renderer{src: src, style: st, fonts: fonts, sprites: sprites}
}

// MaxDataZoom is the deepest zoom of the map data; deeper views show it.
const MaxDataZoom = 14

// labelBuffer is how far around a metatile, in style pixels, labels are
// placed to decide those that cross its edges.
const labelBuffer = 192

// View is what one drawing shows.
type View struct {
	Bound      orb.Bound // web mercator box drawn into the whole image
	Zoom       float64   // the style's zoom (MapLibre's)
	PixelRatio float64   // image pixels per style pixel: 2 for @2x
	// LabelBuffer (image pixels) places labels around the image too, for
	// images that are tiles of a larger map; 0 keeps every label whole
	// inside the image.
	LabelBuffer float64
}

// ViewOfMeta is the view of metatile m drawn with tiles of tileSize
// pixels (the style's tile size times scale).
func ViewOfMeta(m tile.Meta, tileSize int, scale float64) View {
	// A tile of 256 style pixels is one zoom below MapLibre's 512-pixel
	// tiles.
	z := float64(m.Z) + math.Log2(float64(tileSize)/scale/512)
	ratio := scale
	if z < 0 { // the world in fewer pixels than MapLibre's zoom 0: shrink
		ratio *= math.Exp2(z)
		z = 0
	}
	return View{Bound: m.MercatorBound(), Zoom: z, PixelRatio: ratio, LabelBuffer: labelBuffer * ratio}
}

// dataZoom is the zoom of the map data read for style zoom z: that of a
// 256-pixel tile showing it.
func dataZoom(z float64) int {
	return min(max(int(math.Floor(z+1+1e-9)), 0), MaxDataZoom)
}

// Render draws metatile m into dst (pipeline.Renderer).
func (r *Renderer) Render(ctx context.Context, m tile.Meta, tileSize int, scale float64, dst *image.RGBA) error {
	return r.Draw(ctx, ViewOfMeta(m, tileSize, scale), dst)
}

// Draw draws view v into the whole of dst.
func (r *Renderer) Draw(ctx context.Context, v View, dst *image.RGBA) error {
	c, ok := r.canvases.Get().(*draw.Canvas)
	if ok {
		c.Reset(dst)
	} else {
		c = draw.New(dst)
	}
	defer r.canvases.Put(c)
	d := newDrawing(r, v, c)
	if err := d.run(ctx); err != nil {
		return fmt.Errorf("map render: %w", err)
	}
	return nil
}
