package server

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"kiln/internal/keys"
	"kiln/internal/pagerender"
	"kiln/internal/pipeline"
	"kiln/internal/signedurl"
)

// getAs GETs path with an Authorization header (none for "").
func (f *thumbFixture) getAs(t *testing.T, path, auth string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return f.do(t, req)
}

// recent lists the gallery as auth sees it.
func (f *thumbFixture) recent(t *testing.T, auth string) []recentThumb {
	t.Helper()
	w := f.getAs(t, "/thumbnails/recent", auth)
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("/thumbnails/recent: %d %v %s", w.Code, w.Header(), w.Body)
	}
	var list []recentThumb
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
		t.Fatalf("%v: %s", err, w.Body)
	}
	if list == nil {
		t.Fatalf("not a JSON array: %s", w.Body)
	}
	return list
}

func (f *thumbFixture) bearer(t *testing.T, name string, l keys.Limits) (keys.Key, string) {
	t.Helper()
	k, secret, err := f.keys.CreateWith(context.Background(), name, l)
	if err != nil {
		t.Fatal(err)
	}
	return k, "Bearer " + k.ID + ":" + secret
}

func urlsOf(list []recentThumb) []string {
	var s []string
	for _, e := range list {
		s = append(s, e.URL)
	}
	return s
}

