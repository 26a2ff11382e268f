package style

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// samples are features of each source layer, to evaluate the test style
// against.
var samples = map[string]struct {
	geom     string
	features []map[string]any
}{
	"ocean":          {"Polygon", []map[string]any{{}}},
	"land":           {"Polygon", []map[string]any{{"kind": "forest"}, {"kind": "park"}, {"kind": "residential"}, {"kind": "farmland"}}},
	"water_polygons": {"Polygon", []map[string]any{{"kind": "water", "way_area": 1200.5}, {"kind": "glacier"}}},
	"buildings":      {"Polygon", []map[string]any{{"dummy": int64(1)}}},
	"streets": {"LineString", []map[string]any{
		{"kind": "motorway", "tunnel": false, "bridge": true, "link": false},
		{"kind": "primary", "tunnel": false, "bridge": false, "link": true},
		{"kind": "residential", "tunnel": true, "bridge": false, "link": false},
		{"kind": "rail", "tunnel": false, "bridge": false, "rail": true},
		{"kind": "rail", "tunnel": false, "bridge": false, "rail": true, "service": "yard"},
	}},
	"boundaries": {"LineString", []map[string]any{
		{"admin_level": int64(2), "maritime": false}, {"admin_level": int64(4), "maritime": false}, {"admin_level": 2.0, "maritime": true},
	}},
	"water_lines_labels": {"LineString", []map[string]any{{"kind": "river", "name": "Rhein"}, {"kind": "stream"}}},
	"street_labels": {"LineString", []map[string]any{
		{"kind": "motorway", "name": "Rheintalautobahn", "ref": "A13"}, {"kind": "residential", "name": "Städtle"}, {"kind": "service"},
	}},
	"place_labels": {"Point", []map[string]any{
		{"kind": "city", "name": "Vaduz", "name_en": "Vaduz", "population": int64(5450)},
		{"kind": "town", "name": "Schaan", "population": int64(6000)},
		{"kind": "village", "name": "Planken", "population": int64(480)},
		{"kind": "city", "name": "Zürich", "name_en": "Zurich", "population": int64(420000)},
	}},
	"pois":      {"Point", []map[string]any{{"amenity": "hospital", "name": "Spital", "housenumber": "12"}, {"shop": "bakery", "name": "Beck"}, {"tourism": "hotel"}}},
	"addresses": {"Point", []map[string]any{{"housenumber": "7a"}}},
}

// TestStyleGolden parses a complete style and writes what every layer
// draws of the sample features at a few zooms.
func TestStyleGolden(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("testdata", "shortbread.json"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "style %q: %d sources, sprites %v, glyphs %s\n", s.Name, len(s.Sources), s.Sprites, s.Glyphs)
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for id := range s.Sources {
			if !yield(id) {
				return
			}
		}
	}) {
		src := s.Sources[id]
		fmt.Fprintf(&b, "source %s: %s %s %v\n", id, src.Type, src.URL, src.Tiles)
	}
	for _, l := range s.Layers {
		fmt.Fprintf(&b, "\nlayer %s: %s, source %s/%s, zoom [%v, %v), supported %v, visible %v\n",
			l.ID, l.Type, l.Source, l.SourceLayer, l.MinZoom, l.MaxZoom, l.Supported(), l.Visible)
		for _, name := range propNames(l) {
			p := l.Layout[strings.TrimPrefix(name, "layout.")]
			if p == nil {
				p = l.Paint[strings.TrimPrefix(name, "paint.")]
			}
			fmt.Fprintf(&b, "  %s: zoom constant %v, feature constant %v\n", name, p.IsZoomConstant(), p.IsFeatureConstant())
		}
		sample := samples[l.SourceLayer]
		features := sample.features
		if l.Type == "background" {
			features = []map[string]any{{}}
		}
		for _, z := range []float64{5, 10, 14.5, 17} {
			if !l.ShowsAt(z) {
				continue
			}
			for _, props := range features {
				c := &Context{Zoom: z, Properties: props, GeometryType: sample.geom}
				if !l.Matches(c) {
					continue
				}
				fmt.Fprintf(&b, "  z%v %s:", z, featureString(props))
				for _, name := range propNames(l) {
					p := l.Layout[strings.TrimPrefix(name, "layout.")]
					if p == nil {
						p = l.Paint[strings.TrimPrefix(name, "paint.")]
					}
					fmt.Fprintf(&b, " %s=%s", name, show(p, c))
				}
				b.WriteByte('\n')
			}
		}
	}
	golden(t, "shortbread.golden", b.String())
}

