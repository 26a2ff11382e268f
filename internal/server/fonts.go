package server

import (
	"net/http"
	"strconv"
	"strings"
)

// Glyphs makes the SDF glyph ranges MapLibre GL draws text with (see
// package glyphs).
type Glyphs interface {
	Range(stack string, start int) ([]byte, error)
}

// glyphRange serves /fonts/{fontstack}/{start}-{end}.pbf, the glyphs URL of
// kiln's style.json documents.
func (s *Server) glyphRange(w http.ResponseWriter, r *http.Request) {
	if s.opts.Glyphs == nil {
		errorText(w, http.StatusNotFound, "no fonts")
		return
	}
	rng, ok := strings.CutSuffix(r.PathValue("range"), ".pbf")
	from, to, ok2 := strings.Cut(rng, "-")
	start, err1 := strconv.Atoi(from)
	end, err2 := strconv.Atoi(to)
	if !ok || !ok2 || err1 != nil || err2 != nil || end != start+255 || start < 0 || start > 0xff00 || start%256 != 0 {
		errorText(w, http.StatusBadRequest, "malformed glyph range "+strconv.Quote(r.PathValue("range"))+": want {start}-{start+255}.pbf")
		return
	}
	b, err := s.opts.Glyphs.Range(r.PathValue("fontstack"), start)
	if err != nil {
		s.log.Error("glyph range failed", "fontstack", r.PathValue("fontstack"), "start", start, "err", err)
		errorText(w, http.StatusInternalServerError, "making glyphs failed")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-protobuf")
	h.Set("Cache-Control", "public, max-age=86400")
	s.cors(h)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}