func TestRecentThumbnailsPerKey(t *testing.T) {
	r := &fakePages{fails: map[string]*pagerender.PageError{
		"http://good.test/broken": {Kind: "http_status", Reason: "answered HTTP 500"},
	}}
	f := newThumbFixture(t, r, func(o *ThumbOptions, c *pipeline.PagesConfig) { o.RequireKey = true })
	ctx := context.Background()
	a, authA := f.bearer(t, "a", keys.Limits{})
	_, authB := f.bearer(t, "b", keys.Limits{})
	slow, authSlow := f.bearer(t, "slow", keys.Limits{Rate: 0.001, Burst: 1})

	for _, path := range []string{"/thumbnails/recent", "/thumbnails/recent/0123456789abcdef"} {
		if w := f.getAs(t, path, ""); w.Code != 401 || w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s without a key: %d", path, w.Code)
		}
		if w := f.getAs(t, path, "Bearer "+a.ID+":wrong"); w.Code != 401 {
			t.Errorf("%s with a wrong secret: %d", path, w.Code)
		}
	}
	for _, tc := range []struct{ auth, path string }{
		{authA, thumbPath("http://good.test/a", "&size=small")},
		{authA, thumbPath("http://good.test/b", "&size=large&format=png&full_page=1")},
		{authB, thumbPath("http://good.test/c", "&size=300x200&format=webp")},
	} {
		if w := f.getAs(t, tc.path, tc.auth); w.Code != 200 {
			t.Fatalf("%s: %d %s", tc.path, w.Code, w.Body)
		}
	}
	// Failures are not kept.
	if w := f.getAs(t, thumbPath("http://good.test/broken"), authA); w.Code != 422 {
		t.Fatalf("broken page: %d", w.Code)
	}

	listA := f.recent(t, authA)
	if got := urlsOf(listA); fmt.Sprint(got) != "[http://good.test/b http://good.test/a]" {
		t.Fatalf("key a's recent thumbnails %v, want b then a", got)
	}
	b := listA[0]
	if b.Size != "201x147" || b.Width != 201 || b.Height != 147 || b.Format != "png" || !b.FullPage || b.State != "miss" ||
		b.CapturedAt.IsZero() || time.Since(b.CapturedAt) > time.Minute || b.Thumbnail != "/thumbnails/recent/"+b.ID {
		t.Errorf("entry %+v", b)
	}
	if got := urlsOf(f.recent(t, authB)); fmt.Sprint(got) != "[http://good.test/c]" {
		t.Errorf("key b sees %v, want only its own page", got)
	}
	if got := f.recent(t, authSlow); len(got) != 0 {
		t.Errorf("a new key sees %v", got)
	}

	// The image, with the key that made it: not billed again.
	before, err := f.keys.Usage(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	w := f.getAs(t, b.Thumbnail, authA)
	if w.Code != 200 || w.Header().Get("Content-Type") != "image/png" {
		t.Fatalf("image: %d %s", w.Code, w.Body)
	}
	img, _, err := image.Decode(w.Body)
	if err != nil || img.Bounds().Size() != image.Pt(201, 147) {
		t.Fatalf("image %v, %v", img.Bounds(), err)
	}
	if after, _ := f.keys.Usage(ctx, a.ID); after.Thumbnails != before.Thumbnails || after.Requests != before.Requests {
		t.Errorf("viewing the gallery billed: %+v then %+v", before, after)
	}
	// Another key cannot see it, even knowing its id.
	if w := f.getAs(t, b.Thumbnail, authB); w.Code != 404 {
		t.Errorf("key b fetching key a's thumbnail: %d", w.Code)
	}
	// Viewing does not reorder; asking again moves to the front.
	if got := urlsOf(f.recent(t, authA)); got[0] != "http://good.test/b" {
		t.Errorf("after viewing: %v", got)
	}
	if w := f.getAs(t, thumbPath("http://good.test/a", "&size=SMALL"), authA); w.Code != 200 || w.Header().Get("X-Kiln-Cache") != "hit" {
		t.Fatalf("again: %d %v", w.Code, w.Header())
	}
	listA = f.recent(t, authA)
	if got := urlsOf(listA); fmt.Sprint(got) != "[http://good.test/a http://good.test/b]" {
		t.Errorf("after asking for a again: %v", got)
	}
	if listA[0].State != "hit" {
		t.Errorf("state %q, want hit", listA[0].State)
	}
	// A signed URL's fetch (an embedded image) is not the key's recent thumbnail.
	_, secret, err := f.keys.Secret(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	signed := signedurl.Path(secret, signedurl.Request{KeyID: a.ID, Expires: time.Now().Add(time.Hour), Size: "small", URL: "http://good.test/embedded", Format: "png"})
	if w := f.get(t, signed); w.Code != 200 {
		t.Fatalf("signed: %d %s", w.Code, w.Body)
	}
	if got := urlsOf(f.recent(t, authA)); len(got) != 2 {
		t.Errorf("after a signed URL's fetch: %v", got)
	}

	// Listing and viewing take nothing from the key's rate limit.
	if w := f.getAs(t, thumbPath("http://good.test/s"), authSlow); w.Code != 200 {
		t.Fatalf("slow key: %d", w.Code)
	}
	for range 3 {
		list := f.recent(t, authSlow)
		if w := f.getAs(t, list[0].Thumbnail, authSlow); w.Code != 200 {
			t.Fatalf("slow key's image: %d %s", w.Code, w.Body)
		}
	}
	if w := f.getAs(t, thumbPath("http://good.test/s"), authSlow); w.Code != 429 {
		t.Errorf("the slow key's second thumbnail: %d, want 429", w.Code)
	}
	if _, err := f.keys.Usage(ctx, slow.ID); err != nil {
		t.Fatal(err)
	}
}

func TestRecentRing(t *testing.T) {
	var g recentThumbs
	for i := range recentMax + 5 {
		g.add("k", recentThumb{ID: fmt.Sprint(i % (recentMax + 2)), URL: fmt.Sprint(i)})
	}
	list := g.list("k")
	if len(list) != recentMax || list[0].URL != fmt.Sprint(recentMax+4) || list[recentMax-1].URL != "5" {
		t.Errorf("%d thumbnails, %s … %s", len(list), list[0].URL, list[len(list)-1].URL)
	}
	seen := map[string]bool{}
	for _, e := range list {
		if seen[e.ID] {
			t.Errorf("%s twice", e.ID)
		}
		seen[e.ID] = true
	}
	if len(g.list("other")) != 0 {
		t.Error("another key sees them")
	}
}

func TestRecentThumbnailsWithoutKey(t *testing.T) {
	// On a loopback-only server, requests without a key are the local
	// user's: one gallery.
	local := newThumbFixture(t, &fakePages{}, func(o *ThumbOptions, c *pipeline.PagesConfig) { o.Local = true })
	for i := range 3 {
		if w := local.get(t, thumbPath(fmt.Sprintf("http://good.test/%d", i), "&size=10x10")); w.Code != 200 {
			t.Fatalf("%d: %d %s", i, w.Code, w.Body)
		}
	}
	list := local.recent(t, "")
	if got := urlsOf(list); fmt.Sprint(got) != "[http://good.test/2 http://good.test/1 http://good.test/0]" {
		t.Errorf("%v", got)
	}
	if w := local.get(t, list[0].Thumbnail); w.Code != 200 {
		t.Errorf("image: %d %s", w.Code, w.Body)
	}
	if w := local.get(t, "/thumbnails/recent/nosuchid"); w.Code != 404 {
		t.Errorf("unknown id: %d", w.Code)
	}

	// On a public server, strangers without keys do not share one.
	public := newThumbFixture(t, &fakePages{}, nil)
	if w := public.get(t, thumbPath("http://good.test/private-page")); w.Code != 200 {
		t.Fatalf("%d", w.Code)
	}
	if list := public.recent(t, ""); len(list) != 0 {
		t.Errorf("a public server lists thumbnails made without a key: %v", urlsOf(list))
	}
}

// sign POSTs a body to /thumbnails/sign.
func (f *thumbFixture) sign(t *testing.T, auth, contentType, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", "/thumbnails/sign", strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return f.do(t, req)
}

func decodeSign(t *testing.T, w *httptest.ResponseRecorder) signAnswer {
	t.Helper()
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("sign: %d %s", w.Code, w.Body)
	}
	var a signAnswer
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
		t.Fatal(err)
	}
	return a
}

