package importer

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"

	"kiln/internal/mapdata"
	"kiln/internal/middle"
	"kiln/internal/osmgeom"
)

const sample = "../../data/osm/liechtenstein-2013-08-03.osm.pbf"

// collect keeps the features an import writes.
type collect struct {
	mu       sync.Mutex
	features []*mapdata.Feature
}

func (c *collect) Write(_ context.Context, f *mapdata.Feature) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.features = append(c.features, f)
	return nil
}

func (c *collect) layer(name string) []*mapdata.Feature {
	var out []*mapdata.Feature
	for _, f := range c.features {
		if f.Layer == name {
			out = append(out, f)
		}
	}
	return out
}

func runImport(t *testing.T, path string) (*collect, Summary) {
	t.Helper()
	ctx := context.Background()
	mid, err := middle.NewBuilder(ctx, t.TempDir(), "test")
	if err != nil {
		t.Fatal(err)
	}
	out := &collect{}
	sum, err := Run(ctx, path, out, mid, Options{Procs: 2})
	if err != nil {
		mid.Abort()
		t.Fatal(err)
	}
	if err := mid.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	return out, sum
}

func TestSmall(t *testing.T) {
	out, sum := runImport(t, "testdata/small.osm")
	if sum.Nodes != 5 || sum.Ways != 2 || sum.Relations != 1 || sum.Warnings() != 0 {
		t.Errorf("summary %+v", sum)
	}
	want := map[string]string{ // layer → kind (or key attribute)
		"land":           "forest",
		"streets":        "primary",
		"street_labels":  "primary",
		"water_polygons": "water",
		"pois":           "",
	}
	for layer, kind := range want {
		fs := out.layer(layer)
		if len(fs) != 1 {
			t.Errorf("%s: %d features", layer, len(fs))
			continue
		}
		if kind != "" && fs[0].Props["kind"] != kind {
			t.Errorf("%s: kind %v", layer, fs[0].Props["kind"])
		}
	}
	if len(out.features) != len(want) {
		t.Errorf("%d features, want %d", len(out.features), len(want))
	}
	poi := out.layer("pois")[0]
	if poi.Props["amenity"] != "cafe" || poi.Props["name"] != "Café Süß" || poi.Props["name_en"] != "Café Süß" || poi.OSMType != 'n' || poi.OSMID != 5 {
		t.Errorf("poi %+v", poi)
	}
	water := out.layer("water_polygons")[0]
	if water.OSMType != 'r' || water.OSMID != 20 {
		t.Errorf("water from %c%d, want the multipolygon relation", water.OSMType, water.OSMID)
	}
	street := out.layer("streets")[0]
	if _, ok := street.Geom.(orb.LineString); !ok || street.MinZoom != 8 || street.Props["oneway"] != false {
		t.Errorf("street %+v", street)
	}
}

// A way with a node missing from the file is built from the others and
// counted as a warning, not an error.
func TestMissingNodes(t *testing.T) {
	text := strings.Replace(string(mustRead(t, "testdata/small.osm")), `<nd ref="1"/><nd ref="3"/>`, `<nd ref="1"/><nd ref="99"/><nd ref="3"/>`, 1)
	p := filepath.Join(t.TempDir(), "missing.osm")
	os.WriteFile(p, []byte(text), 0o644)
	out, sum := runImport(t, p)
	if sum.MissingNodes != 1 || sum.Warnings() != 1 {
		t.Errorf("summary %+v", sum)
	}
	if st := out.layer("streets"); len(st) != 1 || len(st[0].Geom.(orb.LineString)) != 2 {
		t.Errorf("street %+v", st)
	}
}

