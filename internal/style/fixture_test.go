package style

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The cases in testdata/expression are MapLibre's expression tests (see
// testdata/expression/README.md). A case passes when compilation succeeds
// or fails as expected — with the same type and constancy on success —
// and every output matches: numbers to 1e-6, colours as premultiplied
// rgba arrays to 1e-3, images by name (which images a sprite has is the
// renderer's business).

// skipped are the cases kiln does not pass, by design, and why.
var skipped = map[string]string{}

func init() {
	skip := func(reason string, names ...string) {
		for _, n := range names {
			skipped[n] = reason
		}
	}
	skip("collation by locale and without diacritics (ICU) is not implemented: kiln's collator only ignores case",
		"collator/accent-lt-en", "collator/accent-not-equals-en", "collator/base-equals-en", "collator/base-gt-en",
		"collator/case-lteq-en", "collator/diacritic-omitted-en", "collator/variable-equals", "collator/variable-gt",
		"collator/variable-lteq", "collator/variable-not-equals", "collator/variant-gteq-en")
	skip("kiln keeps no feature state: feature-state is null",
		"feature-state/basic", "feature-state/expression-arg")
	skip("needs the sprite's available images: for kiln an image is always there",
		"image/coalesce")
	skip("global-state is not supported",
		"interpolate/global-state/basic", "interpolate/global-state/missing-property", "interpolate/projection/global-state")
	skip("projectionDefinition properties are not supported",
		"interpolate/projection/higher-than-stop", "interpolate/projection/linear", "interpolate/projection/lower-than-stop",
		"interpolate/projection/same-from-to", "interpolate-hcl/uninterpolable-output/projection",
		"interpolate-lab/uninterpolable-output/projection", "step/projection/step-array", "step/projection/step-primitive")
	skip("colorArray, numberArray and padding properties are not supported",
		"interpolate/linear-color-array", "interpolate/linear-number-array", "interpolate-hcl/linear-color-array",
		"interpolate-lab/linear-color-array", "interpolate-hcl/uninterpolable-output/number-array",
		"interpolate-lab/uninterpolable-output/number-array", "legacy/identity/color_array",
		"legacy/identity/number_array", "legacy/identity/padding")
	skip("number-format writes en-US decimals: currencies and units need CLDR data",
		"number-format/currency", "number-format/unit")
}

type fixture struct {
	PropertySpec map[string]any `json:"propertySpec"`
	Expression   any            `json:"expression"`
	Inputs       [][2]struct {
		Zoom            float64  `json:"zoom"`
		AvailableImages []string `json:"availableImages"`
		Properties      map[string]any
		Geometry        *struct{ Type string }
		ID              any
	} `json:"inputs"`
	Expected struct {
		Compiled struct {
			Result            string
			IsFeatureConstant bool
			IsZoomConstant    bool
			Type              string
		}
		Outputs []any
	}
}

