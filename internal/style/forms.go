package style

import (
	"fmt"
	"math"
	"regexp"
	"strings"
)

func init() {
	for _, op := range []string{"==", "!=", "<", "<=", ">", ">="} {
		operators[op] = parseComparison
	}
	operators["case"] = parseCase
	operators["match"] = parseMatch
	operators["coalesce"] = parseCoalesce
	operators["let"] = parseLet
	operators["var"] = parseVar
	operators["at"] = parseAt
	operators["in"] = parseIn
	operators["index-of"] = parseIndexOf
	operators["slice"] = parseSlice
	operators["length"] = parseLength
}

// comparison is ==, !=, <, <=, > or >=, optionally with a collator.
type comparison struct {
	meta
	op       string
	lhs, rhs node
	coll     node
	untyped  bool // an argument is of type value: types are checked at run time
	numeric  bool // both arguments are numbers
}

func (n *comparison) children() []node {
	if n.coll == nil {
		return []node{n.lhs, n.rhs}
	}
	return []node{n.lhs, n.rhs, n.coll}
}

func comparable(op string, t *typ) bool {
	switch t.kind {
	case kindString, kindNumber, kindValue:
		return true
	case kindBoolean, kindNull:
		return op == "==" || op == "!="
	}
	return false
}

func parseComparison(p *parser, args []any) (node, error) {
	if len(args) != 3 && len(args) != 4 {
		return nil, p.errorf("expected two or three arguments")
	}
	op := p.op
	ordered := op != "==" && op != "!="
	var sides [2]node
	for i := range sides {
		n, err := p.arg(args, i+1, tValue)
		if err != nil {
			return nil, err
		}
		if !comparable(op, n.info().t) {
			return nil, p.errorAt(i+1, "comparisons are not supported for type %s", n.info().t)
		}
		sides[i] = n
	}
	lhs, rhs := sides[0], sides[1]
	lt, rt := lhs.info().t, rhs.info().t
	if lt.kind != rt.kind && lt.kind != kindValue && rt.kind != kindValue {
		return nil, p.errorf("cannot compare types %s and %s", lt, rt)
	}
	if ordered {
		if lt.kind == kindValue && rt.kind != kindValue {
			lhs = newAssertion(rt, lhs)
		} else if lt.kind != kindValue && rt.kind == kindValue {
			rhs = newAssertion(lt, rhs)
		}
		lt, rt = lhs.info().t, rhs.info().t
	}
	untyped := lt.kind == kindValue || rt.kind == kindValue
	var coll node
	if len(args) == 4 {
		if lt.kind != kindString && rt.kind != kindString && !untyped {
			return nil, p.errorf("cannot use a collator to compare non-string types")
		}
		var err error
		if coll, err = p.arg(args, 3, tCollator); err != nil {
			return nil, err
		}
	}
	return &comparison{
		meta: meta{t: tBoolean, deps: depsOf(lhs, rhs, coll)},
		op:   op, lhs: lhs, rhs: rhs, coll: coll, untyped: untyped,
		numeric: lt.kind == kindNumber && rt.kind == kindNumber,
	}, nil
}

func (n *comparison) eval(c *Context) (any, error) {
	if n.numeric {
		a, err := evalNum(n.lhs, c)
		if err != nil {
			return nil, err
		}
		b, err := evalNum(n.rhs, c)
		if err != nil {
			return nil, err
		}
		return compareNumbers(n.op, a, b), nil
	}
	a, err := evalLoose(n.lhs, c)
	if err != nil {
		return nil, err
	}
	b, err := evalLoose(n.rhs, c)
	if err != nil {
		return nil, err
	}
	ordered := n.op != "==" && n.op != "!="
	as, aStr := a.(string)
	bs, bStr := b.(string)
	if ordered && n.untyped {
		_, aNum := toFloat(a)
		_, bNum := toFloat(b)
		if !(aStr && bStr || aNum && bNum) {
			return nil, fmt.Errorf(`expected arguments for %q to be (string, string) or (number, number), but found (%s, %s) instead`,
				n.op, typeOf(a), typeOf(b))
		}
	}
	if n.coll != nil && (aStr && bStr || !n.untyped) {
		cv, err := n.coll.eval(c)
		if err != nil {
			return nil, err
		}
		co, ok := cv.(*collator)
		if !ok {
			return nil, fmt.Errorf("expected a collator, found %s", typeOf(cv))
		}
		return compareInts(n.op, co.compare(as, bs)), nil
	}
	switch n.op {
	case "==":
		return strictEqual(a, b), nil
	case "!=":
		return !strictEqual(a, b), nil
	}
	if aStr && bStr {
		return compareInts(n.op, strings.Compare(as, bs)), nil
	}
	x, _ := toFloat(a)
	y, _ := toFloat(b)
	return compareNumbers(n.op, x, y), nil
}

