package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"kiln/internal/keys"
	"kiln/internal/netguard"
	"kiln/internal/pagerender"
	"kiln/internal/pipeline"
	"kiln/internal/renderq"
	"kiln/internal/signedurl"
)

// Thumbnails answers thumbnail requests (pipeline.Pages).
type Thumbnails interface {
	Thumbnail(ctx context.Context, req pipeline.ThumbRequest) (pipeline.Thumb, error)
}

// PageGuard validates page URLs before any work is queued
// (netguard.Guard): syntax, address, name resolution.
type PageGuard interface {
	CheckURL(ctx context.Context, raw string, maxLen int) (*url.URL, error)
}

// KeyStore is the API keys (keys.Store).
type KeyStore interface {
	Authenticate(ctx context.Context, id, secret string) (keys.Key, error)
	Secret(ctx context.Context, id string) (keys.Key, []byte, error)
	Allow(id string) bool
	OverQuota(ctx context.Context, id string) (bool, error)
	Record(ctx context.Context, id string, requests, thumbnails int64) error
}

// ThumbOptions configure /thumbnail.
type ThumbOptions struct {
	Pages       Thumbnails
	Guard       PageGuard
	Keys        KeyStore
	RequireKey  bool          // a key is needed (not on a loopback-only server or a public one)
	MaxURL      int           // URL length
	QueuePerKey int           // requests one key may have waiting at once
	TTL         time.Duration // freshness of thumbnails, for Cache-Control
	// SignedURLTTL is the lifetime of the web page's signed <img> URLs;
	// Local: kiln listens on loopback only, so requests without a key are
	// the local user's (they have a gallery; see gallery.go).
	SignedURLTTL time.Duration
	Local        bool
}

// thumbState is /thumbnail's per-key accounting.
type thumbState struct {
	mu      sync.Mutex
	waiting map[string]int // requests in progress by key id ("" for no key)
}

// jsonError answers an error as {"error": reason, ...}.
func jsonError(w http.ResponseWriter, code int, msg string, extra map[string]string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	body := map[string]string{"error": msg}
	for k, v := range extra {
		body[k] = v
	}
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(body)
}

// thumbnail serves GET /thumbnail?url=…&size=…&format=…&full_page=1&refresh=1.
func (s *Server) thumbnail(w http.ResponseWriter, r *http.Request) {
	keyID, ok := s.thumbAuth(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	req, err := thumbRequest(q.Get("size"), q.Get("format"), truthy(q.Get("full_page")))
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error(), nil)
		return
	}
	req.Refresh = truthy(q.Get("refresh"))
	s.answerThumb(w, r, keyID, q.Get("url"), req, true)
}

// signedThumbnail serves the signed, expiring image URLs of signedurl.
func (s *Server) signedThumbnail(w http.ResponseWriter, r *http.Request) {
	o := s.opts.Thumbs
	sr, sig, signed, err := signedurl.Parse(r.URL.Path)
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error(), nil)
		return
	}
	if o.Keys == nil {
		jsonError(w, http.StatusForbidden, "signed URLs need API keys", nil)
		return
	}
	_, secret, err := o.Keys.Secret(r.Context(), sr.KeyID)
	if err != nil {
		jsonError(w, http.StatusForbidden, "unknown or revoked key", nil)
		return
	}
	if err := signedurl.Verify(secret, sig, signed, sr, time.Now()); err != nil {
		jsonError(w, http.StatusForbidden, err.Error(), nil)
		return
	}
	// An AST image URL was billed (and rate limited) when the AST API
	// answered with it; fetching it is not counted again.
	if !sr.AST && !s.keyLimits(w, r, sr.KeyID) {
		return
	}
	req, err := thumbRequest(sr.Size, sr.Format, sr.FullPage)
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error(), nil)
		return
	}
	s.answerThumb(w, r, sr.KeyID, sr.URL, req, !sr.AST)
}

// thumbAuth is keyAuth, then the key's rate limit and quota.
func (s *Server) thumbAuth(w http.ResponseWriter, r *http.Request) (string, bool) {
	id, ok := s.keyAuth(w, r)
	if !ok || id == "" {
		return id, ok
	}
	return id, s.keyLimits(w, r, id)
}

