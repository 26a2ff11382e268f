package tile

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/paulmach/orb"
)

func TestMeta(t *testing.T) {
	tests := []struct {
		c     Coord
		meta  Meta
		side  int
		index int
	}{
		{Coord{0, 0, 0}, Meta{0, 0, 0, 8}, 1, 0},
		{Coord{1, 1, 1}, Meta{1, 0, 0, 8}, 2, 9},
		{Coord{2, 3, 1}, Meta{2, 0, 0, 8}, 4, 25},
		{Coord{13, 1234, 5678}, Meta{13, 1232, 5672, 8}, 8, 22},
		{Coord{14, 4823, 6160}, Meta{14, 4816, 6160, 8}, 8, 56},
	}
	for _, tc := range tests {
		m := MetaOf(tc.c, 8)
		if m != tc.meta || m.Side() != tc.side || m.Index(tc.c) != tc.index || !m.Contains(tc.c) {
			t.Errorf("%v: meta %v side %d index %d", tc.c, m, m.Side(), m.Index(tc.c))
		}
		n := 0
		for c := range m.Tiles() {
			if !m.Contains(c) || !c.InGrid() {
				t.Errorf("%v yields %v", m, c)
			}
			n++
		}
		if n != m.Count() || n != tc.side*tc.side {
			t.Errorf("%v: %d tiles, Count %d", m, n, m.Count())
		}
	}
	if (Meta{14, 4816, 6160, 8}).Contains(Coord{14, 4824, 6160}) {
		t.Error("Contains a tile of the next metatile")
	}
}

func TestInGrid(t *testing.T) {
	for c, want := range map[Coord]bool{
		{0, 0, 0}: true, {0, 1, 0}: false, {1, 1, 1}: true, {1, 2, 0}: false, {20, 1<<20 - 1, 0}: true,
		{21, 0, 0}: false, {-1, 0, 0}: false, {3, -1, 0}: false,
	} {
		if c.InGrid() != want {
			t.Errorf("%v.InGrid() = %v", c, !want)
		}
	}
}

func TestCovering(t *testing.T) {
	// Expected ranges computed independently with the slippy-map formula.
	liechtenstein := orb.Bound{Min: orb.Point{9.471078, 47.04774}, Max: orb.Point{9.636217, 47.27128}}
	tests := []struct {
		z    int
		want Range
	}{
		{0, Range{0, 0, 0, 0, 0}},
		{10, Range{10, 538, 359, 539, 359}},
		{16, Range{16, 34492, 22978, 34522, 23037}},
	}
	for _, tc := range tests {
		if got := Covering(liechtenstein, tc.z); got != tc.want {
			t.Errorf("z%d: %+v, want %+v", tc.z, got, tc.want)
		}
	}
	// The whole world, latitudes beyond mercator's included, is the grid.
	world := orb.Bound{Min: orb.Point{-180, -90}, Max: orb.Point{180, 90}}
	if got := Covering(world, 3); got != World(3) {
		t.Errorf("world: %+v", got)
	}
	// A tile's own bound covers that tile.
	c := Coord{12, 2177, 1437}
	b := c.Bound()
	inner := orb.Bound{Min: orb.Point{b.Min[0] + 1e-9, b.Min[1] + 1e-9}, Max: orb.Point{b.Max[0] - 1e-9, b.Max[1] - 1e-9}}
	if got := Covering(inner, 12); got != (Range{12, 2177, 1437, 2177, 1437}) {
		t.Errorf("tile bound: %+v", got)
	}
}

func TestRangeMetas(t *testing.T) {
	r := Range{Z: 10, MinX: 530, MinY: 350, MaxX: 545, MaxY: 352}
	var got []string
	for m := range r.Metas(8) {
		got = append(got, m.String())
	}
	want := []string{"10/528/344", "10/536/344", "10/544/344", "10/528/352", "10/536/352", "10/544/352"}
	if !slices.Equal(got, want) {
		t.Errorf("Metas = %v, want %v", got, want)
	}
	if n := r.Tiles(); n != 16*3 {
		t.Errorf("Tiles = %d", n)
	}
	if fmt.Sprint(World(1)) != fmt.Sprint(Range{1, 0, 0, 1, 1}) {
		t.Errorf("World(1) = %v", World(1))
	}
}

func TestMercatorBound(t *testing.T) {
	const hw = 20037508.342789244
	for _, tc := range []struct {
		name string
		got  orb.Bound
		want orb.Bound
	}{
		{"0/0/0", Coord{0, 0, 0}.MercatorBound(), orb.Bound{Min: orb.Point{-hw, -hw}, Max: orb.Point{hw, hw}}},
		{"1/1/0", Coord{1, 1, 0}.MercatorBound(), orb.Bound{Min: orb.Point{0, 0}, Max: orb.Point{hw, hw}}},
		{"1/0/1", Coord{1, 0, 1}.MercatorBound(), orb.Bound{Min: orb.Point{-hw, -hw}, Max: orb.Point{0, 0}}},
		{"meta 3/0/0 of 8", Meta{Z: 3, N: 8}.MercatorBound(), orb.Bound{Min: orb.Point{-hw, -hw}, Max: orb.Point{hw, hw}}},
		{"meta 1/0/0 of 8: the 2x2 tiles there are", Meta{Z: 1, N: 8}.MercatorBound(), orb.Bound{Min: orb.Point{-hw, -hw}, Max: orb.Point{hw, hw}}},
		{"meta 16/8/8 of 8 = tiles 8..15", Meta{Z: 16, X: 8, Y: 8, N: 8}.MercatorBound(),
			Coord{16, 8, 8}.MercatorBound().Union(Coord{16, 15, 15}.MercatorBound())},
	} {
		near := func(a, b orb.Point) bool { return math.Hypot(a[0]-b[0], a[1]-b[1]) < 1e-6 }
		if !near(tc.got.Min, tc.want.Min) || !near(tc.got.Max, tc.want.Max) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	// Agrees with the longitude/latitude box.
	c := Coord{14, 8609, 5753}
	ll := c.Bound()
	m := c.MercatorBound()
	x := ll.Min[0] * hw / 180
	if math.Abs(x-m.Min[0]) > 1e-3 {
		t.Errorf("west edge %f, want %f", m.Min[0], x)
	}
}