func compareNumbers(op string, a, b float64) bool {
	switch op {
	case "==":
		return a == b
	case "!=":
		return a != b
	case "<":
		return a < b
	case "<=":
		return a <= b
	case ">":
		return a > b
	}
	return a >= b
}

func compareInts(op string, cmp int) bool {
	return compareNumbers(op, float64(cmp), 0)
}

// caseNode is ["case", test, output, …, fallback].
type caseNode struct {
	meta
	tests, outputs []node
	otherwise      node
}

func (n *caseNode) children() []node {
	var out []node
	for i := range n.tests {
		out = append(out, n.tests[i], n.outputs[i])
	}
	return append(out, n.otherwise)
}

// outputType is the type branches must have: the one expected of the
// whole, else the first branch's.
func (p *parser) outputType() *typ {
	if p.expected != nil && p.expected.kind != kindValue {
		return p.expected
	}
	return nil
}

func parseCase(p *parser, args []any) (node, error) {
	if len(args) < 4 {
		return nil, p.errorf("expected at least 3 arguments, found %d", len(args)-1)
	}
	if len(args)%2 != 0 {
		return nil, p.errorf("expected an odd number of arguments")
	}
	out := p.outputType()
	n := &caseNode{}
	for i := 1; i < len(args)-1; i += 2 {
		test, err := p.arg(args, i, tBoolean)
		if err != nil {
			return nil, err
		}
		res, err := p.arg(args, i+1, out)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = res.info().t
		}
		n.tests = append(n.tests, test)
		n.outputs = append(n.outputs, res)
	}
	var err error
	if n.otherwise, err = p.arg(args, len(args)-1, out); err != nil {
		return nil, err
	}
	n.meta = meta{t: out, deps: depsOf(n.children()...)}
	return n, nil
}

func (n *caseNode) eval(c *Context) (any, error) { return n.pick(c).eval(c) }

func (n *caseNode) pick(c *Context) node {
	for i, t := range n.tests {
		b, err := evalBool(t, c)
		if err != nil {
			return errNode{err}
		}
		if b {
			return n.outputs[i]
		}
	}
	return n.otherwise
}

func (n *caseNode) num(c *Context) (float64, error) { return evalNum(n.pick(c), c) }
func (n *caseNode) color(c *Context) (Color, error) { return evalColor(n.pick(c), c) }

// errNode carries an error out of a branch choice.
type errNode struct{ err error }

func (e errNode) eval(*Context) (any, error)    { return nil, e.err }
func (e errNode) num(*Context) (float64, error) { return 0, e.err }
func (e errNode) color(*Context) (Color, error) { return Color{}, e.err }
func (e errNode) info() *meta                   { return &meta{t: tError} }
func (e errNode) children() []node              { return nil }

// matchNode is ["match", input, label(s), output, …, fallback].
type matchNode struct {
	meta
	input     node
	numeric   bool // labels are numbers, else strings
	nums      map[float64]int
	strs      map[string]int
	outputs   []node
	otherwise node
}

func (n *matchNode) children() []node {
	return append(append([]node{n.input}, n.outputs...), n.otherwise)
}

const maxSafeInteger = 1<<53 - 1

