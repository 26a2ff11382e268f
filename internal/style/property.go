package style

import (
	"errors"
	"math"
	"slices"
)

// Property is a layout or paint property of a layer: its value, compiled,
// and what the style specification says of it.
//
// The typed getters never fail. Where MapLibre falls back to the
// property's default — the value is null or NaN, of the wrong type, not
// one of an enum's values, or its evaluation failed — they return the
// default from the specification (the zero value when it has none, as
// fill-outline-color and icon-image have not). Expr.Eval shows the
// errors.
type Property struct {
	Name string
	Expr *Expr
	spec *propSpec // nil for a property kiln does not know

	// The value as the array getters return it, when it is constant.
	nums []float64
	strs []string
}

// defaults are the properties of the specification at their defaults.
var defaults = map[string]*Property{}

func init() {
	for _, specs := range []map[string]*propSpec{paintSpecs, layoutSpecs} {
		for name, s := range specs {
			e := nullExpr()
			if s.def != nil {
				var err error
				if e, err = compile(constantJSON(s.def), s.t, annotateDefault); err != nil {
					panic("style: default of " + name + ": " + err.Error())
				}
			}
			s.value, _ = e.Eval(&Context{})
			defaults[name] = newProperty(name, e, s)
		}
	}
}

func newProperty(name string, e *Expr, s *propSpec) *Property {
	p := &Property{Name: name, Expr: e, spec: s}
	if l, ok := e.root.(*literal); ok {
		p.nums, p.strs = numbersOf(l.v), stringsOrNil(l.v)
	}
	return p
}

// defaultProperty is the named property at its default value.
func defaultProperty(name string) *Property {
	if p := defaults[name]; p != nil {
		return p
	}
	return newProperty(name, nullExpr(), nil)
}

func nullExpr() *Expr { return &Expr{root: &literal{meta: meta{t: tNull}}} }

// constantJSON makes a constant property value an expression: an array
// that is not one is a literal (text-font: ["Noto Sans Regular"]).
func constantJSON(v any) any {
	if a, ok := v.([]any); ok && !isExpression(a) {
		return []any{"literal", a}
	}
	return v
}

// isExpression reports whether an array is an expression: it starts with
// an operator's name.
func isExpression(a []any) bool {
	if len(a) == 0 {
		return false
	}
	name, ok := a[0].(string)
	return ok && operators[name] != nil
}

// IsZoomConstant reports whether the value is the same at every zoom.
func (p *Property) IsZoomConstant() bool { return p.Expr.IsZoomConstant() }

// IsFeatureConstant reports whether the value is the same for every
// feature: it can be evaluated once per layer and zoom.
func (p *Property) IsFeatureConstant() bool { return p.Expr.IsFeatureConstant() }

func (p *Property) def() any {
	if p.spec == nil {
		return nil
	}
	return p.spec.value
}

// Value is the evaluated value, or the default where MapLibre uses it.
func (p *Property) Value(c *Context) any {
	v, err := p.Expr.Eval(c)
	if f, ok := v.(float64); err != nil || v == nil || ok && math.IsNaN(f) {
		return p.def()
	}
	if s, ok := v.(string); ok && p.spec != nil && p.spec.enum != nil && !slices.Contains(p.spec.enum, s) {
		return p.def()
	}
	return v
}

// Number is the value of a number property.
func (p *Property) Number(c *Context) float64 {
	f, err := evalNum(p.Expr.root, c)
	if err != nil || math.IsNaN(f) {
		f, _ = p.def().(float64)
	}
	return f
}

// Color is the value of a colour property.
func (p *Property) Color(c *Context) Color {
	col, err := evalColor(p.Expr.root, c)
	if err != nil {
		col, _ = p.def().(Color)
	}
	return col
}

// Bool is the value of a boolean property.
func (p *Property) Bool(c *Context) bool {
	b, err := evalBool(p.Expr.root, c)
	if err != nil {
		b, _ = p.def().(bool)
	}
	return b
}

// String is the value of a string or image property (icon-image: the
// image name).
func (p *Property) String(c *Context) string {
	switch v := p.Value(c).(type) {
	case string:
		return v
	case Image:
		return string(v)
	}
	s, _ := p.def().(string)
	return s
}

