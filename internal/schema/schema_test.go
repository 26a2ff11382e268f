package schema

import (
	"fmt"
	"testing"

	"github.com/paulmach/orb"

	"kiln/internal/mapdata"
)

func collect(f func(Emit)) map[string]*mapdata.Feature {
	out := map[string]*mapdata.Feature{}
	f(func(ft *mapdata.Feature) { out[ft.Layer] = ft })
	return out
}

func tags(kv ...string) Tags {
	t := Tags{}
	for i := 0; i+1 < len(kv); i += 2 {
		t[kv[i]] = kv[i+1]
	}
	return t
}

var line = orb.LineString{{0, 0}, {100, 0}}

// square is an area of side d metres.
func square(d float64) orb.Polygon {
	return orb.Polygon{{{0, 0}, {d, 0}, {d, d}, {0, d}, {0, 0}}}
}

func TestStreets(t *testing.T) {
	tests := []struct {
		tags  Tags
		kind  string
		zoom  int
		props mapdata.Props
	}{
		{tags("highway", "motorway"), "motorway", 5, mapdata.Props{"rail": false, "link": false}},
		{tags("highway", "primary_link"), "primary", 8, mapdata.Props{"link": true}},
		{tags("highway", "residential", "oneway", "-1"), "residential", 12, mapdata.Props{"oneway": true, "oneway_reverse": true}},
		{tags("highway", "service", "service", "driveway", "surface", "gravel"), "service", 13, mapdata.Props{"service": "driveway", "surface": "gravel"}},
		{tags("highway", "track", "tracktype", "grade2", "bridge", "viaduct"), "track", 13, mapdata.Props{"tracktype": "grade2", "bridge": true}},
		{tags("railway", "rail"), "rail", 8, mapdata.Props{"rail": true, "oneway": false}},
		{tags("railway", "rail", "service", "yard", "oneway", "yes"), "rail", 10, mapdata.Props{"rail": true, "oneway": false}},
		{tags("railway", "tram", "tunnel", "yes"), "tram", 10, mapdata.Props{"tunnel": true}},
		{tags("aeroway", "runway"), "runway", 11, nil},
	}
	for _, tc := range tests {
		got := collect(func(e Emit) { Line(Object{Type: 'w', ID: 1, Tags: tc.tags}, line, e) })["streets"]
		if got == nil {
			t.Errorf("%v: no street", tc.tags)
			continue
		}
		if got.Props["kind"] != tc.kind || got.MinZoom != tc.zoom {
			t.Errorf("%v: kind %v zoom %d, want %s %d", tc.tags, got.Props["kind"], got.MinZoom, tc.kind, tc.zoom)
		}
		for k, v := range tc.props {
			if got.Props[k] != v {
				t.Errorf("%v: %s = %v, want %v", tc.tags, k, got.Props[k], v)
			}
		}
	}
	for _, none := range []Tags{tags("highway", "proposed"), tags("highway", "bridleway"), tags("railway", "abandoned"), tags("name", "x")} {
		if got := collect(func(e Emit) { Line(Object{Type: 'w', ID: 1, Tags: none}, line, e) }); got["streets"] != nil {
			t.Errorf("%v made a street", none)
		}
	}
	// Bridges draw above tunnels, motorways above residential streets.
	if zOrder(tags("highway", "residential", "bridge", "yes")) <= zOrder(tags("highway", "motorway", "tunnel", "yes")) ||
		zOrder(tags("highway", "motorway")) <= zOrder(tags("highway", "residential")) {
		t.Error("z_order")
	}
}

func TestStreetLabels(t *testing.T) {
	got := collect(func(e Emit) {
		Line(Object{Type: 'w', ID: 1, Tags: tags("highway", "trunk_link", "ref", "A 13; E 43 ;", "name:de", "Rheintalstrasse")}, line, e)
	})["street_labels"]
	if got == nil || got.Props["kind"] != "trunk_link" || got.MinZoom != 13 || got.Props["ref"] != "A 13\nE 43" ||
		got.Props["ref_rows"] != int64(2) || got.Props["ref_cols"] != int64(4) || got.Props["name"] != "Rheintalstrasse" {
		t.Errorf("label %+v", got)
	}
	if got := collect(func(e Emit) { Line(Object{Type: 'w', ID: 1, Tags: tags("highway", "residential")}, line, e) }); got["street_labels"] != nil {
		t.Error("unnamed street labelled")
	}
}

