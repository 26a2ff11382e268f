// Package storetest is the test suite every map database store passes
// (mapdata/sqlite, mapdata/postgis): the same features in, the same
// answers out, imports that swap atomically, updates.
package storetest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"

	"kiln/internal/mapdata"
)

// Store is what the suite reads.
type Store interface {
	Features(ctx context.Context, layer string, bbox orb.Bound, zoom int, fn func(*mapdata.Feature) error) error
	Meta(ctx context.Context, key string) (string, error)
	Close() error
}

// Import is a full import in progress.
type Import interface {
	Write(ctx context.Context, f *mapdata.Feature) error
	Commit(ctx context.Context, meta map[string]string) error
	Abort()
}

// Update is an update in progress.
type Update interface {
	Delete(ctx context.Context, osmType byte, id int64) ([]orb.Bound, error)
	Write(ctx context.Context, f *mapdata.Feature) error
	SetMeta(ctx context.Context, key, value string) error
	Commit(ctx context.Context) error
	Abort()
}

// Backend opens stores of one kind for the suite.
type Backend struct {
	// Open returns two stores on one new, empty database: the suite
	// writes through the first and checks what the second sees.
	Open        func(t *testing.T) (Store, Store)
	BeginImport func(ctx context.Context, s Store) (Import, error)
	BeginUpdate func(ctx context.Context, s Store) (Update, error)
}

// square is a polygon of side d metres at (x, y).
func square(x, y, d float64) orb.Polygon {
	return orb.Polygon{{{x, y}, {x + d, y}, {x + d, y + d}, {x, y + d}, {x, y}}}
}

// wiggly is a line of n points zigzagging by a few metres: simplified at
// low zooms to its ends.
func wiggly(x, y float64, n int) orb.LineString {
	var ls orb.LineString
	for i := range n {
		ls = append(ls, orb.Point{x + float64(i)*100, y + float64(i%2)*3})
	}
	return ls
}

// features are the suite's data, around (1e6, 6e6) in mercator.
func features(tag string) []*mapdata.Feature {
	return []*mapdata.Feature{
		{Layer: "pois", OSMType: 'n', OSMID: 1, MinZoom: 14, Props: mapdata.Props{"amenity": "cafe", "name": "A " + tag, "atm": true}, Geom: orb.Point{1e6, 6e6}},
		{Layer: "pois", OSMType: 'n', OSMID: 2, MinZoom: 14, Props: mapdata.Props{"shop": "bakery"}, Geom: orb.Point{1e6 + 5000, 6e6}},
		{Layer: "streets", OSMType: 'w', OSMID: 10, MinZoom: 5, Sort: 10, Props: mapdata.Props{"kind": "motorway", "rail": false}, Geom: wiggly(1e6, 6e6+100, 60)},
		{Layer: "streets", OSMType: 'w', OSMID: 11, MinZoom: 12, Sort: 5, Props: mapdata.Props{"kind": "residential"}, Geom: orb.LineString{{1e6, 6e6 + 200}, {1e6 + 300, 6e6 + 200}}},
		{Layer: "buildings", OSMType: 'w', OSMID: 20, MinZoom: 14, Props: mapdata.Props{"dummy": int64(1)}, Geom: square(1e6+50, 6e6+50, 20)},
		// A lake 20 km wide with a 5 km island, west of the rest.
		{Layer: "water_polygons", OSMType: 'r', OSMID: 30, MinZoom: 4, Sort: -4e8, Props: mapdata.Props{"kind": "water", "way_area": 4e8},
			Geom: orb.MultiPolygon{{square(1e6-30000, 6e6, 20000)[0], {{1e6 - 25000, 6e6 + 5000}, {1e6 - 25000, 6e6 + 10000}, {1e6 - 20000, 6e6 + 10000}, {1e6 - 20000, 6e6 + 5000}, {1e6 - 25000, 6e6 + 5000}}}}},
		{Layer: "place_labels", OSMType: 'n', OSMID: 40, MinZoom: 4, Sort: -5000, Props: mapdata.Props{"kind": "town", "population": int64(5000)}, Geom: orb.Point{1e6 + 100, 6e6 + 100}},
		{Layer: "ocean", MinZoom: 0, Props: mapdata.Props{}, Geom: square(2e6, 6e6, 1e5)},
	}
}

