// Package osmgeom turns OpenStreetMap ways and relations into geometries
// in web mercator: lines, rings joined from many ways, polygons with holes
// from multipolygon and boundary relations, and a point inside an area for
// its label.
//
// Ring assembly and point-on-surface are written here because orb has
// neither and the one Go port of GEOS-like operations (simplefeatures)
// assumes valid input, which OSM data often is not.
package osmgeom

import (
	"math"
	"slices"
	"sort"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/paulmach/orb/project"
)

// Mercator projects longitude/latitude (degrees) to web mercator metres,
// clamping latitude to the projection's ±85.0511°.
func Mercator(lon, lat float64) orb.Point {
	lat = max(min(lat, 85.05112877980659), -85.05112877980659)
	return project.WGS84.ToMercator(orb.Point{lon, lat})
}

// Locator finds a node's location (mercator).
type Locator func(id int64) (orb.Point, bool)

// Line builds a way's line, skipping nodes that cannot be located and
// repeated points. It reports how many nodes were missing; the line is nil
// if fewer than two distinct points remain.
func Line(refs []int64, loc Locator) (orb.LineString, int) {
	ls := make(orb.LineString, 0, len(refs))
	missing := 0
	for _, id := range refs {
		p, ok := loc(id)
		if !ok {
			missing++
			continue
		}
		if len(ls) > 0 && ls[len(ls)-1] == p {
			continue
		}
		ls = append(ls, p)
	}
	if len(ls) < 2 {
		return nil, missing
	}
	return ls, missing
}

// Closed says whether a way's node list is closed.
func Closed(refs []int64) bool {
	return len(refs) >= 4 && refs[0] == refs[len(refs)-1]
}

// Polygon builds a closed way's area, oriented counter-clockwise; nil if
// it has fewer than three distinct points or no area.
func Polygon(refs []int64, loc Locator) (orb.Polygon, int) {
	ls, missing := Line(refs, loc)
	if len(ls) < 3 {
		return nil, missing
	}
	r := orb.Ring(ls)
	if r[0] != r[len(r)-1] {
		r = append(r, r[0])
	}
	if len(r) < 4 || planar.Area(r) == 0 {
		return nil, missing
	}
	orient(r, orb.CCW)
	return orb.Polygon{r}, missing
}

func orient(r orb.Ring, o orb.Orientation) {
	if r.Orientation() != o {
		r.Reverse()
	}
}

// Member is a way of a relation with its node ids.
type Member struct {
	WayID int64
	Refs  []int64
}

// Assembly is the result of building a multipolygon from its ways.
type Assembly struct {
	Polygons orb.MultiPolygon // outers counter-clockwise, holes clockwise
	Broken   int              // chains of ways that do not close into a ring
	Missing  int              // nodes that could not be located
}

// MultiPolygon joins the ways of a multipolygon or boundary relation into
// rings, whatever their roles say, and nests them: a ring inside an odd
// number of others is a hole of the innermost one. Rings that do not close
// are counted and left out.
func MultiPolygon(members []Member, loc Locator) Assembly {
	var a Assembly
	var rings []orb.Ring
	for _, chain := range joinRings(members, &a.Broken) {
		ls, missing := Line(chain, loc)
		a.Missing += missing
		if len(ls) < 3 {
			a.Broken++
			continue
		}
		r := orb.Ring(ls)
		if r[0] != r[len(r)-1] {
			r = append(r, r[0])
		}
		if len(r) < 4 || planar.Area(r) == 0 {
			continue
		}
		rings = append(rings, r)
	}
	a.Polygons = nest(rings)
	return a
}

