package style

import (
	"fmt"
	"math"
	"strconv"
)

// exprError is a parse-time error: where in the expression (a JSON path
// such as "[2][1]"), in which operator, and what.
type exprError struct {
	path, op, msg string
}

func (e *exprError) Error() string {
	s := e.msg
	if e.op != "" {
		s = e.op + ": " + s
	}
	if e.path != "" {
		s = e.path + ": " + s
	}
	return s
}

// annotation says how parse fits a value-typed expression to the type
// expected of it.
type annotation uint8

const (
	annotateDefault annotation = iota // assert number, string…; coerce to color, formatted, image
	annotateCoerce                    // convert (string-valued properties)
	annotateOmit                      // leave as is (coalesce arguments)
)

// parser is the state of parsing one position in an expression.
type parser struct {
	path     string
	op       string // the enclosing operator, to name in errors
	expected *typ   // nil when anything goes
	scope    *scope
}

// scope holds the variables let binds.
type scope struct {
	parent *scope
	vars   map[string]node
}

func (s *scope) lookup(name string) (node, bool) {
	for ; s != nil; s = s.parent {
		if n, ok := s.vars[name]; ok {
			return n, true
		}
	}
	return nil, false
}

// sub is the parser of argument i, expected to be of type t.
func (p *parser) sub(i int, t *typ) *parser {
	return &parser{path: p.path + "[" + strconv.Itoa(i) + "]", op: p.op, expected: t, scope: p.scope}
}

// expect is p expecting type t.
func (p *parser) expect(t *typ) *parser {
	q := *p
	q.expected = t
	return &q
}

// arg parses argument i of args, expected to be of type t.
func (p *parser) arg(args []any, i int, t *typ) (node, error) {
	return p.sub(i, t).parse(args[i], annotateDefault)
}

func (p *parser) errorf(format string, args ...any) error {
	return &exprError{path: p.path, op: p.op, msg: fmt.Sprintf(format, args...)}
}

func (p *parser) errorAt(i int, format string, args ...any) error {
	return p.sub(i, nil).errorf(format, args...)
}

// parseFunc parses an expression array for its operator, args[0].
type parseFunc func(p *parser, args []any) (node, error)

// operators maps operator names to their parsers; filled by init
// functions (a map literal would be an initialization cycle: operators
// parse their arguments).
var operators = map[string]parseFunc{}

func (p *parser) parse(v any, mode annotation) (node, error) {
	var args []any
	switch x := v.(type) {
	case nil, string, bool, float64:
		args = []any{"literal", x}
	case []any:
		args = x
	case map[string]any:
		return nil, p.errorf(`bare objects are not expressions; use ["literal", {…}]`)
	default:
		f, ok := toFloat(v)
		if !ok {
			return nil, p.errorf("unexpected %T", v)
		}
		args = []any{"literal", f}
	}
	if len(args) == 0 {
		return nil, p.errorf(`expected an expression, found an empty array; for a literal array use ["literal", []]`)
	}
	name, ok := args[0].(string)
	if !ok {
		return nil, p.errorAt(0, `expression name must be a string, found %s; for a literal array use ["literal", […]]`, jsonKind(args[0]))
	}
	parse := operators[name]
	if parse == nil {
		return nil, p.errorAt(0, `unknown expression %q; for a literal array use ["literal", […]]`, name)
	}
	q := *p
	q.op = name
	n, err := parse(&q, args)
	if err != nil {
		return nil, err
	}
	if want := p.expected; want != nil {
		got := n.info().t
		switch {
		case got.kind == kindValue && (want.kind == kindString || want.kind == kindNumber ||
			want.kind == kindBoolean || want.kind == kindObject || want.kind == kindArray):
			switch mode {
			case annotateDefault:
				n = newAssertion(want, n)
			case annotateCoerce:
				n = newCoercion(want, n)
			}
		case (got.kind == kindValue || got.kind == kindString) &&
			(want.kind == kindColor || want.kind == kindFormatted || want.kind == kindImage):
			if mode != annotateOmit {
				n = newCoercion(want, n)
			}
		default:
			if msg := subtypeError(want, got); msg != "" {
				return nil, p.errorf("%s", msg)
			}
		}
	}
	// Fold what is known now. Images stay: MapLibre resolves them late.
	if _, ok := n.(*literal); !ok && n.info().deps == 0 && n.info().t.kind != kindImage {
		v, err := n.eval(&Context{})
		if err != nil {
			return nil, p.errorf("%v", err)
		}
		n = &literal{meta: meta{t: n.info().t}, v: v}
	}
	return n, nil
}

// jsonKind names the JSON type of a decoded value, for messages.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "number"
}

