package style

import (
	"fmt"
)

// Context is what an expression is evaluated against: the zoom and one
// feature. Properties hold string, int64, float64 or bool values (numbers
// of other Go kinds are read too). GeometryType is "Point", "LineString"
// or "Polygon", as vector tiles have it (a multipolygon is a "Polygon").
// ID is the feature id or nil.
type Context struct {
	Zoom         float64
	Properties   map[string]any
	GeometryType string
	ID           any
}

// Expr is a compiled expression. Eval returns JSON-like values: nil,
// float64, string, bool, []any, map[string]any, Color, and Formatted or
// Image for format and image expressions. Arrays and objects may be
// shared with the expression: callers must not modify them.
type Expr struct {
	root node
}

// Eval evaluates the expression. An error means the value had the wrong
// type at run time (["number", ["get", "name"]] on a string, an array
// index out of bounds…); MapLibre then uses the property's default, as
// Property's typed getters do.
func (e *Expr) Eval(c *Context) (any, error) {
	return e.root.eval(c)
}

// IsZoomConstant reports whether the value is the same at every zoom.
func (e *Expr) IsZoomConstant() bool { return e.root.info().deps&depZoom == 0 }

// IsFeatureConstant reports whether the value is the same for every
// feature, so that it can be evaluated once per layer and zoom.
func (e *Expr) IsFeatureConstant() bool { return e.root.info().deps&depFeature == 0 }

// compile parses and type-checks an expression as MapLibre's
// createExpression does; expected may be nil. For string-valued
// properties, mode is annotateCoerce: a value that is not statically a
// string is converted to one rather than asserted.
func compile(v any, expected *typ, mode annotation) (*Expr, error) {
	p := &parser{expected: expected}
	n, err := p.parse(v, mode)
	if err != nil {
		return nil, err
	}
	return &Expr{root: n}, nil
}

// deps says what a node's value depends on.
type deps uint8

const (
	depFeature deps = 1 << iota // the feature's properties, id or type
	depZoom                     // the zoom
	depRuntime                  // something else not known at parse time: never folded
)

// meta is what every node knows of itself.
type meta struct {
	t    *typ
	deps deps // its own and its children's
}

func (m *meta) info() *meta { return m }

// node is a compiled expression.
type node interface {
	eval(c *Context) (any, error)
	info() *meta
	children() []node
}

// numNode is a number-valued node that evaluates without boxing.
type numNode interface {
	num(c *Context) (float64, error)
}

// colorNode is a colour-valued node that evaluates without boxing.
type colorNode interface {
	color(c *Context) (Color, error)
}

func depsOf(nodes ...node) deps {
	var d deps
	for _, n := range nodes {
		if n != nil {
			d |= n.info().deps
		}
	}
	return d
}

func evalNum(n node, c *Context) (float64, error) {
	if nn, ok := n.(numNode); ok {
		return nn.num(c)
	}
	return numberOf(n.eval(c))
}

// numberOf reads a number evaluated boxed.
func numberOf(v any, err error) (float64, error) {
	if err != nil {
		return 0, err
	}
	if f, ok := toFloat(v); ok {
		return f, nil
	}
	return 0, fmt.Errorf("expected a number, found %s", typeOf(v))
}

func evalColor(n node, c *Context) (Color, error) {
	if cn, ok := n.(colorNode); ok {
		return cn.color(c)
	}
	return colorOf(n.eval(c))
}

// colorOf reads a colour evaluated boxed.
func colorOf(v any, err error) (Color, error) {
	if err != nil {
		return Color{}, err
	}
	if col, ok := v.(Color); ok {
		return col, nil
	}
	return Color{}, fmt.Errorf("expected a color, found %s", typeOf(v))
}

func evalString(n node, c *Context) (string, error) {
	v, err := n.eval(c)
	if err != nil {
		return "", err
	}
	if s, ok := v.(string); ok {
		return s, nil
	}
	return "", fmt.Errorf("expected a string, found %s", typeOf(v))
}

func evalBool(n node, c *Context) (bool, error) {
	v, err := n.eval(c)
	if err != nil {
		return false, err
	}
	if b, ok := v.(bool); ok {
		return b, nil
	}
	return false, fmt.Errorf("expected a boolean, found %s", typeOf(v))
}

// evalLoose evaluates n, leaving a feature property's number as the data
// holds it (int64…) rather than boxing a float64: for consumers that
// compare numbers of any kind.
func evalLoose(n node, c *Context) (any, error) {
	if g, ok := n.(*getNode); ok {
		return g.lookup(c)
	}
	return n.eval(c)
}