func TestAreas(t *testing.T) {
	tests := []struct {
		tags  Tags
		area  float64 // side in metres
		layer string
		kind  any
		zoom  int
	}{
		{tags("landuse", "forest"), 1000, "land", "forest", 7},
		{tags("natural", "wood"), 1000, "land", "forest", 7},
		{tags("landuse", "meadow", "natural", "grassland"), 100, "land", "meadow", 11},
		{tags("wetland", "bog"), 100, "land", "bog", 11},
		{tags("amenity", "grave_yard"), 100, "land", "grave_yard", 13},
		{tags("amenity", "school"), 100, "sites", "school", 14},
		{tags("building", "house"), 10, "buildings", nil, 14},
		{tags("natural", "water"), 20000, "water_polygons", "water", 4},
		{tags("natural", "water"), 50, "water_polygons", "water", 8}, // 0.01 px² at z8.3
		{tags("natural", "water"), 5, "water_polygons", "water", 13}, // 0.1 px² from z10 on
		{tags("natural", "water", "landuse", "reservoir"), 20000, "water_polygons", "reservoir", 4},
		{tags("waterway", "dock"), 20000, "water_polygons", "dock", 10},
		{tags("man_made", "pier"), 50, "pier_polygons", "pier", 12},
		{tags("man_made", "bridge"), 50, "bridges", "bridge", 12},
		{tags("highway", "pedestrian", "area", "yes", "name", "Platz"), 50, "street_polygons", "pedestrian", 14},
		{tags("area:aeroway", "runway"), 50, "street_polygons", "runway", 11},
		{tags("highway", "pedestrian", "area", "yes", "name", "Platz"), 50, "streets_polygons_labels", "pedestrian", 14},
		{tags("amenity", "parking", "name", "P1"), 50, "sites", "parking", 14},
	}
	for _, tc := range tests {
		fs := collect(func(e Emit) {
			p := square(tc.area)
			Area(Object{Type: 'w', ID: 1, Tags: tc.tags}, p, orb.Point{tc.area / 2, tc.area / 2}, e)
		})
		got := fs[tc.layer]
		if got == nil || got.Props["kind"] != tc.kind || got.MinZoom != tc.zoom {
			t.Errorf("%v: %s %+v, want kind %v zoom %d", tc.tags, tc.layer, got, tc.kind, tc.zoom)
		}
	}
	// A tiny pond is not worth a feature at all.
	if fs := collect(func(e Emit) {
		Area(Object{Type: 'w', ID: 1, Tags: tags("natural", "water")}, square(1), orb.Point{}, e)
	}); fs["water_polygons"] != nil {
		t.Error("1 m² pond kept")
	}
	// Land is sorted by area, largest first, so small areas are drawn on top.
	small := collect(func(e Emit) {
		Area(Object{Type: 'w', ID: 1, Tags: tags("leisure", "park")}, square(10), orb.Point{5, 5}, e)
	})
	big := collect(func(e Emit) {
		Area(Object{Type: 'w', ID: 2, Tags: tags("landuse", "residential")}, square(100), orb.Point{5, 5}, e)
	})
	if small["land"].Sort <= big["land"].Sort {
		t.Errorf("park sorts at %v, the residential area around it at %v", small["land"].Sort, big["land"].Sort)
	}
}

func TestIsArea(t *testing.T) {
	tests := []struct {
		tags   Tags
		closed bool
		want   bool
	}{
		{tags("landuse", "grass"), true, true},
		{tags("landuse", "grass"), false, false},
		{tags("highway", "primary"), true, false}, // a roundabout
		{tags("highway", "pedestrian", "area", "yes"), true, true},
		{tags("area:aeroway", "taxiway"), false, true},
		{tags("barrier", "fence", "area", "no"), true, false},
		{tags("railway", "platform"), true, false},
	}
	for _, tc := range tests {
		if got := IsArea(tc.tags, tc.closed); got != tc.want {
			t.Errorf("IsArea(%v, %v) = %v", tc.tags, tc.closed, got)
		}
	}
}

