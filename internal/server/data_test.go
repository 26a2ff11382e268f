package server

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/paulmach/orb/encoding/mvt"

	"kiln/internal/defaultstyle"
	"kiln/internal/draw"
	"kiln/internal/glyphs"
	"kiln/internal/maprender"
	"kiln/internal/maptest"
	"kiln/internal/schema"
	"kiln/internal/sprite"
	"kiln/internal/staticmap"
	"kiln/internal/style"
	"kiln/internal/vectortile"
)

func withSampleData(tb testing.TB) func(*Options) {
	store := maptest.Sample(tb)
	version := func(context.Context) (string, error) { return "test", nil }
	var fonts = map[string][]byte{}
	var names []string
	for _, f := range draw.Embedded() {
		fonts[f.Name] = f.Data
		names = append(names, f.Name)
	}
	glyphSet, err := glyphs.New(fonts, names, names[0])
	if err != nil {
		tb.Fatal(err)
	}
	st, err := style.Parse(defaultstyle.JSON())
	if err != nil {
		tb.Fatal(err)
	}
	fontSet, err := draw.NewFonts(draw.Embedded()...)
	if err != nil {
		tb.Fatal(err)
	}
	icons, err := defaultstyle.Sprite()
	if err != nil {
		tb.Fatal(err)
	}
	renderer := maprender.New(store, st, fontSet, icons)
	return func(o *Options) {
		o.Map = store
		o.Static = map[string]staticmap.Drawer{"debug": renderer}
		o.Vector = vectortile.NewCache(vectortile.New(store), version, 0)
		o.Glyphs = glyphSet
		// The debug style stands in for a map style with a vector rendering.
		o.StyleDocs = map[string][]byte{"debug": defaultstyle.JSON()}
		o.Sprites = map[string]*sprite.Set{"debug": icons}
	}
}

func TestVectorTile(t *testing.T) {
	f := newFixture(t, withSampleData(t))
	const path = "/data/osm/14/8625/5753.pbf" // Vaduz
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Accept-Encoding", "gzip, deflate")
	w := f.do(t, req)
	if w.Code != 200 || w.Header().Get("Content-Encoding") != "gzip" || w.Header().Get("Content-Type") != mvtMIME {
		t.Fatalf("%d %q %q: %s", w.Code, w.Header().Get("Content-Encoding"), w.Header().Get("Content-Type"), w.Body)
	}
	layers, err := mvt.UnmarshalGzipped(w.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	for _, l := range layers {
		names[l.Name] = len(l.Features)
	}
	if names["buildings"] < 50 || names["streets"] < 20 {
		t.Errorf("Vaduz: %v", names)
	}
	etag := w.Header().Get("Etag")
	req = httptest.NewRequest("GET", path, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("If-None-Match", etag)
	if w := f.do(t, req); w.Code != 304 {
		t.Errorf("revalidation: %d", w.Code)
	}

	// A client that does not take gzip gets the plain tile.
	w = f.get(t, path)
	if w.Code != 200 || w.Header().Get("Content-Encoding") != "" || w.Header().Get("Etag") == etag {
		t.Fatalf("plain: %d %q etag %q", w.Code, w.Header().Get("Content-Encoding"), w.Header().Get("Etag"))
	}
	if plain, err := mvt.Unmarshal(w.Body.Bytes()); err != nil || len(plain) != len(layers) {
		t.Errorf("plain tile: %d layers, %v", len(plain), err)
	}
}

func TestVectorTileBadPaths(t *testing.T) {
	f := newFixture(t, withSampleData(t))
	for path, code := range map[string]int{
		"/data/osm/15/17250/11506.pbf": 404, // beyond the data's zooms
		"/data/osm/3/8/1.pbf":          404, // outside the grid
		"/data/osm/3/1/1.png":          400,
		"/data/osm/3/x/1.pbf":          400,
		"/data/osm/3/1/-1.pbf":         400,
		"/data/osm/0/0/0.pbf":          200,
	} {
		if w := f.get(t, path); w.Code != code {
			t.Errorf("%s: %d, want %d: %s", path, w.Code, code, w.Body)
		}
	}
	none := newFixture(t)
	if w := none.get(t, "/data/osm/0/0/0.pbf"); w.Code != 404 {
		t.Errorf("without map data: %d", w.Code)
	}
}

func TestVectorTileJSON(t *testing.T) {
	f := newFixture(t, withSampleData(t))
	w := f.get(t, "/data/osm.json")
	if w.Code != 200 {
		t.Fatalf("%d: %s", w.Code, w.Body)
	}
	var doc struct {
		TileJSON     string        `json:"tilejson"`
		Tiles        []string      `json:"tiles"`
		MaxZoom      int           `json:"maxzoom"`
		Bounds       [4]float64    `json:"bounds"`
		Attribution  string        `json:"attribution"`
		VectorLayers []vectorLayer `json:"vector_layers"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.TileJSON != "3.0.0" || doc.MaxZoom != 14 || len(doc.Tiles) != 1 || doc.Tiles[0] != "http://example.com/data/osm/{z}/{x}/{y}.pbf" {
		t.Errorf("document %+v", doc)
	}
	if b := doc.Bounds; b[0] > 9.52 || b[2] < 9.52 || b[1] > 47.14 || b[3] < 47.14 || b[2]-b[0] > 1 || b[3]-b[1] > 1 {
		t.Errorf("bounds %v are not around Vaduz", doc.Bounds)
	}
	if len(doc.VectorLayers) != len(schema.Layers()) {
		t.Errorf("%d vector layers, want %d", len(doc.VectorLayers), len(schema.Layers()))
	}
	for _, l := range doc.VectorLayers {
		if l.ID == "streets" && (l.Fields["kind"] == "" || l.MinZoom > 5) {
			t.Errorf("streets layer %+v", l)
		}
	}
}

func TestStyleJSONAndSprite(t *testing.T) {
	f := newFixture(t, withSampleData(t))
	w := f.get(t, "/styles/debug/style.json")
	var doc struct {
		Sprite  string
		Glyphs  string
		Sources map[string]struct{ URL string }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || w.Code != 200 {
		t.Fatalf("%d %v", w.Code, err)
	}
	if doc.Sprite != "http://example.com/styles/debug/sprite" || doc.Glyphs != "http://example.com/fonts/{fontstack}/{range}.pbf" ||
		doc.Sources["osm"].URL != "http://example.com/data/osm.json" {
		t.Errorf("URLs not made the server's own: %+v", doc)
	}
	for path, mime := range map[string]string{
		"/styles/debug/sprite.json": "application/json", "/styles/debug/sprite.png": "image/png",
		"/styles/debug/sprite@2x.json": "application/json", "/styles/debug/sprite@2x.png": "image/png",
	} {
		if w := f.get(t, path); w.Code != 200 || w.Header().Get("Content-Type") != mime || w.Body.Len() == 0 {
			t.Errorf("%s: %d %s", path, w.Code, w.Header().Get("Content-Type"))
		}
	}
	for _, path := range []string{"/styles/debug/sprite@3x.png", "/styles/debug/sprite.gif", "/styles/jpg/sprite.json", "/styles/debug/other.json"} {
		if w := f.get(t, path); w.Code != 404 {
			t.Errorf("%s: %d", path, w.Code)
		}
	}
	if w := f.get(t, "/styles/jpg/style.json"); w.Code != 404 {
		t.Errorf("style.json of a style without one: %d", w.Code)
	}
}