func TestCoastBecomesOcean(t *testing.T) {
	out, sum := runImport(t, "testdata/coast.osm")
	if sum.Warnings() != 0 {
		t.Errorf("warnings: %+v", sum)
	}
	oceans := out.layer("ocean")
	if len(oceans) == 0 {
		t.Fatal("no ocean")
	}
	var sea orb.MultiPolygon
	for _, f := range oceans {
		sea = append(sea, f.Geom.(orb.Polygon))
	}
	for _, tc := range []struct {
		lon, lat float64
		sea      bool
	}{
		{10.01, 54.09, true}, {10.09, 54.06, true},
		{10.05, 54.075, false}, // the island
		{10.05, 54.02, false},  // land
		{10.05, 54.051, false}, // just south of the coast's kink
	} {
		if got := planar.MultiPolygonContains(sea, osmgeom.Mercator(tc.lon, tc.lat)); got != tc.sea {
			t.Errorf("%v,%v: sea %v, want %v", tc.lon, tc.lat, got, tc.sea)
		}
	}
	// About half the box, less the island, in mercator square metres.
	box := orb.Bound{Min: osmgeom.Mercator(10, 54), Max: osmgeom.Mercator(10.1, 54.1)}
	full := (box.Max[0] - box.Min[0]) * (box.Max[1] - box.Min[1])
	if a := planar.Area(sea); a < 0.4*full || a > 0.55*full {
		t.Errorf("sea is %.0f%% of the box", 100*a/full)
	}
	if pl := out.layer("place_labels"); len(pl) != 1 || pl[0].Props["population"] != int64(12000) || pl[0].Props["kind"] != "town" {
		t.Errorf("place labels %+v", pl)
	}
}

func TestLiechtenstein(t *testing.T) {
	out, sum := runImport(t, sample)
	if sum.Nodes != 65733 || sum.Ways != 7121 || sum.Relations != 113 {
		t.Errorf("counts %+v", sum)
	}
	if sum.MissingNodes != 0 {
		t.Errorf("%d missing nodes in a file with complete ways", sum.MissingNodes)
	}
	for layer, least := range map[string]int{
		"buildings": 3000, "streets": 2500, "street_labels": 300, "land": 100, "pois": 200,
		"water_polygons": 10, "water_lines": 20, "boundaries": 10, "place_labels": 10, "addresses": 100,
		"boundary_labels": 1, "public_transport": 10,
	} {
		if n := len(out.layer(layer)); n < least {
			t.Errorf("%s: %d features, want at least %d", layer, n, least)
		}
	}
	// The country border is there, at admin level 2, drawn from zoom 0.
	level2 := 0
	for _, f := range out.layer("boundaries") {
		if f.Props["admin_level"] == int64(2) && f.MinZoom == 0 {
			level2++
		}
	}
	if level2 == 0 {
		t.Error("no admin level 2 border")
	}
	var vaduz *mapdata.Feature
	for _, f := range out.layer("place_labels") {
		if f.Props["name"] == "Vaduz" {
			vaduz = f
		}
	}
	if vaduz == nil {
		t.Fatal("no Vaduz")
	}
	lonlat := osmgeom.Mercator(9.52, 47.14)
	if d := math.Hypot(vaduz.Geom.(orb.Point)[0]-lonlat[0], vaduz.Geom.(orb.Point)[1]-lonlat[1]); d > 3000 {
		t.Errorf("Vaduz is %.0f m from where it should be", d)
	}
	// Every feature has the geometry its layer wants.
	for _, f := range out.features {
		switch f.Geom.(type) {
		case orb.Point, orb.LineString, orb.Polygon, orb.MultiPolygon:
		default:
			t.Fatalf("%s feature with a %T", f.Layer, f.Geom)
		}
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	pbf, _ := os.ReadFile(sample)
	unsorted := strings.Replace(string(mustRead(t, "testdata/small.osm")), `<node id="1" lat="47.100" lon="9.500" version="1"/>`, "", 1) +
		"" // node 1 moved after node 2 below
	unsorted = strings.Replace(unsorted, `<node id="3"`, `<node id="1" lat="47.100" lon="9.500" version="1"/><node id="3"`, 1)
	cases := map[string][]byte{
		"cut.osm.pbf":     pbf[:len(pbf)/2],
		"unsorted.osm":    []byte(unsorted),
		"not-osm.osm.pbf": []byte("hello"),
		"truncated.osm":   mustRead(t, "testdata/small.osm")[:300],
		"empty.osm.gz":    nil,
		"wrong.extension": []byte("<osm/>"),
	}
	for name, b := range cases {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		mid, _ := middle.NewBuilder(context.Background(), t.TempDir(), "test")
		_, err := Run(context.Background(), p, &collect{}, mid, Options{Procs: 2})
		mid.Abort()
		if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v, want ErrInput naming the file", name, err)
		}
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func BenchmarkImportLiechtenstein(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		mid, _ := middle.NewBuilder(ctx, b.TempDir(), "bench")
		if _, err := Run(ctx, sample, &collect{}, mid, Options{Procs: 2}); err != nil {
			b.Fatal(err)
		}
		mid.Finish(ctx)
	}
}
