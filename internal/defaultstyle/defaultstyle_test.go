package defaultstyle

import (
	"encoding/json"
	"strings"
	"testing"

	"kiln/internal/schema"
	"kiln/internal/style"
)

func TestParses(t *testing.T) {
	s, err := style.Parse(JSON())
	if err != nil {
		t.Fatal(err)
	}
	layers := map[string]schema.Layer{}
	for _, l := range schema.Layers() {
		layers[l.Name] = l
	}
	seen := map[string]bool{}
	for _, l := range s.Layers {
		if !l.Supported() {
			t.Errorf("%s: layer type %s is not drawn by kiln", l.ID, l.Type)
		}
		if l.Type == "background" {
			continue
		}
		if _, ok := layers[l.SourceLayer]; !ok {
			t.Errorf("%s: source-layer %q is not in the schema", l.ID, l.SourceLayer)
		}
		// Ids name what they draw: the schema layer, then a qualifier.
		if name, _, _ := strings.Cut(l.ID, "-"); name != l.SourceLayer {
			t.Errorf("layer id %q does not start with its source layer %q", l.ID, l.SourceLayer)
		}
		seen[l.SourceLayer] = true
	}
	// Every layer of the schema that a street map shows is drawn.
	for _, name := range []string{"ocean", "land", "water_polygons", "water_lines", "streets", "buildings",
		"boundaries", "place_labels", "street_labels", "pois", "addresses", "water_polygons_labels", "public_transport"} {
		if !seen[name] {
			t.Errorf("schema layer %s is not drawn", name)
		}
	}
}

// TestAttributes checks that every attribute the style reads with "get" or
// "has" is one the schema gives the layer.
func TestAttributes(t *testing.T) {
	var doc struct {
		Layers []map[string]json.RawMessage `json:"layers"`
	}
	if err := json.Unmarshal(JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	fields := map[string]map[string]string{}
	for _, l := range schema.Layers() {
		fields[l.Name] = l.Fields
	}
	for _, l := range doc.Layers {
		var id, sourceLayer string
		json.Unmarshal(l["id"], &id)
		json.Unmarshal(l["source-layer"], &sourceLayer)
		if sourceLayer == "" {
			continue
		}
		for _, part := range []string{"filter", "paint", "layout"} {
			var v any
			json.Unmarshal(l[part], &v)
			walk(v, func(op, attr string) {
				if _, ok := fields[sourceLayer][attr]; !ok {
					t.Errorf("%s: %s %q: %s has no such attribute", id, op, attr, sourceLayer)
				}
			})
		}
	}
}

func walk(v any, fn func(op, attr string)) {
	switch x := v.(type) {
	case []any:
		if len(x) == 2 {
			if op, ok := x[0].(string); ok && (op == "get" || op == "has") {
				if attr, ok := x[1].(string); ok {
					fn(op, attr)
				}
			}
		}
		for _, e := range x {
			walk(e, fn)
		}
	case map[string]any:
		for _, e := range x {
			walk(e, fn)
		}
	}
}

// TestIcons checks that every icon the style can ask for is in its sprite.
func TestIcons(t *testing.T) {
	icons, err := Sprite()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Sprite string `json:"sprite"`
		Layers []struct {
			ID     string                     `json:"id"`
			Layout map[string]json.RawMessage `json:"layout"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Sprite != "local://sprite" {
		t.Errorf("sprite %q", doc.Sprite)
	}
	n := 0
	for _, l := range doc.Layers {
		var e any
		if json.Unmarshal(l.Layout["icon-image"], &e) != nil {
			continue
		}
		for _, name := range outputs(e) {
			n++
			for _, ratio := range []float64{1, 2} {
				if ic, ok := icons.Icon(name, ratio); name != "" && (!ok || ic.PixelRatio != ratio) {
					t.Errorf("%s: icon %q missing at %gx", l.ID, name, ratio)
				}
			}
		}
	}
	if n < 50 {
		t.Errorf("only %d icons in the style", n)
	}
}

// outputs are the strings an icon-image expression can give: the results
// of its match and case branches, or itself when it is a string.
func outputs(e any) []string {
	switch v := e.(type) {
	case string:
		return []string{v}
	case []any:
		if len(v) == 0 {
			return nil
		}
		var out []string
		switch v[0] {
		case "match":
			for i := 3; i < len(v); i += 2 {
				out = append(out, outputs(v[i])...)
			}
			out = append(out, outputs(v[len(v)-1])...)
		case "case":
			for i := 2; i < len(v); i += 2 {
				out = append(out, outputs(v[i])...)
			}
			out = append(out, outputs(v[len(v)-1])...)
		}
		return out
	}
	return nil
}
