package style

import (
	"errors"
	"math"
	"strings"
)

// overload is one signature of an operator that takes plain arguments,
// with how to evaluate it: fn, num (for numbers, unboxed) or a node of its
// own made by build.
type overload struct {
	params   []*typ
	variadic *typ // instead of params: any number of this type
	deps     deps // what the operator itself reads
	fn       func(c *Context, args []node) (any, error)
	num      func(c *Context, args []node) (float64, error)
	build    func(args []node) node
}

func (o *overload) String() string {
	if o.variadic != nil {
		return "(" + o.variadic.String() + "...)"
	}
	s := make([]string, len(o.params))
	for i, t := range o.params {
		s[i] = t.String()
	}
	return "(" + strings.Join(s, ", ") + ")"
}

// call is an operator application evaluated by a function.
type call struct {
	meta
	args []node
	fn   func(c *Context, args []node) (any, error)
}

func (n *call) eval(c *Context) (any, error) { return n.fn(c, n.args) }
func (n *call) children() []node             { return n.args }

// numCall is a number-valued operator application.
type numCall struct {
	meta
	args []node
	fn   func(c *Context, args []node) (float64, error)
}

func (n *numCall) eval(c *Context) (any, error)    { return boxNum(n.fn(c, n.args)) }
func (n *numCall) num(c *Context) (float64, error) { return n.fn(c, n.args) }
func (n *numCall) children() []node                { return n.args }

// define registers an operator of plain arguments: each overload whose
// arity fits is tried in turn, its arguments parsed as its parameters
// want, as MapLibre's CompoundExpression does.
func define(name string, out *typ, overloads ...overload) {
	operators[name] = func(p *parser, args []any) (node, error) {
		n := len(args) - 1
		var fitting []*overload
		for i := range overloads {
			if o := &overloads[i]; o.variadic != nil || len(o.params) == n {
				fitting = append(fitting, o)
			}
		}
		var firstErr error
	next:
		for _, o := range fitting {
			parsed := make([]node, n)
			for i := range n {
				t := o.variadic
				if t == nil {
					t = o.params[i]
				}
				a, err := p.arg(args, i+1, t)
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					continue next
				}
				parsed[i] = a
			}
			return o.node(out, parsed), nil
		}
		if len(fitting) == 1 {
			return nil, firstErr
		}
		if len(fitting) == 0 {
			for i := range overloads {
				fitting = append(fitting, &overloads[i])
			}
		}
		sigs := make([]string, len(fitting))
		for i, o := range fitting {
			sigs[i] = o.String()
		}
		found := make([]string, n)
		for i := range n {
			a, err := p.arg(args, i+1, nil)
			if err != nil {
				return nil, err
			}
			found[i] = a.info().t.String()
		}
		return nil, p.errorf("expected arguments of type %s, but found (%s) instead", strings.Join(sigs, " | "), strings.Join(found, ", "))
	}
}

func (o *overload) node(out *typ, args []node) node {
	m := meta{t: out, deps: o.deps | depsOf(args...)}
	switch {
	case o.build != nil:
		n := o.build(args)
		*n.info() = m
		return n
	case o.num != nil:
		return &numCall{meta: m, args: args, fn: o.num}
	}
	return &call{meta: m, args: args, fn: o.fn}
}

func params(t ...*typ) []*typ { return t }

// math1 defines a function of one number.
func math1(name string, f func(float64) float64) {
	define(name, tNumber, overload{params: params(tNumber), num: func(c *Context, a []node) (float64, error) {
		x, err := evalNum(a[0], c)
		return f(x), err
	}})
}

// math2 defines a function of two numbers.
func math2(name string, f func(x, y float64) float64) {
	define(name, tNumber, overload{params: params(tNumber, tNumber), num: func(c *Context, a []node) (float64, error) {
		x, err := evalNum(a[0], c)
		if err != nil {
			return 0, err
		}
		y, err := evalNum(a[1], c)
		return f(x, y), err
	}})
}

// fold defines an operator over any number of numbers.
func fold(name string, start float64, f func(acc, x float64) float64) {
	define(name, tNumber, overload{variadic: tNumber, num: func(c *Context, a []node) (float64, error) {
		acc := start
		for _, n := range a {
			x, err := evalNum(n, c)
			if err != nil {
				return 0, err
			}
			acc = f(acc, x)
		}
		return acc, nil
	}})
}

func constant(name string, v float64) {
	define(name, tNumber, overload{num: func(*Context, []node) (float64, error) { return v, nil }})
}

