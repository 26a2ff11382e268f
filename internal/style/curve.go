package style

import (
	"fmt"
	"math"
	"sort"
)

func init() {
	operators["step"] = parseStep
	for _, op := range []string{"interpolate", "interpolate-hcl", "interpolate-lab"} {
		operators[op] = parseInterpolate
	}
}

// stops are the input values and outputs of step and interpolate.
type stops struct {
	input   node
	labels  []float64
	outputs []node
}

func (s *stops) children() []node { return append([]node{s.input}, s.outputs...) }

// find locates the input: the index of the last stop at or below it
// (0 below the first).
func (s *stops) find(c *Context) (float64, int, error) {
	if len(s.labels) == 1 {
		return 0, 0, nil // the input is not even evaluated
	}
	x, err := evalNum(s.input, c)
	if err != nil {
		return 0, 0, err
	}
	if math.IsNaN(x) {
		return 0, 0, fmt.Errorf("input is not a number")
	}
	i := sort.Search(len(s.labels), func(i int) bool { return s.labels[i] > x }) - 1
	return x, max(i, 0), nil
}

// parseStops reads the label/output pairs from args[first:]; a step's
// first output has no label.
func (p *parser) parseStops(args []any, first int, step bool, out *typ) (stops, *typ, error) {
	var s stops
	add := func(label float64, at int) error {
		v, err := p.arg(args, at, out)
		if err != nil {
			return err
		}
		if out == nil {
			out = v.info().t
		}
		s.labels = append(s.labels, label)
		s.outputs = append(s.outputs, v)
		return nil
	}
	i := first
	if step {
		if err := add(math.Inf(-1), i); err != nil {
			return s, nil, err
		}
		i++
	}
	for ; i+1 < len(args); i += 2 {
		label, ok := args[i].(float64)
		if !ok {
			return s, nil, p.errorAt(i, "stop inputs must be literal numbers, not computed expressions")
		}
		if n := len(s.labels); n > 0 && s.labels[n-1] >= label {
			return s, nil, p.errorAt(i, "stop inputs must be in strictly ascending order")
		}
		if err := add(label, i+1); err != nil {
			return s, nil, err
		}
	}
	return s, out, nil
}

// stepNode is ["step", input, output0, label1, output1, …].
type stepNode struct {
	meta
	stops
}

func parseStep(p *parser, args []any) (node, error) {
	if len(args)-1 < 4 {
		return nil, p.errorf("expected at least 4 arguments, found %d", len(args)-1)
	}
	if (len(args)-1)%2 != 0 {
		return nil, p.errorf("expected an even number of stop arguments")
	}
	input, err := p.arg(args, 1, tNumber)
	if err != nil {
		return nil, err
	}
	s, out, err := p.parseStops(args, 2, true, p.outputType())
	if err != nil {
		return nil, err
	}
	s.input = input
	return &stepNode{meta: meta{t: out, deps: depsOf(s.children()...)}, stops: s}, nil
}

func (n *stepNode) pick(c *Context) node {
	_, i, err := n.find(c)
	if err != nil {
		return errNode{err}
	}
	return n.outputs[i]
}

func (n *stepNode) eval(c *Context) (any, error)    { return n.pick(c).eval(c) }
func (n *stepNode) num(c *Context) (float64, error) { return evalNum(n.pick(c), c) }
func (n *stepNode) color(c *Context) (Color, error) { return evalColor(n.pick(c), c) }

// easing is how interpolate moves between stops.
type easing struct {
	base   float64     // exponential; 1 is linear
	lnBase float64     // its logarithm, for a positive base
	bezier *[4]float64 // cubic-bezier control points, or nil
}

// factor is how far x lies between stops lo and hi, eased, 0 to 1. For
// an exponential curve, (base^(x-lo) - 1) / (base^(hi-lo) - 1): the ratio
// of the rises of base^x, as MapLibre computes it; span is the
// denominator, precomputed.
func (e easing) factor(x, lo, hi, span float64) float64 {
	switch {
	case hi == lo:
		return 0
	case e.bezier != nil:
		return bezierY(e.bezier, (x-lo)/(hi-lo))
	case e.base == 1:
		return (x - lo) / (hi - lo)
	}
	return e.rise(x-lo) / span
}

// rise is base^d - 1, through the logarithm where there is one.
func (e easing) rise(d float64) float64 {
	if e.base > 0 {
		return math.Expm1(d * e.lnBase)
	}
	return math.Pow(e.base, d) - 1
}

// bezierY is the y of the unit cubic Bézier curve through (0,0), the two
// control points and (1,1) at x: x solved for the curve parameter by
// Newton's method, falling back to bisection.
func bezierY(cp *[4]float64, x float64) float64 {
	coef := func(p1, p2 float64) (a, b, c float64) {
		c = 3 * p1
		b = 3*(p2-p1) - c
		return 1 - c - b, b, c
	}
	ax, bx, cx := coef(cp[0], cp[2])
	ay, by, cy := coef(cp[1], cp[3])
	sampleX := func(t float64) float64 { return ((ax*t+bx)*t + cx) * t }
	const eps = 1e-6
	solve := func() float64 {
		if x <= 0 || x >= 1 {
			return math.Max(0, math.Min(1, x))
		}
		t := x
		for range 8 {
			dx := sampleX(t) - x
			if math.Abs(dx) < eps {
				return t
			}
			slope := (3*ax*t+2*bx)*t + cx
			if math.Abs(slope) < eps {
				break
			}
			t -= dx / slope
		}
		lo, hi := 0.0, 1.0
		t = x
		for range 20 {
			v := sampleX(t)
			if math.Abs(v-x) < eps {
				break
			}
			if x > v {
				lo = t
			} else {
				hi = t
			}
			t = lo + (hi-lo)/2
		}
		return t
	}
	t := solve()
	return ((ay*t+by)*t + cy) * t
}

