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
package defaultstyle

import _ "embed"

//go:embed default.json
var doc []byte

// JSON returns the style document. The caller must not modify it.
func JSON() []byte { return doc }
