package schema

import (
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"

	"kiln/internal/mapdata"
)

var pierKinds = map[string]bool{"pier": true, "breakwater": true, "groyne": true}

// waterKind is a water area's kind and the zoom its kind starts at.
func waterKind(t Tags) (string, int) {
	switch {
	case t["landuse"] == "reservoir" || t["landuse"] == "basin":
		return t["landuse"], 4
	case t["natural"] == "glacier":
		return "glacier", 4
	case t["natural"] == "water" && t["water"] == "river", t["waterway"] == "riverbank":
		return "river", 4
	case t["natural"] == "water":
		return "water", 4
	case t["waterway"] == "dock":
		return "dock", 10
	case t["waterway"] == "canal":
		return "canal", 10
	}
	return "", 0
}

func waterPolygon(o Object, g orb.Geometry, label orb.Point, area float64, emit Emit) {
	kind, zoom := waterKind(o.Tags)
	if kind == "" {
		return
	}
	// Small water appears when it covers enough pixels: 0.01 px² from z4,
	// 0.1 px² from z10 (rivers, docks, canals: 0.1 px² throughout).
	switch kind {
	case "river", "dock", "canal":
		zoom = max(zoom, zoomForArea(0.1, area))
	default:
		zoom = max(zoom, zoomForArea(0.01, area))
		if zoom >= 10 {
			zoom = max(10, zoomForArea(0.1, area))
		}
	}
	if zoom > 14 {
		return
	}
	f := o.feature("water_polygons", zoom, mapdata.Props{"kind": kind, "way_area": area}, g)
	f.Sort = -area
	emit(f)
	if hasName(o.Tags) {
		props := namesOf(o.Tags)
		props["kind"] = kind
		props["way_area"] = area
		lf := o.feature("water_polygons_labels", zoom, props, label)
		lf.Sort = -area
		emit(lf)
	}
}

func waterLine(o Object, l orb.LineString, emit Emit) {
	t := o.Tags
	kind := t["waterway"]
	zoom, labelZoom := 14, 14
	switch kind {
	case "river", "canal":
		length := planar.Length(l)
		zoom = max(9, zoomForLength(0.25, length))
		labelZoom = max(12, zoomForLength(0.25, length))
	case "stream", "ditch":
	default:
		return
	}
	if zoom > 14 {
		return
	}
	props := mapdata.Props{"kind": kind, "tunnel": isTunnel(t), "bridge": isBridge(t)}
	f := o.feature("water_lines", zoom, props, l)
	f.Sort = float64(layerOf(t))
	emit(f)
	if hasName(t) && labelZoom <= 14 {
		lp := namesOf(t)
		lp["kind"], lp["tunnel"], lp["bridge"] = kind, props["tunnel"], props["bridge"]
		emit(o.feature("water_lines_labels", labelZoom, lp, l))
	}
}
