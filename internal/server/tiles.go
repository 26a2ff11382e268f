package server

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"kiln/internal/pipeline"
	"kiln/internal/tile"
	"kiln/internal/tilestore"
)

// tileRef is a parsed tile URL.
type tileRef struct {
	req pipeline.Request
	ext string
}

// errNotFound marks a well-formed URL naming no tile: unknown style, zoom
// outside the style, x or y outside the grid, another format.
type errNotFound struct{ msg string }

func (e errNotFound) Error() string { return e.msg }

// parseTile reads style, z, x and "y[@2x].ext" from the path. Malformed
// numbers are a plain error (400); well-formed but absent tiles errNotFound.
func (s *Server) parseTile(r *http.Request) (tileRef, error) {
	z, err1 := parseCoord(r.PathValue("z"))
	x, err2 := parseCoord(r.PathValue("x"))
	file := r.PathValue("file")
	dot := strings.LastIndexByte(file, '.')
	if err1 != nil || err2 != nil || dot < 0 {
		return tileRef{}, fmt.Errorf("malformed tile path %q: want {z}/{x}/{y}.{ext} or {y}@2x.{ext}", r.URL.Path)
	}
	ys, ext, scale := file[:dot], file[dot+1:], 1
	if base, ok := strings.CutSuffix(ys, "@2x"); ok {
		ys, scale = base, 2
	}
	y, err := parseCoord(ys)
	if err != nil || ext == "" {
		return tileRef{}, fmt.Errorf("malformed tile path %q: want {z}/{x}/{y}.{ext} or {y}@2x.{ext}", r.URL.Path)
	}
	st, ok := s.styles[r.PathValue("style")]
	if !ok {
		return tileRef{}, errNotFound{fmt.Sprintf("no style %q", r.PathValue("style"))}
	}
	if !st.Encoder.Format().MatchesExt(ext) {
		return tileRef{}, errNotFound{fmt.Sprintf("style %s serves .%s tiles, not .%s", st.ID, st.Encoder.Format().Ext(), ext)}
	}
	c := tile.Coord{Z: z, X: x, Y: y}
	if z < st.MinZoom || z > st.MaxZoom {
		return tileRef{}, errNotFound{fmt.Sprintf("zoom %d is outside style %s's zooms %d-%d", z, st.ID, st.MinZoom, st.MaxZoom)}
	}
	if !c.InGrid() {
		return tileRef{}, errNotFound{fmt.Sprintf("tile %s is outside the grid", c)}
	}
	return tileRef{req: pipeline.Request{Style: st, Scale: scale, Coord: c}, ext: ext}, nil
}

