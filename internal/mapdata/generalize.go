package mapdata

import (
	"math"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/paulmach/orb/simplify"
)

// Generalize returns the geometry to store for each level (see Levels,
// then the full geometry last): simplified to a quarter pixel of the
// level's deepest zoom, nil where the feature is not shown (its MinZoom is
// deeper than the level) or shrinks below a pixel.
func Generalize(f *Feature) []orb.Geometry {
	out := make([]orb.Geometry, len(Levels)+1)
	out[len(Levels)] = f.Geom
	for i, z := range Levels {
		if f.MinZoom > z {
			continue
		}
		out[i] = simplified(f.Geom, z)
	}
	return out
}

func simplified(g orb.Geometry, z int) orb.Geometry {
	tol := Tolerance(z)
	px := 4 * tol // one pixel at zoom z, in metres
	switch g := g.(type) {
	case orb.Point:
		return g
	case orb.LineString:
		if planar.Length(g) < px {
			return nil
		}
		s := simplify.DouglasPeucker(tol).Simplify(g.Clone())
		if s == nil {
			return nil
		}
		return s
	case orb.Polygon, orb.MultiPolygon:
		if math.Abs(planar.Area(g)) < px*px {
			return nil
		}
		s := clean(simplify.DouglasPeucker(tol).Simplify(orb.Clone(g)))
		if s == nil || math.Abs(planar.Area(s)) == 0 {
			return nil
		}
		return s
	}
	return g
}

// clean drops the rings that simplification left without area (fewer than
// four points), and the polygons that lost their outer ring.
func clean(g orb.Geometry) orb.Geometry {
	polygon := func(p orb.Polygon) orb.Polygon {
		if len(p) == 0 || len(p[0]) < 4 {
			return nil
		}
		out := p[:1]
		for _, r := range p[1:] {
			if len(r) >= 4 {
				out = append(out, r)
			}
		}
		return out
	}
	switch g := g.(type) {
	case orb.Polygon:
		if p := polygon(g); p != nil {
			return p
		}
	case orb.MultiPolygon:
		var mp orb.MultiPolygon
		for _, p := range g {
			if p = polygon(p); p != nil {
				mp = append(mp, p)
			}
		}
		if len(mp) > 0 {
			return mp
		}
	}
	return nil
}
