package server

// The thumbnail side of the web page: each key's recent thumbnails (the
// page's gallery) and signed <img> URLs.
//
//	GET  /thumbnails/recent        the requesting key's recent thumbnails, newest first
//	GET  /thumbnails/recent/{id}   the image of one of them (not billed again)
//	POST /thumbnails/sign          a signed, expiring URL and an <img> snippet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"kiln/internal/keys"
	"kiln/internal/pagerender"
	"kiln/internal/pipeline"
	"kiln/internal/signedurl"
)

// recentMax is how many thumbnails a key's gallery keeps.
const recentMax = 50

// recentThumb is one thumbnail of a gallery, as /thumbnails/recent lists it.
type recentThumb struct {
	ID         string    `json:"id"`
	URL        string    `json:"url"`    // the page, canonical
	Size       string    `json:"size"`   // WxH
	Width      int       `json:"width"`  // of the image
	Height     int       `json:"height"` //
	Format     string    `json:"format"` // png, jpeg, webp
	FullPage   bool      `json:"full_page"`
	CapturedAt time.Time `json:"captured_at"`     // of the capture last answered
	State      string    `json:"state"`           // how it was last answered: hit, stale, miss
	Title      string    `json:"title,omitempty"` // the page's
	Thumbnail  string    `json:"thumbnail"`       // where to GET the image, with the same key
}

// recentThumbs is every key's gallery, in memory: a request for the same
// thumbnail again moves it to the front; past recentMax the oldest goes.
type recentThumbs struct {
	mu    sync.Mutex
	byKey map[string][]recentThumb // by key id ("" for no key); newest first
}

// recentID names a thumbnail (page, size, format, full page) in a gallery.
func recentID(req pipeline.ThumbRequest) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s\x00%t", req.URL, req.Size, req.Format, req.FullPage))
	return hex.EncodeToString(h[:8])
}

func (g *recentThumbs) add(keyID string, e recentThumb) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.byKey == nil {
		g.byKey = map[string][]recentThumb{}
	}
	old := g.byKey[keyID]
	list := make([]recentThumb, 0, min(len(old)+1, recentMax))
	list = append(list, e)
	for _, o := range old {
		if o.ID != e.ID && len(list) < recentMax {
			list = append(list, o)
		}
	}
	g.byKey[keyID] = list
}

func (g *recentThumbs) list(keyID string) []recentThumb {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]recentThumb{}, g.byKey[keyID]...)
}

func (g *recentThumbs) get(keyID, id string) (recentThumb, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, e := range g.byKey[keyID] {
		if e.ID == id {
			return e, true
		}
	}
	return recentThumb{}, false
}

// noteRecent puts a thumbnail answered by GET /thumbnail into the key's
// gallery. Signed URLs (embedded images, AST) and the gallery's own image
// fetches are not noted, nor, on a server that takes requests without a
// key from other machines (public), the requests without one: their
// gallery would be every stranger's.
func (s *Server) noteRecent(r *http.Request, keyID string, req pipeline.ThumbRequest, t pipeline.Thumb) {
	if r.URL.Path != "/thumbnail" || keyID == "" && !s.opts.Thumbs.Local {
		return
	}
	s.recent.add(keyID, recentThumb{
		ID: recentID(req), URL: req.URL, Size: req.Size.String(), Width: req.Size.W, Height: req.Size.H,
		Format: req.Format.String(), FullPage: req.FullPage, CapturedAt: t.Entry.CapturedAt.UTC(),
		State: cacheState[t.State], Title: t.Entry.Title, Thumbnail: "/thumbnails/recent/" + recentID(req),
	})
}

var cacheState = map[pipeline.State]string{pipeline.Fresh: "hit", pipeline.Stale: "stale", pipeline.Rendered: "miss"}

// recentList serves GET /thumbnails/recent. Listing and viewing a key's
// own thumbnails needs the key but takes nothing from its rate limit or
// quota: they were counted when they were made.
func (s *Server) recentList(w http.ResponseWriter, r *http.Request) {
	keyID, ok := s.keyAuth(w, r)
	if !ok {
		return
	}
	writeJSON(w, s.recent.list(keyID))
}

// recentImage serves GET /thumbnails/recent/{id}: the thumbnail from the
// cache (or loaded again if it left it), not billed.
func (s *Server) recentImage(w http.ResponseWriter, r *http.Request) {
	keyID, ok := s.keyAuth(w, r)
	if !ok {
		return
	}
	e, ok := s.recent.get(keyID, r.PathValue("id"))
	if !ok {
		jsonError(w, http.StatusNotFound, "no such thumbnail in this key's recent ones", nil)
		return
	}
	req, err := thumbRequest(e.Size, e.Format, e.FullPage)
	if err != nil {
		jsonError(w, http.StatusInternalServerError, err.Error(), nil)
		return
	}
	w.Header().Set("Vary", "Authorization")
	s.answerThumb(w, r, keyID, e.URL, req, false)
}

// signRequest is the body of POST /thumbnails/sign.
type signRequest struct {
	URL      string `json:"url"`
	Size     string `json:"size"`   // small, large or WxH; "" is large
	Format   string `json:"format"` // png, jpeg or webp; "" is jpeg
	FullPage bool   `json:"full_page"`
}

