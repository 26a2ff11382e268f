package style

import (
	"image/color"
	"math"
	"strings"
)

// Color is an sRGB colour, its channels not premultiplied, each 0 to 1.
type Color struct {
	R, G, B, A float64
}

// NRGBA is the colour in 8 bits a channel.
func (c Color) NRGBA() color.NRGBA {
	return color.NRGBA{R: to8(c.R), G: to8(c.G), B: to8(c.B), A: to8(c.A)}
}

func to8(v float64) uint8 {
	return uint8(math.Round(math.Max(0, math.Min(1, v)) * 255))
}

// String is the colour as to-string writes it: "rgba(255,0,0,0.5)".
func (c Color) String() string {
	return "rgba(" + formatNumber(math.Round(c.R*255)) + "," + formatNumber(math.Round(c.G*255)) + "," +
		formatNumber(math.Round(c.B*255)) + "," + formatNumber(c.A) + ")"
}

// ParseColor reads a CSS colour: a name, #rgb, #rgba, #rrggbb, #rrggbbaa,
// rgb(), rgba(), hsl() or hsla() (with commas or, as in CSS Color 4,
// spaces and a slash before the alpha).
func ParseColor(s string) (Color, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "transparent" {
		return Color{}, true
	}
	if v, ok := namedColors[s]; ok {
		return Color{float64(v>>16) / 255, float64(v>>8&0xff) / 255, float64(v&0xff) / 255, 1}, true
	}
	switch {
	case strings.HasPrefix(s, "#"):
		return parseHexColor(s[1:])
	case strings.HasPrefix(s, "rgb"):
		return parseRGBFunc(s)
	case strings.HasPrefix(s, "hsl"):
		return parseHSLFunc(s)
	}
	return Color{}, false
}

func parseHexColor(h string) (Color, bool) {
	var ch [4]float64
	ch[3] = 1
	switch len(h) {
	case 3, 4:
		for i := range len(h) {
			d, ok := hexDigit(h[i])
			if !ok {
				return Color{}, false
			}
			ch[i] = float64(d*17) / 255
		}
	case 6, 8:
		for i := 0; i < len(h); i += 2 {
			hi, ok1 := hexDigit(h[i])
			lo, ok2 := hexDigit(h[i+1])
			if !ok1 || !ok2 {
				return Color{}, false
			}
			ch[i/2] = float64(hi<<4|lo) / 255
		}
	default:
		return Color{}, false
	}
	return Color{ch[0], ch[1], ch[2], ch[3]}, true
}

func hexDigit(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10, true
	}
	return 0, false
}

// cssArg is a number inside rgb() or hsl() with its unit ("", "%", "deg").
type cssArg struct {
	v    float64
	unit string
}

// parseCSSArgs splits "name(a b c / d)" or "name(a, b, c, d)" into its
// numbers and the separators between them (' ', ',' or '/'). The
// separators must be all spaces (then a '/' before the alpha) or all
// commas.
func parseCSSArgs(s string, names ...string) ([]cssArg, bool) {
	var rest string
	for _, n := range names {
		if r, ok := strings.CutPrefix(s, n+"("); ok {
			rest = r
			break
		}
	}
	rest, ok := strings.CutSuffix(rest, ")")
	if !ok {
		return nil, false
	}
	var args []cssArg
	var seps []byte
	i := skipSpace(rest, 0)
	for {
		start := i
		for i < len(rest) && strings.IndexByte("0123456789e.+-", rest[i]) >= 0 {
			i++
		}
		if i == start {
			return nil, false
		}
		v := parseJSNumber(rest[start:i])
		if math.IsNaN(v) {
			return nil, false
		}
		unit := ""
		switch {
		case strings.HasPrefix(rest[i:], "%"):
			unit, i = "%", i+1
		case strings.HasPrefix(rest[i:], "deg"):
			unit, i = "deg", i+3
		}
		args = append(args, cssArg{v, unit})
		j := skipSpace(rest, i)
		if j == len(rest) {
			break
		}
		switch rest[j] {
		case ',', '/':
			seps = append(seps, rest[j])
			i = skipSpace(rest, j+1)
		default:
			if j == i {
				return nil, false
			}
			seps = append(seps, ' ')
			i = j
		}
	}
	switch string(seps) {
	case "  ", "  /", ",,", ",,,":
		return args, true
	}
	return nil, false
}

