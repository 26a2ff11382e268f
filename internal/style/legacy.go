package style

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// This file reads the deprecated syntax of style specification v8 that
// styles still use: property functions ({"stops": …}), converted to
// expressions as MapLibre's convertFunction does, and filters (["==",
// "class", "x"]), compiled to nodes of their own.

// convertFunction turns a legacy function into an expression.
func convertFunction(fn map[string]any, s *propSpec) (any, error) {
	raw, ok := fn["stops"]
	if !ok {
		return convertIdentity(fn, s), nil
	}
	list, _ := raw.([]any)
	if len(list) == 0 {
		return nil, errors.New("function: stops must be a non-empty array")
	}
	stops := make([][2]any, len(list))
	for i, x := range list {
		pair, ok := x.([]any)
		if !ok || len(pair) != 2 {
			return nil, fmt.Errorf("function: stop %d must be an [input, output] pair", i)
		}
		stops[i] = [2]any{pair[0], pair[1]}
	}
	_, zoomAndFeature := stops[0][0].(map[string]any)
	_, hasProperty := fn["property"]
	feature := zoomAndFeature || hasProperty
	for i := range stops {
		if str, ok := stops[i][1].(string); ok && !feature && s.tokens {
			stops[i][1] = convertTokens(str)
		} else {
			stops[i][1] = literalJSON(stops[i][1])
		}
	}
	switch {
	case zoomAndFeature:
		return convertZoomAndProperty(fn, s, stops)
	case feature:
		return convertPropertyFunction(fn, s, stops)
	}
	return convertZoomFunction(fn, s, stops, []any{"zoom"})
}

// literalJSON quotes arrays and objects (and null) as literals.
func literalJSON(v any) any {
	switch v.(type) {
	case nil, []any, map[string]any:
		return []any{"literal", v}
	}
	return v
}

func convertIdentity(fn map[string]any, s *propSpec) any {
	get := []any{"get", fn["property"]}
	def, ok := fn["default"]
	switch {
	case !ok && s.typeName() == "string":
		return []any{"string", get}
	case !ok:
		return get
	case s.enum != nil:
		labels := make([]any, len(s.enum))
		for i, v := range s.enum {
			labels[i] = v
		}
		return []any{"match", get, labels, get, def}
	case s.typeName() == "color":
		return []any{"to-color", get, literalJSON(def)}
	case s.typeName() == "array":
		var n any
		if s.t.n >= 0 {
			n = float64(s.t.n)
		}
		return []any{"array", s.t.item.String(), n, get, literalJSON(def)}
	}
	return []any{s.typeName(), get, literalJSON(def)}
}

// functionType is the declared type, else what the property implies.
func functionType(fn map[string]any, s *propSpec) string {
	if t, ok := fn["type"].(string); ok {
		return t
	}
	if s.interpolated {
		return "exponential"
	}
	return "interval"
}

func interpolateOperator(fn map[string]any) string {
	switch fn["colorSpace"] {
	case "hcl":
		return "interpolate-hcl"
	case "lab":
		return "interpolate-lab"
	}
	return "interpolate"
}

func easingJSON(fn map[string]any) []any {
	base, ok := fn["base"]
	if !ok || base == 1.0 {
		return []any{"linear"}
	}
	return []any{"exponential", base}
}

// appendStop adds a stop to a step or interpolate expression, skipping a
// repeated input (which functions allowed and expressions do not); a
// step's first output has no input.
func appendStop(curve []any, input, output any, step bool) []any {
	if len(curve) > 3 && strictEqual(input, curve[len(curve)-2]) {
		return curve
	}
	if !(step && len(curve) == 2) {
		curve = append(curve, input)
	}
	return append(curve, output)
}

// fixDegenerateStep makes a step of one output valid. (MapLibre's
// converter repeats the new label 0 rather than the output, which breaks
// non-number properties; its renderer evaluates functions directly.)
func fixDegenerateStep(curve []any) []any {
	if curve[0] == "step" && len(curve) == 3 {
		curve = append(curve, 0.0, curve[2])
	}
	return curve
}

func convertZoomFunction(fn map[string]any, s *propSpec, stops [][2]any, input []any) (any, error) {
	var curve []any
	step := false
	switch t := functionType(fn, s); t {
	case "interval":
		curve, step = []any{"step", input}, true
	case "exponential":
		curve = []any{interpolateOperator(fn), easingJSON(fn), input}
	default:
		return nil, fmt.Errorf("function: unknown zoom function type %q", t)
	}
	for _, st := range stops {
		curve = appendStop(curve, st[0], st[1], step)
	}
	return fixDegenerateStep(curve), nil
}