// fetchSigned checks that a signed URL serves an image of size.
func (f *thumbFixture) fetchSigned(t *testing.T, abs string, size image.Point, mime string) {
	t.Helper()
	u, err := url.Parse(abs)
	if err != nil {
		t.Fatal(err)
	}
	w := f.get(t, u.Path)
	if w.Code != 200 || w.Header().Get("Content-Type") != mime {
		t.Fatalf("signed URL %s: %d %s", u.Path, w.Code, w.Body)
	}
	img, _, err := image.Decode(w.Body)
	if err != nil || img.Bounds().Size() != size {
		t.Fatalf("signed URL's image: %v, %v", img.Bounds(), err)
	}
}

func TestSignThumbnailWithKey(t *testing.T) {
	f := newThumbFixture(t, &fakePages{}, func(o *ThumbOptions, c *pipeline.PagesConfig) {
		o.RequireKey, o.SignedURLTTL = true, 2*time.Hour
	})
	k, auth := f.bearer(t, "customer", keys.Limits{})
	const body = `{"url": "http://good.test/page?q=1&r=<2>", "size": "small", "format": "png"}`
	if w := f.sign(t, "", "application/json", body); w.Code != 401 {
		t.Errorf("without a key: %d", w.Code)
	}
	start := time.Now()
	a := decodeSign(t, f.sign(t, auth, "application/json; charset=utf-8", body))
	if !strings.HasPrefix(a.URL, "http://example.com/thumbnail/") || a.Key != k.ID {
		t.Errorf("url %q, key %q", a.URL, a.Key)
	}
	u, _ := url.Parse(a.URL)
	sr, _, _, err := signedurl.Parse(u.Path)
	if err != nil || sr.KeyID != k.ID || sr.Size != "111x82" || sr.Format != "png" || sr.FullPage || sr.AST ||
		sr.URL != "http://good.test/page?q=1&r=<2>" {
		t.Errorf("signed request %+v, %v", sr, err)
	}
	exp, err := time.Parse(time.RFC3339, a.Expires)
	if err != nil || exp.Before(start.Add(2*time.Hour-time.Second)) || exp.After(start.Add(2*time.Hour+16*time.Minute)) || !exp.Equal(sr.Expires) {
		t.Errorf("expires %q (%v), want 2 h from now, as the URL says (%v)", a.Expires, err, sr.Expires)
	}
	want := `<img src="` + strings.ReplaceAll(a.URL, "&", "&amp;") + `" width="111" height="82" alt="Thumbnail of http://good.test/page?q=1&amp;r=&lt;2&gt;">`
	if a.Img != want {
		t.Errorf("img\n%s\nwant\n%s", a.Img, want)
	}
	f.fetchSigned(t, a.URL, image.Pt(111, 82), "image/png")

	// public_url is the base when set; full page and custom sizes.
	f.srv.opts.PublicURL = "https://thumbs.example.org"
	a = decodeSign(t, f.sign(t, auth, "application/json", `{"url": "http://good.test/", "size": "64x48", "format": "webp", "full_page": true}`))
	if !strings.HasPrefix(a.URL, "https://thumbs.example.org/thumbnail/") || !strings.Contains(a.URL, "/64x48-full/") || !strings.HasSuffix(a.URL, ".webp") ||
		!strings.Contains(a.Img, `width="64" height="48"`) {
		t.Errorf("%+v", a)
	}
	f.fetchSigned(t, a.URL, image.Pt(64, 48), "image/webp")

	for _, tc := range []struct {
		name, ct, body string
		status         int
	}{
		{"form body", "application/x-www-form-urlencoded", "url=http://good.test/", 415},
		{"no type", "", body, 415},
		{"not JSON", "application/json", "url=http://good.test/", 400},
		{"unknown field", "application/json", `{"url": "http://good.test/", "fullpage": true}`, 400},
		{"no url", "application/json", `{"size": "small"}`, 400},
		{"bad size", "application/json", `{"url": "http://good.test/", "size": "huge"}`, 400},
		{"size too big", "application/json", `{"url": "http://good.test/", "size": "5000x10"}`, 400},
		{"bad format", "application/json", `{"url": "http://good.test/", "format": "gif"}`, 400},
		{"ftp", "application/json", `{"url": "ftp://good.test/"}`, 400},
		{"forbidden", "application/json", `{"url": "http://127.0.0.2/"}`, 403},
		{"no such host", "application/json", `{"url": "http://nowhere.test/"}`, 422},
	} {
		w := f.sign(t, auth, tc.ct, tc.body)
		if w.Code != tc.status {
			t.Errorf("%s: %d, want %d: %s", tc.name, w.Code, tc.status, w.Body)
			continue
		}
		errorBody(t, w)
	}
	if w := f.getAs(t, "/thumbnails/sign", auth); w.Code != http.StatusMethodNotAllowed && w.Code != http.StatusNotFound {
		t.Errorf("GET /thumbnails/sign: %d", w.Code)
	}
	// No key is made when the requests bring their own.
	list, err := f.keys.List(context.Background())
	if err != nil || len(list) != 1 {
		t.Errorf("keys %v, %v", list, err)
	}
}