func TestExpressionFixtures(t *testing.T) {
	root := filepath.Join("testdata", "expression")
	var run, passed, skips int
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.Name() != "test.json" {
			return err
		}
		name := filepath.ToSlash(filepath.Dir(strings.TrimPrefix(path, root+string(filepath.Separator))))
		if reason, ok := skipped[name]; ok {
			skips++
			t.Run(name, func(t *testing.T) { t.Skip(reason) })
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		run++
		t.Run(name, func(t *testing.T) {
			var f fixture
			if err := json.Unmarshal(b, &f); err != nil {
				t.Fatal(err)
			}
			if err := f.check(); err != nil {
				t.Error(err)
				return
			}
			passed++
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name := range skipped {
		if _, err := os.Stat(filepath.Join(root, name, "test.json")); err != nil {
			t.Errorf("skip list names %s, which is not a case", name)
		}
	}
	t.Logf("expression fixtures: %d run, %d passed, %d skipped", run, passed, skips)
}

// fixtureSpec is the property a case compiles for: by default anything,
// data-driven and interpolatable.
func fixtureSpec(ps map[string]any) (*propSpec, error) {
	s := &propSpec{feature: true, zoom: true, interpolated: true}
	if ps == nil {
		return s, nil
	}
	if pt, ok := ps["property-type"].(string); ok {
		s.feature = pt == "data-driven" || pt == "cross-faded-data-driven"
	}
	if e, ok := ps["expression"].(map[string]any); ok {
		s.interpolated = e["interpolated"] == true
		params, _ := e["parameters"].([]any)
		s.zoom = slices.Contains(params, any("zoom"))
	}
	s.def = ps["default"]
	s.tokens = ps["tokens"] == true
	switch t, _ := ps["type"].(string); t {
	case "number":
		s.t = tNumber
	case "string":
		s.t = tString
	case "boolean":
		s.t = tBoolean
	case "color":
		s.t = tColor
	case "formatted":
		s.t = tFormatted
	case "resolvedImage":
		s.t = tImage
	case "enum":
		s.t = tString
		values, _ := ps["values"].(map[string]any)
		for v := range values {
			s.enum = append(s.enum, v)
		}
		slices.Sort(s.enum)
	case "array":
		item := tValue
		switch ps["value"] {
		case "number":
			item = tNumber
		case "string":
			item = tString
		}
		n := -1
		if l, ok := ps["length"].(float64); ok {
			n = int(l)
		}
		s.t = arrayOf(item, n)
	case "null":
		// Not a type MapLibre expects anything of either.
	default:
		return nil, fmt.Errorf("property type %q is not one kiln has", t)
	}
	return s, nil
}

func (f *fixture) check() error {
	s, err := fixtureSpec(f.PropertySpec)
	if err != nil {
		return err
	}
	e, err := compileProperty(f.Expression, s)
	want := f.Expected.Compiled
	if want.Result == "error" {
		if err == nil {
			return fmt.Errorf("compiled, want an error")
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("compile: %v", err)
	}
	if got := e.root.info().t.String(); got != want.Type {
		return fmt.Errorf("type %s, want %s", got, want.Type)
	}
	if e.IsFeatureConstant() != want.IsFeatureConstant || e.IsZoomConstant() != want.IsZoomConstant {
		return fmt.Errorf("feature constant %v, zoom constant %v; want %v, %v",
			e.IsFeatureConstant(), e.IsZoomConstant(), want.IsFeatureConstant, want.IsZoomConstant)
	}
	for i, in := range f.Inputs {
		c := &Context{Zoom: in[0].Zoom, Properties: in[1].Properties, ID: in[1].ID}
		if g := in[1].Geometry; g != nil {
			c.GeometryType = g.Type
		}
		got, err := e.Eval(c)
		wantOut := f.Expected.Outputs[i]
		if m, ok := wantOut.(map[string]any); ok && m["error"] != nil {
			if err == nil {
				return fmt.Errorf("input %d: got %v, want error %v", i, jsonOf(got), m["error"])
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("input %d: %v, want %v", i, err, jsonOf(wantOut))
		}
		if !matches(fixtureJSON(got), wantOut) {
			return fmt.Errorf("input %d: got %s, want %s", i, jsonOf(fixtureJSON(got)), jsonOf(wantOut))
		}
	}
	return nil
}

// fixtureJSON writes a value as MapLibre's test harness does.
func fixtureJSON(v any) any {
	switch v := v.(type) {
	case Color:
		return rgba{v.R * v.A, v.G * v.A, v.B * v.A, v.A}
	case Image:
		return map[string]any{"name": string(v)}
	case Formatted:
		var sections []any
		for _, s := range v.Sections {
			m := map[string]any{"text": s.Text, "image": nil, "scale": nil, "fontStack": nil, "textColor": nil, "verticalAlign": nil}
			if s.Image != "" {
				m["image"] = map[string]any{"name": string(s.Image)}
			}
			if s.Scale != 0 {
				m["scale"] = s.Scale
			}
			if s.Font != nil {
				m["fontStack"] = strings.Join(s.Font, ",")
			}
			if s.Color != nil {
				c := *s.Color
				m["textColor"] = map[string]any{"r": c.R * c.A, "g": c.G * c.A, "b": c.B * c.A, "a": c.A}
			}
			if s.VerticalAlign != "" {
				m["verticalAlign"] = s.VerticalAlign
			}
			sections = append(sections, m)
		}
		return map[string]any{"sections": sections}
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = fixtureJSON(x)
		}
		return out
	}
	return normalize(v)
}

// rgba is a colour as the harness writes it: premultiplied channels.
type rgba [4]float64

// matches compares a result with an expected output; an expected image
// is matched by name.
func matches(got, want any) bool {
	switch w := want.(type) {
	case float64:
		g, ok := got.(float64)
		return ok && (g == w || math.Abs(g-w) <= 1e-6 || math.Abs(g-w) <= 1e-5*math.Abs(w))
	case []any:
		if c, ok := got.(rgba); ok {
			if len(w) != 4 {
				return false
			}
			for i := range w {
				if f, ok := w[i].(float64); !ok || math.Abs(c[i]-f) > 1e-3 {
					return false
				}
			}
			return true
		}
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !matches(g[i], w[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		if _, image := w["available"]; image {
			return g["name"] == w["name"]
		}
		if len(g) != len(w) {
			return false
		}
		for k := range w {
			if !matches(g[k], w[k]) {
				return false
			}
		}
		return true
	}
	return got == want
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