func TestPoints(t *testing.T) {
	node := func(kv ...string) map[string]*mapdata.Feature {
		return collect(func(e Emit) { Node(Object{Type: 'n', ID: 1, Tags: tags(kv...)}, orb.Point{}, e) })
	}
	if f := node("amenity", "restaurant", "cuisine", "pizza", "addr:housenumber", "7", "name:en", "Pizza"); f["pois"] == nil ||
		f["pois"].Props["cuisine"] != "pizza" || f["pois"].Props["housenumber"] != "7" || f["pois"].Props["name"] != "Pizza" || f["addresses"] != nil {
		t.Errorf("restaurant %+v", f)
	}
	if f := node("amenity", "bank", "atm", "yes"); f["pois"].Props["atm"] != true {
		t.Errorf("bank %+v", f["pois"])
	}
	if f := node("amenity", "bench", "cuisine", "x"); f["pois"].Props["cuisine"] != nil {
		t.Errorf("bench with cuisine %+v", f["pois"])
	}
	if f := node("shop", "spaceship"); f["pois"] != nil {
		t.Error("unlisted shop is a POI")
	}
	if f := node("addr:housenumber", "12a"); f["addresses"] == nil || f["addresses"].Props["housenumber"] != "12a" {
		t.Errorf("address %+v", f)
	}
	if f := node("leisure", "playground"); f["pois"] == nil {
		t.Error("leisure=playground (as in 1.1) is not a POI")
	}
	for _, tc := range []struct {
		kv   []string
		kind string
		zoom int
		pop  int64
	}{
		{[]string{"place", "town", "name", "Vaduz", "capital", "yes", "population", "5,450"}, "capital", 4, 5450},
		{[]string{"place", "city", "capital", "4"}, "state_capital", 4, 100000},
		{[]string{"place", "village", "capital", "6", "population", "many"}, "village", 10, 100},
		{[]string{"place", "suburb"}, "suburb", 10, 1000},
	} {
		f := node(tc.kv...)["place_labels"]
		if f == nil || f.Props["kind"] != tc.kind || f.MinZoom != tc.zoom || f.Props["population"] != tc.pop || f.Sort != -float64(tc.pop) {
			t.Errorf("%v: %+v", tc.kv, f)
		}
	}
	if f := node("railway", "station", "name", "Schaan-Vaduz")["public_transport"]; f == nil || f.Props["kind"] != "station" || f.MinZoom != 13 {
		t.Errorf("station %+v", f)
	}
	if f := node("highway", "motorway_junction", "ref", "12")["street_labels_points"]; f == nil || f.Props["ref"] != "12" {
		t.Errorf("junction %+v", f)
	}
}

func TestLinesMisc(t *testing.T) {
	l := func(kv ...string) map[string]*mapdata.Feature {
		return collect(func(e Emit) { Line(Object{Type: 'w', ID: 1, Tags: tags(kv...)}, line, e) })
	}
	if f := l("aerialway", "chair_lift")["aerialways"]; f == nil || f.Props["kind"] != "chair_lift" {
		t.Errorf("aerialway %+v", f)
	}
	if f := l("route", "ferry", "motor_vehicle", "no")["ferries"]; f == nil || f.MinZoom != 12 {
		t.Errorf("ferry %+v", f)
	}
	if f := l("waterway", "stream", "name", "Bach"); f["water_lines"] == nil || f["water_lines"].MinZoom != 14 || f["water_lines_labels"] == nil {
		t.Errorf("stream %+v", f)
	}
	long := orb.LineString{{0, 0}, {200000, 0}}
	if f := collect(func(e Emit) { Line(Object{Type: 'w', ID: 1, Tags: tags("waterway", "river")}, long, e) })["water_lines"]; f == nil || f.MinZoom != 9 {
		t.Errorf("200 km river %+v", f)
	}
	short := orb.LineString{{0, 0}, {10, 0}} // 0.25 px at z11.9
	if f := collect(func(e Emit) { Line(Object{Type: 'w', ID: 1, Tags: tags("waterway", "river")}, short, e) })["water_lines"]; f == nil || f.MinZoom != 11 {
		t.Errorf("10 m river %+v", f)
	}
}

func TestBoundaries(t *testing.T) {
	if AdminLevel(tags("type", "boundary", "boundary", "administrative", "admin_level", "2")) != 2 ||
		AdminLevel(tags("type", "boundary", "boundary", "administrative", "admin_level", "6")) != 0 ||
		AdminLevel(tags("type", "multipolygon", "boundary", "administrative", "admin_level", "4")) != 0 {
		t.Error("AdminLevel")
	}
	if !DisputedRelation(tags("boundary", "disputed")) || DisputedRelation(tags("boundary", "disputed", "admin_level", "8")) {
		t.Error("DisputedRelation")
	}
	f := collect(func(e Emit) {
		BoundaryWay(Object{Type: 'w', ID: 1, Tags: tags("natural", "coastline")}, line, 4, true, e)
	})["boundaries"]
	if f == nil || f.MinZoom != 7 || f.Props["admin_level"] != int64(4) || f.Props["maritime"] != true || f.Props["disputed"] != true {
		t.Errorf("boundary %+v", f)
	}
	for _, tc := range []struct {
		level int
		km2   float64
		zoom  int
	}{{2, 3e6, 2}, {2, 1e6, 3}, {2, 2e5, 4}, {2, 160, 5}, {4, 1e6, 3}, {4, 10, 5}} {
		f := collect(func(e Emit) {
			BoundaryLabel(Object{Type: 'r', ID: 1, Tags: tags("name", "X")}, tc.level, orb.Point{}, tc.km2*1e6, e)
		})["boundary_labels"]
		if f == nil || f.MinZoom != tc.zoom || f.Props["way_area"] != tc.km2*100 {
			t.Errorf("level %d, %v km²: %+v", tc.level, tc.km2, f)
		}
	}
}

func ExampleLayerNames() {
	fmt.Println(len(LayerNames()), LayerNames()[0])
	// Output: 26 ocean
}