// literal is a constant.
type literal struct {
	meta
	v any
}

func (l *literal) eval(*Context) (any, error) { return l.v, nil }
func (l *literal) children() []node           { return nil }

func (l *literal) num(*Context) (float64, error) {
	if f, ok := l.v.(float64); ok {
		return f, nil
	}
	return 0, fmt.Errorf("expected a number, found %s", typeOf(l.v))
}

func (l *literal) color(*Context) (Color, error) {
	if c, ok := l.v.(Color); ok {
		return c, nil
	}
	return Color{}, fmt.Errorf("expected a color, found %s", typeOf(l.v))
}

func init() {
	operators["literal"] = parseLiteral
}

func parseLiteral(p *parser, args []any) (node, error) {
	if len(args) != 2 {
		return nil, p.errorf("expected exactly one argument, found %d", len(args)-1)
	}
	v := args[1]
	if f, ok := toFloat(v); ok {
		v = f
	}
	t := typeOf(v)
	// An empty array takes the array type expected of it.
	if e := p.expected; t.kind == kindArray && t.n == 0 && e != nil && e.kind == kindArray && (e.n < 0 || e.n == 0) {
		t = e
	}
	return &literal{meta: meta{t: t}, v: v}, nil
}

// assertion checks that a value is of a type, trying its arguments in
// turn: string, number, boolean, object, array, and the checks parse
// inserts where a value-typed expression must be one of these.
type assertion struct {
	meta
	args []node
}

func newAssertion(t *typ, args ...node) *assertion {
	return &assertion{meta: meta{t: t, deps: depsOf(args...)}, args: args}
}

func (a *assertion) children() []node { return a.args }

func (a *assertion) eval(c *Context) (any, error) {
	for i, arg := range a.args {
		v, err := arg.eval(c)
		if err != nil {
			return nil, err
		}
		if fits(a.t, v) {
			return v, nil
		}
		if i == len(a.args)-1 {
			return nil, fmt.Errorf("expected value to be of type %s, but found %s instead", a.t, typeOf(v))
		}
	}
	return nil, nil
}

func (a *assertion) num(c *Context) (float64, error) {
	if a.t.kind != kindNumber {
		return numberOf(a.eval(c))
	}
	for i, arg := range a.args {
		v, err := evalLoose(arg, c)
		if err != nil {
			return 0, err
		}
		if f, ok := toFloat(v); ok {
			return f, nil
		}
		if i == len(a.args)-1 {
			return 0, fmt.Errorf("expected value to be of type number, but found %s instead", typeOf(v))
		}
	}
	return 0, nil
}

// fits reports whether v is of type t.
func fits(t *typ, v any) bool {
	switch t.kind {
	case kindString:
		_, ok := v.(string)
		return ok
	case kindNumber:
		_, ok := toFloat(v)
		return ok
	case kindBoolean:
		_, ok := v.(bool)
		return ok
	case kindValue:
		return true
	}
	return subtypeError(t, typeOf(v)) == ""
}

var assertionTypes = map[string]*typ{"string": tString, "number": tNumber, "boolean": tBoolean, "object": tObject}

func init() {
	for _, name := range []string{"string", "number", "boolean", "object", "array"} {
		operators[name] = parseAssertion
	}
}