func propNames(l *Layer) []string {
	var names []string
	for n := range l.Layout {
		names = append(names, "layout."+n)
	}
	for n := range l.Paint {
		names = append(names, "paint."+n)
	}
	slices.Sort(names)
	return names
}

func featureString(props map[string]any) string {
	var kv []string
	for k, v := range props {
		kv = append(kv, fmt.Sprintf("%s=%v", k, v))
	}
	slices.Sort(kv)
	return "{" + strings.Join(kv, " ") + "}"
}

// show evaluates a property with the getter for its type.
func show(p *Property, c *Context) string {
	if p.spec == nil {
		return fmt.Sprintf("%v", p.Value(c))
	}
	switch s := p.spec; {
	case s.enum != nil:
		return p.Enum(c)
	case s.t.kind == kindNumber:
		return formatNumber(math.Round(p.Number(c)*1e4) / 1e4)
	case s.t.kind == kindColor:
		return p.Color(c).String()
	case s.t.kind == kindBoolean:
		return fmt.Sprint(p.Bool(c))
	case s.t.kind == kindFormatted:
		return fmt.Sprintf("%q", p.Text(c))
	case s.t.kind == kindImage:
		return fmt.Sprintf("%q", p.String(c))
	case s.t.kind == kindArray && s.t.item.kind == kindNumber:
		return fmt.Sprint(p.Numbers(c))
	case s.t.kind == kindArray:
		return fmt.Sprintf("%q", p.Strings(c))
	}
	return fmt.Sprintf("%v", p.Value(c))
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		gotPath := path + ".got"
		os.WriteFile(gotPath, []byte(got), 0o644)
		t.Errorf("%s differs from the golden file; got written to %s", path, gotPath)
	}
}

