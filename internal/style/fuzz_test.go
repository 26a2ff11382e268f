package style

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// fuzzContexts are what fuzzed styles and expressions are evaluated
// against.
var fuzzContexts = []*Context{
	{},
	{Zoom: 12.5, GeometryType: "LineString", ID: int64(3), Properties: map[string]any{
		"kind": "primary", "name": "Äußere Straße", "admin_level": int64(2), "width": 4.5, "tunnel": false, "ref": "A1;A2",
	}},
	{Zoom: 22, GeometryType: "Point", ID: "n1", Properties: map[string]any{"kind": 7.0, "name": 3.0, "x": []any{1.0, "a"}}},
}

func FuzzParse(f *testing.F) {
	doc, err := os.ReadFile(filepath.Join("testdata", "shortbread.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(doc)
	f.Add(styleWith(roadLayer))
	f.Add(styleWith(`{"id": "a", "type": "line", "source": "sb", "filter": ["in", "kind", "a", 1], "paint": {"line-width": {"stops": [[1, 2]]}}}`))
	f.Add([]byte(`{"version": 8, "sprite": [{"id": "x", "url": "y"}], "layers": [{"id": "bg", "type": "background"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			return
		}
		for _, l := range s.Layers {
			for _, c := range fuzzContexts {
				l.ShowsAt(c.Zoom)
				l.Matches(c)
				for _, props := range []map[string]*Property{l.Layout, l.Paint} {
					for _, p := range props {
						evalAll(p, c)
					}
				}
			}
		}
	})
}

// evalAll calls every getter of a property.
func evalAll(p *Property, c *Context) {
	p.Value(c)
	p.Number(c)
	p.Color(c)
	p.Bool(c)
	p.String(c)
	p.Enum(c)
	p.Text(c)
	p.Numbers(c)
	p.Strings(c)
}

func FuzzCompileExpr(f *testing.F) {
	// Every expression of the fixtures, and a few more.
	err := filepath.WalkDir(filepath.Join("testdata", "expression"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.Name() != "test.json" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var fx struct{ Expression json.RawMessage }
		if err := json.Unmarshal(b, &fx); err != nil {
			return err
		}
		f.Add([]byte(fx.Expression))
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`["all", ["==", "kind", "primary"], ["!has", "tunnel"]]`))
	f.Add([]byte(`{"property": "kind", "type": "categorical", "stops": [["a", 1]], "default": 0}`))
	specs := []*propSpec{
		untyped, paintSpecs["line-width"], paintSpecs["line-color"], paintSpecs["line-dasharray"],
		layoutSpecs["text-field"], layoutSpecs["text-font"], layoutSpecs["line-cap"], layoutSpecs["icon-image"],
		layoutSpecs["symbol-placement"], paintSpecs["fill-antialias"],
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v any
		if json.Unmarshal(b, &v) != nil {
			return
		}
		if e, err := compileFilter(v); err == nil {
			checkConstancy(t, e)
		}
		for _, s := range specs {
			e, err := compileProperty(v, s)
			if err != nil {
				continue
			}
			checkConstancy(t, e)
			p := newProperty("p", e, s)
			for _, c := range fuzzContexts {
				evalAll(p, c)
			}
		}
	})
}

// checkConstancy evaluates e in every context and checks that what it
// claims not to depend on makes no difference.
func checkConstancy(t *testing.T, e *Expr) {
	var first string
	for i, c := range fuzzContexts[1:] {
		if e.IsFeatureConstant() {
			c = &Context{Zoom: c.Zoom}
		}
		if e.IsZoomConstant() {
			c.Zoom = 0
		}
		v, err := e.Eval(c)
		got := jsonOf(fixtureJSON(v))
		if err != nil {
			got = "error"
		}
		if i == 0 {
			first = got
		} else if got != first && e.IsFeatureConstant() && e.IsZoomConstant() {
			t.Fatalf("constant expression evaluates to %s and %s", first, got)
		}
	}
}
