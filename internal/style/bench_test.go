package style

import (
	"fmt"
	"strings"
	"testing"
)

// roadLayer is a typical street layer of a Shortbread style: an
// expression filter and a line width by zoom and kind.
const roadLayer = `{
	"id": "street-primary", "type": "line", "source": "shortbread", "source-layer": "streets",
	"filter": ["all",
		["match", ["get", "kind"], ["primary", "secondary"], true, false],
		["!", ["get", "tunnel"]], ["!", ["get", "bridge"]]],
	"layout": {"line-cap": "round", "line-join": "round"},
	"paint": {
		"line-color": ["interpolate", ["linear"], ["zoom"], 8, "#f2d6a0", 14, "#fcd6a4"],
		"line-width": ["interpolate", ["exponential", 1.6], ["zoom"],
			8, 0.5,
			14, ["match", ["get", "kind"], "primary", 6, 4],
			20, ["match", ["get", "kind"], "primary", 40, 28]]
	}
}`

func BenchmarkEval(b *testing.B) {
	s, err := Parse([]byte(`{"version": 8, "sources": {"shortbread": {"type": "vector"}}, "layers": [` + roadLayer + `]}`))
	if err != nil {
		b.Fatal(err)
	}
	l := s.Layers[0]
	width := l.PaintProp("line-width")
	c := &Context{
		Zoom:         15.5,
		GeometryType: "LineString",
		Properties: map[string]any{
			"kind": "primary", "tunnel": false, "bridge": false, "link": false,
			"surface": "asphalt", "oneway": true, "layer": int64(0),
		},
	}
	if !l.Matches(c) || width.Number(c) < 6 {
		b.Fatalf("filter %v, width %v", l.Matches(c), width.Number(c))
	}
	b.ReportAllocs()
	var sum float64
	for b.Loop() {
		if l.Matches(c) {
			sum += width.Number(c)
		}
	}
	_ = sum
}

// hundredLayers is a style of 100 layers like roadLayer.
func hundredLayers() []byte {
	var layers []string
	for i := range 100 {
		layers = append(layers, strings.Replace(roadLayer, `"street-primary"`, fmt.Sprintf(`"street-%d"`, i), 1))
	}
	return []byte(`{"version": 8, "sources": {"shortbread": {"type": "vector", "url": "https://example.org/tiles.json"}},
		"layers": [` + strings.Join(layers, ",") + `]}`)
}

func BenchmarkParse(b *testing.B) {
	doc := hundredLayers()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(doc); err != nil {
			b.Fatal(err)
		}
	}
}