func convertPropertyFunction(fn map[string]any, s *propSpec, stops [][2]any) (any, error) {
	get := []any{"get", fn["property"]}
	def, hasDef := fn["default"]
	fallback := def
	if !hasDef {
		fallback = s.def
	}
	if fallback == nil && s.typeName() == "resolvedImage" {
		fallback = ""
	}
	fallback = literalJSON(fallback)
	var curve []any
	switch t := functionType(fn, s); t {
	case "categorical":
		if _, ok := stops[0][0].(bool); ok {
			curve = []any{"case"}
			for _, st := range stops {
				curve = append(curve, []any{"==", get, st[0]}, st[1])
			}
			return append(curve, fallback), nil
		}
		curve = []any{"match", get}
		for _, st := range stops {
			curve = appendStop(curve, st[0], st[1], false)
		}
		return append(curve, fallback), nil
	case "interval":
		curve = []any{"step", []any{"number", get}}
		for _, st := range stops {
			curve = appendStop(curve, st[0], st[1], true)
		}
		curve = fixDegenerateStep(curve)
	case "exponential":
		curve = []any{interpolateOperator(fn), easingJSON(fn), []any{"number", get}}
		for _, st := range stops {
			curve = appendStop(curve, st[0], st[1], false)
		}
	default:
		return nil, fmt.Errorf("function: unknown property function type %q", t)
	}
	if !hasDef {
		return curve, nil
	}
	return []any{"case", []any{"==", []any{"typeof", get}, "number"}, curve, literalJSON(def)}, nil
}

// convertZoomAndProperty makes a zoom curve of property functions, one
// per zoom of the stops ({"zoom": z, "value": v}).
func convertZoomAndProperty(fn map[string]any, s *propSpec, stops [][2]any) (any, error) {
	var zooms []float64
	byZoom := map[float64][][2]any{}
	for i, st := range stops {
		in, _ := st[0].(map[string]any)
		z, ok := in["zoom"].(float64)
		if !ok {
			return nil, fmt.Errorf("function: stop %d: input must be {\"zoom\": number, \"value\": …}", i)
		}
		if _, seen := byZoom[z]; !seen {
			zooms = append(zooms, z)
		}
		byZoom[z] = append(byZoom[z], [2]any{in["value"], st[1]})
	}
	// The zoom dimension interpolates linearly where the property can.
	step := !s.interpolated
	curve := []any{"step", []any{"zoom"}}
	if !step {
		curve = []any{interpolateOperator(fn), []any{"linear"}, []any{"zoom"}}
	}
	inner := map[string]any{"property": fn["property"]}
	for _, k := range []string{"type", "default"} {
		if v, ok := fn[k]; ok {
			inner[k] = v
		}
	}
	for _, z := range zooms {
		out, err := convertPropertyFunction(inner, s, byZoom[z])
		if err != nil {
			return nil, err
		}
		curve = appendStop(curve, z, out, step)
	}
	return fixDegenerateStep(curve), nil
}

var tokenPattern = regexp.MustCompile(`\{([^{}]+)\}`)

// convertTokens turns "{name} ({ref})" into a concat of the properties;
// a string without tokens stays as it is.
func convertTokens(s string) any {
	matches := tokenPattern.FindAllStringSubmatchIndex(s, -1)
	if matches == nil {
		return s
	}
	out := []any{"concat"}
	pos := 0
	for _, m := range matches {
		if m[0] > pos {
			out = append(out, s[pos:m[0]])
		}
		out = append(out, []any{"get", s[m[2]:m[3]]})
		pos = m[1]
	}
	if pos < len(s) {
		out = append(out, s[pos:])
	} else if len(out) == 2 {
		return []any{"to-string", out[1]}
	}
	return out
}

// Filters.

// filterSyntax is which syntax a filter is written in. Neutral filters
// (["has", "k"], true) mean the same in both.
type filterSyntax uint8

const (
	syntaxExpression filterSyntax = iota
	syntaxLegacy
	syntaxNeutral
)

