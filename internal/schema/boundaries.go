package schema

import (
	"strconv"
	"strings"

	"github.com/paulmach/orb"

	"kiln/internal/mapdata"
)

// AdminLevel is the admin_level of an administrative boundary relation
// that the schema draws (2 or 4), or 0.
func AdminLevel(t Tags) int {
	if t["type"] != "boundary" || t["boundary"] != "administrative" {
		return 0
	}
	switch strings.TrimSpace(t["admin_level"]) {
	case "2":
		return 2
	case "4":
		return 4
	}
	return 0
}

// DisputedRelation says whether a relation marks its member ways disputed:
// boundary=disputed with no admin_level or one from 2 to 4.
func DisputedRelation(t Tags) bool {
	if t["boundary"] != "disputed" {
		return false
	}
	lvl := strings.TrimSpace(t["admin_level"])
	if lvl == "" {
		return true
	}
	n, err := strconv.Atoi(lvl)
	return err == nil && n >= 2 && n <= 4
}

// BoundaryWay makes the boundaries feature of a member way of
// administrative relations: level is the lowest admin level among them,
// disputed whether a disputed relation holds it too.
func BoundaryWay(o Object, l orb.LineString, level int, disputed bool, emit Emit) {
	t := o.Tags
	zoom := 0
	if level == 4 {
		zoom = 7
	}
	props := mapdata.Props{
		"admin_level": int64(level),
		"maritime":    t["maritime"] == "yes" || t["natural"] == "coastline",
		"disputed":    disputed || t["disputed"] == "yes",
	}
	emit(o.feature("boundaries", zoom, props, l))
}

// BoundaryLabel makes the label point of an administrative relation whose
// area (mercator square metres) is area.
func BoundaryLabel(o Object, level int, label orb.Point, area float64, emit Emit) {
	ha := area / 10000
	km2 := area / 1e6
	zoom := 5
	switch {
	case level == 2 && km2 >= 2e6:
		zoom = 2
	case km2 >= 7e5:
		zoom = 3
	case km2 >= 1e5:
		zoom = 4
	}
	props := namesOf(o.Tags)
	props["admin_level"] = int64(level)
	props["way_area"] = ha
	f := o.feature("boundary_labels", zoom, props, label)
	f.Sort = -area
	emit(f)
}

// Ocean makes an ocean feature of a sea polygon built from coastlines.
func Ocean(g orb.Geometry, emit Emit) {
	emit(&mapdata.Feature{Layer: "ocean", Props: mapdata.Props{}, Geom: g})
}
