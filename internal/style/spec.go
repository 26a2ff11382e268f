package style

// propSpec is what the style specification says of a property: its type,
// default, and which expressions it takes.
type propSpec struct {
	t            *typ     // enums are strings
	enum         []string // the allowed values of an enum
	def          any      // the default as JSON; nil when there is none
	interpolated bool     // takes interpolate
	feature      bool     // takes feature data ("data-driven")
	zoom         bool     // takes ["zoom"]
	tokens       bool     // a plain string may hold {property} tokens

	value any // def as evaluated (colours parsed)
}

// typeName is the spec's name for the property's type, which legacy
// functions are converted by.
func (s *propSpec) typeName() string {
	switch {
	case s.enum != nil:
		return "enum"
	case s.t == nil:
		return ""
	case s.t.kind == kindImage:
		return "resolvedImage"
	case s.t.kind == kindArray:
		return "array"
	}
	return s.t.String()
}

const (
	dataDriven   = 1 << iota // takes feature data
	interpolated             // takes interpolate
	tokens                   // {property} tokens
)

func spec(t *typ, def any, flags int, enum ...string) *propSpec {
	return &propSpec{
		t: t, def: def, enum: enum, zoom: true,
		feature:      flags&dataDriven != 0,
		interpolated: flags&interpolated != 0,
		tokens:       flags&tokens != 0,
	}
}

func numberSpec(def any, flags int) *propSpec { return spec(tNumber, def, flags) }
func colorSpec(def any, flags int) *propSpec  { return spec(tColor, def, flags) }
func boolSpec(def bool) *propSpec             { return spec(tBoolean, def, 0) }

func enumSpec(def any, flags int, values ...string) *propSpec {
	return spec(tString, def, flags, values...)
}

func numbersSpec(n int, def any, flags int) *propSpec {
	return spec(arrayOf(tNumber, n), def, flags)
}

var anchors = []string{"center", "left", "right", "top", "bottom", "top-left", "top-right", "bottom-left", "bottom-right"}

// paintSpecs and layoutSpecs are the properties of the layer types kiln
// draws (background, fill, line, symbol), from the MapLibre style
// specification v8.
var paintSpecs = map[string]*propSpec{
	"background-color":      colorSpec("#000000", interpolated),
	"background-opacity":    numberSpec(1.0, interpolated),
	"background-pattern":    spec(tImage, nil, 0),
	"fill-antialias":        boolSpec(true),
	"fill-opacity":          numberSpec(1.0, dataDriven|interpolated),
	"fill-color":            colorSpec("#000000", dataDriven|interpolated),
	"fill-outline-color":    colorSpec(nil, dataDriven|interpolated),
	"fill-translate":        numbersSpec(2, []any{0.0, 0.0}, interpolated),
	"fill-translate-anchor": enumSpec("map", 0, "map", "viewport"),
	"fill-pattern":          spec(tImage, nil, dataDriven),
	"line-opacity":          numberSpec(1.0, dataDriven|interpolated),
	"line-color":            colorSpec("#000000", dataDriven|interpolated),
	"line-translate":        numbersSpec(2, []any{0.0, 0.0}, interpolated),
	"line-translate-anchor": enumSpec("map", 0, "map", "viewport"),
	"line-width":            numberSpec(1.0, dataDriven|interpolated),
	"line-gap-width":        numberSpec(0.0, dataDriven|interpolated),
	"line-offset":           numberSpec(0.0, dataDriven|interpolated),
	"line-blur":             numberSpec(0.0, dataDriven|interpolated),
	"line-dasharray":        numbersSpec(-1, nil, dataDriven),
	"line-pattern":          spec(tImage, nil, dataDriven),
	"icon-opacity":          numberSpec(1.0, dataDriven|interpolated),
	"icon-color":            colorSpec("#000000", dataDriven|interpolated),
	"icon-halo-color":       colorSpec("rgba(0, 0, 0, 0)", dataDriven|interpolated),
	"icon-halo-width":       numberSpec(0.0, dataDriven|interpolated),
	"icon-halo-blur":        numberSpec(0.0, dataDriven|interpolated),
	"icon-translate":        numbersSpec(2, []any{0.0, 0.0}, interpolated),
	"icon-translate-anchor": enumSpec("map", 0, "map", "viewport"),
	"text-opacity":          numberSpec(1.0, dataDriven|interpolated),
	"text-color":            colorSpec("#000000", dataDriven|interpolated),
	"text-halo-color":       colorSpec("rgba(0, 0, 0, 0)", dataDriven|interpolated),
	"text-halo-width":       numberSpec(0.0, dataDriven|interpolated),
	"text-halo-blur":        numberSpec(0.0, dataDriven|interpolated),
	"text-translate":        numbersSpec(2, []any{0.0, 0.0}, interpolated),
	"text-translate-anchor": enumSpec("map", 0, "map", "viewport"),
}