func init() {
	constant("ln2", math.Ln2)
	constant("pi", math.Pi)
	constant("e", math.E)
	define("zoom", tNumber, overload{deps: depZoom, build: func([]node) node { return &zoomNode{} }})

	fold("+", 0, func(a, x float64) float64 { return a + x })
	fold("*", 1, func(a, x float64) float64 { return a * x })
	fold("min", math.Inf(1), func(a, x float64) float64 {
		if math.IsNaN(x) || x < a {
			return x
		}
		return a
	})
	fold("max", math.Inf(-1), func(a, x float64) float64 {
		if math.IsNaN(x) || x > a {
			return x
		}
		return a
	})
	define("-", tNumber,
		overload{params: params(tNumber, tNumber), num: func(c *Context, a []node) (float64, error) {
			x, err := evalNum(a[0], c)
			if err != nil {
				return 0, err
			}
			y, err := evalNum(a[1], c)
			return x - y, err
		}},
		overload{params: params(tNumber), num: func(c *Context, a []node) (float64, error) {
			x, err := evalNum(a[0], c)
			return -x, err
		}})
	math2("/", func(x, y float64) float64 { return x / y })
	math2("%", math.Mod)
	math2("^", math.Pow)
	math1("sqrt", math.Sqrt)
	math1("log10", func(x float64) float64 { return math.Log(x) / math.Ln10 })
	math1("ln", math.Log)
	math1("log2", func(x float64) float64 { return math.Log(x) / math.Ln2 })
	math1("sin", math.Sin)
	math1("cos", math.Cos)
	math1("tan", math.Tan)
	math1("asin", math.Asin)
	math1("acos", math.Acos)
	math1("atan", math.Atan)
	math1("abs", math.Abs)
	math1("round", math.Round) // half away from zero, as MapLibre rounds
	math1("floor", math.Floor)
	math1("ceil", math.Ceil)

	define("get", tValue,
		overload{params: params(tString), deps: depFeature, build: func(a []node) node { return newGet(a[0], nil) }},
		overload{params: params(tString, tObject), build: func(a []node) node { return newGet(a[0], a[1]) }})
	define("has", tBoolean,
		overload{params: params(tString), deps: depFeature, fn: func(c *Context, a []node) (any, error) {
			k, err := evalString(a[0], c)
			if err != nil {
				return nil, err
			}
			_, ok := c.Properties[k]
			return ok, nil
		}},
		overload{params: params(tString, tObject), fn: func(c *Context, a []node) (any, error) {
			k, err := evalString(a[0], c)
			if err != nil {
				return nil, err
			}
			obj, err := a[1].eval(c)
			if err != nil {
				return nil, err
			}
			m, _ := obj.(map[string]any)
			_, ok := m[k]
			return ok, nil
		}})
	define("properties", tObject, overload{deps: depFeature, fn: func(c *Context, _ []node) (any, error) {
		if c.Properties == nil {
			return map[string]any{}, nil
		}
		return c.Properties, nil
	}})
	define("geometry-type", tString, overload{deps: depFeature, fn: func(c *Context, _ []node) (any, error) {
		if c.GeometryType == "" {
			return nil, nil
		}
		return c.GeometryType, nil
	}})
	define("id", tValue, overload{deps: depFeature, fn: func(c *Context, _ []node) (any, error) {
		return normalize(c.ID), nil
	}})
	// kiln keeps no feature state.
	define("feature-state", tValue, overload{params: params(tString), deps: depFeature, fn: func(*Context, []node) (any, error) {
		return nil, nil
	}})

	logic := func(stopAt bool) func(c *Context, a []node) (any, error) {
		return func(c *Context, a []node) (any, error) {
			for _, n := range a {
				b, err := evalBool(n, c)
				if err != nil {
					return nil, err
				}
				if b == stopAt {
					return stopAt, nil
				}
			}
			return !stopAt, nil
		}
	}
	define("all", tBoolean, overload{variadic: tBoolean, fn: logic(false)})
	define("any", tBoolean, overload{variadic: tBoolean, fn: logic(true)})
	define("!", tBoolean, overload{params: params(tBoolean), fn: func(c *Context, a []node) (any, error) {
		b, err := evalBool(a[0], c)
		return !b, err
	}})

	define("typeof", tString, overload{params: params(tValue), fn: func(c *Context, a []node) (any, error) {
		v, err := a[0].eval(c)
		if err != nil {
			return nil, err
		}
		return typeOf(v).String(), nil
	}})
	define("error", tError, overload{params: params(tString), deps: depRuntime, fn: func(c *Context, a []node) (any, error) {
		s, err := evalString(a[0], c)
		if err != nil {
			return nil, err
		}
		return nil, errors.New(s)
	}})

	define("to-rgba", arrayOf(tNumber, 4), overload{params: params(tColor), fn: func(c *Context, a []node) (any, error) {
		col, err := evalColor(a[0], c)
		if err != nil {
			return nil, err
		}
		return []any{col.R * 255, col.G * 255, col.B * 255, col.A}, nil
	}})
	rgba := func(c *Context, a []node) (any, error) {
		var ch [4]float64
		ch[3] = 1
		for i, n := range a {
			var err error
			if ch[i], err = evalNum(n, c); err != nil {
				return nil, err
			}
		}
		col, msg := checkRGBA(ch[0], ch[1], ch[2], ch[3])
		if msg != "" {
			return nil, errors.New(msg)
		}
		return col, nil
	}
	define("rgb", tColor, overload{params: params(tNumber, tNumber, tNumber), fn: rgba})
	define("rgba", tColor, overload{params: params(tNumber, tNumber, tNumber, tNumber), fn: rgba})

	str1 := func(name string, f func(string) string) {
		define(name, tString, overload{params: params(tString), fn: func(c *Context, a []node) (any, error) {
			s, err := evalString(a[0], c)
			if err != nil {
				return nil, err
			}
			return f(s), nil
		}})
	}
	str1("upcase", strings.ToUpper)
	str1("downcase", strings.ToLower)
	define("concat", tString, overload{variadic: tValue, fn: func(c *Context, a []node) (any, error) {
		var b strings.Builder
		for _, n := range a {
			v, err := n.eval(c)
			if err != nil {
				return nil, err
			}
			b.WriteString(toString(v))
		}
		return b.String(), nil
	}})
	define("split", arrayOf(tString, -1), overload{params: params(tString, tString), fn: func(c *Context, a []node) (any, error) {
		s, err := evalString(a[0], c)
		if err != nil {
			return nil, err
		}
		sep, err := evalString(a[1], c)
		if err != nil {
			return nil, err
		}
		parts := strings.Split(s, sep)
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	}})
	define("join", tString, overload{params: params(arrayOf(tString, -1), tString), fn: func(c *Context, a []node) (any, error) {
		v, err := a[0].eval(c)
		if err != nil {
			return nil, err
		}
		sep, err := evalString(a[1], c)
		if err != nil {
			return nil, err
		}
		items, _ := v.([]any)
		parts := make([]string, len(items))
		for i, x := range items {
			parts[i] = toString(x)
		}
		return strings.Join(parts, sep), nil
	}})

	// kiln draws every script, and speaks English.
	define("is-supported-script", tBoolean, overload{params: params(tString), deps: depRuntime, fn: func(*Context, []node) (any, error) {
		return true, nil
	}})
	define("resolved-locale", tString, overload{params: params(tCollator), fn: func(*Context, []node) (any, error) {
		return "en", nil
	}})
}

