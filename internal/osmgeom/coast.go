package osmgeom

import (
	"math"
	"sort"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/clip"
	"github.com/paulmach/orb/planar"
)

// Sea builds the sea inside box (mercator) from coastline ways, which OSM
// draws with the land on their left: coastline pieces crossing the box are
// closed along its edge, keeping the water on the left, and islands (closed
// coastlines) become holes. It reports the coastline chains that neither
// close nor reach the box's edge; with any, the sea cannot be told from the
// land and Sea returns nothing.
func Sea(coasts []Member, loc Locator, box orb.Bound) (orb.MultiPolygon, int) {
	chains := joinDirected(coasts)
	broken := 0
	var islands, lakes []orb.Ring
	var pieces []orb.LineString // water on the left, from edge to edge
	for _, chain := range chains {
		ls, _ := Line(chain, loc)
		if len(ls) < 2 {
			continue
		}
		if chain[0] == chain[len(chain)-1] {
			r := orb.Ring(ls)
			if r[0] != r[len(r)-1] {
				r = append(r, r[0])
			}
			if !box.Intersects(r.Bound()) {
				continue
			}
			if inBox(box, r) {
				if r.Orientation() == orb.CCW {
					islands = append(islands, r) // land on the left: land inside
				} else {
					lakes = append(lakes, r)
				}
				continue
			}
		}
		for _, p := range clip.LineString(box, ls) {
			if len(p) < 2 {
				continue
			}
			if !onEdge(box, p[0]) || !onEdge(box, p[len(p)-1]) {
				broken++
				continue
			}
			p.Reverse()
			pieces = append(pieces, p)
		}
	}
	if broken > 0 {
		return nil, broken
	}
	var seas orb.MultiPolygon
	switch {
	case len(pieces) > 0:
		seas = closeAlongEdge(pieces, box)
	case len(islands) > 0:
		// Only islands: the whole box is sea around them.
		seas = orb.MultiPolygon{{boxRing(box)}}
	}
	for _, r := range lakes {
		r = append(orb.Ring(nil), r...)
		r.Reverse()
		seas = append(seas, orb.Polygon{r})
	}
	for _, isl := range islands {
		hole := append(orb.Ring(nil), isl...)
		orient(hole, orb.CW)
		for i := range seas {
			if planar.PolygonContains(seas[i], isl[0]) || planar.RingContains(seas[i][0], isl[0]) {
				seas[i] = append(seas[i], hole)
				break
			}
		}
	}
	return seas, 0
}

// joinDirected chains ways end to start, keeping their direction.
func joinDirected(ways []Member) (chains [][]int64) {
	byStart := map[int64][]int{}
	for i, w := range ways {
		if len(w.Refs) >= 2 {
			byStart[w.Refs[0]] = append(byStart[w.Refs[0]], i)
		}
	}
	hasPred := map[int]bool{}
	for _, w := range ways {
		if len(w.Refs) >= 2 {
			for _, j := range byStart[w.Refs[len(w.Refs)-1]] {
				hasPred[j] = true
			}
		}
	}
	used := map[int]bool{}
	follow := func(start int) []int64 {
		used[start] = true
		chain := append([]int64(nil), ways[start].Refs...)
		for chain[0] != chain[len(chain)-1] {
			next := -1
			for _, j := range byStart[chain[len(chain)-1]] {
				if !used[j] {
					next = j
					break
				}
			}
			if next < 0 {
				break
			}
			used[next] = true
			chain = append(chain, ways[next].Refs[1:]...)
		}
		return chain
	}
	// Chains that start somewhere first, then the closed loops left.
	for i, w := range ways {
		if len(w.Refs) >= 2 && !hasPred[i] && !used[i] {
			chains = append(chains, follow(i))
		}
	}
	for i, w := range ways {
		if len(w.Refs) >= 2 && !used[i] {
			chains = append(chains, follow(i))
		}
	}
	return chains
}

func inBox(box orb.Bound, r orb.Ring) bool {
	b := r.Bound()
	return box.Contains(b.Min) && box.Contains(b.Max)
}

// edgeEps is how close to the box edge a clipped end must be, in metres.
const edgeEps = 1e-6

func onEdge(box orb.Bound, p orb.Point) bool {
	return math.Abs(p[0]-box.Min[0]) < edgeEps || math.Abs(p[0]-box.Max[0]) < edgeEps ||
		math.Abs(p[1]-box.Min[1]) < edgeEps || math.Abs(p[1]-box.Max[1]) < edgeEps
}

// perimeter is a point's position going counter-clockwise round the box
// from its south-west corner: 0–1 south edge, 1–2 east, 2–3 north, 3–4 west.
func perimeter(box orb.Bound, p orb.Point) float64 {
	w, h := box.Max[0]-box.Min[0], box.Max[1]-box.Min[1]
	switch {
	case math.Abs(p[1]-box.Min[1]) < edgeEps && p[0] < box.Max[0]-edgeEps:
		return (p[0] - box.Min[0]) / w
	case math.Abs(p[0]-box.Max[0]) < edgeEps && p[1] < box.Max[1]-edgeEps:
		return 1 + (p[1]-box.Min[1])/h
	case math.Abs(p[1]-box.Max[1]) < edgeEps && p[0] > box.Min[0]+edgeEps:
		return 2 + (box.Max[0]-p[0])/w
	}
	return 3 + (box.Max[1]-p[1])/h
}

func boxRing(box orb.Bound) orb.Ring {
	return orb.Ring{box.Min, {box.Max[0], box.Min[1]}, box.Max, {box.Min[0], box.Max[1]}, box.Min}
}

// closeAlongEdge joins pieces that run from edge to edge with water on
// their left into polygons, following the box's edge counter-clockwise
// from where a piece leaves the box to where the next one enters it.
func closeAlongEdge(pieces []orb.LineString, box orb.Bound) orb.MultiPolygon {
	type end struct {
		t     float64
		piece int
	}
	var starts []end
	for i, p := range pieces {
		starts = append(starts, end{perimeter(box, p[0]), i})
	}
	sort.Slice(starts, func(a, b int) bool { return starts[a].t < starts[b].t })
	corners := []orb.Point{{box.Max[0], box.Min[1]}, box.Max, {box.Min[0], box.Max[1]}, box.Min} // at t = 1, 2, 3, 4
	used := make([]bool, len(pieces))
	var out orb.MultiPolygon
	for first := range pieces {
		if used[first] {
			continue
		}
		var ring orb.Ring
		cur := first
		for steps := 0; steps <= len(pieces); steps++ {
			used[cur] = true
			ring = append(ring, pieces[cur]...)
			tOut := perimeter(box, pieces[cur][len(pieces[cur])-1])
			// The next piece entering counter-clockwise after tOut.
			next := starts[0]
			for _, s := range starts {
				if s.t > tOut {
					next = s
					break
				}
			}
			tIn := next.t
			if tIn <= tOut {
				tIn += 4
			}
			for c := math.Floor(tOut) + 1; c < tIn; c++ {
				ring = append(ring, corners[int(c-1)%4])
			}
			cur = next.piece
			if cur == first {
				break
			}
		}
		ring = append(ring, ring[0])
		if len(ring) >= 4 && planar.Area(ring) != 0 {
			orient(ring, orb.CCW)
			out = append(out, orb.Polygon{ring})
		}
	}
	return out
}
