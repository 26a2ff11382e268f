package style

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Image is the value of an image expression (and of the icon-image
// property): the name of a sprite image.
type Image string

// Formatted is the value of a format expression (and of the text-field
// property): text in sections that may override the layer's font, size and
// colour.
type Formatted struct {
	Sections []Section
}

// Section is a run of a Formatted text, or an image within it.
type Section struct {
	Text          string
	Image         Image    // set for an image section (Text is then "")
	Scale         float64  // font-scale; 0 when unset (text-size applies)
	Font          []string // text-font; nil when unset
	Color         *Color   // text-color; nil when unset
	VerticalAlign string   // "bottom", "center", "top"; "" when unset
}

// String is the text of all sections together.
func (f Formatted) String() string {
	if len(f.Sections) == 1 {
		return f.Sections[0].Text
	}
	var b strings.Builder
	for _, s := range f.Sections {
		b.WriteString(s.Text)
	}
	return b.String()
}

// toFloat reads a number of any of the kinds feature properties hold.
func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case float32:
		return float64(n), true
	case int32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case uint32:
		return float64(n), true
	}
	return 0, false
}

// normalize turns the numbers of feature data into float64, the only
// number kind expressions work with.
func normalize(v any) any {
	switch v.(type) {
	case nil, string, bool, float64:
		return v
	}
	if f, ok := toFloat(v); ok {
		return f
	}
	return v
}

// strictEqual is JavaScript's ===: values of different types differ, and
// arrays and objects equal nothing (they are compared by identity there).
func strictEqual(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case string:
		s, ok := b.(string)
		return ok && a == s
	case bool:
		x, ok := b.(bool)
		return ok && a == x
	}
	x, ok := toFloat(a)
	if !ok {
		return false
	}
	y, ok := toFloat(b)
	return ok && x == y
}

// truthy is JavaScript's Boolean(v).
func truthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		return v != ""
	}
	if f, ok := toFloat(v); ok {
		return f != 0 && !math.IsNaN(f)
	}
	return true
}

// toString is MapLibre's valueToString, behind to-string and concat.
func toString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case Color:
		return v.String()
	case Formatted:
		return v.String()
	case Image:
		return string(v)
	case []any, map[string]any:
		var b strings.Builder
		writeJSON(&b, v)
		return b.String()
	}
	if f, ok := toFloat(v); ok {
		return formatNumber(f)
	}
	return ""
}

// formatNumber writes a number as JavaScript's String(n) does: the
// shortest digits that read back the same, exponent notation outside
// 1e-7 < |n| < 1e21.
func formatNumber(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // [-]d[.ddd]e±XX
	sign := ""
	if e[0] == '-' {
		sign, e = "-", e[1:]
	}
	mant, exp, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(exp)
	n, k := x+1, len(digits) // the decimal point sits after n digits
	switch {
	case k <= n && n <= 21:
		return sign + digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		return sign + digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		return sign + "0." + strings.Repeat("0", -n) + digits
	}
	es := "e+"
	if n-1 < 0 {
		es = "e-"
	}
	frac := ""
	if k > 1 {
		frac = "." + digits[1:]
	}
	return sign + digits[:1] + frac + es + strconv.Itoa(abs(n-1))
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

// writeJSON writes v as JavaScript's JSON.stringify does, with object
// keys sorted (Go maps keep no order).
func writeJSON(b *strings.Builder, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		writeJSONString(b, v)
	case Image:
		writeJSONString(b, string(v))
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case []any:
		b.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSON(b, x)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, k)
			b.WriteByte(':')
			writeJSON(b, v[k])
		}
		b.WriteByte('}')
	case Color:
		writeJSONString(b, v.String())
	default:
		f, ok := toFloat(v)
		if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
			b.WriteString("null")
			return
		}
		b.WriteString(formatNumber(f))
	}
}

func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte("0123456789abcdef"[r>>4])
				b.WriteByte("0123456789abcdef"[r&15])
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

// toNumber is JavaScript's Number(v), behind to-number.
func toNumber(v any) float64 {
	switch v := v.(type) {
	case nil:
		return 0
	case bool:
		if v {
			return 1
		}
		return 0
	case string:
		return parseJSNumber(v)
	case []any:
		return parseJSNumber(joinJS(v))
	}
	if f, ok := toFloat(v); ok {
		return f
	}
	return math.NaN()
}

// joinJS is JavaScript's String(array).
func joinJS(a []any) string {
	var b strings.Builder
	for i, x := range a {
		if i > 0 {
			b.WriteByte(',')
		}
		switch x := x.(type) {
		case nil:
		case []any:
			b.WriteString(joinJS(x))
		case map[string]any:
			b.WriteString("[object Object]")
		default:
			b.WriteString(toString(x))
		}
	}
	return b.String()
}

// parseJSNumber reads a string as JavaScript's Number(s) does: blank is 0,
// anything but a whole decimal, hex, octal or binary literal is NaN.
func parseJSNumber(s string) float64 {
	s = strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '\uFEFF' })
	if s == "" {
		return 0
	}
	if len(s) > 2 && s[0] == '0' {
		base := 0
		switch s[1] {
		case 'x', 'X':
			base = 16
		case 'o', 'O':
			base = 8
		case 'b', 'B':
			base = 2
		}
		if base != 0 {
			n, err := strconv.ParseUint(s[2:], base, 64)
			if err != nil || strings.ContainsRune(s, '_') {
				return math.NaN()
			}
			return float64(n)
		}
	}
	body := strings.TrimLeft(s, "+-")
	if len(s)-len(body) > 1 {
		return math.NaN()
	}
	if body == "Infinity" {
		if s[0] == '-' {
			return math.Inf(-1)
		}
		return math.Inf(1)
	}
	if !isDecimalLiteral(body) {
		return math.NaN()
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !math.IsInf(f, 0) {
		return math.NaN()
	}
	return f
}

// isDecimalLiteral matches digits [. digits] [e [+-] digits], with digits
// on at least one side of the point.
func isDecimalLiteral(s string) bool {
	i, digits := 0, 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(s)
}

// jsIndex resolves a relative index as JavaScript's slice and indexOf do:
// truncated, counted from the end when negative, clamped to [0, n].
func jsIndex(f float64, n int) int {
	if math.IsNaN(f) {
		return 0
	}
	f = math.Trunc(f)
	if f < 0 {
		f += float64(n)
		if f < 0 {
			return 0
		}
	}
	if f > float64(n) {
		return n
	}
	return int(f)
}

// runeCount is the length of a string in code points, as MapLibre counts
// string lengths and indices.
func runeCount(s string) int { return utf8.RuneCountInString(s) }
