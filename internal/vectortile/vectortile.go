// Package vectortile encodes kiln's map data as Mapbox Vector Tiles (MVT
// v2, orb/encoding/mvt): every schema layer present at the tile's zoom,
// geometries taken at the stored simplification for that zoom, moved to
// the tile's 4096-unit grid, clipped to the tile plus a buffer, simplified
// to the grid, exterior rings wound as the spec wants; gzip-compressed.
package vectortile

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/clip"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/planar"
	"github.com/paulmach/orb/simplify"

	"kiln/internal/mapdata"
	"kiln/internal/schema"
	"kiln/internal/tile"
)

const (
	// Extent is the tile grid's size.
	Extent = 4096
	// Buffer is how far beyond its edge a tile carries geometry, in grid
	// units, so that lines and fills join across tile edges.
	Buffer = 64
	// MaxZoom is the deepest zoom with its own data; deeper tiles are
	// zoom 14's features at a finer grid, and clients overzoom.
	MaxZoom = 14
)

// Source is the map data (see mapdata stores).
type Source interface {
	Features(ctx context.Context, layer string, bbox orb.Bound, zoom int, fn func(*mapdata.Feature) error) error
}

// Encoder makes vector tiles from a source.
type Encoder struct {
	src    Source
	layers []schema.Layer
}

// New returns an encoder of the schema's layers from src.
func New(src Source) *Encoder { return &Encoder{src: src, layers: schema.Layers()} }

// Tile encodes tile c, gzip-compressed. A tile with no features is a
// valid empty tile.
func (e *Encoder) Tile(ctx context.Context, c tile.Coord) ([]byte, error) {
	b := c.MercatorBound()
	scale := Extent / (b.Max[0] - b.Min[0])
	pad := Buffer / scale
	query := orb.Bound{Min: orb.Point{b.Min[0] - pad, b.Min[1] - pad}, Max: orb.Point{b.Max[0] + pad, b.Max[1] + pad}}
	box := orb.Bound{Min: orb.Point{-Buffer, -Buffer}, Max: orb.Point{Extent + Buffer, Extent + Buffer}}
	toTile := func(p orb.Point) orb.Point {
		return orb.Point{math.Round((p[0] - b.Min[0]) * scale), math.Round((b.Max[1] - p[1]) * scale)}
	}
	dataZoom := min(c.Z, MaxZoom)
	simplifier := simplify.DouglasPeucker(1)
	var layers mvt.Layers
	for _, l := range e.layers {
		if dataZoom < l.MinZoom || dataZoom > l.MaxZoom {
			continue
		}
		layer := &mvt.Layer{Name: l.Name, Version: 2, Extent: Extent}
		err := e.src.Features(ctx, l.Name, query, dataZoom, func(f *mapdata.Feature) error {
			g := prepare(orb.Clone(f.Geom), toTile, box, simplifier)
			if g == nil {
				return nil
			}
			gf := geojson.NewFeature(g)
			for k, v := range f.Props {
				gf.Properties[k] = v
			}
			if f.OSMType != 0 {
				// Ids as osm2pgsql-style tile servers give them: the OSM
				// id times 10 plus 1, 2, 3 for nodes, ways, relations.
				gf.ID = uint64(f.OSMID)*10 + map[byte]uint64{'n': 1, 'w': 2, 'r': 3}[f.OSMType]
			}
			layer.Features = append(layer.Features, gf)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("vector tile %s: %w", c, err)
		}
		if len(layer.Features) > 0 {
			layers = append(layers, layer)
		}
	}
	raw, err := mvt.Marshal(layers)
	if err != nil {
		return nil, fmt.Errorf("vector tile %s: %w", c, err)
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zw.Write(raw)
	zw.Close()
	return buf.Bytes(), nil
}

// prepare moves g to the tile grid, clips it to box, simplifies it and
// winds its rings (exterior rings of positive area in tile coordinates,
// y down); nil if nothing is left.
func prepare(g orb.Geometry, toTile func(orb.Point) orb.Point, box orb.Bound, s orb.Simplifier) orb.Geometry {
	switch v := g.(type) {
	case orb.Point:
		p := toTile(v)
		if !box.Contains(p) {
			return nil
		}
		return p
	case orb.LineString:
		for i := range v {
			v[i] = toTile(v[i])
		}
		mls := clip.LineString(box, v)
		var out orb.MultiLineString
		for _, ls := range mls {
			if ls = s.Simplify(ls).(orb.LineString); len(ls) >= 2 {
				out = append(out, ls)
			}
		}
		switch len(out) {
		case 0:
			return nil
		case 1:
			return out[0]
		}
		return out
	case orb.Polygon:
		return polygons(orb.MultiPolygon{v}, toTile, box, s)
	case orb.MultiPolygon:
		return polygons(v, toTile, box, s)
	}
	return nil
}

func polygons(mp orb.MultiPolygon, toTile func(orb.Point) orb.Point, box orb.Bound, s orb.Simplifier) orb.Geometry {
	var out orb.MultiPolygon
	for _, p := range mp {
		for _, r := range p {
			for i := range r {
				r[i] = toTile(r[i])
			}
		}
		p = clip.Polygon(box, p)
		if len(p) == 0 {
			continue
		}
		var kept orb.Polygon
		for i, r := range p {
			r = s.Simplify(r).(orb.Ring)
			if len(r) < 4 || planar.Area(r) == 0 {
				if i == 0 {
					break // the exterior is gone: so is the polygon
				}
				continue
			}
			want := orb.CCW // positive area in tile coordinates: exterior
			if i > 0 {
				want = orb.CW
			}
			if r.Orientation() != want {
				r.Reverse()
			}
			kept = append(kept, r)
		}
		if len(kept) > 0 {
			out = append(out, kept)
		}
	}
	switch len(out) {
	case 0:
		return nil
	case 1:
		return out[0]
	}
	return out
}