// Enum is the value of an enum property (line-cap, text-anchor…): one
// of its values.
func (p *Property) Enum(c *Context) string {
	s, _ := p.Value(c).(string)
	return s
}

// Text is the text of text-field: the sections of a format expression
// together, a string, or a number as to-string writes it.
func (p *Property) Text(c *Context) string {
	return toString(p.Value(c))
}

// Numbers is the value of a number array property (line-dasharray,
// text-offset…); nil when it is unset. A constant value is shared:
// callers must not modify it.
func (p *Property) Numbers(c *Context) []float64 {
	if p.nums != nil {
		return p.nums
	}
	if n := numbersOf(p.Value(c)); n != nil {
		return n
	}
	return numbersOf(p.def())
}

// Strings is the value of a string array property (text-font…). A
// constant value is shared: callers must not modify it.
func (p *Property) Strings(c *Context) []string {
	if p.strs != nil {
		return p.strs
	}
	if s := stringsOrNil(p.Value(c)); s != nil {
		return s
	}
	return stringsOrNil(p.def())
}

// numbersOf reads an array of numbers, or returns nil.
func numbersOf(v any) []float64 {
	a, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]float64, len(a))
	for i, x := range a {
		f, ok := toFloat(x)
		if !ok {
			return nil
		}
		out[i] = f
	}
	return out
}

// stringsOrNil reads an array of strings, or returns nil.
func stringsOrNil(v any) []string {
	a, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, len(a))
	for i, x := range a {
		s, ok := x.(string)
		if !ok {
			return nil
		}
		out[i] = s
	}
	return out
}

// compileProperty compiles a property value (an expression, a legacy
// function or a constant already turned into an expression) as MapLibre's
// createPropertyExpression does: what the property takes is checked, and
// ["zoom"] may only be the input of one step or interpolate at the top.
func compileProperty(v any, s *propSpec) (*Expr, error) {
	if fn, ok := v.(map[string]any); ok {
		var err error
		if v, err = convertFunction(fn, s); err != nil {
			return nil, err
		}
	}
	mode := annotateDefault
	if s.typeName() == "string" {
		mode = annotateCoerce
	}
	e, err := compile(v, s.t, mode)
	if err != nil {
		return nil, err
	}
	if !e.IsFeatureConstant() && !s.feature {
		return nil, errors.New("data expressions are not supported by this property")
	}
	if !e.IsZoomConstant() && !s.zoom {
		return nil, errors.New("zoom expressions are not supported by this property")
	}
	curve, err := zoomCurve(e.root)
	if err != nil {
		return nil, err
	}
	if curve == nil && !e.IsZoomConstant() {
		return nil, errZoomNotTop
	}
	if _, ok := curve.(*interpNode); ok && !s.interpolated {
		return nil, errors.New("interpolate cannot be used with this property")
	}
	return e, nil
}

var errZoomNotTop = errors.New(`["zoom"] may only be the input of a step or interpolate at the top of the expression`)

// zoomCurve finds the step or interpolate whose input is ["zoom"]; it
// may only be inside let and coalesce, and there may be one.
func zoomCurve(n node) (node, error) {
	var found node
	switch x := n.(type) {
	case *letNode:
		c, err := zoomCurve(x.result)
		if err != nil {
			return nil, err
		}
		found = c
	case *coalesceNode:
		for _, a := range x.args {
			c, err := zoomCurve(a)
			if err != nil {
				return nil, err
			}
			if c != nil {
				found = c
				break
			}
		}
	case *stepNode:
		if _, ok := x.input.(*zoomNode); ok {
			found = x
		}
	case *interpNode:
		if _, ok := x.input.(*zoomNode); ok {
			found = x
		}
	}
	for _, child := range n.children() {
		c, err := zoomCurve(child)
		switch {
		case err != nil:
			return nil, err
		case c == nil:
		case found == nil:
			return nil, errZoomNotTop
		case c != found:
			return nil, errors.New(`only one step or interpolate on ["zoom"] may be used in an expression`)
		}
	}
	return found, nil
}
