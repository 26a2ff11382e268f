// Package schema is kiln's rendering schema: the Shortbread vector tile
// schema 1.0 (CC0, https://shortbread-tiles.org/schema/1.0/), which decides
// which OpenStreetMap objects become which features of which layer, with
// which attributes, from which zoom. The importer feeds it objects with
// their geometries; the stores keep what it emits; vector tiles expose it.
//
// Where the 1.0 text is silent or slips, kiln follows the reference
// implementation (shortbread-tilemaker) or 1.1, as the layer notes say:
// name, name_en and name_de fall back to each other; leisure=dog_park and
// leisure=playground are POIs too; the rope tow kind is "rope_tow";
// water_polygons_labels appear from their polygon's zoom.
package schema

// Geometry is a layer's geometry type.
type Geometry string

const (
	PointLayer   Geometry = "point"
	LineLayer    Geometry = "line"
	PolygonLayer Geometry = "polygon"
)

// Layer describes one layer.
type Layer struct {
	Name        string
	Geometry    Geometry
	MinZoom     int
	MaxZoom     int
	Description string
	Fields      map[string]string // attribute → type and meaning (TileJSON vector_layers)
}

func with(fields map[string]string, more map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range fields {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// Layers lists the schema's layers in drawing order from the bottom.
func Layers() []Layer {
	kind := func(values string) map[string]string { return map[string]string{"kind": "String: one of " + values} }
	names := map[string]string{
		"name":    "String: name",
		"name_en": "String: English name (else name)",
		"name_de": "String: German name (else name)",
	}
	return []Layer{
		{"ocean", PolygonLayer, 0, 14, "Sea, from the extract's coastlines", map[string]string{}},
		{"land", PolygonLayer, 7, 14, "Land use and land cover", kind("forest, residential, industrial, commercial, garages, retail, railway, landfill, brownfield, greenfield, farmyard, farmland, sand, beach, grass, meadow, orchard, vineyard, allotments, village_green, recreation_ground, greenhouse_horticulture, plant_nursery, quarry, heath, scrub, grassland, bare_rock, scree, shingle, swamp, bog, string_bog, wet_meadow, marsh, golf_course, park, garden, playground, miniature_golf, cemetery, grave_yard")},
		{"sites", PolygonLayer, 14, 14, "Areas of some facilities", kind("danger_area, sports_centre, university, college, school, hospital, prison, parking, bicycle_parking, construction")},
		{"water_polygons", PolygonLayer, 4, 14, "Lakes, rivers and other water areas", with(kind("glacier, water, river, reservoir, basin, dock, canal"), map[string]string{"way_area": "Number: area in square metres (mercator)"})},
		{"water_lines", LineLayer, 9, 14, "Rivers, canals, streams and ditches", with(kind("river, canal, stream, ditch"), map[string]string{"tunnel": "Boolean", "bridge": "Boolean"})},
		{"dam_polygons", PolygonLayer, 12, 14, "Dams drawn as areas", kind("dam")},
		{"dam_lines", LineLayer, 12, 14, "Dams drawn as lines", kind("dam")},
		{"pier_polygons", PolygonLayer, 12, 14, "Piers, breakwaters, groynes as areas", kind("pier, breakwater, groyne")},
		{"pier_lines", LineLayer, 12, 14, "Piers, breakwaters, groynes as lines", kind("pier, breakwater, groyne")},
		{"street_polygons", PolygonLayer, 11, 14, "Pedestrian areas, service areas, runways and taxiways drawn as areas", with(kind("pedestrian, service, runway, taxiway"), map[string]string{"bridge": "Boolean", "tunnel": "Boolean", "rail": "Boolean", "service": "String", "surface": "String"})},
		{"bridges", PolygonLayer, 12, 14, "Bridge outlines", kind("bridge")},
		{"streets", LineLayer, 5, 14, "Roads, paths, railways, runways and taxiways", with(kind("motorway, trunk, primary, secondary, tertiary, unclassified, residential, busway, bus_guideway, living_street, service, pedestrian, track, footway, steps, path, cycleway, runway, taxiway, rail, narrow_gauge, tram, light_rail, funicular, subway, monorail"), map[string]string{
			"rail": "Boolean", "link": "Boolean (z11+)", "tunnel": "Boolean (z11+)", "bridge": "Boolean (z11+)",
			"tracktype": "String (z11+)", "surface": "String (z11+)", "service": "String (z11+)",
			"oneway": "Boolean (z14)", "oneway_reverse": "Boolean (z14)", "bicycle": "String (z14)", "horse": "String (z14)"})},
		{"aerialways", LineLayer, 12, 14, "Cable cars, chair lifts and other aerialways", kind("cable_car, gondola, goods, chair_lift, drag_lift, t-bar, j-bar, platter, rope_tow")},
		{"ferries", LineLayer, 10, 14, "Ferry routes", with(kind("ferry"), names)},
		{"buildings", PolygonLayer, 14, 14, "Building outlines", map[string]string{"dummy": "Number: always 1"}},
		{"boundaries", LineLayer, 0, 14, "Country and state borders", map[string]string{"admin_level": "Number: 2 or 4", "maritime": "Boolean", "disputed": "Boolean"}},
		{"water_lines_labels", LineLayer, 12, 14, "Named rivers, canals, streams and ditches", with(with(kind("river, canal, stream, ditch"), names), map[string]string{"tunnel": "Boolean", "bridge": "Boolean"})},
		{"street_labels", LineLayer, 10, 14, "Named streets and railways, for labels along them", with(with(map[string]string{"kind": "String: the highway, railway or aeroway value"}, names), map[string]string{"ref": "String: refs, one per line", "ref_rows": "Number", "ref_cols": "Number", "tunnel": "Boolean"})},
		{"water_polygons_labels", PointLayer, 4, 14, "Label points of named water areas", with(with(kind("glacier, water, river, reservoir, basin, dock, canal"), names), map[string]string{"way_area": "Number: area in square metres (mercator)"})},
		{"streets_polygons_labels", PointLayer, 14, 14, "Label points of named street areas", with(kind("pedestrian, service, runway, taxiway"), names)},
		{"street_labels_points", PointLayer, 12, 14, "Motorway junctions", with(with(kind("motorway_junction"), names), map[string]string{"ref": "String"})},
		{"public_transport", PointLayer, 11, 14, "Stations, stops, airports", with(with(kind("aerodrome, helipad, station, halt, tram_stop, bus_station, bus_stop, ferry_terminal, aerialway_station"), names), map[string]string{"iata": "String"})},
		{"addresses", PointLayer, 14, 14, "House numbers and names", map[string]string{"housenumber": "String", "housename": "String"}},
		{"pois", PointLayer, 14, 14, "Points of interest", with(names, map[string]string{
			"amenity": "String", "leisure": "String", "tourism": "String", "shop": "String", "man_made": "String",
			"historic": "String", "emergency": "String", "highway": "String", "office": "String",
			"housenumber": "String", "housename": "String", "cuisine": "String", "sport": "String", "vending": "String",
			"information": "String", "tower:type": "String", "religion": "String", "denomination": "String",
			"recycling:glass_bottles": "Boolean", "recycling:paper": "Boolean", "recycling:clothes": "Boolean",
			"recycling:scrap_metal": "Boolean", "atm": "Boolean"})},
		{"boundary_labels", PointLayer, 2, 14, "Label points of countries and states", with(names, map[string]string{"admin_level": "Number: 2 or 4", "way_area": "Number: area in hectares (mercator)"})},
		{"place_labels", PointLayer, 4, 14, "Cities, towns, villages and other places", with(with(kind("capital, state_capital, city, town, village, hamlet, suburb, quarter, neighbourhood, isolated_dwelling, farm, island, locality"), names), map[string]string{"population": "Number"})},
	}
}

// LayerNames lists the layers' names in drawing order.
func LayerNames() []string {
	var out []string
	for _, l := range Layers() {
		out = append(out, l.Name)
	}
	return out
}