var layoutSpecs = map[string]*propSpec{
	"fill-sort-key":           numberSpec(nil, dataDriven),
	"line-cap":                enumSpec("butt", dataDriven, "butt", "round", "square"),
	"line-join":               enumSpec("miter", dataDriven, "bevel", "round", "miter"),
	"line-miter-limit":        numberSpec(2.0, dataDriven|interpolated),
	"line-round-limit":        numberSpec(1.05, dataDriven|interpolated),
	"line-sort-key":           numberSpec(nil, dataDriven),
	"symbol-placement":        enumSpec("point", 0, "point", "line", "line-center"),
	"symbol-spacing":          numberSpec(250.0, interpolated),
	"symbol-avoid-edges":      boolSpec(false),
	"symbol-sort-key":         numberSpec(nil, dataDriven),
	"symbol-z-order":          enumSpec("auto", 0, "auto", "viewport-y", "source"),
	"icon-allow-overlap":      boolSpec(false),
	"icon-overlap":            enumSpec(nil, 0, "never", "always", "cooperative"),
	"icon-ignore-placement":   boolSpec(false),
	"icon-optional":           boolSpec(false),
	"icon-rotation-alignment": enumSpec("auto", 0, "map", "viewport", "auto"),
	"icon-size":               numberSpec(1.0, dataDriven|interpolated),
	"icon-text-fit":           enumSpec("none", 0, "none", "width", "height", "both"),
	"icon-text-fit-padding":   numbersSpec(4, []any{0.0, 0.0, 0.0, 0.0}, interpolated),
	"icon-image":              spec(tImage, nil, dataDriven|tokens),
	"icon-rotate":             numberSpec(0.0, dataDriven|interpolated),
	"icon-keep-upright":       boolSpec(false),
	"icon-offset":             numbersSpec(2, []any{0.0, 0.0}, dataDriven|interpolated),
	"icon-anchor":             enumSpec("center", dataDriven, anchors...),
	"icon-pitch-alignment":    enumSpec("auto", 0, "map", "viewport", "auto"),
	"text-pitch-alignment":    enumSpec("auto", 0, "map", "viewport", "auto"),
	"text-rotation-alignment": enumSpec("auto", 0, "map", "viewport", "viewport-glyph", "auto"),
	"text-field":              spec(tFormatted, "", dataDriven|tokens),
	"text-font":               spec(arrayOf(tString, -1), []any{"Open Sans Regular", "Arial Unicode MS Regular"}, dataDriven),
	"text-size":               numberSpec(16.0, dataDriven|interpolated),
	"text-max-width":          numberSpec(10.0, dataDriven|interpolated),
	"text-line-height":        numberSpec(1.2, interpolated),
	"text-letter-spacing":     numberSpec(0.0, dataDriven|interpolated),
	"text-justify":            enumSpec("center", dataDriven, "auto", "left", "center", "right"),
	"text-radial-offset":      numberSpec(0.0, dataDriven|interpolated),
	"text-variable-anchor":    spec(arrayOf(tString, -1), nil, 0),
	"text-anchor":             enumSpec("center", dataDriven, anchors...),
	"text-max-angle":          numberSpec(45.0, interpolated),
	"text-writing-mode":       spec(arrayOf(tString, -1), nil, 0),
	"text-rotate":             numberSpec(0.0, dataDriven|interpolated),
	"text-padding":            numberSpec(2.0, interpolated),
	"text-keep-upright":       boolSpec(true),
	"text-transform":          enumSpec("none", dataDriven, "none", "uppercase", "lowercase"),
	"text-offset":             numbersSpec(2, []any{0.0, 0.0}, dataDriven|interpolated),
	"text-allow-overlap":      boolSpec(false),
	"text-overlap":            enumSpec(nil, 0, "never", "always", "cooperative"),
	"text-ignore-placement":   boolSpec(false),
	"text-optional":           boolSpec(false),
}