func parseMatch(p *parser, args []any) (node, error) {
	if len(args) < 5 {
		return nil, p.errorf("expected at least 4 arguments, found %d", len(args)-1)
	}
	if len(args)%2 != 1 {
		return nil, p.errorf("expected an even number of arguments")
	}
	out := p.outputType()
	n := &matchNode{nums: map[float64]int{}, strs: map[string]int{}}
	var labelType *typ
	for i := 2; i < len(args)-1; i += 2 {
		labels, ok := args[i].([]any)
		if !ok {
			labels = []any{args[i]}
		}
		if len(labels) == 0 {
			return nil, p.errorAt(i, "expected at least one branch label")
		}
		for _, label := range labels {
			var dup bool
			switch l := label.(type) {
			case string:
				_, dup = n.strs[l]
				n.strs[l] = len(n.outputs)
			case float64:
				if math.Abs(l) > maxSafeInteger {
					return nil, p.errorAt(i, "branch labels must be integers no larger than %d", int64(maxSafeInteger))
				}
				if l != math.Floor(l) {
					return nil, p.errorAt(i, "numeric branch labels must be integer values")
				}
				_, dup = n.nums[l]
				n.nums[l] = len(n.outputs)
			default:
				return nil, p.errorAt(i, "branch labels must be numbers or strings")
			}
			t := typeOf(label)
			if labelType == nil {
				labelType = t
			} else if msg := subtypeError(labelType, t); msg != "" {
				return nil, p.errorAt(i, "%s", msg)
			}
			if dup {
				return nil, p.errorAt(i, "branch labels must be unique")
			}
		}
		res, err := p.arg(args, i+1, out)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = res.info().t
		}
		n.outputs = append(n.outputs, res)
	}
	var err error
	if n.input, err = p.arg(args, 1, tValue); err != nil {
		return nil, err
	}
	if n.otherwise, err = p.arg(args, len(args)-1, out); err != nil {
		return nil, err
	}
	if it := n.input.info().t; it.kind != kindValue {
		if msg := subtypeError(labelType, it); msg != "" {
			return nil, p.errorAt(1, "%s", msg)
		}
	}
	n.numeric = labelType.kind == kindNumber
	n.meta = meta{t: out, deps: depsOf(n.children()...)}
	return n, nil
}

func (n *matchNode) pick(c *Context) node {
	v, err := evalLoose(n.input, c)
	if err != nil {
		return errNode{err}
	}
	i, ok := -1, false
	if s, isStr := v.(string); isStr && !n.numeric {
		i, ok = n.strs[s]
	} else if f, isNum := toFloat(v); isNum && n.numeric {
		i, ok = n.nums[f]
	}
	if ok {
		return n.outputs[i]
	}
	return n.otherwise
}

func (n *matchNode) eval(c *Context) (any, error)    { return n.pick(c).eval(c) }
func (n *matchNode) num(c *Context) (float64, error) { return evalNum(n.pick(c), c) }
func (n *matchNode) color(c *Context) (Color, error) { return evalColor(n.pick(c), c) }

// coalesceNode is the first of its arguments that is not null.
type coalesceNode struct {
	meta
	args []node
}

func (n *coalesceNode) children() []node { return n.args }

func parseCoalesce(p *parser, args []any) (node, error) {
	if len(args) < 2 {
		return nil, p.errorf("expected at least one argument")
	}
	out := p.outputType()
	n := &coalesceNode{}
	for i := 1; i < len(args); i++ {
		// Without the usual assertions, which would fail on null before
		// the next argument is tried.
		a, err := p.sub(i, out).parse(args[i], annotateOmit)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = a.info().t
		}
		n.args = append(n.args, a)
	}
	// An argument that would have needed an assertion makes the whole a
	// value, for parse to assert instead.
	if p.expected != nil {
		for _, a := range n.args {
			if subtypeError(p.expected, a.info().t) != "" {
				out = tValue
				break
			}
		}
	}
	n.meta = meta{t: out, deps: depsOf(n.args...)}
	return n, nil
}

func (n *coalesceNode) eval(c *Context) (any, error) {
	var v any
	for _, a := range n.args {
		var err error
		if v, err = a.eval(c); err != nil || v != nil {
			return v, err
		}
	}
	return nil, nil
}

// letNode binds variables for its result; varNode reads one.
type letNode struct {
	meta
	bindings []node
	result   node
}

func (n *letNode) children() []node             { return append(append([]node(nil), n.bindings...), n.result) }
func (n *letNode) eval(c *Context) (any, error) { return n.result.eval(c) }

var varName = regexp.MustCompile(`^[a-zA-Z0-9_]*$`)

func parseLet(p *parser, args []any) (node, error) {
	if len(args) < 4 {
		return nil, p.errorf("expected at least 3 arguments, found %d", len(args)-1)
	}
	n := &letNode{}
	vars := map[string]node{}
	for i := 1; i < len(args)-1; i += 2 {
		name, ok := args[i].(string)
		if !ok {
			return nil, p.errorAt(i, "expected a variable name, found %s", jsonKind(args[i]))
		}
		if !varName.MatchString(name) {
			return nil, p.errorAt(i, "variable names must contain only alphanumeric characters or '_'")
		}
		v, err := p.arg(args, i+1, nil)
		if err != nil {
			return nil, err
		}
		vars[name] = v
		n.bindings = append(n.bindings, v)
	}
	q := *p
	q.scope = &scope{parent: p.scope, vars: vars}
	var err error
	if n.result, err = q.arg(args, len(args)-1, p.expected); err != nil {
		return nil, err
	}
	n.meta = meta{t: n.result.info().t, deps: depsOf(n.children()...)}
	return n, nil
}