func skipSpace(s string, i int) int {
	for i < len(s) && strings.IndexByte(" \t\n\r\f", s[i]) >= 0 {
		i++
	}
	return i
}

func alphaArg(args []cssArg) (float64, bool) {
	if len(args) < 4 {
		return 1, true
	}
	switch args[3].unit {
	case "":
		return clamp01(args[3].v), true
	case "%":
		return clamp01(args[3].v / 100), true
	}
	return 0, false
}

func parseRGBFunc(s string) (Color, bool) {
	args, ok := parseCSSArgs(s, "rgba", "rgb")
	if !ok {
		return Color{}, false
	}
	max := 255.0
	if args[0].unit == "%" {
		max = 100
	}
	for _, a := range args[:3] {
		if a.unit != args[0].unit || a.unit == "deg" {
			return Color{}, false
		}
	}
	a, ok := alphaArg(args)
	if !ok {
		return Color{}, false
	}
	return Color{clamp01(args[0].v / max), clamp01(args[1].v / max), clamp01(args[2].v / max), a}, true
}

func parseHSLFunc(s string) (Color, bool) {
	args, ok := parseCSSArgs(s, "hsla", "hsl")
	if !ok || args[0].unit == "%" || args[1].unit != "%" || args[2].unit != "%" {
		return Color{}, false
	}
	a, ok := alphaArg(args)
	if !ok {
		return Color{}, false
	}
	r, g, b := hslToRGB(args[0].v, math.Max(0, math.Min(100, args[1].v))/100, math.Max(0, math.Min(100, args[2].v))/100)
	return Color{r, g, b, a}, true
}

// hslToRGB follows CSS Color 4: hue in degrees, saturation and lightness
// 0 to 1.
func hslToRGB(h, s, l float64) (r, g, b float64) {
	h = math.Mod(h, 360)
	if h < 0 {
		h += 360
	}
	f := func(n float64) float64 {
		k := math.Mod(n+h/30, 12)
		a := s * math.Min(l, 1-l)
		return l - a*math.Max(-1, math.Min(math.Min(k-3, 9-k), 1))
	}
	return f(0), f(8), f(4)
}

func clamp01(v float64) float64 { return math.Max(0, math.Min(1, v)) }

func lerp(a, b, t float64) float64 { return a + t*(b-a) }

// mixRGB interpolates two colours channel by channel, as MapLibre's
// interpolate does.
func mixRGB(a, b Color, t float64) Color {
	return Color{lerp(a.R, b.R, t), lerp(a.G, b.G, t), lerp(a.B, b.B, t), lerp(a.A, b.A, t)}
}

// CIELAB under D50, as d3-color and MapLibre compute it.
const (
	labXn = 0.96422
	labZn = 0.82521
	labT0 = 4.0 / 29
	labT1 = 6.0 / 29
	labT2 = 3 * labT1 * labT1
	labT3 = labT1 * labT1 * labT1
)

type lab struct{ l, a, b, alpha float64 }

func toLab(c Color) lab {
	r, g, b := srgbToLinear(c.R), srgbToLinear(c.G), srgbToLinear(c.B)
	y := xyzToLab(0.2225045*r + 0.7168786*g + 0.0606169*b)
	x, z := y, y
	if r != g || g != b {
		x = xyzToLab((0.4360747*r + 0.3850649*g + 0.1430804*b) / labXn)
		z = xyzToLab((0.0139322*r + 0.0971045*g + 0.7141733*b) / labZn)
	}
	return lab{math.Max(0, 116*y-16), 500 * (x - y), 200 * (y - z), c.A}
}

func (c lab) color() Color {
	y := (c.l + 16) / 116
	x, z := y, y
	if !math.IsNaN(c.a) {
		x = y + c.a/500
	}
	if !math.IsNaN(c.b) {
		z = y - c.b/200
	}
	x, y, z = labXn*labToXYZ(x), labToXYZ(y), labZn*labToXYZ(z)
	return Color{
		linearToSRGB(3.1338561*x - 1.6168667*y - 0.4906146*z),
		linearToSRGB(-0.9787684*x + 1.9161415*y + 0.033454*z),
		linearToSRGB(0.0719453*x - 0.2289914*y + 1.4052427*z),
		c.alpha,
	}
}

func srgbToLinear(v float64) float64 {
	if v <= 0.04045 {
		return v / 12.92
	}
	return math.Pow((v+0.055)/1.055, 2.4)
}

