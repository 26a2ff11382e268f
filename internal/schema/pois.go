package schema

import (
	"strconv"
	"strings"

	"github.com/paulmach/orb"

	"kiln/internal/mapdata"
)

func set(values string) map[string]bool {
	m := map[string]bool{}
	for _, v := range strings.Fields(values) {
		m[v] = true
	}
	return m
}

// poiValues are the values that make an object a POI, by key.
var poiValues = map[string]map[string]bool{
	"amenity": set(`arts_centre atm bank bar bench bicycle_rental biergarten cafe car_rental car_sharing car_wash
		cinema clinic college community_centre courthouse dentist doctors dog_park drinking_water embassy fast_food
		fire_station food_court fountain grave_yard hospital hunting_stand library marketplace nightclub nursing_home
		pharmacy place_of_worship playground police post_box post_office prison pub public_building recycling
		restaurant school shelter telephone theatre toilets townhall university vending_machine veterinary waste_basket`),
	"emergency": set("defibrillator fire_hydrant phone"),
	"highway":   set("emergency_access_point"),
	"historic":  set("archaeological_site battlefield castle fort memorial monument ruins wayside_cross wayside_shrine"),
	// dog_park and playground: 1.0 lists them under amenity by mistake; 1.1 and the reference use leisure.
	"leisure":  set("golf_course ice_rink pitch sports_centre stadium swimming_pool water_park dog_park playground"),
	"man_made": set("lighthouse surveillance tower wastewater_plant water_well water_works watermill windmill"),
	"office":   set("diplomatic"),
	"shop": set(`alcohol bakery beauty beverages bicycle books butcher car chemist clothes computer convenience
		department_store doityourself dry_cleaning florist furniture garden_centre general gift greengrocer
		hairdresser hardware jewelry kiosk laundry mall mobile_phone newsagent optician outdoor shoes sports
		stationery supermarket toys travel_agency video`),
	"tourism": set(`alpine_hut artwork bed_and_breakfast camp_site caravan_site chalet guest_house hostel hotel
		information motel picnic_site theme_park viewpoint zoo`),
}

var poiKeys = []string{"amenity", "leisure", "tourism", "shop", "man_made", "historic", "emergency", "highway", "office"}

// pois emits the object as a POI if it is one, and says whether it did.
func pois(o Object, p orb.Point, emit Emit) bool {
	t := o.Tags
	props := mapdata.Props{}
	for _, k := range poiKeys {
		if v := t[k]; poiValues[k][v] {
			props[k] = v
		}
	}
	if len(props) == 0 {
		return false
	}
	for k, v := range namesOf(t) {
		props[k] = v
	}
	setString(props, "housenumber", t["addr:housenumber"])
	setString(props, "housename", t["addr:housename"])
	switch t["amenity"] {
	case "restaurant", "fast_food", "pub", "bar", "cafe":
		setString(props, "cuisine", t["cuisine"])
	case "vending_machine":
		setString(props, "vending", t["vending"])
	case "place_of_worship":
		setString(props, "religion", t["religion"])
		setString(props, "denomination", t["denomination"])
	case "recycling":
		for _, k := range []string{"recycling:glass_bottles", "recycling:paper", "recycling:clothes", "recycling:scrap_metal"} {
			props[k] = t[k] == "yes"
		}
	case "bank":
		props["atm"] = t["atm"] == "yes"
	}
	if l := t["leisure"]; l == "pitch" || l == "sports_centre" {
		setString(props, "sport", t["sport"])
	}
	if t["tourism"] == "information" {
		setString(props, "information", t["information"])
	}
	if t["man_made"] == "tower" {
		setString(props, "tower:type", t["tower:type"])
	}
	emit(o.feature("pois", 14, props, p))
	return true
}

func publicTransport(o Object, p orb.Point, emit Emit) {
	t := o.Tags
	kind, zoom := "", 0
	switch {
	case t["railway"] == "station" || t["railway"] == "halt":
		kind, zoom = t["railway"], 13
	case t["railway"] == "tram_stop":
		kind, zoom = "tram_stop", 14
	case t["highway"] == "bus_stop":
		kind, zoom = "bus_stop", 14
	case t["amenity"] == "bus_station":
		kind, zoom = "bus_station", 13
	case t["amenity"] == "ferry_terminal":
		kind, zoom = "ferry_terminal", 12
	case t["aerialway"] == "station":
		kind, zoom = "aerialway_station", 13
	case t["aeroway"] == "aerodrome":
		kind, zoom = "aerodrome", 11
	case t["aeroway"] == "helipad":
		kind, zoom = "helipad", 13
	default:
		return
	}
	props := namesOf(t)
	props["kind"] = kind
	setString(props, "iata", t["iata"])
	emit(o.feature("public_transport", zoom, props, p))
}

// placeKinds: minimum zoom and default population by place value.
var placeKinds = map[string]struct {
	zoom       int
	population int64
}{
	"city": {6, 100000}, "town": {7, 5000}, "village": {10, 100}, "hamlet": {10, 50},
	"suburb": {10, 1000}, "quarter": {10, 500}, "neighbourhood": {10, 100},
	"isolated_dwelling": {10, 5}, "farm": {10, 5}, "island": {10, 0}, "locality": {10, 0},
}

// placeLabel emits a place label for a node (places are nodes only, as in
// the reference implementation).
func placeLabel(o Object, p orb.Point, emit Emit) {
	t := o.Tags
	place := t["place"]
	pk, ok := placeKinds[place]
	if !ok {
		return
	}
	kind, zoom := place, pk.zoom
	switch place {
	case "city", "town", "village", "hamlet":
		switch t["capital"] {
		case "yes":
			kind, zoom = "capital", 4
		case "4":
			kind, zoom = "state_capital", 4
		}
	}
	pop := pk.population
	if v, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(t["population"]), ",", ""), 10, 64); err == nil && v >= 0 {
		pop = v
	}
	props := namesOf(t)
	props["kind"] = kind
	props["population"] = pop
	f := o.feature("place_labels", zoom, props, p)
	f.Sort = -float64(pop)
	emit(f)
}