func TestSignThumbnailWebUIKey(t *testing.T) {
	f := newThumbFixture(t, &fakePages{}, func(o *ThumbOptions, c *pipeline.PagesConfig) { o.Local = true })
	ctx := context.Background()
	webUI := func() []keys.Key {
		t.Helper()
		all, err := f.keys.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ks []keys.Key
		for _, k := range all {
			if k.Name == webUIKeyName && k.Active() {
				ks = append(ks, k)
			}
		}
		return ks
	}
	// A key of that name from an earlier run is used, not a new one.
	earlier, _, err := f.keys.Create(ctx, webUIKeyName)
	if err != nil {
		t.Fatal(err)
	}
	const body = `{"url": "http://good.test/", "size": "large"}`
	a := decodeSign(t, f.sign(t, "", "application/json", body))
	if a.Key != earlier.ID {
		t.Errorf("signed with %s, want the existing web-ui key %s", a.Key, earlier.ID)
	}
	f.fetchSigned(t, a.URL, image.Pt(201, 147), "image/jpeg")
	if b := decodeSign(t, f.sign(t, "", "application/json", body)); b.Key != earlier.ID || b.URL != a.URL {
		t.Errorf("second signing: %+v, want the same URL", b)
	}
	// Revoked, its URLs stop, and the next signing makes another key.
	if err := f.keys.Revoke(ctx, earlier.ID); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(a.URL)
	if w := f.get(t, u.Path); w.Code != 403 {
		t.Errorf("revoked key's URL: %d", w.Code)
	}
	c := decodeSign(t, f.sign(t, "", "application/json", body))
	ks := webUI()
	if c.Key == earlier.ID || len(ks) != 1 || ks[0].ID != c.Key {
		t.Fatalf("after revoking: signed with %s; active web-ui keys %v", c.Key, ks)
	}
	f.fetchSigned(t, c.URL, image.Pt(201, 147), "image/jpeg")

	// A fresh server (a restart) finds it.
	g := newThumbFixture(t, &fakePages{}, func(o *ThumbOptions, _ *pipeline.PagesConfig) { o.Local = true })
	g.srv.opts.Thumbs.Keys = f.keys
	if d := decodeSign(t, g.sign(t, "", "application/json", body)); d.Key != c.Key {
		t.Errorf("after a restart: %s, want %s", d.Key, c.Key)
	}
	if ks := webUI(); len(ks) != 1 {
		t.Errorf("%d web-ui keys", len(ks))
	}
	// A fresh store gets one made, once, however many ask at once.
	h := newThumbFixture(t, &fakePages{}, func(o *ThumbOptions, _ *pipeline.PagesConfig) { o.Local = true })
	done := make(chan string)
	for range 4 {
		go func() {
			req := httptest.NewRequest("POST", "/thumbnails/sign", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.srv.ServeHTTP(w, req)
			var a signAnswer
			json.Unmarshal(w.Body.Bytes(), &a)
			done <- a.Key
		}()
	}
	first := <-done
	for range 3 {
		if k := <-done; k != first || k == "" {
			t.Errorf("concurrent signings used keys %q and %q", first, k)
		}
	}
	if all, _ := h.keys.List(ctx); len(all) != 1 {
		t.Errorf("%d keys made", len(all))
	}
}