// styleWith is a style document of one source and the given layers.
func styleWith(layers ...string) []byte {
	return []byte(`{"version": 8, "sources": {"sb": {"type": "vector", "url": "x"}}, "layers": [` + strings.Join(layers, ",") + `]}`)
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"version", `{"version": 7, "layers": []}`, `style: version must be 8, found 7`},
		{"json", `{"version": 8, "layers": [}`, `style: invalid character '}' looking for beginning of value`},
		{"no id", string(styleWith(`{"type": "background"}`)), `layers[0]: missing id`},
		{"duplicate id", string(styleWith(`{"id": "a", "type": "background"}`, `{"id": "a", "type": "background"}`)), `layer "a": duplicate id`},
		{"unknown type", string(styleWith(`{"id": "roads", "type": "polyline", "source": "sb"}`)), `layer "roads": unknown type "polyline"`},
		{"missing source", string(styleWith(`{"id": "roads", "type": "line", "source": "osm"}`)), `layer "roads": source "osm" not found`},
		{"no source", string(styleWith(`{"id": "roads", "type": "line"}`)), `layer "roads": missing source`},
		{"visibility", string(styleWith(`{"id": "bg", "type": "background", "layout": {"visibility": "hidden"}}`)),
			`layer "bg": layout.visibility: expected "visible" or "none", found "hidden"`},
		{"stop count", string(styleWith(`{"id": "roads-primary", "type": "line", "source": "sb",
			"paint": {"line-width": ["interpolate", ["linear"], ["zoom"], 5, 1, 10]}}`)),
			`layer "roads-primary": paint.line-width: interpolate: expected an even number of stop arguments`},
		{"unknown operator", string(styleWith(`{"id": "roads", "type": "line", "source": "sb",
			"paint": {"line-width": ["+", ["width"], 1]}}`)),
			`layer "roads": paint.line-width[1][0]: +: unknown expression "width"; for a literal array use ["literal", […]]`},
		{"arity", string(styleWith(`{"id": "roads", "type": "line", "source": "sb", "paint": {"line-width": ["get"]}}`)),
			`layer "roads": paint.line-width: get: expected arguments of type (string) | (string, object), but found () instead`},
		{"type", string(styleWith(`{"id": "roads", "type": "line", "source": "sb", "paint": {"line-width": "wide"}}`)),
			`layer "roads": paint.line-width: expected number but found string`},
		{"argument type", string(styleWith(`{"id": "roads", "type": "line", "source": "sb", "paint": {"line-width": ["*", 2, "3"]}}`)),
			`layer "roads": paint.line-width[2]: *: expected number but found string`},
		{"color", string(styleWith(`{"id": "water", "type": "fill", "source": "sb", "paint": {"fill-color": "#ggg"}}`)),
			`layer "water": paint.fill-color: could not parse color from value '#ggg'`},
		{"enum", string(styleWith(`{"id": "roads", "type": "line", "source": "sb", "layout": {"line-cap": "pointy"}}`)),
			`layer "roads": layout.line-cap: expected one of [butt round square], found "pointy"`},
		{"zoom not at the top", string(styleWith(`{"id": "roads", "type": "line", "source": "sb", "paint": {"line-width": ["+", 1, ["zoom"]]}}`)),
			`layer "roads": paint.line-width: ["zoom"] may only be the input of a step or interpolate at the top of the expression`},
		{"data on a layer-wide property", string(styleWith(`{"id": "labels", "type": "symbol", "source": "sb",
			"layout": {"symbol-placement": ["get", "placement"]}}`)),
			`layer "labels": layout.symbol-placement: data expressions are not supported by this property`},
		{"interpolate a step property", string(styleWith(`{"id": "roads", "type": "line", "source": "sb",
			"layout": {"line-sort-key": ["interpolate", ["linear"], ["zoom"], 0, 1, 10, 2]}}`)),
			`layer "roads": layout.line-sort-key: interpolate cannot be used with this property`},
		{"function", string(styleWith(`{"id": "roads", "type": "line", "source": "sb", "paint": {"line-width": {"stops": []}}}`)),
			`layer "roads": paint.line-width: function: stops must be a non-empty array`},
		{"unbound variable", string(styleWith(`{"id": "roads", "type": "line", "source": "sb", "paint": {"line-width": ["let", "w", 2, ["var", "width"]]}}`)),
			`layer "roads": paint.line-width[3][1]: var: unknown variable "width": bind it in an enclosing let`},
		{"match labels", string(styleWith(`{"id": "roads", "type": "line", "source": "sb",
			"paint": {"line-width": ["match", ["get", "kind"], "primary", 2, "primary", 3, 1]}}`)),
			`layer "roads": paint.line-width[4]: match: branch labels must be unique`},
		{"legacy filter", string(styleWith(`{"id": "roads", "type": "line", "source": "sb", "filter": ["==", "kind"]}`)),
			`layer "roads": filter: ==: expected two or three arguments`},
		{"legacy filter $type", string(styleWith(`{"id": "roads", "type": "line", "source": "sb", "filter": ["<", "$type", "Point"]}`)),
			`layer "roads": filter: <: "$type" cannot be compared with "<"`},
		{"expression filter", string(styleWith(`{"id": "roads", "type": "line", "source": "sb", "filter": ["==", ["get", "a"], ["literal", [1]]]}`)),
			`layer "roads": filter[2]: ==: comparisons are not supported for type array<number, 1>`},
		{"filter type", string(styleWith(`{"id": "roads", "type": "line", "source": "sb", "filter": ["get", "name"]}`)),
			``},
		{"mixed filter", string(styleWith(`{"id": "roads", "type": "line", "source": "sb", "filter": ["all", ["==", "admin_level", 2], ["has", "x", ["properties"]]]}`)),
			`layer "roads": filter[1]: ==: cannot compare types string and number`},
		{"legacy filter value", string(styleWith(`{"id": "roads", "type": "line", "source": "sb", "filter": ["all", ["==", "kind", {"a": 1}]]}`)),
			`layer "roads": filter[1][2]: ==: expected a string, number, boolean or null, found object`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Parse: %v, want no error", err)
			case tc.want != "" && err == nil:
				t.Errorf("Parse succeeded, want %s", tc.want)
			case tc.want != "" && err.Error() != tc.want:
				t.Errorf("Parse:\n got %v\nwant %s", err, tc.want)
			}
		})
	}
}

// filterLayer parses a line layer with the given filter.
func filterLayer(t *testing.T, filter string) *Layer {
	t.Helper()
	s, err := Parse(styleWith(`{"id": "l", "type": "line", "source": "sb", "filter": ` + filter + `}`))
	if err != nil {
		t.Fatalf("filter %s: %v", filter, err)
	}
	return s.Layers[0]
}

