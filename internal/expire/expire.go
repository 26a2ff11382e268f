// Package expire reads osm2pgsql's expire lists (one "z/x/y" tile per
// line, as osm2pgsql -e and kiln import --append write them) and turns them
// into the metatiles to expire at each zoom, as render_expired does.
package expire

import (
	"bufio"
	"fmt"
	"io"
	"iter"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/paulmach/orb"

	"kiln/internal/tile"
)

// Read parses an expire list. Blank lines are skipped; any other line that
// is not a tile of the grid is an error naming its line number.
func Read(r io.Reader) ([]tile.Coord, error) {
	var tiles []tile.Coord
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 4096)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		c, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		tiles = append(tiles, c)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return tiles, nil
}

func parseLine(line string) (tile.Coord, error) {
	parts := strings.Split(line, "/")
	if len(parts) != 3 {
		return tile.Coord{}, fmt.Errorf("%q is not z/x/y", line)
	}
	var v [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || p[0] == '+' || p[0] == '-' {
			return tile.Coord{}, fmt.Errorf("%q is not z/x/y", line)
		}
		v[i] = n
	}
	c := tile.Coord{Z: v[0], X: v[1], Y: v[2]}
	if !c.InGrid() {
		return tile.Coord{}, fmt.Errorf("%s is not a tile of the grid (zoom 0 to %d)", c, tile.MaxZoom)
	}
	return c, nil
}

// Metas returns, zoom by zoom from maxZoom down to minZoom, the metatiles
// of side n that hold any part of the given tiles: at zooms up to a tile's
// own, the metatile of its ancestor; at deeper zooms, every metatile its
// area covers (render_expired looks only at the top-left child there).
func Metas(tiles []tile.Coord, minZoom, maxZoom, n int) iter.Seq2[int, []tile.Meta] {
	return func(yield func(int, []tile.Meta) bool) {
		for z := maxZoom; z >= minZoom; z-- {
			set := make(map[tile.Meta]struct{})
			for _, c := range tiles {
				if z <= c.Z {
					shift := c.Z - z
					set[tile.MetaOf(tile.Coord{Z: z, X: c.X >> shift, Y: c.Y >> shift}, n)] = struct{}{}
					continue
				}
				shift := z - c.Z
				r := tile.Range{Z: z, MinX: c.X << shift, MinY: c.Y << shift,
					MaxX: (c.X+1)<<shift - 1, MaxY: (c.Y+1)<<shift - 1}
				for m := range r.Metas(n) {
					set[m] = struct{}{}
				}
			}
			metas := slices.SortedFunc(maps.Keys(set), func(a, b tile.Meta) int {
				if a.Y != b.Y {
					return a.Y - b.Y
				}
				return a.X - b.X
			})
			if !yield(z, metas) {
				return
			}
		}
	}
}

// List collects the tiles an update touched, at one zoom.
type List struct {
	Zoom  int
	tiles map[tile.Coord]struct{}
}

// NewList starts an expire list at zoom z.
func NewList(z int) *List { return &List{Zoom: z, tiles: map[tile.Coord]struct{}{}} }

// maxBoxTiles bounds the tiles one changed geometry expires: beyond that
// (a coastline, a country border) only its corners' tiles are listed, as
// osm2pgsql limits its expiry of large polygons.
const maxBoxTiles = 4096

// Add lists the tiles touching a web mercator box.
func (l *List) Add(b orb.Bound) {
	r := tile.CoveringMercator(b, l.Zoom)
	if r.Tiles() > maxBoxTiles {
		for _, c := range []tile.Coord{{Z: r.Z, X: r.MinX, Y: r.MinY}, {Z: r.Z, X: r.MaxX, Y: r.MinY},
			{Z: r.Z, X: r.MinX, Y: r.MaxY}, {Z: r.Z, X: r.MaxX, Y: r.MaxY}} {
			l.tiles[c] = struct{}{}
		}
		return
	}
	for x := r.MinX; x <= r.MaxX; x++ {
		for y := r.MinY; y <= r.MaxY; y++ {
			l.tiles[tile.Coord{Z: r.Z, X: x, Y: y}] = struct{}{}
		}
	}
}

// Len is the number of tiles listed.
func (l *List) Len() int { return len(l.tiles) }

// WriteTo writes the list as z/x/y lines, sorted.
func (l *List) WriteTo(w io.Writer) (int64, error) {
	coords := slices.SortedFunc(maps.Keys(l.tiles), func(a, b tile.Coord) int {
		if a.X != b.X {
			return a.X - b.X
		}
		return a.Y - b.Y
	})
	bw := bufio.NewWriter(w)
	var n int64
	for _, c := range coords {
		k, err := fmt.Fprintf(bw, "%d/%d/%d\n", c.Z, c.X, c.Y)
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
	return n, bw.Flush()
}