func linearToSRGB(v float64) float64 {
	if v <= 0.00304 {
		v *= 12.92
	} else {
		v = 1.055*math.Pow(v, 1/2.4) - 0.055
	}
	return clamp01(v)
}

func xyzToLab(t float64) float64 {
	if t > labT3 {
		return math.Cbrt(t)
	}
	return t/labT2 + labT0
}

func labToXYZ(t float64) float64 {
	if t > labT1 {
		return t * t * t
	}
	return labT2 * (t - labT0)
}

func mixLab(a, b Color, t float64) Color {
	x, y := toLab(a), toLab(b)
	return lab{lerp(x.l, y.l, t), lerp(x.a, y.a, t), lerp(x.b, y.b, t), lerp(x.alpha, y.alpha, t)}.color()
}

// hcl is CIELCh: hue in degrees (NaN for greys), chroma, lightness.
type hcl struct{ h, c, l, alpha float64 }

func toHCL(col Color) hcl {
	x := toLab(col)
	c := math.Hypot(x.a, x.b)
	h := math.NaN()
	if math.Round(c*10000) != 0 {
		h = math.Mod(math.Atan2(x.b, x.a)*180/math.Pi, 360)
		if h < 0 {
			h += 360
		}
	}
	return hcl{h, c, x.l, x.alpha}
}

// mixHCL interpolates along the shorter way round the hue circle; a grey
// end takes the other end's hue (and, when black or white, its chroma).
func mixHCL(a, b Color, t float64) Color {
	x, y := toHCL(a), toHCL(b)
	h, c := math.NaN(), lerp(x.c, y.c, t)
	switch {
	case !math.IsNaN(x.h) && !math.IsNaN(y.h):
		d := y.h - x.h
		if y.h > x.h && d > 180 {
			d -= 360
		} else if y.h < x.h && x.h-y.h > 180 {
			d += 360
		}
		h = x.h + t*d
	case !math.IsNaN(x.h):
		h = x.h
		if y.l == 1 || y.l == 0 {
			c = x.c
		}
	case !math.IsNaN(y.h):
		h = y.h
		if x.l == 1 || x.l == 0 {
			c = y.c
		}
	}
	if math.IsNaN(h) {
		h = 0
	}
	h *= math.Pi / 180
	return lab{lerp(x.l, y.l, t), math.Cos(h) * c, math.Sin(h) * c, lerp(x.alpha, y.alpha, t)}.color()
}

