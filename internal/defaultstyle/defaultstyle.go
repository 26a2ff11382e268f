// Package defaultstyle is kiln's built-in map style, "default": a general
// street map for zooms 0 to 18 in the MapLibre GL style format, written for
// the Shortbread layers kiln imports (see docs/schema.md). The raster
// renderer draws it and the server hands it to MapLibre GL clients, so
// both show the same map.
//
// Its colours follow OpenStreetMap Carto's, which people know from
// openstreetmap.org. URLs in it start with "local://", the server's own
// base, which the server fills in (as tileserver-gl does).
//
// Zooms are MapLibre's, whose tiles are 512 pixels wide: a 256-pixel
// raster tile at zoom z shows the style at zoom z-1.
//
// Its icons are Maki's (CC0), coloured and packed into sprite/ by
// tools/spritegen; "local://sprite" in the style is the style's own sprite
// on the server.
package defaultstyle

import (
	_ "embed"

	"kiln/internal/sprite"
)

var (
	//go:embed default.json
	doc []byte
	//go:embed sprite/sprite.json
	spriteJSON []byte
	//go:embed sprite/sprite.png
	spritePNG []byte
	//go:embed sprite/sprite@2x.json
	sprite2xJSON []byte
	//go:embed sprite/sprite@2x.png
	sprite2xPNG []byte
)

// JSON returns the style document. The caller must not modify it.
func JSON() []byte { return doc }

// Sprite returns the style's icons at 1x and 2x.
func Sprite() (*sprite.Set, error) {
	one, err := sprite.Parse(spriteJSON, spritePNG)
	if err != nil {
		return nil, err
	}
	two, err := sprite.Parse(sprite2xJSON, sprite2xPNG)
	if err != nil {
		return nil, err
	}
	return sprite.NewSet(one, two)
}
