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