// parseCoord accepts 1 to 7 decimal digits: more than any zoom, x or y up
// to zoom 20 needs, few enough never to overflow.
func parseCoord(s string) (int, error) {
	if len(s) == 0 || len(s) > 7 {
		return 0, errors.New("bad number")
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, errors.New("bad number")
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

// badTile answers a tile URL that parseTile refused.
func badTile(w http.ResponseWriter, err error) {
	var nf errNotFound
	if errors.As(err, &nf) {
		errorText(w, http.StatusNotFound, nf.msg)
		return
	}
	errorText(w, http.StatusBadRequest, err.Error())
}

func (s *Server) getBuf() *[]byte {
	if b, ok := s.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 64<<10)
	return &b
}

// tile serves one tile.
func (s *Server) tile(w http.ResponseWriter, r *http.Request) {
	ref, err := s.parseTile(r)
	if err != nil {
		badTile(w, err)
		return
	}
	buf := s.getBuf()
	defer s.bufs.Put(buf)
	t, err := s.pipeline.Tile(r.Context(), ref.req, (*buf)[:0])
	if err != nil {
		s.tileError(w, r, ref, err)
		return
	}
	if cap(t.Data) <= 1<<20 && t.State != pipeline.Rendered {
		*buf = t.Data[:0] // keep a grown buffer for the next request
	}
	h := w.Header()
	h["Content-Type"] = s.mime[ref.req.Style]
	if t.State == pipeline.Stale {
		h["Cache-Control"] = s.staleCC
	} else {
		h["Cache-Control"] = s.freshCC
	}
	s.cors(h)
	etag := etagOf(t.Data)
	body := t.Data
	if t.Gzip {
		// A "METZ" metatile from another tool: pass gzip through to clients
		// that take it, inflate it for the others.
		h["Vary"] = []string{"Accept-Encoding"}
		if acceptsGzip(r) {
			h["Content-Encoding"] = []string{"gzip"}
		} else if body, err = gunzip(t.Data); err != nil {
			s.log.Warn("bad gzip tile in metatile", "tile", ref.req.Coord, "style", ref.req.Style.ID, "err", err)
			errorText(w, http.StatusInternalServerError, "stored tile is corrupt")
			return
		} else {
			etag = etag[:len(etag)-1] + `-i"`
		}
	}
	h["Etag"] = []string{etag}
	modTime := t.RenderedAt.UTC().Truncate(time.Second)
	h["Last-Modified"] = []string{modTime.Format(http.TimeFormat)}
	if notModified(r, etag, modTime) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

// tileError answers a failed tile request. A tile that is only slow or a
// cache that cannot take it now is 503 with Retry-After, never 404.
func (s *Server) tileError(w http.ResponseWriter, r *http.Request, ref tileRef, err error) {
	if errors.Is(err, pipeline.ErrUnavailable) {
		w.Header().Set("Retry-After", strconv.Itoa(int(s.pipeline.RetryAfter().Seconds())))
		if errors.Is(err, tilestore.ErrFull) {
			s.log.Error("tile cache full", "style", ref.req.Style.ID, "tile", ref.req.Coord, "err", err)
		}
		if errors.Is(err, tilestore.ErrUnavailable) {
			s.log.Warn("tile cache unavailable", "style", ref.req.Style.ID, "tile", ref.req.Coord, "err", err)
		}
		errorText(w, http.StatusServiceUnavailable, "tile "+ref.req.Coord.String()+" is being rendered, try again shortly")
		return
	}
	s.log.Error("tile failed", "style", ref.req.Style.ID, "tile", ref.req.Coord, "scale", ref.req.Scale, "err", err)
	errorText(w, http.StatusInternalServerError, "rendering tile "+ref.req.Coord.String()+" failed")
}

// etagOf is a strong validator from the tile's bytes: CRC-32C (hardware
// accelerated, unlike MD5, which mod_tile uses) and length.
func etagOf(b []byte) string {
	var v [8]byte
	binary.BigEndian.PutUint32(v[0:], crc32.Checksum(b, castagnoli))
	binary.BigEndian.PutUint32(v[4:], uint32(len(b)))
	return `"` + hex.EncodeToString(v[:]) + `"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// notModified evaluates If-None-Match, or failing that If-Modified-Since.
func notModified(r *http.Request, etag string, modTime time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, v := range strings.Split(inm, ",") {
			v = strings.TrimSpace(v)
			if v == "*" || strings.TrimPrefix(v, "W/") == etag {
				return true
			}
		}
		return false
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		t, err := http.ParseTime(ims)
		return err == nil && !modTime.After(t)
	}
	return false
}

func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for _, enc := range strings.Split(v, ",") {
			name, q, _ := strings.Cut(strings.TrimSpace(enc), ";")
			if strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.TrimSpace(q) != "q=0" {
				return true
			}
		}
	}
	return false
}

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(zr, 64<<20))
}

func (s *Server) cors(h http.Header) {
	if s.opts.CORS != "" {
		h["Access-Control-Allow-Origin"] = []string{s.opts.CORS}
	}
}

// preflight answers CORS preflight requests for tiles.
func (s *Server) preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	s.cors(h)
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
	}
	h.Set("Access-Control-Max-Age", "604800")
	w.WriteHeader(http.StatusNoContent)
}

// tileOp serves mod_tile's {tile}/status and {tile}/dirty.
func (s *Server) tileOp(w http.ResponseWriter, r *http.Request) {
	ref, err := s.parseTile(r)
	if err != nil {
		badTile(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	switch r.PathValue("op") {
	case "status":
		st, err := s.pipeline.Status(r.Context(), ref.req)
		if errors.Is(err, tilestore.ErrNotFound) {
			// mod_tile's wording, typo included: scripts grep for it.
			fmt.Fprintf(w, "No tile could not be found at storage location: %s\n", st.ID)
			return
		}
		if err != nil {
			s.log.Error("tile status failed", "tile", ref.req.Coord, "err", err)
			errorText(w, http.StatusInternalServerError, "reading tile status failed")
			return
		}
		state := "clean"
		if !st.Fresh {
			state = "due to be rendered"
		}
		fmt.Fprintf(w, "Tile is %s. Last rendered at %s. Last accessed at %s. Stored in %s\n\n"+
			"(Dates might not be accurate. Rendering time might be reset to an old date for tile expiry."+
			" Access times might not be updated on all file systems)\n",
			state, st.ModTime.Local().Format(time.ANSIC), st.AccessTime.Local().Format(time.ANSIC), st.ID)
	case "dirty":
		if err := s.pipeline.Dirty(r.Context(), ref.req); err != nil {
			if errors.Is(err, pipeline.ErrUnavailable) {
				w.Header().Set("Retry-After", strconv.Itoa(int(s.pipeline.RetryAfter().Seconds())))
				errorText(w, http.StatusServiceUnavailable, "render queue full, try again shortly")
				return
			}
			s.log.Error("marking tile dirty failed", "tile", ref.req.Coord, "err", err)
			errorText(w, http.StatusInternalServerError, "marking the tile dirty failed")
			return
		}
		w.Write([]byte("Tile submitted for rendering\n"))
	default:
		errorText(w, http.StatusNotFound, "unknown tile operation "+strconv.Quote(r.PathValue("op"))+": want status or dirty")
	}
}
