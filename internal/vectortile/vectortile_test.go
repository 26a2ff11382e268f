package vectortile

import (
	"context"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"

	"kiln/internal/mapdata"
	"kiln/internal/maptest"
	"kiln/internal/tile"
)

func at(lon, lat float64, z int) tile.Coord {
	t := maptile.At(orb.Point{lon, lat}, maptile.Zoom(z))
	return tile.Coord{Z: z, X: int(t.X), Y: int(t.Y)}
}

func decode(t *testing.T, b []byte) map[string]*mvt.Layer {
	t.Helper()
	layers, err := mvt.UnmarshalGzipped(b)
	if err != nil {
		t.Fatalf("decoding: %v", err)
	}
	out := map[string]*mvt.Layer{}
	for _, l := range layers {
		out[l.Name] = l
	}
	return out
}

func TestVaduz(t *testing.T) {
	enc := New(maptest.Sample(t))
	ctx := context.Background()
	for _, tc := range []struct {
		z    int
		want []string // layers that must be there
		not  []string // layers that must not
	}{
		{5, []string{"boundaries"}, []string{"buildings", "streets", "pois"}},
		{10, []string{"boundaries", "water_lines", "land", "streets"}, []string{"buildings", "pois"}},
		{14, []string{"buildings", "streets", "street_labels", "land", "pois", "water_lines"}, nil},
		{16, []string{"buildings", "streets", "pois"}, nil},
	} {
		c := at(9.5209, 47.1410, tc.z)
		b, err := enc.Tile(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		layers := decode(t, b)
		for _, name := range tc.want {
			if layers[name] == nil || len(layers[name].Features) == 0 {
				t.Errorf("%s: no %s", c, name)
			}
		}
		for _, name := range tc.not {
			if layers[name] != nil {
				t.Errorf("%s: %s at a zoom below the layer's", c, name)
			}
		}
		for name, l := range layers {
			if l.Extent != Extent || l.Version != 2 {
				t.Errorf("%s %s: extent %d version %d", c, name, l.Extent, l.Version)
			}
			for _, f := range l.Features {
				checkGeometry(t, c, name, f.Geometry)
				if id, ok := f.ID.(float64); !ok || int64(id)%10 < 1 || int64(id)%10 > 3 { // the decoder gives float64
					if name != "ocean" {
						t.Errorf("%s %s: id %v", c, name, f.ID)
					}
				}
			}
		}
	}
}

// checkGeometry holds the geometry to the spec: on the grid, within the
// buffer, exterior rings clockwise on screen (positive area with y down)
// and holes the other way.
func checkGeometry(t *testing.T, c tile.Coord, layer string, g orb.Geometry) {
	t.Helper()
	box := orb.Bound{Min: orb.Point{-Buffer, -Buffer}, Max: orb.Point{Extent + Buffer, Extent + Buffer}}
	if !box.Contains(g.Bound().Min) || !box.Contains(g.Bound().Max) {
		t.Errorf("%s %s: %v beyond the buffer", c, layer, g.Bound())
	}
	var polys orb.MultiPolygon
	switch v := g.(type) {
	case orb.Polygon:
		polys = orb.MultiPolygon{v}
	case orb.MultiPolygon:
		polys = v
	}
	for _, p := range polys {
		for i, r := range p {
			want := orb.CCW
			if i > 0 {
				want = orb.CW
			}
			if r.Orientation() != want {
				t.Errorf("%s %s: ring %d wound %v", c, layer, i, r.Orientation())
			}
		}
	}
}

// fakeSource serves fixed features; the stores have their own tests.
type fakeSource []*mapdata.Feature

func (s fakeSource) Features(_ context.Context, layer string, bbox orb.Bound, _ int, fn func(*mapdata.Feature) error) error {
	for _, f := range s {
		if f.Layer == layer && f.Geom.Bound().Intersects(bbox) {
			if err := fn(f); err != nil {
				return err
			}
		}
	}
	return nil
}

func TestClipAndWind(t *testing.T) {
	c := tile.Coord{Z: 14, X: 8625, Y: 5757}
	b := c.MercatorBound()
	w := b.Max[0] - b.Min[0]
	// A square twice the tile's size, centred on it, wound the way the
	// importer winds exteriors (counter-clockwise with y up), with a hole.
	mid := b.Center()
	sq := func(half float64, o orb.Orientation) orb.Ring {
		r := orb.Ring{{mid[0] - half, mid[1] - half}, {mid[0] + half, mid[1] - half}, {mid[0] + half, mid[1] + half}, {mid[0] - half, mid[1] + half}, {mid[0] - half, mid[1] - half}}
		if r.Orientation() != o {
			r.Reverse()
		}
		return r
	}
	src := fakeSource{
		{Layer: "land", OSMType: 'w', OSMID: 7, Props: mapdata.Props{"kind": "forest"}, Geom: orb.Polygon{sq(w, orb.CCW), sq(w/4, orb.CW)}},
		{Layer: "streets", OSMType: 'w', OSMID: 8, Props: mapdata.Props{"kind": "primary"}, Geom: orb.LineString{{mid[0] - 3*w, mid[1]}, {mid[0] + 3*w, mid[1]}}},
		{Layer: "pois", OSMType: 'n', OSMID: 9, Props: mapdata.Props{"amenity": "cafe"}, Geom: mid},
		{Layer: "pois", OSMType: 'n', OSMID: 10, Props: mapdata.Props{"amenity": "bar"}, Geom: orb.Point{mid[0] + w, mid[1]}},
		{Layer: "boundaries", OSMType: 'r', OSMID: 11, Props: mapdata.Props{"admin_level": int64(2)}, Geom: orb.LineString{{b.Max[0] + w, mid[1]}, {b.Max[0] + 2*w, mid[1]}}},
	}
	data, err := New(src).Tile(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	layers := decode(t, data)
	land := layers["land"].Features[0]
	poly := land.Geometry.(orb.Polygon)
	if len(poly) != 2 || poly[0].Bound() != (orb.Bound{Min: orb.Point{-Buffer, -Buffer}, Max: orb.Point{Extent + Buffer, Extent + Buffer}}) {
		t.Errorf("land clipped to %v with %d rings", poly.Bound(), len(poly))
	}
	if land.ID != float64(72) || land.Properties["kind"] != "forest" {
		t.Errorf("land id %v props %v", land.ID, land.Properties)
	}
	checkGeometry(t, c, "land", poly)
	street := layers["streets"].Features[0].Geometry.(orb.LineString)
	if len(street) != 2 || street[0] != (orb.Point{-Buffer, 2048}) || street[1] != (orb.Point{Extent + Buffer, 2048}) {
		t.Errorf("street clipped to %v", street)
	}
	if n := len(layers["pois"].Features); n != 1 || layers["pois"].Features[0].ID != float64(91) {
		t.Errorf("%d pois, want the one inside", n)
	}
	if layers["boundaries"] != nil {
		t.Error("a line outside the buffer made it in")
	}
}

func TestEmpty(t *testing.T) {
	data, err := New(fakeSource{}).Tile(context.Background(), tile.Coord{Z: 3, X: 1, Y: 1})
	if err != nil {
		t.Fatal(err)
	}
	if layers := decode(t, data); len(layers) != 0 {
		t.Errorf("%d layers in an empty tile", len(layers))
	}
}

func BenchmarkTile(b *testing.B) {
	enc := New(maptest.Sample(b))
	ctx := context.Background()
	for _, z := range []int{8, 12, 14} {
		c := at(9.5209, 47.1410, z)
		b.Run(c.String(), func(b *testing.B) {
			for b.Loop() {
				if _, err := enc.Tile(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
