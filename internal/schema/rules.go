package schema

import (
	"math"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"

	"kiln/internal/mapdata"
)

// Tags are an OSM object's tags.
type Tags map[string]string

// Object is the OSM object a feature comes from.
type Object struct {
	Type byte // 'n', 'w', 'r'
	ID   int64
	Tags Tags
}

// Emit receives the features the schema makes of an object.
type Emit func(*mapdata.Feature)

func (o Object) feature(layer string, minZoom int, props mapdata.Props, g orb.Geometry) *mapdata.Feature {
	return &mapdata.Feature{Layer: layer, OSMType: o.Type, OSMID: o.ID, MinZoom: minZoom, Props: props, Geom: g}
}

// IsArea says whether a closed way is an area rather than a line, as the
// reference implementation decides: area=yes, or closed and not area=no,
// except that highway, railway and aeroway ways are lines unless area=yes
// or area:aeroway is set.
func IsArea(t Tags, closed bool) bool {
	if t["area"] == "yes" || t["area:aeroway"] != "" {
		return true
	}
	if !closed || t["area"] == "no" {
		return false
	}
	return t["highway"] == "" && t["railway"] == "" && t["aeroway"] == ""
}

// Node makes the features of a node at p (mercator).
func Node(o Object, p orb.Point, emit Emit) {
	pointFeatures(o, p, emit)
	if o.Tags["highway"] == "motorway_junction" {
		props := namesOf(o.Tags)
		props["kind"] = "motorway_junction"
		setString(props, "ref", o.Tags["ref"])
		emit(o.feature("street_labels_points", 12, props, p))
	}
	placeLabel(o, p, emit)
}

// Line makes the features of a way that is not an area.
func Line(o Object, l orb.LineString, emit Emit) {
	t := o.Tags
	streets(o, l, emit)
	waterLine(o, l, emit)
	switch {
	case t["waterway"] == "dam":
		emit(o.feature("dam_lines", 12, mapdata.Props{"kind": "dam"}, l))
	case pierKinds[t["man_made"]]:
		emit(o.feature("pier_lines", 12, mapdata.Props{"kind": t["man_made"]}, l))
	}
	if k := aerialwayKind(t["aerialway"]); k != "" {
		emit(o.feature("aerialways", 12, mapdata.Props{"kind": k}, l))
	}
	if t["route"] == "ferry" {
		props := namesOf(t)
		props["kind"] = "ferry"
		z := 10
		if t["motor_vehicle"] == "no" {
			z = 12
		}
		emit(o.feature("ferries", z, props, l))
	}
}

// Area makes the features of an area: a closed way that is one (IsArea),
// or an assembled multipolygon. label is a point inside it.
func Area(o Object, g orb.Geometry, label orb.Point, emit Emit) {
	t := o.Tags
	area := planar.Area(g)
	land(o, g, area, emit)
	if t["building"] != "" && t["building"] != "no" {
		emit(o.feature("buildings", 14, mapdata.Props{"dummy": int64(1)}, g))
	}
	if k := siteKind(t); k != "" {
		emit(o.feature("sites", 14, mapdata.Props{"kind": k}, g))
	}
	waterPolygon(o, g, label, area, emit)
	switch {
	case t["waterway"] == "dam":
		emit(o.feature("dam_polygons", 12, mapdata.Props{"kind": "dam"}, g))
	case pierKinds[t["man_made"]]:
		emit(o.feature("pier_polygons", 12, mapdata.Props{"kind": t["man_made"]}, g))
	}
	if t["man_made"] == "bridge" {
		emit(o.feature("bridges", 12, mapdata.Props{"kind": "bridge"}, g))
	}
	streetPolygon(o, g, label, emit)
	pointFeatures(o, label, emit)
}

// pointFeatures are the point layers that nodes and areas (at a point
// inside) share: pois, public_transport, addresses.
func pointFeatures(o Object, p orb.Point, emit Emit) {
	poi := pois(o, p, emit)
	publicTransport(o, p, emit)
	t := o.Tags
	if !poi && (t["addr:housenumber"] != "" || t["addr:housename"] != "") {
		props := mapdata.Props{}
		setString(props, "housenumber", t["addr:housenumber"])
		setString(props, "housename", t["addr:housename"])
		emit(o.feature("addresses", 14, props, p))
	}
}

// namesOf returns name, name_en and name_de, each falling back to the
// others as the reference implementation fills them.
func namesOf(t Tags) mapdata.Props {
	props := mapdata.Props{}
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := t[k]; v != "" {
				return v
			}
		}
		return ""
	}
	setString(props, "name", first("name", "name:en", "name:de"))
	setString(props, "name_en", first("name:en", "name", "name:de"))
	setString(props, "name_de", first("name:de", "name", "name:en"))
	return props
}

func hasName(t Tags) bool { return t["name"] != "" || t["name:en"] != "" || t["name:de"] != "" }

func setString(p mapdata.Props, k, v string) {
	if v != "" {
		p[k] = v
	}
}

var bridgeValues = map[string]bool{"yes": true, "viaduct": true, "boardwalk": true, "cantilever": true,
	"covered": true, "low_water_crossing": true, "movable": true, "trestle": true}

func isBridge(t Tags) bool { return bridgeValues[t["bridge"]] }

func isTunnel(t Tags) bool {
	return t["tunnel"] == "yes" || t["tunnel"] == "building_passage" || t["covered"] == "yes"
}

// layerOf is the OSM layer tag, clamped to -7..7.
func layerOf(t Tags) int {
	l, err := strconv.Atoi(strings.TrimSpace(t["layer"]))
	if err != nil {
		return 0
	}
	return min(max(l, -7), 7)
}

// earth is the circumference of the mercator world in metres.
const earth = 2 * math.Pi * 6378137

// zoomForArea is the zoom at which an area of a (square metres, mercator)
// covers px square pixels of 256-pixel tiles.
func zoomForArea(px, a float64) int {
	if a <= 0 {
		return 99
	}
	return int(math.Floor(math.Log2(px*earth*earth/(65536*a)) / 2))
}

// zoomForLength is the zoom at which a line of l metres is px pixels long.
func zoomForLength(px, l float64) int {
	if l <= 0 {
		return 99
	}
	return int(math.Floor(math.Log2(earth * px / (256 * l))))
}