// classifyFilter tells the syntaxes apart as MapLibre's isExpressionFilter
// does: one expression-only node makes the whole filter an expression.
func classifyFilter(f any) filterSyntax {
	if _, ok := f.(bool); ok {
		return syntaxNeutral
	}
	a, ok := f.([]any)
	if !ok || len(a) == 0 {
		return syntaxLegacy
	}
	isArray := func(i int) bool { _, ok := a[i].([]any); return ok }
	switch a[0] {
	case "has":
		switch {
		case len(a) < 2 || a[1] == "$id" || a[1] == "$type":
			return syntaxLegacy
		case len(a) == 2:
			return syntaxNeutral
		}
		return syntaxExpression
	case "in":
		// Legacy ["in", key, values…] tests a property against a set,
		// the expression a substring: the scalar form is legacy.
		if len(a) >= 3 {
			if _, key := a[1].(string); !key || isArray(2) {
				return syntaxExpression
			}
		}
		return syntaxLegacy
	case "!in", "!has", "none":
		return syntaxLegacy
	case "==", "!=", ">", ">=", "<", "<=":
		if len(a) != 3 || isArray(1) || isArray(2) {
			return syntaxExpression
		}
		return syntaxLegacy
	case "any", "all":
		syntax := syntaxNeutral
		for _, c := range a[1:] {
			switch classifyFilter(c) {
			case syntaxExpression:
				return syntaxExpression
			case syntaxLegacy:
				syntax = syntaxLegacy
			}
		}
		return syntax
	}
	return syntaxExpression
}

// compileFilter compiles a layer filter in either syntax.
func compileFilter(f any) (*Expr, error) {
	if classifyFilter(f) != syntaxLegacy {
		return compile(f, tBoolean, annotateDefault)
	}
	if _, ok := f.([]any); !ok {
		return nil, fmt.Errorf("expected an array or a boolean, found %s", jsonKind(f))
	}
	n, err := legacyFilter(f, &parser{})
	if err != nil {
		return nil, err
	}
	return &Expr{root: n}, nil
}

// legacyFilter compiles a filter of the deprecated syntax, as MapLibre's
// convertFilter reads it.
func legacyFilter(f any, p *parser) (node, error) {
	a, _ := f.([]any)
	if len(a) == 0 {
		return constNode(true), nil
	}
	op, _ := a[0].(string)
	q := *p
	q.op = op
	p = &q
	if len(a) == 1 {
		return constNode(op != "any"), nil
	}
	switch op {
	case "==", "!=", "<", "<=", ">", ">=":
		if len(a) < 3 {
			return nil, p.errorf("expected a property name and a value")
		}
		n, err := legacyComparison(p, a[1], a[2])
		if err != nil || op != "!=" {
			return n, err
		}
		return &legacyNot{meta: *n.info(), n: n}, nil
	case "in", "!in":
		n, err := legacyIn(p, a[1], a[2:])
		if err != nil || op == "in" {
			return n, err
		}
		return &legacyNot{meta: *n.info(), n: n}, nil
	case "has", "!has":
		key, ok := a[1].(string)
		if !ok {
			return nil, p.errorAt(1, "expected a property name, found %s", jsonKind(a[1]))
		}
		var n node = &legacyHas{meta: meta{t: tBoolean, deps: depFeature}, key: key}
		if key == "$type" {
			n = constNode(true)
		}
		if op == "has" {
			return n, nil
		}
		return &legacyNot{meta: *n.info(), n: n}, nil
	case "all", "any", "none":
		n := &legacyLogic{meta: meta{t: tBoolean}, any: op == "any", negate: op == "none"}
		for i, c := range a[1:] {
			cn, err := legacyFilter(c, p.sub(i+1, nil))
			if err != nil {
				return nil, err
			}
			n.deps |= cn.info().deps
			n.args = append(n.args, cn)
		}
		return n, nil
	}
	return constNode(true), nil
}

func constNode(b bool) node { return &literal{meta: meta{t: tBoolean}, v: b} }

// legacyKey is what a legacy filter tests: a property, or the feature's
// geometry type ("$type") or id ("$id").
func legacyKey(p *parser, k any) (string, error) {
	key, ok := k.(string)
	if !ok {
		return "", p.errorAt(1, "expected a property name, found %s", jsonKind(k))
	}
	return key, nil
}

func (c *Context) legacyValue(key string) any {
	switch key {
	case "$type":
		if c.GeometryType == "" {
			return nil
		}
		return c.GeometryType
	case "$id":
		return c.ID
	}
	return c.Properties[key]
}