// keyAuth checks the key of a request, when there must be one (or one
// is given): Authorization: Bearer ID:SECRET. It answers the request
// itself when the key is refused.
func (s *Server) keyAuth(w http.ResponseWriter, r *http.Request) (string, bool) {
	o := s.opts.Thumbs
	auth := r.Header.Get("Authorization")
	if auth == "" {
		if o.RequireKey {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kiln"`)
			jsonError(w, http.StatusUnauthorized, "an API key is needed: Authorization: Bearer ID:SECRET (kiln keys create NAME)", nil)
			return "", false
		}
		return "", true
	}
	cred, ok := strings.CutPrefix(auth, "Bearer ")
	id, secret, ok2 := strings.Cut(strings.TrimSpace(cred), ":")
	if !ok || !ok2 || o.Keys == nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kiln"`)
		jsonError(w, http.StatusUnauthorized, "malformed Authorization: want Bearer ID:SECRET", nil)
		return "", false
	}
	if _, err := o.Keys.Authenticate(r.Context(), id, secret); err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kiln", error="invalid_token"`)
		msg := "unknown key or wrong secret"
		if errors.Is(err, keys.ErrRevoked) {
			msg = "the key is revoked"
		}
		jsonError(w, http.StatusUnauthorized, msg, nil)
		return "", false
	}
	return id, true
}

// keyLimits takes a request from key id's rate limit and checks its
// monthly quota, answering 429 itself when either is used up.
func (s *Server) keyLimits(w http.ResponseWriter, r *http.Request, id string) bool {
	o := s.opts.Thumbs
	if !o.Keys.Allow(id) {
		w.Header().Set("Retry-After", "1")
		jsonError(w, http.StatusTooManyRequests, "rate limit of the key exceeded", nil)
		return false
	}
	over, err := o.Keys.OverQuota(r.Context(), id)
	if err != nil {
		s.log.Error("checking a key's quota", "key", id, "err", err)
		jsonError(w, http.StatusInternalServerError, "checking the key's quota failed", nil)
		return false
	}
	if over {
		now := time.Now().UTC()
		next := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		w.Header().Set("Retry-After", strconv.Itoa(int(next.Sub(now).Seconds())+1))
		jsonError(w, http.StatusTooManyRequests, "the key's monthly quota of thumbnails is used up", nil)
		return false
	}
	return true
}

// answerThumb checks the page URL and answers the thumbnail, recording
// it in the key's usage if bill.
func (s *Server) answerThumb(w http.ResponseWriter, r *http.Request, keyID, raw string, req pipeline.ThumbRequest, bill bool) {
	o := s.opts.Thumbs
	if raw == "" {
		jsonError(w, http.StatusBadRequest, "the url parameter is missing", nil)
		return
	}
	u, ok := s.checkPageURL(w, r, raw)
	if !ok {
		return
	}
	req.URL = u.String()
	if !s.thumbSlot(keyID) {
		w.Header().Set("Retry-After", strconv.Itoa(int(s.pipeline.RetryAfter().Seconds())))
		jsonError(w, http.StatusTooManyRequests, "too many pages queued for this key", nil)
		return
	}
	t, err := o.Pages.Thumbnail(r.Context(), req)
	s.thumbDone(keyID)
	var pe *pagerender.PageError
	switch {
	case err == nil:
	case errors.As(err, &pe) && errors.Is(pe, pagerender.ErrForbidden):
		jsonError(w, http.StatusForbidden, pe.Reason, map[string]string{"url": req.URL, "kind": pe.Kind})
		return
	case errors.As(err, &pe):
		jsonError(w, http.StatusUnprocessableEntity, pe.Reason, map[string]string{"url": req.URL, "kind": pe.Kind})
		return
	case errors.Is(err, pipeline.ErrUnavailable):
		w.Header().Set("Retry-After", "5") // pages take seconds
		jsonError(w, http.StatusServiceUnavailable, "the page is being rendered, try again shortly", map[string]string{"url": req.URL})
		return
	case errors.Is(err, pagerender.ErrNoBrowser):
		s.log.Error("thumbnail failed", "url", req.URL, "err", err)
		w.Header().Set("Retry-After", "60")
		jsonError(w, http.StatusServiceUnavailable, "the page renderer is unavailable: Chromium does not start (see the server's log)", map[string]string{"url": req.URL})
		return
	case errors.Is(err, context.Canceled):
		return
	default:
		s.log.Error("thumbnail failed", "url", req.URL, "err", err)
		jsonError(w, http.StatusInternalServerError, "making the thumbnail failed", map[string]string{"url": req.URL})
		return
	}
	if bill && keyID != "" && o.Keys != nil {
		o.Keys.Record(r.Context(), keyID, 1, 1)
	}
	s.noteRecent(r, keyID, req, t)
	h := w.Header()
	h.Set("Content-Type", req.Format.MIME())
	age := time.Since(t.Entry.CapturedAt)
	cc := "public, max-age=" + strconv.Itoa(int(max(o.TTL-age, time.Minute).Seconds()))
	if t.State == pipeline.Stale {
		cc = "public, max-age=60"
	}
	h.Set("Cache-Control", cc)
	h.Set("X-Kiln-Cache", map[pipeline.State]string{pipeline.Fresh: "hit", pipeline.Stale: "stale", pipeline.Rendered: "miss"}[t.State])
	s.cors(h)
	etag := etagOf(t.Data)
	h.Set("Etag", etag)
	modTime := t.Entry.CapturedAt.UTC().Truncate(time.Second)
	h.Set("Last-Modified", modTime.Format(http.TimeFormat))
	if notModified(r, etag, modTime) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(t.Data)))
	w.Write(t.Data)
}

