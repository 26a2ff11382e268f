// Package style is kiln's implementation of the MapLibre GL style
// specification (v8), as much of it as a raster street map needs: it
// parses a style document into sources and layers, and compiles every
// filter and layout and paint property into an expression a renderer
// evaluates per zoom and feature.
//
// It is written by hand because no Go library evaluates MapLibre
// expressions. It follows MapLibre's reference implementation
// (maplibre-style-spec) closely — the same type checking, implicit
// assertions and coercions, constant folding, legacy filter and function
// conversion and run-time fallbacks — and is tested against its
// expression test suite (testdata/expression). What kiln does not have is
// left out: feature state, global state, geometry tests (within is always
// false), locale-aware collation, and properties of the types padding,
// numberArray, colorArray and projectionDefinition.
//
// Expressions are compiled once, at Parse, into a tree whose evaluation
// allocates little; a renderer evaluates the properties that are
// IsFeatureConstant once per layer and zoom. A parsed Style is read-only:
// goroutines may evaluate it concurrently, each with its own Context.
package style

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Style is a parsed style document.
type Style struct {
	Name    string
	Sources map[string]Source
	Sprites []Sprite
	Glyphs  string // URL template with {fontstack} and {range}
	Layers  []*Layer
}

// Source is a data source. Raw is its JSON object, for what Type, URL
// and Tiles do not tell.
type Source struct {
	Type  string // vector, raster, raster-dem, geojson, image, video
	URL   string // a TileJSON URL
	Tiles []string
	Raw   json.RawMessage
}

// Sprite is a sprite sheet: URL without the .json or .png extension.
// A style's single sprite string has the ID "default".
type Sprite struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

// Layer is a layer of the style, drawn in the order of Style.Layers.
type Layer struct {
	ID          string
	Type        string // background, fill, line, symbol; or one kiln does not draw (see Supported)
	Source      string
	SourceLayer string
	// The layer is drawn at zooms from MinZoom (inclusive) to MaxZoom
	// (exclusive); MaxZoom is +Inf when the style sets none.
	MinZoom, MaxZoom float64
	Filter           *Expr // nil: every feature
	// The properties the style sets (LayoutProp and PaintProp add the
	// defaults), by name; visibility is Visible.
	Layout, Paint map[string]*Property
	Visible       bool // layout.visibility is not "none"
}

var layerTypes = map[string]bool{
	"background": true, "fill": true, "line": true, "symbol": true,
	"circle": false, "fill-extrusion": false, "raster": false, "hillshade": false, "heatmap": false, "color-relief": false,
}

// Supported reports whether kiln draws layers of this type.
func (l *Layer) Supported() bool { return layerTypes[l.Type] }

// ShowsAt reports whether the layer is drawn at zoom z: it is visible and
// z is in [MinZoom, MaxZoom).
func (l *Layer) ShowsAt(z float64) bool {
	return l.Visible && z >= l.MinZoom && z < l.MaxZoom
}

// Matches reports whether the filter lets the feature through. A filter
// that fails to evaluate lets nothing through, as in MapLibre.
func (l *Layer) Matches(c *Context) bool {
	if l.Filter == nil {
		return true
	}
	v, err := l.Filter.Eval(c)
	return err == nil && v == true
}

// PaintProp is the paint property name, at its default when the layer
// does not set it. Check Paint for whether it is set, where that matters
// (fill-outline-color has no default: without one, outlines take the
// fill-color).
func (l *Layer) PaintProp(name string) *Property {
	if p := l.Paint[name]; p != nil {
		return p
	}
	return defaultProperty(name)
}

// LayoutProp is the layout property name, at its default when the layer
// does not set it.
func (l *Layer) LayoutProp(name string) *Property {
	if p := l.Layout[name]; p != nil {
		return p
	}
	return defaultProperty(name)
}