// joinRings chains ways at shared end nodes into closed node lists.
func joinRings(members []Member, broken *int) [][]int64 {
	var rings [][]int64
	var open []int
	for i, m := range members {
		switch {
		case len(m.Refs) < 2:
		case Closed(m.Refs):
			rings = append(rings, m.Refs)
		default:
			open = append(open, i)
		}
	}
	byEnd := map[int64][]int{} // end node → open ways ending or starting there
	for _, i := range open {
		r := members[i].Refs
		byEnd[r[0]] = append(byEnd[r[0]], i)
		byEnd[r[len(r)-1]] = append(byEnd[r[len(r)-1]], i)
	}
	used := map[int]bool{}
	for _, start := range open {
		if used[start] {
			continue
		}
		used[start] = true
		chain := slices.Clone(members[start].Refs)
		for chain[0] != chain[len(chain)-1] {
			end := chain[len(chain)-1]
			next := -1
			for _, j := range byEnd[end] {
				if !used[j] {
					next = j
					break
				}
			}
			if next < 0 {
				break
			}
			used[next] = true
			r := members[next].Refs
			if r[0] == end {
				chain = append(chain, r[1:]...)
			} else {
				for k := len(r) - 2; k >= 0; k-- {
					chain = append(chain, r[k])
				}
			}
		}
		if len(chain) >= 4 && chain[0] == chain[len(chain)-1] {
			rings = append(rings, chain)
		} else {
			*broken++
		}
	}
	return rings
}

// nest sorts rings into polygons by containment.
func nest(rings []orb.Ring) orb.MultiPolygon {
	type info struct {
		ring   orb.Ring
		area   float64
		bound  orb.Bound
		depth  int
		parent int
		poly   int // index in the result, for outers
	}
	infos := make([]info, len(rings))
	for i, r := range rings {
		infos[i] = info{ring: r, area: math.Abs(planar.Area(r)), bound: r.Bound(), parent: -1, poly: -1}
	}
	sort.SliceStable(infos, func(i, j int) bool { return infos[i].area > infos[j].area })
	var mp orb.MultiPolygon
	for i := range infos {
		in := &infos[i]
		// The innermost earlier (larger) ring that contains this one.
		for j := i - 1; j >= 0; j-- {
			if infos[j].bound.Contains(in.bound.Min) && infos[j].bound.Contains(in.bound.Max) && inside(in.ring, infos[j].ring) {
				in.parent, in.depth = j, infos[j].depth+1
				break
			}
		}
		if in.depth%2 == 0 {
			orient(in.ring, orb.CCW)
			in.poly = len(mp)
			mp = append(mp, orb.Polygon{in.ring})
			continue
		}
		orient(in.ring, orb.CW)
		p := infos[in.parent].poly
		mp[p] = append(mp[p], in.ring)
	}
	return mp
}

// inside says whether ring a lies inside ring b, testing a's vertices
// until one is not on b's boundary.
func inside(a, b orb.Ring) bool {
	for _, p := range a {
		if onRing(p, b) {
			continue
		}
		return planar.RingContains(b, p)
	}
	return false
}

func onRing(p orb.Point, r orb.Ring) bool {
	return slices.Contains(r, p)
}

// PointOnSurface returns a point inside an area (Polygon or MultiPolygon):
// on a horizontal line through the middle of its largest polygon, the
// middle of the widest stretch inside it. For other geometries it returns
// a point of the geometry.
func PointOnSurface(g orb.Geometry) orb.Point {
	var poly orb.Polygon
	switch v := g.(type) {
	case orb.Polygon:
		poly = v
	case orb.MultiPolygon:
		best := -1.0
		for _, p := range v {
			if a := planar.Area(p); a > best {
				best, poly = a, p
			}
		}
	case orb.Point:
		return v
	case orb.LineString:
		return v[len(v)/2]
	}
	if len(poly) == 0 || len(poly[0]) == 0 {
		return orb.Point{}
	}
	b := poly.Bound()
	y := (b.Min[1] + b.Max[1]) / 2
	// Move the scan line off any vertex, where crossings would count twice.
	for _, r := range poly {
		for _, p := range r {
			if p[1] == y {
				y += (b.Max[1] - b.Min[1]) * 1e-9
			}
		}
	}
	var xs []float64
	for _, r := range poly {
		for i := 1; i < len(r); i++ {
			p, q := r[i-1], r[i]
			if (p[1] > y) != (q[1] > y) {
				xs = append(xs, p[0]+(y-p[1])*(q[0]-p[0])/(q[1]-p[1]))
			}
		}
	}
	sort.Float64s(xs)
	bestW, bestX := -1.0, poly[0][0][0]
	for i := 0; i+1 < len(xs); i += 2 {
		if w := xs[i+1] - xs[i]; w > bestW {
			bestW, bestX = w, (xs[i]+xs[i+1])/2
		}
	}
	if bestW < 0 {
		return poly[0][0]
	}
	return orb.Point{bestX, y}
}