// Run runs the suite.
func Run(t *testing.T, b Backend) {
	t.Run("Empty", func(t *testing.T) { testEmpty(t, b) })
	t.Run("ImportAndRead", func(t *testing.T) { testImportAndRead(t, b) })
	t.Run("AtomicSwap", func(t *testing.T) { testAtomicSwap(t, b) })
	t.Run("Update", func(t *testing.T) { testUpdate(t, b) })
	t.Run("UnknownLayer", func(t *testing.T) { testUnknownLayer(t, b) })
}

var everywhere = orb.Bound{Min: orb.Point{-2e7, -2e7}, Max: orb.Point{2e7, 2e7}}

func read(t *testing.T, s Store, layer string, bbox orb.Bound, zoom int) []*mapdata.Feature {
	t.Helper()
	var out []*mapdata.Feature
	if err := s.Features(context.Background(), layer, bbox, zoom, func(f *mapdata.Feature) error {
		out = append(out, f)
		return nil
	}); err != nil {
		t.Fatalf("Features(%s): %v", layer, err)
	}
	return out
}

func ids(fs []*mapdata.Feature) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%c%d", f.OSMType, f.OSMID))
	}
	return out
}

func load(t *testing.T, b Backend, s Store, fs []*mapdata.Feature, meta map[string]string) {
	t.Helper()
	ctx := context.Background()
	imp, err := b.BeginImport(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if err := imp.Write(ctx, f); err != nil {
			imp.Abort()
			t.Fatal(err)
		}
	}
	if err := imp.Commit(ctx, meta); err != nil {
		t.Fatal(err)
	}
}

func testEmpty(t *testing.T, b Backend) {
	s, r := b.Open(t)
	if fs := read(t, r, "pois", everywhere, 14); len(fs) != 0 {
		t.Errorf("empty store has %v", ids(fs))
	}
	if v, err := s.Meta(context.Background(), "source"); v != "" || err != nil {
		t.Errorf("Meta = %q, %v", v, err)
	}
}

func testImportAndRead(t *testing.T, b Backend) {
	s, r := b.Open(t)
	load(t, b, s, features("x"), map[string]string{"source": "test.osm", "bounds": "1,2,3,4"})
	ctx := context.Background()
	if v, _ := r.Meta(ctx, "source"); v != "test.osm" {
		t.Errorf("meta source %q", v)
	}
	// Layer, area and zoom select.
	near := orb.Bound{Min: orb.Point{1e6 - 10, 6e6 - 10}, Max: orb.Point{1e6 + 1000, 6e6 + 1000}}
	tests := []struct {
		layer string
		bbox  orb.Bound
		zoom  int
		want  []string
	}{
		{"pois", everywhere, 14, []string{"n1", "n2"}},
		{"pois", near, 14, []string{"n1"}},
		{"pois", near, 13, nil},
		{"streets", near, 14, []string{"w11", "w10"}}, // by sort
		{"streets", near, 8, []string{"w10"}},
		{"buildings", near, 16, []string{"w20"}},
		{"water_polygons", near, 10, nil},
		{"water_polygons", everywhere, 4, []string{"r30"}},
		{"ocean", everywhere, 0, []string{"\x000"}},
		{"boundaries", everywhere, 10, nil},
	}
	for _, tc := range tests {
		if got := ids(read(t, r, tc.layer, tc.bbox, tc.zoom)); !slices.Equal(got, tc.want) {
			t.Errorf("%s z%d: %q, want %q", tc.layer, tc.zoom, got, tc.want)
		}
	}
	// Attributes keep their types; geometries come back whole at high zooms.
	poi := read(t, r, "pois", near, 14)[0]
	if poi.Props["amenity"] != "cafe" || poi.Props["atm"] != true || poi.MinZoom != 14 || poi.Geom != (orb.Point{1e6, 6e6}) {
		t.Errorf("poi %+v", poi)
	}
	town := read(t, r, "place_labels", everywhere, 10)[0]
	if town.Props["population"] != int64(5000) || town.Sort != -5000 {
		t.Errorf("town %+v", town)
	}
	water := read(t, r, "water_polygons", everywhere, 14)[0]
	if water.Props["way_area"] != 4e8 {
		t.Errorf("water way_area %v (%T)", water.Props["way_area"], water.Props["way_area"])
	}
	if mp, ok := water.Geom.(orb.MultiPolygon); !ok || len(mp) != 1 || len(mp[0]) != 2 || math.Abs(planar.Area(mp)-(4e8-25e6)) > 1 {
		t.Errorf("water geometry %v", water.Geom)
	}
	// Low zooms get simplified geometries.
	full := read(t, r, "streets", near, 14)[1].Geom.(orb.LineString)
	low := read(t, r, "streets", near, 6)[0].Geom.(orb.LineString)
	if len(full) != 60 || len(low) >= len(full) || len(low) < 2 {
		t.Errorf("motorway: %d points at z14, %d at z6", len(full), len(low))
	}
}

