package osmgeom

import (
	"math"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// grid locates node id i*100+j at (i, j): nodes named by their position.
func grid(id int64) (orb.Point, bool) {
	if id <= 0 || id >= 100000 {
		return orb.Point{}, false
	}
	return orb.Point{float64(id / 100), float64(id % 100)}, true
}

func n(x, y int64) int64 { return x*100 + y }

func area(g orb.Geometry) float64 { return math.Abs(planar.Area(g)) }

func TestLineSkipsMissingAndRepeats(t *testing.T) {
	ls, missing := Line([]int64{n(1, 1), n(1, 1), 0, n(2, 1), 999999}, grid)
	if len(ls) != 2 || missing != 2 {
		t.Errorf("line %v, missing %d", ls, missing)
	}
	if ls, _ := Line([]int64{n(1, 1), 0}, grid); ls != nil {
		t.Errorf("one point made a line: %v", ls)
	}
}

func TestPolygonOrientation(t *testing.T) {
	cw := []int64{n(1, 1), n(1, 2), n(2, 2), n(2, 1), n(1, 1)}
	p, _ := Polygon(cw, grid)
	if p == nil || p[0].Orientation() != orb.CCW || area(p) != 1 {
		t.Errorf("polygon %v", p)
	}
	if p, _ := Polygon([]int64{n(1, 1), n(2, 2), n(3, 3), n(1, 1)}, grid); p != nil {
		t.Errorf("flat polygon %v", p)
	}
}

func TestMultiPolygon(t *testing.T) {
	// An outer 10x10 square split over three ways, one reversed, listed out
	// of order; a 4x4 hole in it as one closed way; an island 2x2 in the
	// hole; a separate outer 1x1; and an open chain that cannot close.
	members := []Member{
		{1, []int64{n(10, 10), n(10, 20)}},
		{2, []int64{n(20, 10), n(10, 10)}}, // reversed relative to the ring
		{3, []int64{n(10, 20), n(20, 20), n(20, 10)}},
		{4, []int64{n(12, 12), n(16, 12), n(16, 16), n(12, 16), n(12, 12)}},
		{5, []int64{n(13, 13), n(15, 13), n(15, 15), n(13, 15), n(13, 13)}},
		{6, []int64{n(30, 30), n(31, 30), n(31, 31), n(30, 31), n(30, 30)}},
		{7, []int64{n(40, 40), n(41, 40), n(41, 41)}},
	}
	a := MultiPolygon(members, grid)
	if a.Broken != 1 {
		t.Errorf("broken %d, want 1", a.Broken)
	}
	if len(a.Polygons) != 3 {
		t.Fatalf("%d polygons, want 3: %v", len(a.Polygons), a.Polygons)
	}
	big := a.Polygons[0]
	if len(big) != 2 || area(big[0]) != 100 || area(big[1]) != 16 {
		t.Errorf("outer with hole: %v", big)
	}
	if big[0].Orientation() != orb.CCW || big[1].Orientation() != orb.CW {
		t.Error("rings wrongly oriented")
	}
	if got := area(a.Polygons); got != 100-16+4+1 {
		t.Errorf("total area %v", got)
	}
}

func TestPointOnSurface(t *testing.T) {
	// A U shape: its centroid lies outside it.
	u := orb.Polygon{{{0, 0}, {3, 0}, {3, 3}, {2, 3}, {2, 1}, {1, 1}, {1, 3}, {0, 3}, {0, 0}}}
	donut := orb.Polygon{
		{{0, 0}, {10, 0}, {10, 10}, {0, 10}, {0, 0}},
		{{1, 1}, {1, 9}, {9, 9}, {9, 1}, {1, 1}},
	}
	for name, g := range map[string]orb.Geometry{
		"U": u, "donut": donut, "multi": orb.MultiPolygon{{{{0, 0}, {1, 0}, {1, 1}, {0, 0}}}, u},
	} {
		p := PointOnSurface(g)
		var in bool
		switch g := g.(type) {
		case orb.Polygon:
			in = planar.PolygonContains(g, p)
		case orb.MultiPolygon:
			in = planar.MultiPolygonContains(g, p)
		}
		if !in {
			t.Errorf("%s: %v is not inside", name, p)
		}
	}
}

func TestSea(t *testing.T) {
	box := orb.Bound{Min: orb.Point{10, 10}, Max: orb.Point{20, 20}}
	// The coast crosses the box from east to west at y=15 (land south,
	// on the left going west); an island in the sea; the chain is split
	// into two ways.
	coasts := []Member{
		{1, []int64{n(25, 15), n(15, 16)}},
		{2, []int64{n(15, 16), n(5, 15)}},
		{3, []int64{n(12, 17), n(14, 17), n(14, 19), n(12, 19), n(12, 17)}}, // counter-clockwise: land inside
	}
	sea, broken := Sea(coasts, grid, box)
	if broken != 0 || len(sea) != 1 {
		t.Fatalf("sea %v, broken %d", sea, broken)
	}
	for _, tc := range []struct {
		p   orb.Point
		sea bool
	}{
		{orb.Point{11, 19}, true}, {orb.Point{19, 18}, true},
		{orb.Point{13, 18}, false}, // island
		{orb.Point{15, 12}, false}, // land
	} {
		if got := planar.MultiPolygonContains(sea, tc.p); got != tc.sea {
			t.Errorf("point %v: sea %v, want %v", tc.p, got, tc.sea)
		}
	}
	// A coast that stops inside the box cannot make a sea.
	if sea, broken := Sea([]Member{{1, []int64{n(25, 15), n(15, 15)}}}, grid, box); broken != 1 || sea != nil {
		t.Errorf("broken coast: %v %d", sea, broken)
	}
	// Only an island: all the box is sea but the island.
	sea, _ = Sea(coasts[2:], grid, box)
	if len(sea) != 1 || area(sea) != 100-4 {
		t.Errorf("island only: %v (area %v)", sea, area(sea))
	}
	// Going north, east, then south with the land on the left: the land is
	// outside and the sea a bay inside x 14–16 south of y 15.
	bay := []Member{{1, []int64{n(14, 5), n(14, 15), n(16, 15), n(16, 5)}}}
	sea, broken = Sea(bay, grid, box)
	if broken != 0 || area(sea) != 2*5 || !planar.MultiPolygonContains(sea, orb.Point{15, 12}) {
		t.Errorf("bay: %v (area %v)", sea, area(sea))
	}
	// The same line the other way round: a peninsula of land in the sea.
	pen := []Member{{1, []int64{n(16, 5), n(16, 15), n(14, 15), n(14, 5)}}}
	sea, broken = Sea(pen, grid, box)
	if broken != 0 || area(sea) != 100-2*5 || planar.MultiPolygonContains(sea, orb.Point{15, 12}) ||
		!planar.MultiPolygonContains(sea, orb.Point{11, 11}) || !planar.MultiPolygonContains(sea, orb.Point{19, 11}) {
		t.Errorf("peninsula: %v (area %v)", sea, area(sea))
	}
}
