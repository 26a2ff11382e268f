package style

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

func init() {
	operators["format"] = parseFormat
	operators["image"] = parseImage
	operators["number-format"] = parseNumberFormat
	operators["collator"] = parseCollator
	operators["within"] = parseWithin
}

// formatNode is ["format", content, {options}, content, …].
type formatNode struct {
	meta
	sections []formatSection
}

type formatSection struct {
	content, scale, font, color, align node
}

func (n *formatNode) children() []node {
	var out []node
	for _, s := range n.sections {
		for _, c := range []node{s.content, s.scale, s.font, s.color, s.align} {
			if c != nil {
				out = append(out, c)
			}
		}
	}
	return out
}

func parseFormat(p *parser, args []any) (node, error) {
	if len(args) < 2 {
		return nil, p.errorf("expected at least one argument")
	}
	if _, ok := args[1].(map[string]any); ok {
		return nil, p.errorAt(1, "the first argument must be a text or image section")
	}
	n := &formatNode{}
	optionsMayFollow := false
	for i := 1; i < len(args); i++ {
		if opts, ok := args[i].(map[string]any); ok && optionsMayFollow {
			optionsMayFollow = false
			s := &n.sections[len(n.sections)-1]
			q := p.sub(i, nil)
			for _, o := range []struct {
				key string
				t   *typ
				dst *node
			}{
				{"font-scale", tNumber, &s.scale},
				{"text-font", arrayOf(tString, -1), &s.font},
				{"text-color", tColor, &s.color},
				{"vertical-align", tString, &s.align},
			} {
				v := opts[o.key]
				if !truthy(v) {
					continue
				}
				if a, ok := v.(string); ok && o.key == "vertical-align" && a != "bottom" && a != "center" && a != "top" {
					return nil, q.errorf("vertical-align must be bottom, center or top, found %q", a)
				}
				var err error
				if *o.dst, err = q.expect(o.t).parse(v, annotateDefault); err != nil {
					return nil, err
				}
			}
			continue
		}
		content, err := p.arg(args, i, tValue)
		if err != nil {
			return nil, err
		}
		switch content.info().t.kind {
		case kindString, kindValue, kindNull, kindImage:
		default:
			return nil, p.errorAt(i, "formatted text must be a string, a value, an image or null, found %s", content.info().t)
		}
		n.sections = append(n.sections, formatSection{content: content})
		optionsMayFollow = true
	}
	n.meta = meta{t: tFormatted, deps: depsOf(n.children()...)}
	return n, nil
}

func (n *formatNode) eval(c *Context) (any, error) {
	f := Formatted{Sections: make([]Section, len(n.sections))}
	for i, s := range n.sections {
		v, err := s.content.eval(c)
		if err != nil {
			return nil, err
		}
		out := &f.Sections[i]
		if s.align != nil {
			if out.VerticalAlign, err = evalString(s.align, c); err != nil {
				return nil, err
			}
		}
		if img, ok := v.(Image); ok {
			out.Image = img
			continue
		}
		out.Text = toString(v)
		if s.scale != nil {
			if out.Scale, err = evalNum(s.scale, c); err != nil {
				return nil, err
			}
		}
		if s.font != nil {
			v, err := s.font.eval(c)
			if err != nil {
				return nil, err
			}
			out.Font = stringsOf(v)
		}
		if s.color != nil {
			col, err := evalColor(s.color, c)
			if err != nil {
				return nil, err
			}
			out.Color = &col
		}
	}
	return f, nil
}

func stringsOf(v any) []string {
	a, _ := v.([]any)
	out := make([]string, len(a))
	for i, x := range a {
		out[i], _ = x.(string)
	}
	return out
}

// imageNode is ["image", name].
type imageNode struct {
	meta
	name node
}

func (n *imageNode) children() []node { return []node{n.name} }

func parseImage(p *parser, args []any) (node, error) {
	if len(args) != 2 {
		return nil, p.errorf("expected one argument, the image name")
	}
	name, err := p.arg(args, 1, tString)
	if err != nil {
		return nil, err
	}
	return &imageNode{meta: meta{t: tImage, deps: name.info().deps}, name: name}, nil
}

// eval names the image; whether the sprite has it is for the renderer.
func (n *imageNode) eval(c *Context) (any, error) {
	s, err := evalString(n.name, c)
	if err != nil || s == "" {
		return nil, err
	}
	return Image(s), nil
}

// numberFormatNode is ["number-format", n, {options}], formatted as
// en-US decimals: grouped thousands, 0 to 3 fraction digits unless the
// options say otherwise. Locale, currency and unit are read but not
// applied.
type numberFormatNode struct {
	meta
	n, minDigits, maxDigits node
	opts                    []node // locale, currency, unit: evaluated, unused
}

func (n *numberFormatNode) children() []node {
	out := append([]node{n.n}, n.opts...)
	for _, d := range []node{n.minDigits, n.maxDigits} {
		if d != nil {
			out = append(out, d)
		}
	}
	return out
}

func parseNumberFormat(p *parser, args []any) (node, error) {
	if len(args) != 3 {
		return nil, p.errorf("expected two arguments")
	}
	num, err := p.arg(args, 1, tNumber)
	if err != nil {
		return nil, err
	}
	opts, ok := args[2].(map[string]any)
	if !ok {
		return nil, p.errorAt(2, "the options must be an object")
	}
	n := &numberFormatNode{n: num}
	q := p.sub(2, nil)
	option := func(key string, t *typ) (node, error) {
		v := opts[key]
		if !truthy(v) {
			return nil, nil
		}
		return q.expect(t).parse(v, annotateDefault)
	}
	for _, key := range []string{"locale", "currency", "unit"} {
		o, err := option(key, tString)
		if err != nil {
			return nil, err
		}
		if o != nil {
			n.opts = append(n.opts, o)
		}
	}
	if truthy(opts["currency"]) && truthy(opts["unit"]) {
		return nil, p.errorf("the options currency and unit are mutually exclusive")
	}
	if n.minDigits, err = option("min-fraction-digits", tNumber); err != nil {
		return nil, err
	}
	if n.maxDigits, err = option("max-fraction-digits", tNumber); err != nil {
		return nil, err
	}
	n.meta = meta{t: tString, deps: depsOf(n.children()...)}
	return n, nil
}