// interpNode is ["interpolate", easing, input, label1, output1, …] and its
// -hcl and -lab variants for colours.
type interpNode struct {
	meta
	stops
	easing easing
	spans  []float64 // base^(label[i+1]-label[i]) - 1, for exponential curves
	space  string    // "interpolate", "interpolate-hcl" or "interpolate-lab"
}

func parseInterpolate(p *parser, args []any) (node, error) {
	var e easing
	var kind []any
	if len(args) > 1 {
		kind, _ = args[1].([]any)
	}
	if len(kind) == 0 {
		return nil, p.errorAt(1, "expected an interpolation type: [\"linear\"], [\"exponential\", base] or [\"cubic-bezier\", x1, y1, x2, y2]")
	}
	switch kind[0] {
	case "linear":
		e.base = 1
	case "exponential":
		ok := len(kind) > 1
		if ok {
			e.base, ok = kind[1].(float64)
		}
		if !ok {
			return nil, p.sub(1, nil).errorAt(1, "exponential interpolation requires a literal numeric base")
		}
	case "cubic-bezier":
		var cp [4]float64
		ok := len(kind) == 5
		for i := 0; ok && i < 4; i++ {
			cp[i], ok = kind[i+1].(float64)
			ok = ok && cp[i] >= 0 && cp[i] <= 1
		}
		if !ok {
			return nil, p.errorAt(1, "cubic-bezier interpolation requires four numbers between 0 and 1")
		}
		e.base, e.bezier = 1, &cp
	default:
		return nil, p.sub(1, nil).errorAt(0, "unknown interpolation type %s", jsonText(kind[0]))
	}
	if len(args)-1 < 4 {
		return nil, p.errorf("expected at least 4 arguments, found %d", len(args)-1)
	}
	if (len(args)-1)%2 != 0 {
		return nil, p.errorf("expected an even number of stop arguments")
	}
	input, err := p.arg(args, 2, tNumber)
	if err != nil {
		return nil, err
	}
	out := p.outputType()
	if p.op != "interpolate" {
		out = tColor
	}
	s, out, err := p.parseStops(args, 3, false, out)
	if err != nil {
		return nil, err
	}
	s.input = input
	if !(out.kind == kindNumber || out.kind == kindColor || out.kind == kindArray && out.item.kind == kindNumber && out.n >= 0) {
		return nil, p.errorf("type %s cannot be interpolated", out)
	}
	e.lnBase = math.Log(e.base)
	n := &interpNode{meta: meta{t: out, deps: depsOf(s.children()...)}, stops: s, easing: e, space: p.op}
	for i := 1; i < len(s.labels); i++ {
		n.spans = append(n.spans, e.rise(s.labels[i]-s.labels[i-1]))
	}
	return n, nil
}

// span locates the input between two stops: lo == hi outside the stops.
func (n *interpNode) span(c *Context) (lo, hi int, t float64, err error) {
	x, i, err := n.find(c)
	if err != nil {
		return 0, 0, 0, err
	}
	if x <= n.labels[0] || i == len(n.labels)-1 {
		return i, i, 0, nil
	}
	return i, i + 1, n.easing.factor(x, n.labels[i], n.labels[i+1], n.spans[i]), nil
}

func (n *interpNode) num(c *Context) (float64, error) {
	lo, hi, t, err := n.span(c)
	if err != nil {
		return 0, err
	}
	a, err := evalNum(n.outputs[lo], c)
	if err != nil || lo == hi {
		return a, err
	}
	b, err := evalNum(n.outputs[hi], c)
	return lerp(a, b, t), err
}

func (n *interpNode) color(c *Context) (Color, error) {
	lo, hi, t, err := n.span(c)
	if err != nil {
		return Color{}, err
	}
	a, err := evalColor(n.outputs[lo], c)
	if err != nil || lo == hi {
		return a, err
	}
	b, err := evalColor(n.outputs[hi], c)
	switch n.space {
	case "interpolate-hcl":
		return mixHCL(a, b, t), err
	case "interpolate-lab":
		return mixLab(a, b, t), err
	}
	return mixRGB(a, b, t), err
}

func (n *interpNode) eval(c *Context) (any, error) {
	switch n.t.kind {
	case kindNumber:
		return boxNum(n.num(c))
	case kindColor:
		return boxColor(n.color(c))
	}
	lo, hi, t, err := n.span(c)
	if err != nil {
		return nil, err
	}
	a, err := n.outputs[lo].eval(c)
	if err != nil || lo == hi {
		return a, err
	}
	b, err := n.outputs[hi].eval(c)
	if err != nil {
		return nil, err
	}
	x, _ := a.([]any)
	y, _ := b.([]any)
	if len(x) != len(y) {
		return nil, fmt.Errorf("cannot interpolate arrays of lengths %d and %d", len(x), len(y))
	}
	out := make([]any, len(x))
	for i := range x {
		u, _ := toFloat(x[i])
		v, _ := toFloat(y[i])
		out[i] = lerp(u, v, t)
	}
	return out, nil
}