// zoomNode is ["zoom"].
type zoomNode struct{ meta }

func (z *zoomNode) eval(c *Context) (any, error)    { return c.Zoom, nil }
func (z *zoomNode) num(c *Context) (float64, error) { return c.Zoom, nil }
func (z *zoomNode) children() []node                { return nil }

// getNode is ["get", key] or ["get", key, object]; the key is nearly
// always a literal, looked up without evaluating it.
type getNode struct {
	meta
	key, obj node
	name     string // the key when it is a literal
	literal  bool
}

func newGet(key, obj node) *getNode {
	g := &getNode{key: key, obj: obj}
	if l, ok := key.(*literal); ok {
		g.name, g.literal = l.v.(string)
	}
	return g
}

func (g *getNode) children() []node {
	if g.obj == nil {
		return []node{g.key}
	}
	return []node{g.key, g.obj}
}

func (g *getNode) eval(c *Context) (any, error) {
	v, err := g.lookup(c)
	return normalize(v), err
}

// lookup is the value as the feature holds it.
func (g *getNode) lookup(c *Context) (any, error) {
	k := g.name
	if !g.literal {
		var err error
		if k, err = evalString(g.key, c); err != nil {
			return nil, err
		}
	}
	if g.obj == nil {
		return c.Properties[k], nil
	}
	obj, err := g.obj.eval(c)
	if err != nil {
		return nil, err
	}
	m, _ := obj.(map[string]any)
	return m[k], nil
}
