package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"kiln/internal/imgenc"
	"kiln/internal/staticmap"
)

// staticMap serves /styles/{id}/static/{area}/{w}x{h}[@2x].{ext}: a map
// picture of a box (W,S,E,N) or a centre and zoom (lon,lat,zoom).
func (s *Server) staticMap(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("style")
	drawer, ok := s.opts.Static[id]
	if !ok {
		errorText(w, http.StatusNotFound, "no static maps of style "+strconv.Quote(id))
		return
	}
	file := r.PathValue("file")
	dot := strings.LastIndexByte(file, '.')
	if dot < 0 {
		errorText(w, http.StatusBadRequest, "static map "+strconv.Quote(file)+": want {w}x{h}[@2x].png")
		return
	}
	format, err := imgenc.ParseFormat(strings.ToLower(file[dot+1:]))
	if err != nil || format == imgenc.PNG8 {
		errorText(w, http.StatusBadRequest, "static map "+strconv.Quote(file)+": want .png, .jpg or .webp")
		return
	}
	var req staticmap.Request
	if err := req.ParseArea(r.PathValue("area")); err != nil {
		errorText(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := req.ParseSize(file[:dot]); err != nil {
		errorText(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := req.Check(s.opts.StaticMaxSize); err != nil {
		errorText(w, http.StatusBadRequest, err.Error())
		return
	}
	// Pictures are drawn by the request, a few at a time: beyond that,
	// they wait as long as a tile would, then are told to come back.
	wait, cancel := context.WithTimeout(r.Context(), s.opts.StaticWait)
	defer cancel()
	select {
	case s.staticSlots <- struct{}{}:
	case <-wait.Done():
		w.Header().Set("Retry-After", strconv.Itoa(int(s.pipeline.RetryAfter().Seconds())))
		errorText(w, http.StatusServiceUnavailable, "too many static maps in progress, try again shortly")
		return
	}
	body, err := s.drawStatic(r.Context(), drawer, req, format)
	switch {
	case errors.Is(err, context.Canceled):
		return // the client left
	case errors.Is(err, context.DeadlineExceeded):
		w.Header().Set("Retry-After", strconv.Itoa(int(s.pipeline.RetryAfter().Seconds())))
		errorText(w, http.StatusServiceUnavailable, "the static map took too long to draw")
		return
	case err != nil:
		s.log.Error("static map failed", "style", id, "path", r.URL.Path, "err", err)
		errorText(w, http.StatusInternalServerError, "drawing the static map failed")
		return
	}
	h := w.Header()
	h.Set("Content-Type", format.MIME())
	h["Cache-Control"] = s.freshCC
	s.cors(h)
	etag := etagOf(body)
	h.Set("Etag", etag)
	if r.Header.Get("If-None-Match") != "" && notModified(r, etag, time.Time{}) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

// drawStatic draws and encodes a picture in a slot taken by the caller,
// which it gives back.
func (s *Server) drawStatic(ctx context.Context, d staticmap.Drawer, req staticmap.Request, f imgenc.Format) ([]byte, error) {
	defer func() { <-s.staticSlots }()
	ctx, cancel := context.WithTimeout(ctx, s.opts.StaticTimeout)
	defer cancel()
	img, err := staticmap.Draw(ctx, d, req)
	if err != nil {
		return nil, err
	}
	return imgenc.New(f, 0).Bytes(img)
}