// legacyCompare is ["==", key, value] and the orderings: values of
// different types are unequal and unordered.
type legacyCompare struct {
	meta
	op  string
	key string
	v   any
}

func (n *legacyCompare) children() []node { return nil }

func legacyComparison(p *parser, k, v any) (node, error) {
	key, err := legacyKey(p, k)
	if err != nil {
		return nil, err
	}
	switch v.(type) {
	case nil, string, bool, float64:
	default:
		return nil, p.errorAt(2, "expected a string, number, boolean or null, found %s", jsonKind(v))
	}
	op := p.op
	if op == "!=" {
		op = "=="
	}
	if key == "$type" {
		if _, ok := v.(string); !ok {
			return nil, p.errorAt(2, "expected a geometry type, found %s", jsonKind(v))
		}
		if op != "==" {
			return nil, p.errorf(`"$type" cannot be compared with %q`, op)
		}
	}
	return &legacyCompare{meta: meta{t: tBoolean, deps: depFeature}, op: op, key: key, v: v}, nil
}

func (n *legacyCompare) eval(c *Context) (any, error) {
	a := c.legacyValue(n.key)
	if n.op == "==" {
		return strictEqual(a, n.v), nil
	}
	x, okA := orderable(a)
	y, okB := orderable(n.v)
	if !okA || !okB || jsTypeof(a) != jsTypeof(n.v) {
		return false, nil
	}
	if s, ok := a.(string); ok {
		return compareInts(n.op, strings.Compare(s, n.v.(string))), nil
	}
	return compareNumbers(n.op, x, y), nil
}

// orderable reads a value as JavaScript's < does for same-typed values:
// numbers, booleans as 0 and 1, null as 0; strings compare as strings.
func orderable(v any) (float64, bool) {
	switch v := v.(type) {
	case nil, string:
		return 0, true
	case bool:
		if v {
			return 1, true
		}
		return 0, true
	}
	return toFloat(v)
}

func jsTypeof(v any) string {
	switch v.(type) {
	case nil:
		return "object"
	case string:
		return "string"
	case bool:
		return "boolean"
	}
	if _, ok := toFloat(v); ok {
		return "number"
	}
	return "object"
}

// legacyInSet is ["in", key, values…].
type legacyInSet struct {
	meta
	key    string
	values []any
}

func (n *legacyInSet) children() []node { return nil }

func legacyIn(p *parser, k any, values []any) (node, error) {
	key, err := legacyKey(p, k)
	if err != nil {
		return nil, err
	}
	if len(values) == 0 {
		return constNode(false), nil
	}
	for i, v := range values {
		if _, ok := v.(map[string]any); ok {
			return nil, p.errorAt(i+2, "expected a string, number, boolean or null, found object")
		}
		if _, ok := v.(string); !ok && key == "$type" {
			return nil, p.errorAt(i+2, "expected a geometry type, found %s", jsonKind(v))
		}
	}
	return &legacyInSet{meta: meta{t: tBoolean, deps: depFeature}, key: key, values: values}, nil
}

func (n *legacyInSet) eval(c *Context) (any, error) {
	v := c.legacyValue(n.key)
	return slices.ContainsFunc(n.values, func(x any) bool { return strictEqual(v, x) }), nil
}

// legacyHas is ["has", key]; ["has", "$id"] asks for an id.
type legacyHas struct {
	meta
	key string
}

func (n *legacyHas) children() []node { return nil }

func (n *legacyHas) eval(c *Context) (any, error) {
	if n.key == "$id" {
		return c.ID != nil, nil
	}
	_, ok := c.Properties[n.key]
	return ok, nil
}

// legacyNot negates a filter; legacyLogic is all, any and none.
type legacyNot struct {
	meta
	n node
}

func (n *legacyNot) children() []node { return []node{n.n} }

func (n *legacyNot) eval(c *Context) (any, error) {
	v, err := n.n.eval(c)
	return v != true, err
}

type legacyLogic struct {
	meta
	args        []node
	any, negate bool
}

func (n *legacyLogic) children() []node { return n.args }

func (n *legacyLogic) eval(c *Context) (any, error) {
	for _, a := range n.args {
		v, err := a.eval(c)
		if err != nil {
			return nil, err
		}
		match := v == true
		if n.negate {
			match = !match
		}
		if match == n.any {
			return n.any, nil
		}
	}
	return !n.any, nil
}
