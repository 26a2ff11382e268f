// Package tile is the tile grid arithmetic shared by every stage of kiln:
// web-mercator z/x/y tiles (y = 0 at the north, as slippy maps number them),
// the metatiles that group them for rendering and caching, and the tiles
// covering a longitude/latitude box.
package tile

import (
	"fmt"
	"iter"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"
)

// MaxZoom is the deepest zoom kiln renders and stores. mod_tile's hashed
// directory layout holds 20 bits per axis, so deeper tiles cannot be stored
// in a cache that renderd and mod_tile also read.
const MaxZoom = 20

// Coord is one tile of the web-mercator grid.
type Coord struct {
	Z, X, Y int
}

func (c Coord) String() string { return fmt.Sprintf("%d/%d/%d", c.Z, c.X, c.Y) }

// InGrid reports whether the tile exists at its zoom.
func (c Coord) InGrid() bool {
	if c.Z < 0 || c.Z > MaxZoom {
		return false
	}
	n := 1 << c.Z
	return c.X >= 0 && c.X < n && c.Y >= 0 && c.Y < n
}

// Bound is the tile's longitude/latitude box.
func (c Coord) Bound() orb.Bound {
	return maptile.New(uint32(c.X), uint32(c.Y), maptile.Zoom(c.Z)).Bound()
}

// Meta is a metatile: the N×N block of tiles whose top-left tile is (X, Y),
// with X and Y multiples of N. It is the unit of rendering and of caching,
// as in renderd, so that labels and lines are drawn once across its tiles.
type Meta struct {
	Z, X, Y int
	N       int // tiles per side; 8 in mod_tile's format
}

// MetaOf returns the metatile of side n (a power of two) holding c.
func MetaOf(c Coord, n int) Meta {
	return Meta{Z: c.Z, X: c.X &^ (n - 1), Y: c.Y &^ (n - 1), N: n}
}

func (m Meta) String() string { return fmt.Sprintf("%d/%d/%d", m.Z, m.X, m.Y) }

// Side is the number of tiles per side that exist in the metatile: N, or
// fewer at low zooms where the whole world is smaller than a metatile.
func (m Meta) Side() int {
	return min(m.N, 1<<m.Z)
}

// Count is the number of tiles that exist in the metatile.
func (m Meta) Count() int { s := m.Side(); return s * s }

// Contains reports whether c is one of the metatile's tiles.
func (m Meta) Contains(c Coord) bool {
	s := m.Side()
	return c.Z == m.Z && c.X >= m.X && c.X < m.X+s && c.Y >= m.Y && c.Y < m.Y+s
}

// Index is c's slot in a metatile file: column-major, as mod_tile lays it
// out ((x mod N)·N + (y mod N)).
func (m Meta) Index(c Coord) int {
	return (c.X-m.X)*m.N + (c.Y - m.Y)
}

// Tiles yields the metatile's existing tiles in index order.
func (m Meta) Tiles() iter.Seq[Coord] {
	return func(yield func(Coord) bool) {
		s := m.Side()
		for dx := range s {
			for dy := range s {
				if !yield(Coord{Z: m.Z, X: m.X + dx, Y: m.Y + dy}) {
					return
				}
			}
		}
	}
}

// Bound is the longitude/latitude box of the metatile's existing tiles.
func (m Meta) Bound() orb.Bound {
	s := m.Side()
	nw := Coord{Z: m.Z, X: m.X, Y: m.Y}.Bound()
	se := Coord{Z: m.Z, X: m.X + s - 1, Y: m.Y + s - 1}.Bound()
	return nw.Union(se)
}

// Range is an inclusive rectangle of tiles at one zoom.
type Range struct {
	Z          int
	MinX, MinY int
	MaxX, MaxY int
}

// Covering returns the tiles at zoom z that touch the longitude/latitude box b.
// Latitudes beyond web mercator's ±85.0511° are clamped to the grid.
func Covering(b orb.Bound, z int) Range {
	zz := maptile.Zoom(z)
	nw := maptile.At(orb.Point{b.Min[0], b.Max[1]}, zz)
	se := maptile.At(orb.Point{b.Max[0], b.Min[1]}, zz)
	last := uint32(1)<<z - 1
	return Range{
		Z:    z,
		MinX: int(min(nw.X, last)), MinY: int(min(nw.Y, last)),
		MaxX: int(min(se.X, last)), MaxY: int(min(se.Y, last)),
	}
}

// World is every tile at zoom z.
func World(z int) Range {
	last := 1<<z - 1
	return Range{Z: z, MaxX: last, MaxY: last}
}

// Tiles is the number of tiles in the range.
func (r Range) Tiles() int {
	return (r.MaxX - r.MinX + 1) * (r.MaxY - r.MinY + 1)
}

// Metas yields the metatiles of side n that hold tiles of the range, row by
// row from the north-west.
func (r Range) Metas(n int) iter.Seq[Meta] {
	return func(yield func(Meta) bool) {
		mask := n - 1
		for y := r.MinY &^ mask; y <= r.MaxY; y += n {
			for x := r.MinX &^ mask; x <= r.MaxX; x += n {
				if !yield(Meta{Z: r.Z, X: x, Y: y, N: n}) {
					return
				}
			}
		}
	}
}

// halfWorld is half the side of the web mercator square, in metres.
const halfWorld = 20037508.342789244

// CoveringMercator returns the tiles at zoom z that touch the web mercator
// (EPSG:3857) box b.
func CoveringMercator(b orb.Bound, z int) Range {
	n := float64(int(1) << z)
	last := 1<<z - 1
	tx := func(x float64) int { return min(max(int((x+halfWorld)/(2*halfWorld)*n), 0), last) }
	ty := func(y float64) int { return min(max(int((halfWorld-y)/(2*halfWorld)*n), 0), last) }
	return Range{Z: z, MinX: tx(b.Min[0]), MaxX: tx(b.Max[0]), MinY: ty(b.Max[1]), MaxY: ty(b.Min[1])}
}

// MercatorBound is the tile's web mercator (EPSG:3857) box, in metres.
func (c Coord) MercatorBound() orb.Bound {
	return mercatorBound(c.Z, c.X, c.Y, 1)
}

// MercatorBound is the web mercator box of the metatile's existing tiles
// (Side() per side).
func (m Meta) MercatorBound() orb.Bound {
	return mercatorBound(m.Z, m.X, m.Y, m.Side())
}

func mercatorBound(z, x, y, n int) orb.Bound {
	size := 2 * halfWorld / float64(int(1)<<z)
	minX := -halfWorld + float64(x)*size
	maxY := halfWorld - float64(y)*size
	side := size * float64(n)
	return orb.Bound{Min: orb.Point{minX, maxY - side}, Max: orb.Point{minX + side, maxY}}
}