func TestLegacyFilters(t *testing.T) {
	feature := &Context{
		Zoom: 12, GeometryType: "LineString", ID: int64(42),
		Properties: map[string]any{"kind": "primary", "admin_level": int64(2), "population": int64(5000), "name": "A", "tunnel": false, "way_area": 12.5},
	}
	for _, tc := range []struct {
		filter string
		want   bool
	}{
		{`["==", "kind", "primary"]`, true},
		{`["==", "kind", "secondary"]`, false},
		{`["!=", "kind", "secondary"]`, true},
		{`["==", "admin_level", 2]`, true},    // int64 data, float64 style
		{`["==", "admin_level", "2"]`, false}, // types differ
		{`["!=", "admin_level", "2"]`, true},
		{`[">=", "population", 1000]`, true},
		{`["<", "population", 1000]`, false},
		{`["<", "population", "1000"]`, false}, // unordered across types
		{`[">", "name", "0"]`, true},
		{`["<=", "missing", 3]`, false},
		{`["in", "kind", "primary", "secondary"]`, true},
		{`["in", "kind", "motorway", "trunk"]`, false},
		{`["!in", "kind", "motorway", "trunk"]`, true},
		{`["in", "admin_level", 2, 4]`, true},
		{`["in", "kind"]`, false},
		{`["has", "name"]`, true},
		{`["!has", "name"]`, false},
		{`["!has", "ref"]`, true},
		{`["has", "$id"]`, true},
		{`["==", "$type", "LineString"]`, true},
		{`["==", "$type", "Polygon"]`, false},
		{`["in", "$type", "Point", "LineString"]`, true},
		{`["==", "$id", 42]`, true},
		{`["<", "$id", 100]`, true},
		{`["in", "$id", 1, 42]`, true},
		{`["all", ["==", "kind", "primary"], ["has", "name"], ["!=", "tunnel", true]]`, true},
		{`["any", ["==", "kind", "motorway"], ["==", "kind", "primary"]]`, true},
		{`["none", ["==", "kind", "motorway"], ["==", "kind", "trunk"]]`, true},
		{`["none", ["==", "kind", "primary"]]`, false},
		{`["all"]`, true},
		{`["any"]`, false},
		{`["all", ["in", "kind", "primary"], ["has", "name"]]`, true},
		{`true`, true},
		{`false`, false},
		// Expression syntax, told apart as MapLibre does.
		{`["==", ["get", "kind"], "primary"]`, true},
		{`["in", ["get", "kind"], ["literal", ["primary", "trunk"]]]`, true},
		{`["in", "prim", ["get", "kind"]]`, true},
		{`["all", ["==", ["get", "admin_level"], 2], ["!", ["get", "tunnel"]]]`, true},
		{`["!", ["has", "name"]]`, false},
		{`[">=", ["zoom"], 12]`, true},
		{`["==", ["geometry-type"], "LineString"]`, true},
		{`["==", ["id"], 42]`, true},
		{`["get", "tunnel"]`, false},
		{`["get", "kind"]`, false}, // not a boolean: no match
		{`["all", ["get", "missing"]]`, false},
	} {
		if got := filterLayer(t, tc.filter).Matches(feature); got != tc.want {
			t.Errorf("filter %s: got %v, want %v", tc.filter, got, tc.want)
		}
	}
}

func TestClassifyFilter(t *testing.T) {
	for _, tc := range []struct {
		filter string
		want   filterSyntax
	}{
		{`["==", "kind", "a"]`, syntaxLegacy},
		{`["==", ["get", "kind"], "a"]`, syntaxExpression},
		{`["in", "kind", "a", "b"]`, syntaxLegacy},
		{`["in", "kind", ["get", "s"]]`, syntaxExpression},
		{`["has", "name"]`, syntaxNeutral},
		{`["has", "$id"]`, syntaxLegacy},
		{`["all", ["has", "name"], ["==", "kind", "a"]]`, syntaxLegacy},
		{`["all", ["has", "name"], ["==", ["get", "kind"], "a"]]`, syntaxExpression},
		{`["all", ["has", "name"]]`, syntaxNeutral},
		{`["none", ["has", "name"]]`, syntaxLegacy},
		{`true`, syntaxNeutral},
	} {
		var f any
		if err := json.Unmarshal([]byte(tc.filter), &f); err != nil {
			t.Fatal(err)
		}
		if got := classifyFilter(f); got != tc.want {
			t.Errorf("%s: syntax %d, want %d", tc.filter, got, tc.want)
		}
	}
}

// layerProp parses a layer of the type with one property set.
func layerProp(t *testing.T, typ, section, name, value string) *Property {
	t.Helper()
	s, err := Parse(styleWith(fmt.Sprintf(`{"id": "l", "type": %q, "source": "sb", %q: {%q: %s}}`, typ, section, name, value)))
	if err != nil {
		t.Fatalf("%s %s: %v", name, value, err)
	}
	if section == "paint" {
		return s.Layers[0].PaintProp(name)
	}
	return s.Layers[0].LayoutProp(name)
}