func testAtomicSwap(t *testing.T, b Backend) {
	s, r := b.Open(t)
	ctx := context.Background()
	load(t, b, s, features("old"), map[string]string{"source": "old"})
	imp, err := b.BeginImport(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	fresh := features("new")[:1]
	fresh[0].OSMID = 100
	for _, f := range fresh {
		if err := imp.Write(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	// While the import runs, readers see the old data whole.
	if got := ids(read(t, r, "pois", everywhere, 14)); !slices.Equal(got, []string{"n1", "n2"}) {
		t.Errorf("during import: %q", got)
	}
	if err := imp.Commit(ctx, map[string]string{"source": "new"}); err != nil {
		t.Fatal(err)
	}
	if got := ids(read(t, r, "pois", everywhere, 14)); !slices.Equal(got, []string{"n100"}) {
		t.Errorf("after import: %q", got)
	}
	if got := ids(read(t, r, "streets", everywhere, 14)); len(got) != 0 {
		t.Errorf("old streets left: %q", got)
	}
	if v, _ := r.Meta(ctx, "source"); v != "new" {
		t.Errorf("meta %q", v)
	}
	// An aborted import leaves the data as it was.
	imp, err = b.BeginImport(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	imp.Write(ctx, features("aborted")[0])
	imp.Abort()
	if got := ids(read(t, r, "pois", everywhere, 14)); !slices.Equal(got, []string{"n100"}) {
		t.Errorf("after abort: %q", got)
	}
}

func testUpdate(t *testing.T, b Backend) {
	s, r := b.Open(t)
	ctx := context.Background()
	load(t, b, s, features("x"), nil)
	u, err := b.BeginUpdate(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	bounds, err := u.Delete(ctx, 'w', 10)
	if err != nil || len(bounds) != 1 || bounds[0].Min[0] != 1e6 || bounds[0].Max[0] != 1e6+5900 {
		t.Fatalf("Delete = %v, %v", bounds, err)
	}
	if bounds, _ := u.Delete(ctx, 'w', 999); len(bounds) != 0 {
		t.Errorf("deleting a missing object: %v", bounds)
	}
	moved := &mapdata.Feature{Layer: "streets", OSMType: 'w', OSMID: 10, MinZoom: 5, Props: mapdata.Props{"kind": "trunk"}, Geom: orb.LineString{{3e6, 3e6}, {3e6 + 10, 3e6}}}
	if err := u.Write(ctx, moved); err != nil {
		t.Fatal(err)
	}
	u.SetMeta(ctx, "replication", "42")
	// Not visible before commit.
	if got := read(t, r, "streets", everywhere, 14); len(got) != 2 {
		t.Errorf("before commit: %q", ids(got))
	}
	if err := u.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	got := read(t, r, "streets", orb.Bound{Min: orb.Point{3e6 - 1, 3e6 - 1}, Max: orb.Point{3e6 + 20, 3e6 + 1}}, 14)
	if len(got) != 1 || got[0].Props["kind"] != "trunk" {
		t.Errorf("after update: %+v", got)
	}
	if all := read(t, r, "streets", everywhere, 14); len(all) != 2 {
		t.Errorf("streets: %q", ids(all))
	}
	if v, _ := r.Meta(ctx, "replication"); v != "42" {
		t.Errorf("meta %q", v)
	}
}

func testUnknownLayer(t *testing.T, b Backend) {
	_, r := b.Open(t)
	if err := r.Features(context.Background(), "nope; DROP TABLE x", everywhere, 14, func(*mapdata.Feature) error { return nil }); err == nil {
		t.Error("unknown layer accepted")
	}
}
