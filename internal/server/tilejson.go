package server

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"

	"kiln/internal/pipeline"
	"kiln/internal/sprite"
)

// tileJSON is a TileJSON document (3.0.0, or 2.0.0 for mod_tile's
// tile-layer.json).
type tileJSON struct {
	TileJSON    string     `json:"tilejson"`
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	Attribution string     `json:"attribution,omitempty"`
	Scheme      string     `json:"scheme"`
	Tiles       []string   `json:"tiles"`
	MinZoom     int        `json:"minzoom"`
	MaxZoom     int        `json:"maxzoom"`
	Bounds      [4]float64 `json:"bounds"`
	Center      []float64  `json:"center,omitempty"`
	TileSize    int        `json:"tileSize,omitempty"` // read by MapLibre GL for raster sources
}

// worldBounds are web mercator's lon/lat bounds.
var worldBounds = [4]float64{-180, -85.05112877980659, 180, 85.05112877980659}

func (s *Server) newTileJSON(r *http.Request, st *pipeline.Style, version, prefix string) tileJSON {
	url := s.baseURL(r) + prefix + "{z}/{x}/{y}." + st.Encoder.Format().Ext()
	tj := tileJSON{
		TileJSON: version, Name: st.ID, Description: st.Description, Attribution: st.Attribution,
		Scheme: "xyz", Tiles: []string{url}, MinZoom: st.MinZoom, MaxZoom: st.MaxZoom,
		Bounds: worldBounds,
	}
	if b, ok := s.dataBounds(r); ok {
		tj.Bounds = b
		z := max(st.MinZoom, min(st.MaxZoom, fitZoom(b)))
		tj.Center = []float64{(b[0] + b[2]) / 2, (b[1] + b[3]) / 2, float64(z)}
	}
	if version != "2.0.0" {
		tj.TileSize = st.TileSize
	}
	return tj
}

// dataBounds are the imported data's bounds (lon/lat), read on each
// request so that a new import shows without a restart.
func (s *Server) dataBounds(r *http.Request) ([4]float64, bool) {
	var b [4]float64
	if s.opts.Map == nil {
		return b, false
	}
	v, err := s.opts.Map.Meta(r.Context(), "bounds")
	if err != nil || v == "" {
		return b, false
	}
	parts := strings.Split(v, ",")
	if len(parts) != 4 {
		return b, false
	}
	for i, p := range parts {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return b, false
		}
		b[i] = f
	}
	return b, b[0] < b[2] && b[1] < b[3]
}

// fitZoom is the deepest zoom at which bounds fit a 1024-pixel view.
func fitZoom(b [4]float64) int {
	span := max(b[2]-b[0], (b[3]-b[1])*1.5)
	return int(math.Floor(math.Log2(360 * 4 / span)))
}

// tileJSON serves /styles/{id}.json.
func (s *Server) tileJSON(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutSuffix(r.PathValue("name"), ".json")
	st := s.styles[id]
	if !ok || st == nil {
		errorText(w, http.StatusNotFound, "no style "+r.PathValue("name"))
		return
	}
	s.writeJSON(w, s.newTileJSON(r, st, "3.0.0", "/styles/"+st.ID+"/"))
}

// tileLayerJSON serves mod_tile's {uri}tile-layer.json.
func (s *Server) tileLayerJSON(w http.ResponseWriter, r *http.Request) {
	st := s.styles[r.PathValue("style")]
	s.writeJSON(w, s.newTileJSON(r, st, "2.0.0", st.URI))
}

// styleList serves /styles.json: every style with its TileJSON URL, as
// tileserver-gl's index.json does; the web page reads it.
func (s *Server) styleList(w http.ResponseWriter, r *http.Request) {
	type entry struct {
		ID          string     `json:"id"`
		Name        string     `json:"name"`
		Description string     `json:"description,omitempty"`
		Attribution string     `json:"attribution,omitempty"`
		MinZoom     int        `json:"minzoom"`
		MaxZoom     int        `json:"maxzoom"`
		Format      string     `json:"format"`
		TileSize    int        `json:"tileSize"`
		URL         string     `json:"url"` // TileJSON
		Tiles       []string   `json:"tiles"`
		Bounds      [4]float64 `json:"bounds"`
		Center      []float64  `json:"center,omitempty"`
		Style       string     `json:"style,omitempty"` // MapLibre GL style.json, for vector rendering
	}
	list := make([]entry, 0, len(s.order))
	base := s.baseURL(r)
	for _, st := range s.order {
		tj := s.newTileJSON(r, st, "3.0.0", "/styles/"+st.ID+"/")
		list = append(list, entry{ID: st.ID, Name: st.ID, Description: st.Description, Attribution: st.Attribution,
			MinZoom: st.MinZoom, MaxZoom: st.MaxZoom, Format: st.Encoder.Format().String(), TileSize: st.TileSize,
			URL: base + "/styles/" + st.ID + ".json", Tiles: tj.Tiles, Bounds: tj.Bounds, Center: tj.Center})
		if _, ok := s.opts.StyleDocs[st.ID]; ok {
			list[len(list)-1].Style = base + "/styles/" + st.ID + "/style.json"
		}
	}
	s.writeJSON(w, list)
}

func (s *Server) writeJSON(w http.ResponseWriter, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	s.cors(h)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// styleJSON serves /styles/{id}/style.json: the style as a MapLibre GL
// document, its local:// URLs pointing at this server.
func (s *Server) styleJSON(w http.ResponseWriter, r *http.Request) {
	doc, ok := s.opts.StyleDocs[r.PathValue("style")]
	if !ok {
		errorText(w, http.StatusNotFound, "no MapLibre style for "+strconv.Quote(r.PathValue("style")))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	s.cors(h)
	base := s.baseURL(r)
	doc = bytes.ReplaceAll(doc, []byte(`"local://sprite"`), []byte(`"`+base+"/styles/"+r.PathValue("style")+`/sprite"`))
	w.Write(bytes.ReplaceAll(doc, []byte(`"local://`), []byte(`"`+base+"/")))
}

// spriteFile serves /styles/{id}/sprite.json, sprite.png and their @2x.
func (s *Server) spriteFile(w http.ResponseWriter, r *http.Request) {
	set := s.opts.Sprites[r.PathValue("style")]
	name := r.PathValue("file")
	ratio := 1.0
	base, ext, _ := strings.Cut(name, ".")
	if b, ok := strings.CutSuffix(base, "@2x"); ok {
		base, ratio = b, 2
	}
	var sheet *sprite.Sheet
	if set != nil && base == "sprite" {
		sheet = set.Sheet(ratio)
	}
	if sheet == nil || ext != "json" && ext != "png" {
		errorText(w, http.StatusNotFound, "no "+strconv.Quote(name)+" for style "+strconv.Quote(r.PathValue("style")))
		return
	}
	body, mime := sheet.JSON, "application/json"
	if ext == "png" {
		body, mime = sheet.PNG, "image/png"
	}
	h := w.Header()
	h.Set("Content-Type", mime)
	h.Set("Cache-Control", "public, max-age=86400")
	s.cors(h)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}