func TestLegacyFunctions(t *testing.T) {
	props := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		typ, section, name, value string
		zoom                      float64
		props                     map[string]any
		want                      string
	}{
		{"line", "paint", "line-width", `{"stops": [[10, 1], [20, 11]]}`, 15, nil, "6"},
		{"line", "paint", "line-width", `{"stops": [[10, 1], [20, 11]]}`, 5, nil, "1"},
		{"line", "paint", "line-width", `{"base": 2, "stops": [[10, 0], [12, 3]]}`, 11, nil, "1"},
		{"line", "paint", "line-width", `{"type": "interval", "stops": [[10, 1], [14, 4]]}`, 13.9, nil, "1"},
		{"line", "paint", "line-color", `{"stops": [[10, "#000000"], [20, "#ffffff"]]}`, 15, nil, "rgba(128,128,128,1)"},
		{"line", "layout", "line-cap", `{"stops": [[0, "butt"], [14, "round"]]}`, 14, nil, "round"},
		{"line", "layout", "line-cap", `{"stops": [[5, "round"]]}`, 18, nil, "round"},
		{"line", "paint", "line-width", `{"property": "lanes", "stops": [[1, 2], [4, 8]]}`, 0, props("lanes", int64(2)), "4"},
		{"line", "paint", "line-width", `{"property": "lanes", "type": "interval", "stops": [[1, 2], [4, 8]], "default": 1}`, 0, props("lanes", "x"), "1"},
		{"line", "paint", "line-color", `{"property": "kind", "type": "categorical", "stops": [["motorway", "red"], ["trunk", "orange"]], "default": "gray"}`, 0,
			props("kind", "trunk"), "rgba(255,165,0,1)"},
		{"line", "paint", "line-color", `{"property": "kind", "type": "categorical", "stops": [["motorway", "red"]], "default": "gray"}`, 0,
			props("kind", "path"), "rgba(128,128,128,1)"},
		{"line", "paint", "line-color", `{"property": "kind", "type": "categorical", "stops": [["motorway", "red"]]}`, 0,
			props("kind", "path"), "rgba(0,0,0,1)"},
		{"line", "paint", "line-opacity", `{"property": "opacity", "type": "identity"}`, 0, props("opacity", 0.25), "0.25"},
		{"line", "paint", "line-opacity", `{"property": "opacity", "type": "identity", "default": 0.5}`, 0, nil, "0.5"},
		{"line", "paint", "line-width", `{"property": "lanes", "stops": [[{"zoom": 10, "value": 1}, 1], [{"zoom": 10, "value": 4}, 4], [{"zoom": 20, "value": 1}, 10], [{"zoom": 20, "value": 4}, 40]]}`,
			15, props("lanes", int64(4)), "22"},
		{"symbol", "layout", "text-field", `{"stops": [[10, "{ref}"], [14, "{name} ({ref})"]]}`, 15, props("name", "Main St", "ref", "B1"), `"Main St (B1)"`},
		{"symbol", "layout", "text-field", `{"stops": [[10, "{ref}"], [14, "{name} ({ref})"]]}`, 12, props("name", "Main St"), `""`},
		{"symbol", "layout", "text-anchor", `{"property": "kind", "type": "categorical", "stops": [["city", "bottom"]], "default": "top"}`, 0,
			props("kind", "city"), "bottom"},
	} {
		p := layerProp(t, tc.typ, tc.section, tc.name, tc.value)
		got := show(p, &Context{Zoom: tc.zoom, Properties: tc.props})
		if got != tc.want {
			t.Errorf("%s %s at z%v %v: got %s, want %s", tc.name, tc.value, tc.zoom, tc.props, got, tc.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	s, err := Parse(styleWith(
		`{"id": "bg", "type": "background"}`,
		`{"id": "fill", "type": "fill", "source": "sb"}`,
		`{"id": "line", "type": "line", "source": "sb"}`,
		`{"id": "symbol", "type": "symbol", "source": "sb"}`,
	))
	if err != nil {
		t.Fatal(err)
	}
	c := &Context{Zoom: 10}
	for _, tc := range []struct {
		layer, prop, want string
	}{
		{"bg", "paint.background-color", "rgba(0,0,0,1)"},
		{"bg", "paint.background-opacity", "1"},
		{"fill", "paint.fill-color", "rgba(0,0,0,1)"},
		{"fill", "paint.fill-opacity", "1"},
		{"fill", "paint.fill-outline-color", "rgba(0,0,0,0)"},
		{"fill", "paint.fill-antialias", "true"},
		{"fill", "paint.fill-translate", "[0 0]"},
		{"line", "paint.line-color", "rgba(0,0,0,1)"},
		{"line", "paint.line-width", "1"},
		{"line", "paint.line-opacity", "1"},
		{"line", "paint.line-gap-width", "0"},
		{"line", "paint.line-offset", "0"},
		{"line", "paint.line-blur", "0"},
		{"line", "paint.line-dasharray", "[]"},
		{"line", "layout.line-cap", "butt"},
		{"line", "layout.line-join", "miter"},
		{"line", "layout.line-miter-limit", "2"},
		{"line", "layout.line-round-limit", "1.05"},
		{"symbol", "layout.symbol-placement", "point"},
		{"symbol", "layout.symbol-spacing", "250"},
		{"symbol", "layout.symbol-sort-key", "0"},
		{"symbol", "layout.symbol-z-order", "auto"},
		{"symbol", "layout.text-field", `""`},
		{"symbol", "layout.text-font", `["Open Sans Regular" "Arial Unicode MS Regular"]`},
		{"symbol", "layout.text-size", "16"},
		{"symbol", "layout.text-max-width", "10"},
		{"symbol", "layout.text-line-height", "1.2"},
		{"symbol", "layout.text-letter-spacing", "0"},
		{"symbol", "layout.text-justify", "center"},
		{"symbol", "layout.text-anchor", "center"},
		{"symbol", "layout.text-max-angle", "45"},
		{"symbol", "layout.text-rotate", "0"},
		{"symbol", "layout.text-padding", "2"},
		{"symbol", "layout.text-keep-upright", "true"},
		{"symbol", "layout.text-transform", "none"},
		{"symbol", "layout.text-offset", "[0 0]"},
		{"symbol", "layout.text-allow-overlap", "false"},
		{"symbol", "layout.text-ignore-placement", "false"},
		{"symbol", "layout.text-optional", "false"},
		{"symbol", "layout.icon-image", `""`},
		{"symbol", "layout.icon-size", "1"},
		{"symbol", "layout.icon-allow-overlap", "false"},
		{"symbol", "layout.icon-ignore-placement", "false"},
		{"symbol", "paint.text-color", "rgba(0,0,0,1)"},
		{"symbol", "paint.text-opacity", "1"},
		{"symbol", "paint.text-halo-color", "rgba(0,0,0,0)"},
		{"symbol", "paint.text-halo-width", "0"},
		{"symbol", "paint.text-halo-blur", "0"},
		{"symbol", "paint.icon-color", "rgba(0,0,0,1)"},
		{"symbol", "paint.icon-opacity", "1"},
	} {
		i := slices.IndexFunc(s.Layers, func(l *Layer) bool { return l.ID == tc.layer })
		l := s.Layers[i]
		section, name, _ := strings.Cut(tc.prop, ".")
		p := l.LayoutProp(name)
		if section == "paint" {
			p = l.PaintProp(name)
		}
		if got := show(p, c); got != tc.want {
			t.Errorf("%s %s: got %s, want %s", tc.layer, tc.prop, got, tc.want)
		}
	}
	if l := s.Layers[1]; l.Paint["fill-outline-color"] != nil {
		t.Error("fill-outline-color is set on a layer that does not set it")
	}
}

// TestFallbacks checks that the typed getters use the default where
// MapLibre does: null, NaN, wrong types, failed evaluations, values not of
// an enum.
func TestFallbacks(t *testing.T) {
	for _, tc := range []struct {
		typ, section, name, value string
		props                     map[string]any
		want                      string
	}{
		{"line", "paint", "line-width", `["get", "width"]`, map[string]any{"width": "wide"}, "1"},
		{"line", "paint", "line-width", `["get", "width"]`, nil, "1"},
		{"line", "paint", "line-width", `["/", 0, ["get", "zero"]]`, map[string]any{"zero": int64(0)}, "1"},
		{"line", "paint", "line-width", `["number", ["get", "width"], 3]`, map[string]any{"width": "wide"}, "3"},
		{"line", "paint", "line-width", `["at", ["get", "i"], ["literal", [1, 2]]]`, map[string]any{"i": 5.0}, "1"},
		{"line", "paint", "line-color", `["to-color", ["get", "colour"]]`, map[string]any{"colour": "nope"}, "rgba(0,0,0,1)"},
		{"line", "paint", "line-color", `["get", "colour"]`, map[string]any{"colour": "#ff0000"}, "rgba(255,0,0,1)"},
		{"line", "layout", "line-cap", `["get", "cap"]`, map[string]any{"cap": "pointy"}, "butt"},
		{"line", "layout", "line-cap", `["get", "cap"]`, map[string]any{"cap": "round"}, "round"},
		{"symbol", "layout", "text-size", `["+", ["get", "size"], 2]`, map[string]any{"size": int64(10)}, "12"},
		{"symbol", "layout", "text-font", `["get", "fonts"]`, map[string]any{"fonts": "Noto Sans"}, `["Open Sans Regular" "Arial Unicode MS Regular"]`},
		{"symbol", "layout", "text-offset", `["literal", [1, 2]]`, nil, "[1 2]"},
	} {
		p := layerProp(t, tc.typ, tc.section, tc.name, tc.value)
		if got := show(p, &Context{Zoom: 10, Properties: tc.props}); got != tc.want {
			t.Errorf("%s %s with %v: got %s, want %s", tc.name, tc.value, tc.props, got, tc.want)
		}
	}
}

func TestTextField(t *testing.T) {
	props := map[string]any{"name": "Vaduz", "name_en": "Vaduz (en)", "ref": "A13", "ele": int64(455), "height": 12.5}
	for _, tc := range []struct {
		value, want string
	}{
		{`"{name}"`, "Vaduz"},
		{`"{name} ({ref})"`, "Vaduz (A13)"},
		{`"{name}\n{ele} m"`, "Vaduz\n455 m"},
		{`"{missing}"`, ""},
		{`"x{missing}y"`, "xy"},
		{`"no tokens"`, "no tokens"},
		{`"{height}"`, "12.5"},
		{`["get", "name_en"]`, "Vaduz (en)"},
		{`["get", "ele"]`, "455"},
		{`["coalesce", ["get", "name_de"], ["get", "name"]]`, "Vaduz"},
		{`["format", ["get", "name"], {"font-scale": 1.2}, "\n", {}, ["get", "ref"], {"text-font": ["literal", ["Noto Sans Bold"]]}]`, "Vaduz\nA13"},
		{`["format", ["image", "marker"], {}, " ", ["get", "name"]]`, " Vaduz"},
		{`["concat", ["upcase", ["get", "ref"]], " ", ["number-format", ["get", "ele"], {"min-fraction-digits": 1}]]`, "A13 455.0"},
		{`["to-string", ["get", "height"]]`, "12.5"},
	} {
		p := layerProp(t, "symbol", "layout", "text-field", tc.value)
		if got := p.Text(&Context{Properties: props}); got != tc.want {
			t.Errorf("text-field %s: got %q, want %q", tc.value, got, tc.want)
		}
	}
	// icon-image takes tokens too.
	p := layerProp(t, "symbol", "layout", "icon-image", `"{amenity}-15"`)
	if got := p.String(&Context{Properties: map[string]any{"amenity": "cafe"}}); got != "cafe-15" {
		t.Errorf("icon-image: got %q, want cafe-15", got)
	}
	// Format keeps its sections for the renderer.
	p = layerProp(t, "symbol", "layout", "text-field", `["format", "a", {"font-scale": 2, "text-color": "red"}, "b", {}]`)
	f, ok := p.Value(&Context{}).(Formatted)
	if !ok || len(f.Sections) != 2 || f.Sections[0].Scale != 2 || f.Sections[0].Color == nil || f.Sections[1].Text != "b" {
		t.Errorf("format sections: %+v", p.Value(&Context{}))
	}
}

func TestLayerZoomRange(t *testing.T) {
	s, err := Parse(styleWith(
		`{"id": "a", "type": "line", "source": "sb", "minzoom": 10, "maxzoom": 14}`,
		`{"id": "b", "type": "line", "source": "sb"}`,
		`{"id": "c", "type": "line", "source": "sb", "minzoom": 3, "layout": {"visibility": "none"}}`,
	))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		layer int
		zoom  float64
		want  bool
	}{
		{0, 9.99, false}, {0, 10, true}, {0, 13.99, true}, {0, 14, false},
		{1, 0, true}, {1, 24, true},
		{2, 5, false},
	} {
		if got := s.Layers[tc.layer].ShowsAt(tc.zoom); got != tc.want {
			t.Errorf("layer %s at z%v: shown %v, want %v", s.Layers[tc.layer].ID, tc.zoom, got, tc.want)
		}
	}
}

// TestFeatureData checks expressions on the number kinds of kiln's data
// and the constancy a renderer relies on.
func TestFeatureData(t *testing.T) {
	c := &Context{Zoom: 14, ID: int64(7), Properties: map[string]any{"lvl": int64(2), "pop": int64(1500), "w": float32(1.5)}}
	for _, tc := range []struct {
		expr, want              string
		zoomConst, featureConst bool
	}{
		{`["+", ["get", "lvl"], 1]`, "3", true, false},
		{`["match", ["get", "lvl"], 2, "state", "other"]`, `"state"`, true, false},
		{`["to-string", ["get", "pop"]]`, `"1500"`, true, false},
		{`["typeof", ["get", "lvl"]]`, `"number"`, true, false},
		{`["==", ["get", "lvl"], 2]`, "true", true, false},
		{`["*", ["get", "w"], 2]`, "3", true, false},
		{`["id"]`, "7", true, false},
		{`["interpolate", ["linear"], ["zoom"], 10, 1, 18, 9]`, "5", false, true},
		{`["step", ["zoom"], 0, 14, ["get", "lvl"]]`, "2", false, false},
		{`["+", 1, 2]`, "3", true, true},
	} {
		var v any
		if err := json.Unmarshal([]byte(tc.expr), &v); err != nil {
			t.Fatal(err)
		}
		e, err := compile(v, nil, annotateDefault)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		got, err := e.Eval(c)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
		}
		if s := jsonOf(got); s != tc.want {
			t.Errorf("%s = %s, want %s", tc.expr, s, tc.want)
		}
		if e.IsZoomConstant() != tc.zoomConst || e.IsFeatureConstant() != tc.featureConst {
			t.Errorf("%s: zoom constant %v, feature constant %v; want %v, %v", tc.expr,
				e.IsZoomConstant(), e.IsFeatureConstant(), tc.zoomConst, tc.featureConst)
		}
	}
}

