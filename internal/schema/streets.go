package schema

import (
	"strings"
	"unicode/utf8"

	"github.com/paulmach/orb"

	"kiln/internal/mapdata"
)

// streetKind is a streets feature's kind and minimum zoom.
type streetKind struct {
	kind string
	zoom int
	rail bool
	link bool
}

var highwayKinds = map[string]streetKind{
	"motorway": {"motorway", 5, false, false}, "motorway_link": {"motorway", 5, false, true},
	"trunk": {"trunk", 6, false, false}, "trunk_link": {"trunk", 6, false, true},
	"primary": {"primary", 8, false, false}, "primary_link": {"primary", 8, false, true},
	"secondary": {"secondary", 9, false, false}, "secondary_link": {"secondary", 9, false, true},
	"tertiary": {"tertiary", 10, false, false}, "tertiary_link": {"tertiary", 10, false, true},
	"unclassified": {"unclassified", 12, false, false}, "residential": {"residential", 12, false, false},
	"busway": {"busway", 12, false, false}, "bus_guideway": {"bus_guideway", 12, false, false},
	"living_street": {"living_street", 13, false, false}, "service": {"service", 13, false, false},
	"pedestrian": {"pedestrian", 13, false, false}, "track": {"track", 13, false, false},
	"footway": {"footway", 13, false, false}, "steps": {"steps", 13, false, false},
	"path": {"path", 13, false, false}, "cycleway": {"cycleway", 13, false, false},
}

var railwayKinds = map[string]int{"rail": 8, "narrow_gauge": 8, "tram": 10, "light_rail": 10, "funicular": 10, "subway": 10, "monorail": 10}

var aerowayKinds = map[string]int{"runway": 11, "taxiway": 13}

// classOf is a street's rank in the drawing order (higher on top).
func classOf(t Tags) int {
	switch r := t["railway"]; {
	case r == "rail" && t["service"] == "":
		return 13
	case r == "rail":
		return 12
	case r == "subway" || r == "light_rail" || r == "tram" || r == "funicular" || r == "monorail":
		return 11
	}
	h := t["highway"]
	switch h {
	case "motorway":
		return 10
	case "trunk":
		return 9
	case "primary":
		return 8
	case "secondary":
		return 7
	case "tertiary":
		return 6
	case "unclassified", "residential", "road", "busway", "bus_guideway":
		return 5
	case "living_street", "pedestrian":
		return 4
	case "service":
		return 3
	case "footway", "bridleway", "cycleway", "path", "track":
		return 2
	case "steps", "platform":
		return 1
	}
	if strings.HasSuffix(h, "_link") {
		return 5
	}
	return 0
}

// zOrder sorts streets from the bottom: layer, then tunnels below and
// bridges above, then class.
func zOrder(t Tags) float64 {
	z := 14*layerOf(t) + classOf(t)
	switch {
	case isBridge(t):
		z += 14
	case isTunnel(t):
		z -= 14
	}
	return float64(z)
}

func streets(o Object, l orb.LineString, emit Emit) {
	t := o.Tags
	var sk streetKind
	switch {
	case highwayKinds[t["highway"]].kind != "":
		sk = highwayKinds[t["highway"]]
	case railwayKinds[t["railway"]] > 0:
		sk = streetKind{kind: t["railway"], zoom: railwayKinds[t["railway"]], rail: true}
		if (t["railway"] == "rail" || t["railway"] == "narrow_gauge") && t["service"] != "" {
			sk.zoom = 10
		}
	case aerowayKinds[t["aeroway"]] > 0:
		sk = streetKind{kind: t["aeroway"], zoom: aerowayKinds[t["aeroway"]]}
	default:
		return
	}
	props := mapdata.Props{
		"kind": sk.kind, "rail": sk.rail, "link": sk.link, "tunnel": isTunnel(t), "bridge": isBridge(t),
		"surface": t["surface"], "bicycle": t["bicycle"], "horse": t["horse"],
	}
	setString(props, "tracktype", t["tracktype"])
	setString(props, "service", t["service"])
	oneway := t["oneway"]
	props["oneway"] = !sk.rail && (oneway == "yes" || oneway == "1" || oneway == "true" || oneway == "-1")
	props["oneway_reverse"] = !sk.rail && oneway == "-1"
	f := o.feature("streets", sk.zoom, props, l)
	f.Sort = zOrder(t)
	emit(f)
	streetLabel(o, l, emit)
}

// streetLabelZoom is the minimum zoom of a street label by raw kind.
func streetLabelZoom(kind string) int {
	switch kind {
	case "motorway":
		return 10
	case "trunk", "primary":
		return 12
	case "motorway_link", "trunk_link", "primary_link", "secondary", "secondary_link", "tertiary":
		return 13
	case "runway":
		return 11
	case "taxiway":
		return 13
	case "rail", "narrow_gauge", "tram", "light_rail", "funicular", "subway", "monorail":
		return 10
	}
	return 14
}

func streetLabel(o Object, l orb.LineString, emit Emit) {
	t := o.Tags
	if !hasName(t) && t["ref"] == "" {
		return
	}
	kind := t["highway"]
	if highwayKinds[kind].kind == "" {
		kind = t["railway"]
		if railwayKinds[kind] == 0 {
			kind = t["aeroway"]
		}
	}
	props := namesOf(t)
	props["kind"] = kind
	props["tunnel"] = isTunnel(t)
	var refs []string
	cols := 0
	for _, r := range strings.Split(t["ref"], ";") {
		if r = strings.TrimSpace(r); r != "" {
			refs = append(refs, r)
			cols = max(cols, utf8.RuneCountInString(r))
		}
	}
	if len(refs) > 0 {
		props["ref"] = strings.Join(refs, "\n")
		props["ref_rows"] = int64(len(refs))
		props["ref_cols"] = int64(cols)
	}
	f := o.feature("street_labels", streetLabelZoom(kind), props, l)
	f.Sort = float64(14*layerOf(t) + classOf(t))
	emit(f)
}

func streetPolygon(o Object, g orb.Geometry, label orb.Point, emit Emit) {
	t := o.Tags
	kind, zoom := "", 0
	switch {
	case t["area:aeroway"] == "runway":
		kind, zoom = "runway", 11
	case t["area:aeroway"] == "taxiway":
		kind, zoom = "taxiway", 13
	case (t["highway"] == "pedestrian" || t["highway"] == "service") && (t["area"] == "yes" || o.Type == 'r'):
		kind, zoom = t["highway"], 14
	default:
		return
	}
	props := mapdata.Props{"kind": kind, "bridge": isBridge(t), "tunnel": isTunnel(t), "rail": false,
		"service": t["service"], "surface": t["surface"]}
	f := o.feature("street_polygons", zoom, props, g)
	f.Sort = zOrder(t)
	emit(f)
	if hasName(t) {
		lp := namesOf(t)
		lp["kind"] = kind
		emit(o.feature("streets_polygons_labels", 14, lp, label))
	}
}

func aerialwayKind(v string) string {
	switch v {
	case "cable_car", "gondola", "goods", "chair_lift", "drag_lift", "t-bar", "j-bar", "platter", "rope_tow":
		return v
	}
	return ""
}