// checkPageURL reads a page URL and checks where it leads (netguard): a
// forbidden address or a name that does not resolve is answered at once,
// before anything is queued. It answers the request itself when the URL
// is refused.
func (s *Server) checkPageURL(w http.ResponseWriter, r *http.Request, raw string) (*url.URL, bool) {
	o := s.opts.Thumbs
	u, err := o.Guard.CheckURL(r.Context(), raw, o.MaxURL)
	if err == nil {
		return u, true
	}
	shown := truncate(raw, 200)
	if p, perr := netguard.ParseURL(raw, o.MaxURL); perr == nil {
		shown = p.String() // the page as kiln reads it
	}
	switch {
	case errors.Is(err, netguard.ErrForbidden):
		jsonError(w, http.StatusForbidden, err.Error(), map[string]string{"url": shown, "kind": "forbidden"})
	case errors.Is(err, netguard.ErrDNS):
		jsonError(w, http.StatusUnprocessableEntity, err.Error(), map[string]string{"url": shown, "kind": "dns"})
	default:
		jsonError(w, http.StatusBadRequest, err.Error(), map[string]string{"url": shown})
	}
	return nil, false
}

// thumbSlot counts a request of a key, refusing one past QueuePerKey.
func (s *Server) thumbSlot(keyID string) bool {
	s.thumbs.mu.Lock()
	defer s.thumbs.mu.Unlock()
	if s.thumbs.waiting[keyID] >= max(s.opts.Thumbs.QueuePerKey, 1) {
		return false
	}
	s.thumbs.waiting[keyID]++
	return true
}

func (s *Server) thumbDone(keyID string) {
	s.thumbs.mu.Lock()
	defer s.thumbs.mu.Unlock()
	if s.thumbs.waiting[keyID]--; s.thumbs.waiting[keyID] <= 0 {
		delete(s.thumbs.waiting, keyID)
	}
}

// thumbRequest is an on-demand request for a thumbnail of the size and
// format named.
func thumbRequest(size, format string, fullPage bool) (pipeline.ThumbRequest, error) {
	sz, err := pagerender.ParseSize(size)
	if err != nil {
		return pipeline.ThumbRequest{}, err
	}
	f, err := pagerender.ParseFormat(format)
	if err != nil {
		return pipeline.ThumbRequest{}, err
	}
	return pipeline.ThumbRequest{Size: sz, Format: f, FullPage: fullPage, Priority: renderq.OnDemand}, nil
}

func truthy(s string) bool {
	switch strings.ToLower(s) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