// signAnswer is its answer.
type signAnswer struct {
	URL     string `json:"url"`     // absolute
	Expires string `json:"expires"` // RFC 3339
	Img     string `json:"img"`     // an <img> element showing it
	Key     string `json:"key"`     // the key it is signed with
}

// signThumb serves POST /thumbnails/sign: a signed, expiring URL of a
// thumbnail, as kiln keys sign makes, with the requesting key's secret,
// or without a key (where none is needed) the server's own "web-ui" key.
func (s *Server) signThumb(w http.ResponseWriter, r *http.Request) {
	keyID, ok := s.thumbAuth(w, r)
	if !ok {
		return
	}
	// A JSON body also keeps other sites' pages from posting here without
	// a CORS preflight, which kiln does not grant.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		jsonError(w, http.StatusUnsupportedMediaType, "want a JSON body (Content-Type: application/json)", nil)
		return
	}
	var body signRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		jsonError(w, http.StatusBadRequest, "bad JSON body: "+err.Error()+` (want {"url", "size", "format", "full_page"})`, nil)
		return
	}
	size, err := pagerender.ParseSize(body.Size)
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error(), nil)
		return
	}
	format, err := pagerender.ParseFormat(body.Format)
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error(), nil)
		return
	}
	o := s.opts.Thumbs
	if body.URL == "" {
		jsonError(w, http.StatusBadRequest, "the url is missing", nil)
		return
	}
	u, ok := s.checkPageURL(w, r, body.URL)
	if !ok {
		return
	}
	page := u.String()
	var secret []byte
	if keyID != "" {
		_, secret, err = o.Keys.Secret(r.Context(), keyID)
	} else {
		keyID, secret, err = s.webUIKey(r.Context())
	}
	if err != nil {
		s.log.Error("signing a thumbnail URL", "key", keyID, "err", err)
		jsonError(w, http.StatusInternalServerError, "signing failed: no key to sign with", nil)
		return
	}
	expires := astExpiry(time.Now(), o.SignedURLTTL) // the same URL for a while: browsers cache it
	abs := strings.TrimSuffix(s.baseURL(r), "/") + signedurl.Path(secret, signedurl.Request{
		KeyID: keyID, Expires: expires, Size: size.String(), FullPage: body.FullPage, URL: page, Format: format.String(),
	})
	clear(secret)
	writeJSON(w, signAnswer{
		URL: abs, Expires: expires.UTC().Format(time.RFC3339), Key: keyID,
		Img: fmt.Sprintf(`<img src="%s" width="%d" height="%d" alt="%s">`,
			html.EscapeString(abs), size.W, size.H, html.EscapeString("Thumbnail of "+page)),
	})
}

// webUIKeyName names the key kiln signs the web page's URLs with when the
// page has none of its own (a loopback-only or public server).
const webUIKeyName = "web-ui"

// webUIKey is the id of the "web-ui" key, once found or made.
type webUIKey struct {
	mu sync.Mutex
	id string
}

// keyMaker is what webUIKey needs of the key store beyond KeyStore
// (keys.Store has it).
type keyMaker interface {
	List(ctx context.Context) ([]keys.Key, error)
	Create(ctx context.Context, name string) (keys.Key, string, error)
}

// webUIKey returns the "web-ui" key and its secret: the newest active key
// of that name in the store, else a new one. Revoking it stops the URLs
// signed with it; the next signing makes another.
func (s *Server) webUIKey(ctx context.Context) (string, []byte, error) {
	ks := s.opts.Thumbs.Keys
	if ks == nil {
		return "", nil, errors.New("no key store")
	}
	s.webUI.mu.Lock()
	defer s.webUI.mu.Unlock()
	if s.webUI.id != "" {
		_, secret, err := ks.Secret(ctx, s.webUI.id)
		if err == nil || !errors.Is(err, keys.ErrRevoked) && !errors.Is(err, keys.ErrUnknown) {
			return s.webUI.id, secret, err
		}
		s.webUI.id = ""
	}
	km, ok := ks.(keyMaker)
	if !ok {
		return "", nil, errors.New("the key store cannot make keys")
	}
	list, err := km.List(ctx)
	if err != nil {
		return "", nil, err
	}
	for i := len(list) - 1; i >= 0; i-- { // oldest first
		if k := list[i]; k.Name == webUIKeyName && k.Active() {
			if _, secret, err := ks.Secret(ctx, k.ID); err == nil {
				s.webUI.id = k.ID
				return k.ID, secret, nil
			}
		}
	}
	k, secret, err := km.Create(ctx, webUIKeyName)
	if err != nil {
		return "", nil, err
	}
	s.log.Info("created the web page's signing key", "key", k.ID, "name", webUIKeyName)
	s.webUI.id = k.ID
	return k.ID, []byte(secret), nil
}

// writeJSON answers v as JSON, not to be cached (it depends on the key).
func writeJSON(w http.ResponseWriter, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "Authorization")
	json.NewEncoder(w).Encode(v)
}