// namedColors are the CSS Color 4 keywords, as 0xrrggbb.
var namedColors = map[string]uint32{
	"aliceblue":            0xf0f8ff,
	"antiquewhite":         0xfaebd7,
	"aqua":                 0x00ffff,
	"aquamarine":           0x7fffd4,
	"azure":                0xf0ffff,
	"beige":                0xf5f5dc,
	"bisque":               0xffe4c4,
	"black":                0x000000,
	"blanchedalmond":       0xffebcd,
	"blue":                 0x0000ff,
	"blueviolet":           0x8a2be2,
	"brown":                0xa52a2a,
	"burlywood":            0xdeb887,
	"cadetblue":            0x5f9ea0,
	"chartreuse":           0x7fff00,
	"chocolate":            0xd2691e,
	"coral":                0xff7f50,
	"cornflowerblue":       0x6495ed,
	"cornsilk":             0xfff8dc,
	"crimson":              0xdc143c,
	"cyan":                 0x00ffff,
	"darkblue":             0x00008b,
	"darkcyan":             0x008b8b,
	"darkgoldenrod":        0xb8860b,
	"darkgray":             0xa9a9a9,
	"darkgreen":            0x006400,
	"darkgrey":             0xa9a9a9,
	"darkkhaki":            0xbdb76b,
	"darkmagenta":          0x8b008b,
	"darkolivegreen":       0x556b2f,
	"darkorange":           0xff8c00,
	"darkorchid":           0x9932cc,
	"darkred":              0x8b0000,
	"darksalmon":           0xe9967a,
	"darkseagreen":         0x8fbc8f,
	"darkslateblue":        0x483d8b,
	"darkslategray":        0x2f4f4f,
	"darkslategrey":        0x2f4f4f,
	"darkturquoise":        0x00ced1,
	"darkviolet":           0x9400d3,
	"deeppink":             0xff1493,
	"deepskyblue":          0x00bfff,
	"dimgray":              0x696969,
	"dimgrey":              0x696969,
	"dodgerblue":           0x1e90ff,
	"firebrick":            0xb22222,
	"floralwhite":          0xfffaf0,
	"forestgreen":          0x228b22,
	"fuchsia":              0xff00ff,
	"gainsboro":            0xdcdcdc,
	"ghostwhite":           0xf8f8ff,
	"gold":                 0xffd700,
	"goldenrod":            0xdaa520,
	"gray":                 0x808080,
	"green":                0x008000,
	"greenyellow":          0xadff2f,
	"grey":                 0x808080,
	"honeydew":             0xf0fff0,
	"hotpink":              0xff69b4,
	"indianred":            0xcd5c5c,
	"indigo":               0x4b0082,
	"ivory":                0xfffff0,
	"khaki":                0xf0e68c,
	"lavender":             0xe6e6fa,
	"lavenderblush":        0xfff0f5,
	"lawngreen":            0x7cfc00,
	"lemonchiffon":         0xfffacd,
	"lightblue":            0xadd8e6,
	"lightcoral":           0xf08080,
	"lightcyan":            0xe0ffff,
	"lightgoldenrodyellow": 0xfafad2,
	"lightgray":            0xd3d3d3,
	"lightgreen":           0x90ee90,
	"lightgrey":            0xd3d3d3,
	"lightpink":            0xffb6c1,
	"lightsalmon":          0xffa07a,
	"lightseagreen":        0x20b2aa,
	"lightskyblue":         0x87cefa,
	"lightslategray":       0x778899,
	"lightslategrey":       0x778899,
	"lightsteelblue":       0xb0c4de,
	"lightyellow":          0xffffe0,
	"lime":                 0x00ff00,
	"limegreen":            0x32cd32,
	"linen":                0xfaf0e6,
	"magenta":              0xff00ff,
	"maroon":               0x800000,
	"mediumaquamarine":     0x66cdaa,
	"mediumblue":           0x0000cd,
	"mediumorchid":         0xba55d3,
	"mediumpurple":         0x9370db,
	"mediumseagreen":       0x3cb371,
	"mediumslateblue":      0x7b68ee,
	"mediumspringgreen":    0x00fa9a,
	"mediumturquoise":      0x48d1cc,
	"mediumvioletred":      0xc71585,
	"midnightblue":         0x191970,
	"mintcream":            0xf5fffa,
	"mistyrose":            0xffe4e1,
	"moccasin":             0xffe4b5,
	"navajowhite":          0xffdead,
	"navy":                 0x000080,
	"oldlace":              0xfdf5e6,
	"olive":                0x808000,
	"olivedrab":            0x6b8e23,
	"orange":               0xffa500,
	"orangered":            0xff4500,
	"orchid":               0xda70d6,
	"palegoldenrod":        0xeee8aa,
	"palegreen":            0x98fb98,
	"paleturquoise":        0xafeeee,
	"palevioletred":        0xdb7093,
	"papayawhip":           0xffefd5,
	"peachpuff":            0xffdab9,
	"peru":                 0xcd853f,
	"pink":                 0xffc0cb,
	"plum":                 0xdda0dd,
	"powderblue":           0xb0e0e6,
	"purple":               0x800080,
	"rebeccapurple":        0x663399,
	"red":                  0xff0000,
	"rosybrown":            0xbc8f8f,
	"royalblue":            0x4169e1,
	"saddlebrown":          0x8b4513,
	"salmon":               0xfa8072,
	"sandybrown":           0xf4a460,
	"seagreen":             0x2e8b57,
	"seashell":             0xfff5ee,
	"sienna":               0xa0522d,
	"silver":               0xc0c0c0,
	"skyblue":              0x87ceeb,
	"slateblue":            0x6a5acd,
	"slategray":            0x708090,
	"slategrey":            0x708090,
	"snow":                 0xfffafa,
	"springgreen":          0x00ff7f,
	"steelblue":            0x4682b4,
	"tan":                  0xd2b48c,
	"teal":                 0x008080,
	"thistle":              0xd8bfd8,
	"tomato":               0xff6347,
	"turquoise":            0x40e0d0,
	"violet":               0xee82ee,
	"wheat":                0xf5deb3,
	"white":                0xffffff,
	"whitesmoke":           0xf5f5f5,
	"yellow":               0xffff00,
	"yellowgreen":          0x9acd32,
}