type varNode struct {
	meta
	bound node
}

func (n *varNode) children() []node             { return nil }
func (n *varNode) eval(c *Context) (any, error) { return n.bound.eval(c) }

func parseVar(p *parser, args []any) (node, error) {
	name, ok := "", len(args) == 2
	if ok {
		name, ok = args[1].(string)
	}
	if !ok {
		return nil, p.errorf("expected exactly one string literal argument")
	}
	bound, ok := p.scope.lookup(name)
	if !ok {
		return nil, p.errorAt(1, "unknown variable %q: bind it in an enclosing let", name)
	}
	return &varNode{meta: *bound.info(), bound: bound}, nil
}

// atNode is ["at", index, array].
type atNode struct {
	meta
	index, array node
}

func (n *atNode) children() []node { return []node{n.index, n.array} }

func parseAt(p *parser, args []any) (node, error) {
	if len(args) != 3 {
		return nil, p.errorf("expected 2 arguments, found %d", len(args)-1)
	}
	item := tValue
	if p.expected != nil {
		item = p.expected
	}
	index, err := p.arg(args, 1, tNumber)
	if err != nil {
		return nil, err
	}
	array, err := p.arg(args, 2, arrayOf(item, -1))
	if err != nil {
		return nil, err
	}
	return &atNode{meta: meta{t: array.info().t.item, deps: depsOf(index, array)}, index: index, array: array}, nil
}

func (n *atNode) eval(c *Context) (any, error) {
	i, err := evalNum(n.index, c)
	if err != nil {
		return nil, err
	}
	v, err := n.array.eval(c)
	if err != nil {
		return nil, err
	}
	a, _ := v.([]any)
	switch {
	case i < 0:
		return nil, fmt.Errorf("array index out of bounds: %s < 0", formatNumber(i))
	case i >= float64(len(a)):
		return nil, fmt.Errorf("array index out of bounds: %s > %d", formatNumber(i), len(a)-1)
	case i != math.Floor(i):
		return nil, fmt.Errorf("array index must be an integer, but found %s instead", formatNumber(i))
	}
	return a[int(i)], nil
}

// searchNode is ["in", needle, haystack] or ["index-of", needle,
// haystack, from?]: a value in an array or a substring in a string.
type searchNode struct {
	meta
	needle, haystack, from node
	index                  bool // index-of, else in
}

func (n *searchNode) children() []node {
	if n.from == nil {
		return []node{n.needle, n.haystack}
	}
	return []node{n.needle, n.haystack, n.from}
}

func parseIn(p *parser, args []any) (node, error) {
	if len(args) != 3 {
		return nil, p.errorf("expected 2 arguments, found %d", len(args)-1)
	}
	return parseSearch(p, args, &searchNode{meta: meta{t: tBoolean}})
}

func parseIndexOf(p *parser, args []any) (node, error) {
	if len(args) != 3 && len(args) != 4 {
		return nil, p.errorf("expected 2 or 3 arguments, found %d", len(args)-1)
	}
	return parseSearch(p, args, &searchNode{meta: meta{t: tNumber}, index: true})
}

func parseSearch(p *parser, args []any, n *searchNode) (node, error) {
	var err error
	if n.needle, err = p.arg(args, 1, tValue); err != nil {
		return nil, err
	}
	if n.haystack, err = p.arg(args, 2, tValue); err != nil {
		return nil, err
	}
	switch n.needle.info().t.kind {
	case kindBoolean, kindString, kindNumber, kindNull, kindValue:
	default:
		return nil, p.errorf("expected first argument to be of type boolean, string, number or null, but found %s instead", n.needle.info().t)
	}
	if len(args) == 4 {
		if n.from, err = p.arg(args, 3, tNumber); err != nil {
			return nil, err
		}
	}
	n.deps = depsOf(n.children()...)
	return n, nil
}