func (n *numberFormatNode) eval(c *Context) (any, error) {
	x, err := evalNum(n.n, c)
	if err != nil {
		return nil, err
	}
	for _, o := range n.opts {
		if _, err := o.eval(c); err != nil {
			return nil, err
		}
	}
	minD, maxD := 0, -1
	for _, d := range []struct {
		n   node
		dst *int
	}{{n.minDigits, &minD}, {n.maxDigits, &maxD}} {
		if d.n == nil {
			continue
		}
		f, err := evalNum(d.n, c)
		if err != nil {
			return nil, err
		}
		if f < 0 || f > 100 || math.IsNaN(f) {
			return nil, fmt.Errorf("fraction digits must be between 0 and 100, found %s", formatNumber(f))
		}
		*d.dst = int(f)
	}
	if maxD < 0 {
		maxD = max(minD, 3)
	}
	if maxD < minD {
		return nil, fmt.Errorf("max-fraction-digits %d is less than min-fraction-digits %d", maxD, minD)
	}
	return formatDecimal(x, minD, maxD), nil
}

// formatDecimal writes x with grouped thousands and between minD and maxD
// fraction digits, rounding half away from zero on its shortest decimal
// form, as Intl.NumberFormat does.
func formatDecimal(x float64, minD, maxD int) string {
	switch {
	case math.IsNaN(x):
		return "NaN"
	case math.IsInf(x, 0):
		if x < 0 {
			return "-∞"
		}
		return "∞"
	}
	s := strconv.FormatFloat(math.Abs(x), 'f', -1, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	if len(frac) > maxD {
		up := frac[maxD] >= '5'
		digits := []byte(intPart + frac[:maxD])
		for i := len(digits) - 1; up && i >= 0; i-- {
			if digits[i] == '9' {
				digits[i] = '0'
			} else {
				digits[i]++
				up = false
			}
		}
		if up {
			digits = append([]byte{'1'}, digits...)
		}
		intPart, frac = string(digits[:len(digits)-maxD]), string(digits[len(digits)-maxD:])
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) < minD {
		frac += strings.Repeat("0", minD-len(frac))
	}
	var b strings.Builder
	if x < 0 && strings.Trim(intPart+frac, "0") != "" {
		b.WriteByte('-')
	}
	for i, d := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	if frac != "" {
		b.WriteString("." + frac)
	}
	return b.String()
}

// collator compares strings with or without regard to case. Diacritics
// and locales are not distinguished.
type collator struct {
	caseSensitive bool
}

func (co *collator) compare(a, b string) int {
	if c := strings.Compare(strings.ToLower(a), strings.ToLower(b)); c != 0 || !co.caseSensitive {
		return c
	}
	// Lower case first, as ICU orders.
	return strings.Compare(swapCase(a), swapCase(b))
}

func swapCase(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsUpper(r) {
			return unicode.ToLower(r)
		}
		return unicode.ToUpper(r)
	}, s)
}

// collatorNode is ["collator", {options}].
type collatorNode struct {
	meta
	caseSensitive node
	opts          []node // diacritic-sensitive and locale: evaluated, unused
}

func (n *collatorNode) children() []node { return append([]node{n.caseSensitive}, n.opts...) }

func parseCollator(p *parser, args []any) (node, error) {
	if len(args) != 2 {
		return nil, p.errorf("expected one argument")
	}
	opts, ok := args[1].(map[string]any)
	if !ok {
		return nil, p.errorAt(1, "the options must be an object")
	}
	q := p.sub(1, nil)
	n := &collatorNode{}
	for _, o := range []struct {
		key string
		t   *typ
	}{{"case-sensitive", tBoolean}, {"diacritic-sensitive", tBoolean}, {"locale", tString}} {
		v, ok := opts[o.key]
		if o.t == tBoolean && !ok {
			v = false
		} else if o.t == tString && !truthy(v) {
			continue
		}
		e, err := q.expect(o.t).parse(v, annotateDefault)
		if err != nil {
			return nil, err
		}
		if n.caseSensitive == nil {
			n.caseSensitive = e
		} else {
			n.opts = append(n.opts, e)
		}
	}
	n.meta = meta{t: tCollator, deps: depRuntime | depsOf(n.children()...)}
	return n, nil
}

func (n *collatorNode) eval(c *Context) (any, error) {
	cs, err := evalBool(n.caseSensitive, c)
	if err != nil {
		return nil, err
	}
	for _, o := range n.opts {
		if _, err := o.eval(c); err != nil {
			return nil, err
		}
	}
	return &collator{caseSensitive: cs}, nil
}

// withinNode is ["within", geojson]: kiln does not test geometries
// against areas, so it is false.
type withinNode struct{ meta }

func (n *withinNode) eval(*Context) (any, error) { return false, nil }
func (n *withinNode) children() []node           { return nil }

func parseWithin(p *parser, args []any) (node, error) {
	if len(args) != 2 {
		return nil, p.errorf("expected one GeoJSON argument")
	}
	if _, ok := args[1].(map[string]any); !ok {
		return nil, p.errorAt(1, "expected a GeoJSON object, found %s", jsonKind(args[1]))
	}
	return &withinNode{meta{t: tBoolean, deps: depFeature | depRuntime}}, nil
}