// Parse reads a style document. Errors name the layer and the property,
// as in `layer "roads": paint.line-width: interpolate: expected an even
// number of stop arguments`.
func Parse(b []byte) (*Style, error) {
	var doc struct {
		Version any                        `json:"version"`
		Name    string                     `json:"name"`
		Sources map[string]json.RawMessage `json:"sources"`
		Sprite  json.RawMessage            `json:"sprite"`
		Glyphs  string                     `json:"glyphs"`
		Layers  []json.RawMessage          `json:"layers"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("style: %w", err)
	}
	if doc.Version != 8.0 {
		return nil, fmt.Errorf("style: version must be 8, found %s", jsonText(doc.Version))
	}
	s := &Style{Name: doc.Name, Glyphs: doc.Glyphs, Sources: map[string]Source{}}
	for id, raw := range doc.Sources {
		var src struct {
			Type  string   `json:"type"`
			URL   string   `json:"url"`
			Tiles []string `json:"tiles"`
		}
		if err := json.Unmarshal(raw, &src); err != nil {
			return nil, fmt.Errorf("source %q: %w", id, err)
		}
		s.Sources[id] = Source{Type: src.Type, URL: src.URL, Tiles: src.Tiles, Raw: raw}
	}
	var err error
	if s.Sprites, err = parseSprites(doc.Sprite); err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for i, raw := range doc.Layers {
		l, err := parseLayer(raw, s.Sources)
		if err != nil {
			if l == nil {
				return nil, fmt.Errorf("layers[%d]: %w", i, err)
			}
			return nil, fmt.Errorf("layer %q: %w", l.ID, err)
		}
		if ids[l.ID] {
			return nil, fmt.Errorf("layer %q: duplicate id", l.ID)
		}
		ids[l.ID] = true
		s.Layers = append(s.Layers, l)
	}
	return s, nil
}

func parseSprites(raw json.RawMessage) ([]Sprite, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var url string
	if err := json.Unmarshal(raw, &url); err == nil {
		return []Sprite{{ID: "default", URL: url}}, nil
	}
	var sprites []Sprite
	if err := json.Unmarshal(raw, &sprites); err != nil {
		return nil, fmt.Errorf("sprite: expected a URL or an array of {id, url}: %w", err)
	}
	return sprites, nil
}

// parseLayer reads a layer; on an error it returns the layer if its id is
// known, to name it.
func parseLayer(raw json.RawMessage, sources map[string]Source) (*Layer, error) {
	var v struct {
		ID          *string                    `json:"id"`
		Type        string                     `json:"type"`
		Source      string                     `json:"source"`
		SourceLayer string                     `json:"source-layer"`
		MinZoom     *float64                   `json:"minzoom"`
		MaxZoom     *float64                   `json:"maxzoom"`
		Filter      json.RawMessage            `json:"filter"`
		Layout      map[string]json.RawMessage `json:"layout"`
		Paint       map[string]json.RawMessage `json:"paint"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		var id struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(raw, &id) == nil && id.ID != "" {
			return &Layer{ID: id.ID}, err
		}
		return nil, err
	}
	if v.ID == nil {
		return nil, errors.New("missing id")
	}
	l := &Layer{
		ID: *v.ID, Type: v.Type, Source: v.Source, SourceLayer: v.SourceLayer,
		MaxZoom: math.Inf(1), Visible: true,
		Layout: map[string]*Property{}, Paint: map[string]*Property{},
	}
	if _, ok := layerTypes[l.Type]; !ok {
		return l, fmt.Errorf("unknown type %q", l.Type)
	}
	if l.Type != "background" {
		if l.Source == "" {
			return l, errors.New("missing source")
		}
		if _, ok := sources[l.Source]; !ok {
			return l, fmt.Errorf("source %q not found", l.Source)
		}
	}
	if v.MinZoom != nil {
		l.MinZoom = *v.MinZoom
	}
	if v.MaxZoom != nil {
		l.MaxZoom = *v.MaxZoom
	}
	if len(v.Filter) > 0 {
		f, err := decode(v.Filter)
		if err == nil && f != nil {
			l.Filter, err = compileFilter(f)
		}
		if err != nil {
			return l, located("filter", err)
		}
	}
	for name, raw := range v.Layout {
		if name == "visibility" {
			var vis string
			if err := json.Unmarshal(raw, &vis); err != nil || vis != "visible" && vis != "none" {
				return l, fmt.Errorf(`layout.visibility: expected "visible" or "none", found %s`, raw)
			}
			l.Visible = vis == "visible"
			continue
		}
		if err := parseProperty(l.Layout, name, raw, layoutSpecs); err != nil {
			return l, located("layout."+name, err)
		}
	}
	for name, raw := range v.Paint {
		if err := parseProperty(l.Paint, name, raw, paintSpecs); err != nil {
			return l, located("paint."+name, err)
		}
	}
	return l, nil
}

func decode(raw json.RawMessage) (any, error) {
	var v any
	err := json.Unmarshal(raw, &v)
	return v, err
}

// located prefixes an error with where it is: "paint.line-width[2]: …".
func located(where string, err error) error {
	var e *exprError
	if errors.As(err, &e) {
		where += e.path
		if e.op != "" {
			return fmt.Errorf("%s: %s: %s", where, e.op, e.msg)
		}
		return fmt.Errorf("%s: %s", where, e.msg)
	}
	return fmt.Errorf("%s: %w", where, err)
}

// untyped is the spec of a property kiln does not know: any value.
var untyped = &propSpec{feature: true, zoom: true, interpolated: true}

// parseProperty compiles a property's value — a constant, a legacy
// function or an expression — into props. A null value leaves the
// property unset.
func parseProperty(props map[string]*Property, name string, raw json.RawMessage, specs map[string]*propSpec) error {
	v, err := decode(raw)
	if err != nil || v == nil {
		return err
	}
	s := specs[name]
	if s == nil {
		s = untyped
	}
	if str, ok := v.(string); ok && s.tokens {
		v = convertTokens(str)
	}
	e, err := compileProperty(constantJSON(v), s)
	if err != nil {
		return err
	}
	if l, ok := e.root.(*literal); ok && s.enum != nil {
		if str, _ := l.v.(string); !slices.Contains(s.enum, str) {
			return fmt.Errorf("expected one of %v, found %s", s.enum, jsonText(l.v))
		}
	}
	if s == untyped {
		s = nil
	}
	props[name] = newProperty(name, e, s)
	return nil
}