func (n *searchNode) eval(c *Context) (any, error) {
	needle, err := evalLoose(n.needle, c)
	if err != nil {
		return nil, err
	}
	haystack, err := n.haystack.eval(c)
	if err != nil {
		return nil, err
	}
	if !n.index && !truthy(haystack) {
		return false, nil
	}
	switch needle.(type) {
	case nil, bool, string:
	default:
		if _, ok := toFloat(needle); !ok {
			return nil, fmt.Errorf("expected first argument to be of type boolean, string, number or null, but found %s instead", typeOf(needle))
		}
	}
	from := 0.0
	if n.from != nil {
		if from, err = evalNum(n.from, c); err != nil {
			return nil, err
		}
	}
	i := -1
	switch h := haystack.(type) {
	case string:
		start := jsIndex(math.Max(from, 0), runeCount(h))
		skip := len(string([]rune(h)[:start]))
		if j := strings.Index(h[skip:], jsString(needle)); j >= 0 {
			i = start + runeCount(h[skip:skip+j])
		}
	case []any:
		for j := jsIndex(from, len(h)); j < len(h); j++ {
			if strictEqual(needle, h[j]) {
				i = j
				break
			}
		}
	default:
		return nil, fmt.Errorf("expected second argument to be of type array or string, but found %s instead", typeOf(haystack))
	}
	if n.index {
		return float64(i), nil
	}
	return i >= 0, nil
}

// jsString is JavaScript's String(v) for a primitive.
func jsString(v any) string {
	if v == nil {
		return "null"
	}
	return toString(v)
}

// sliceNode is ["slice", input, start, end?] on an array or a string.
type sliceNode struct {
	meta
	input, start, end node
}

func (n *sliceNode) children() []node {
	if n.end == nil {
		return []node{n.input, n.start}
	}
	return []node{n.input, n.start, n.end}
}

func parseSlice(p *parser, args []any) (node, error) {
	if len(args) != 3 && len(args) != 4 {
		return nil, p.errorf("expected 2 or 3 arguments, found %d", len(args)-1)
	}
	n := &sliceNode{}
	var err error
	if n.input, err = p.arg(args, 1, tValue); err != nil {
		return nil, err
	}
	if n.start, err = p.arg(args, 2, tNumber); err != nil {
		return nil, err
	}
	switch k := n.input.info().t.kind; k {
	case kindArray, kindString, kindValue:
	default:
		return nil, p.errorf("expected first argument to be of type array or string, but found %s instead", n.input.info().t)
	}
	if len(args) == 4 {
		if n.end, err = p.arg(args, 3, tNumber); err != nil {
			return nil, err
		}
	}
	n.meta = meta{t: n.input.info().t, deps: depsOf(n.children()...)}
	return n, nil
}

func (n *sliceNode) eval(c *Context) (any, error) {
	v, err := n.input.eval(c)
	if err != nil {
		return nil, err
	}
	start, err := evalNum(n.start, c)
	if err != nil {
		return nil, err
	}
	end := math.Inf(1)
	if n.end != nil {
		if end, err = evalNum(n.end, c); err != nil {
			return nil, err
		}
	}
	switch x := v.(type) {
	case string:
		r := []rune(x)
		i, j := jsIndex(start, len(r)), jsIndex(end, len(r))
		return string(r[i:max(i, j)]), nil
	case []any:
		i, j := jsIndex(start, len(x)), jsIndex(end, len(x))
		return x[i:max(i, j):max(i, j)], nil
	}
	return nil, fmt.Errorf("expected first argument to be of type array or string, but found %s instead", typeOf(v))
}

// lengthNode is ["length", string or array].
type lengthNode struct {
	meta
	input node
}

func (n *lengthNode) children() []node { return []node{n.input} }

func parseLength(p *parser, args []any) (node, error) {
	if len(args) != 2 {
		return nil, p.errorf("expected 1 argument, found %d", len(args)-1)
	}
	input, err := p.arg(args, 1, nil)
	if err != nil {
		return nil, err
	}
	switch input.info().t.kind {
	case kindArray, kindString, kindValue:
	default:
		return nil, p.errorf("expected argument of type string or array, but found %s instead", input.info().t)
	}
	return &lengthNode{meta: meta{t: tNumber, deps: input.info().deps}, input: input}, nil
}

func (n *lengthNode) eval(c *Context) (any, error) { return boxNum(n.num(c)) }

func (n *lengthNode) num(c *Context) (float64, error) {
	v, err := n.input.eval(c)
	if err != nil {
		return 0, err
	}
	switch x := v.(type) {
	case string:
		return float64(runeCount(x)), nil
	case []any:
		return float64(len(x)), nil
	}
	return 0, fmt.Errorf("expected value to be of type string or array, but found %s instead", typeOf(v))
}
