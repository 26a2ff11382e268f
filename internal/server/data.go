package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"kiln/internal/schema"
	"kiln/internal/tile"
)

// VectorTiles makes the map data's vector tiles (see vectortile.Cache).
type VectorTiles interface {
	// Tile returns the gzip-compressed tile and the data version it shows.
	Tile(ctx context.Context, c tile.Coord) (gz []byte, version string, err error)
}

// osmAttribution is the credit the ODbL asks of maps made from OSM data.
const osmAttribution = `<a href="https://www.openstreetmap.org/copyright">© OpenStreetMap contributors</a>`

// vectorMaxZoom is the deepest zoom of the data: clients overzoom beyond.
const vectorMaxZoom = 14

const mvtMIME = "application/vnd.mapbox-vector-tile"

// vectorTile serves /data/osm/{z}/{x}/{y}.pbf.
func (s *Server) vectorTile(w http.ResponseWriter, r *http.Request) {
	if s.opts.Vector == nil {
		errorText(w, http.StatusNotFound, "no map data")
		return
	}
	z, err1 := parseCoord(r.PathValue("z"))
	x, err2 := parseCoord(r.PathValue("x"))
	file := r.PathValue("file")
	ys, ok := strings.CutSuffix(file, ".pbf")
	y, err3 := parseCoord(ys)
	if err1 != nil || err2 != nil || err3 != nil || !ok {
		errorText(w, http.StatusBadRequest, "malformed vector tile path "+strconv.Quote(r.URL.Path)+": want /data/osm/{z}/{x}/{y}.pbf")
		return
	}
	c := tile.Coord{Z: z, X: x, Y: y}
	if z > vectorMaxZoom || !c.InGrid() {
		errorText(w, http.StatusNotFound, "no vector tile "+c.String()+": zooms 0-"+strconv.Itoa(vectorMaxZoom)+" within the grid")
		return
	}
	gz, _, err := s.opts.Vector.Tile(r.Context(), c)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return // the client went away
		}
		s.log.Error("vector tile failed", "tile", c, "err", err)
		errorText(w, http.StatusInternalServerError, "making vector tile "+c.String()+" failed")
		return
	}
	h := w.Header()
	h["Content-Type"] = []string{mvtMIME}
	h["Cache-Control"] = s.freshCC
	h["Vary"] = []string{"Accept-Encoding"}
	s.cors(h)
	etag := etagOf(gz)
	body := gz
	if acceptsGzip(r) {
		h["Content-Encoding"] = []string{"gzip"}
	} else {
		var err error
		if body, err = gunzip(gz); err != nil {
			s.log.Error("vector tile: own gzip unreadable", "tile", c, "err", err)
			errorText(w, http.StatusInternalServerError, "making vector tile "+c.String()+" failed")
			return
		}
		etag = etag[:len(etag)-1] + `-i"`
	}
	h["Etag"] = []string{etag}
	if r.Header.Get("If-None-Match") != "" && notModified(r, etag, time.Time{}) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

// vectorLayer is one entry of TileJSON's vector_layers.
type vectorLayer struct {
	ID          string            `json:"id"`
	Description string            `json:"description"`
	MinZoom     int               `json:"minzoom"`
	MaxZoom     int               `json:"maxzoom"`
	Fields      map[string]string `json:"fields"`
}

// dataTileJSON serves /data/osm.json: TileJSON 3.0.0 with vector_layers,
// which MapLibre GL and other clients read to learn the schema.
func (s *Server) dataTileJSON(w http.ResponseWriter, r *http.Request) {
	if s.opts.Vector == nil {
		errorText(w, http.StatusNotFound, "no map data")
		return
	}
	type doc struct {
		tileJSON
		Format       string        `json:"format"`
		VectorLayers []vectorLayer `json:"vector_layers"`
	}
	d := doc{tileJSON: tileJSON{
		TileJSON: "3.0.0", Name: "osm", Description: "OpenStreetMap data in the Shortbread 1.0 schema",
		Attribution: osmAttribution, Scheme: "xyz",
		Tiles:   []string{s.baseURL(r) + "/data/osm/{z}/{x}/{y}.pbf"},
		MaxZoom: vectorMaxZoom, Bounds: worldBounds,
	}, Format: "pbf"}
	if b, ok := s.dataBounds(r); ok {
		d.Bounds = b
		d.Center = []float64{(b[0] + b[2]) / 2, (b[1] + b[3]) / 2, float64(min(vectorMaxZoom, fitZoom(b)))}
	}
	for _, l := range schema.Layers() {
		d.VectorLayers = append(d.VectorLayers, vectorLayer{ID: l.Name, Description: l.Description,
			MinZoom: l.MinZoom, MaxZoom: min(l.MaxZoom, vectorMaxZoom), Fields: l.Fields})
	}
	s.writeJSON(w, d)
}