func parseAssertion(p *parser, args []any) (node, error) {
	if len(args) < 2 {
		return nil, p.errorf("expected at least one argument")
	}
	i := 1
	t := assertionTypes[p.op]
	if p.op == "array" {
		item := tValue
		if len(args) > 2 {
			name, _ := args[1].(string)
			item = assertionTypes[name]
			if item == nil || item == tObject {
				return nil, p.errorAt(1, "the item type of an array must be string, number or boolean")
			}
			i++
		}
		n := -1
		if len(args) > 3 {
			if args[2] != nil {
				f, ok := args[2].(float64)
				if !ok || f < 0 || f != math.Floor(f) || f > math.MaxInt32 {
					return nil, p.errorAt(2, "the length of an array must be a non-negative integer literal")
				}
				n = int(f)
			}
			i++
		}
		t = arrayOf(item, n)
	}
	var nodes []node
	for ; i < len(args); i++ {
		n, err := p.arg(args, i, tValue)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	return newAssertion(t, nodes...), nil
}

// coercion converts a value to a type, trying its arguments in turn where
// a conversion can fail (to-number, to-color).
type coercion struct {
	meta
	args []node
}

func newCoercion(t *typ, args ...node) *coercion {
	return &coercion{meta: meta{t: t, deps: depsOf(args...)}, args: args}
}

func (co *coercion) children() []node { return co.args }

var coercionTypes = map[string]*typ{"to-boolean": tBoolean, "to-color": tColor, "to-number": tNumber, "to-string": tString}

func init() {
	for name := range coercionTypes {
		operators[name] = parseCoercion
	}
}

func parseCoercion(p *parser, args []any) (node, error) {
	if len(args) < 2 {
		return nil, p.errorf("expected at least one argument")
	}
	if (p.op == "to-boolean" || p.op == "to-string") && len(args) != 2 {
		return nil, p.errorf("expected one argument")
	}
	nodes := make([]node, 0, len(args)-1)
	for i := 1; i < len(args); i++ {
		n, err := p.arg(args, i, tValue)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	return newCoercion(coercionTypes[p.op], nodes...), nil
}

func (co *coercion) eval(c *Context) (any, error) {
	switch co.t.kind {
	case kindNumber:
		return boxNum(co.num(c))
	case kindColor:
		return boxColor(co.color(c))
	}
	v, err := co.args[0].eval(c)
	if err != nil {
		return nil, err
	}
	switch co.t.kind {
	case kindBoolean:
		return truthy(v), nil
	case kindFormatted:
		if f, ok := v.(Formatted); ok {
			return f, nil
		}
		return Formatted{Sections: []Section{{Text: toString(v)}}}, nil
	case kindImage:
		if s := toString(v); s != "" {
			return Image(s), nil
		}
		return nil, nil
	}
	return toString(v), nil
}

func (co *coercion) num(c *Context) (float64, error) {
	if co.t.kind != kindNumber {
		return numberOf(co.eval(c))
	}
	var v any
	for _, arg := range co.args {
		var err error
		if v, err = evalLoose(arg, c); err != nil {
			return 0, err
		}
		if v == nil {
			return 0, nil
		}
		if f := toNumber(v); !math.IsNaN(f) {
			return f, nil
		}
	}
	return 0, fmt.Errorf("could not convert %s to number", jsonText(v))
}

func (co *coercion) color(c *Context) (Color, error) {
	if co.t.kind != kindColor {
		return colorOf(co.eval(c))
	}
	var v any
	var msg string
	for _, arg := range co.args {
		var err error
		if v, err = arg.eval(c); err != nil {
			return Color{}, err
		}
		msg = ""
		switch x := v.(type) {
		case Color:
			return x, nil
		case string:
			if col, ok := ParseColor(x); ok {
				return col, nil
			}
		case []any:
			var col Color
			if col, msg = rgbaColor(x); msg == "" {
				return col, nil
			}
		}
	}
	if msg != "" {
		return Color{}, fmt.Errorf("%s", msg)
	}
	if s, ok := v.(string); ok {
		return Color{}, fmt.Errorf("could not parse color from value '%s'", s)
	}
	return Color{}, fmt.Errorf("could not parse color from value '%s'", jsonText(v))
}

// rgbaColor reads [r, g, b] or [r, g, b, a] (r, g, b 0 to 255, a 0 to 1).
func rgbaColor(a []any) (Color, string) {
	if len(a) < 3 || len(a) > 4 {
		return Color{}, fmt.Sprintf("invalid rgba value %s: expected an array containing either three or four numeric values", jsonText(a))
	}
	var ch [4]float64
	ch[3] = 1
	for i, x := range a {
		f, ok := x.(float64)
		if !ok {
			return Color{}, fmt.Sprintf("invalid rgba value %s: components must be numbers", jsonText(a))
		}
		ch[i] = f
	}
	return checkRGBA(ch[0], ch[1], ch[2], ch[3])
}

// checkRGBA makes a colour of r, g, b (0 to 255) and a (0 to 1), or says
// which is out of range.
func checkRGBA(r, g, b, a float64) (Color, string) {
	in := func(v, max float64) bool { return v >= 0 && v <= max }
	if !in(r, 255) || !in(g, 255) || !in(b, 255) {
		return Color{}, fmt.Sprintf("invalid rgba value [%s, %s, %s]: 'r', 'g', and 'b' must be between 0 and 255", formatNumber(r), formatNumber(g), formatNumber(b))
	}
	if !in(a, 1) {
		return Color{}, fmt.Sprintf("invalid rgba value [%s, %s, %s, %s]: 'a' must be between 0 and 1", formatNumber(r), formatNumber(g), formatNumber(b), formatNumber(a))
	}
	return Color{r / 255, g / 255, b / 255, a}, ""
}

func jsonText(v any) string {
	if v == nil {
		return "null"
	}
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return toString(v)
}

func boxNum(f float64, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return f, nil
}

func boxColor(c Color, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return c, nil
}
