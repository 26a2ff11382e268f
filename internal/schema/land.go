package schema

import (
	"github.com/paulmach/orb"

	"kiln/internal/mapdata"
)

// landKinds maps tag=value to the land kind's minimum zoom.
var landKinds = map[string]int{
	"landuse=forest": 7, "natural=wood": 7,
	"landuse=residential": 10, "landuse=industrial": 10, "landuse=commercial": 10, "landuse=garages": 10,
	"landuse=retail": 10, "landuse=railway": 10, "landuse=landfill": 10, "landuse=brownfield": 10,
	"landuse=greenfield": 10, "landuse=farmyard": 10, "landuse=farmland": 10,
	"natural=sand": 10, "natural=beach": 10,
	"landuse=grass": 11, "landuse=meadow": 11, "landuse=orchard": 11, "landuse=vineyard": 11,
	"landuse=allotments": 11, "landuse=village_green": 11, "landuse=recreation_ground": 11,
	"landuse=greenhouse_horticulture": 11, "landuse=plant_nursery": 11, "landuse=quarry": 11,
	"natural=heath": 11, "natural=scrub": 11, "natural=grassland": 11, "natural=bare_rock": 11,
	"natural=scree": 11, "natural=shingle": 11,
	"wetland=swamp": 11, "wetland=bog": 11, "wetland=string_bog": 11, "wetland=wet_meadow": 11, "wetland=marsh": 11,
	"leisure=golf_course": 11, "leisure=park": 11, "leisure=garden": 11, "leisure=playground": 11, "leisure=miniature_golf": 11,
	"landuse=cemetery": 13, "amenity=grave_yard": 13,
}

// landOrder is the order in which keys decide an object's one land kind.
var landOrder = []string{"landuse", "natural", "wetland", "amenity", "leisure"}

// land emits the object's land feature, sorted by area, largest first, so
// that a park inside a residential area is drawn over it.
func land(o Object, g orb.Geometry, area float64, emit Emit) {
	for _, k := range landOrder {
		v := o.Tags[k]
		if v == "" {
			continue
		}
		if z, ok := landKinds[k+"="+v]; ok {
			kind := v
			if v == "wood" {
				kind = "forest"
			}
			f := o.feature("land", z, mapdata.Props{"kind": kind}, g)
			f.Sort = -area
			emit(f)
			return
		}
	}
}

func siteKind(t Tags) string {
	switch a := t["amenity"]; a {
	case "university", "college", "school", "hospital", "prison", "parking", "bicycle_parking":
		return a
	}
	switch {
	case t["leisure"] == "sports_centre":
		return "sports_centre"
	case t["landuse"] == "construction":
		return "construction"
	case t["military"] == "danger_area":
		return "danger_area"
	}
	return ""
}