func TestParseColor(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" when invalid
	}{
		{"#f00", "rgba(255,0,0,1)"},
		{"#F00A", "rgba(255,0,0,0.6667)"},
		{"#00ff00", "rgba(0,255,0,1)"},
		{"#0000ff80", "rgba(0,0,255,0.502)"},
		{"rgb(10, 20, 30)", "rgba(10,20,30,1)"},
		{"rgba(10,20,30,0.5)", "rgba(10,20,30,0.5)"},
		{"rgb(10 20 30 / 50%)", "rgba(10,20,30,0.5)"},
		{"rgb(100%, 0%, 0%)", "rgba(255,0,0,1)"},
		{"hsl(120, 100%, 50%)", "rgba(0,255,0,1)"},
		{"hsla(240, 100%, 50%, 0.25)", "rgba(0,0,255,0.25)"},
		{"hsl(0deg 0% 50% / 1)", "rgba(128,128,128,1)"},
		{"  RebeccaPurple ", "rgba(102,51,153,1)"},
		{"transparent", "rgba(0,0,0,0)"},
		{"#ggg", ""},
		{"#12345", ""},
		{"rgb(1, 2)", ""},
		{"rgb(1, 2 3)", ""},
		{"rgb(1 2 3, 0.5)", ""},
		{"rgb(10%, 20, 30)", ""},
		{"hsl(120, 100, 50)", ""},
		{"blurple", ""},
	} {
		c, ok := ParseColor(tc.in)
		got := ""
		if ok {
			got = fmt.Sprintf("rgba(%d,%d,%d,%s)", c.NRGBA().R, c.NRGBA().G, c.NRGBA().B, formatNumber(math.Round(c.A*1e4)/1e4))
		}
		if got != tc.want {
			t.Errorf("ParseColor(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestFormatNumber(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want string
	}{
		{0, "0"}, {1, "1"}, {-1.5, "-1.5"}, {0.30000000000000004, "0.30000000000000004"}, {1e21, "1e+21"},
		{123456789012345680000, "123456789012345680000"}, {1e-7, "1e-7"}, {0.000001, "0.000001"},
		{1.5e-10, "1.5e-10"}, {math.Inf(-1), "-Infinity"}, {math.NaN(), "NaN"},
	} {
		if got := formatNumber(tc.f); got != tc.want {
			t.Errorf("formatNumber(%v) = %s, want %s", tc.f, got, tc.want)
		}
	}
}
