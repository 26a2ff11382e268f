package server

import (
	"context"
	"encoding/xml"
	"fmt"
	"image"
	"image/gif"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"kiln/internal/ast"
	"kiln/internal/keys"
	"kiln/internal/metrics"
	"kiln/internal/pagerender"
	"kiln/internal/pipeline"
	"kiln/internal/thumbstore"
)

// astFixture is a server with the AST API over fake pages, reached over
// real HTTP, and a key allowed to use it.
type astFixture struct {
	*fixture
	keys   *keys.Store
	pages  *fakePages
	http   *httptest.Server
	id     string
	secret string
}

func newASTFixture(tb testing.TB, set func(*Options)) *astFixture {
	tb.Helper()
	ctx := context.Background()
	store, err := thumbstore.Open(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	ks, err := keys.Open(ctx, tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ks.Close() })
	r := &fakePages{fails: map[string]*pagerender.PageError{
		"http://good.test/500": {Kind: "http_status", Reason: "http://good.test/500 answered HTTP 500"},
	}}
	pages := pipeline.NewPages(store, r, pipeline.PagesConfig{Workers: 2, Wait: 20 * time.Second}, metrics.New(), slog.New(slog.DiscardHandler))
	tb.Cleanup(func() { pages.Close(context.Background()) })
	f := newFixture(tb, func(o *Options) {
		o.Thumbs = ThumbOptions{Pages: pages, Guard: testGuard(), Keys: ks, QueuePerKey: 64, TTL: time.Hour, RequireKey: true}
		o.AST = ASTOptions{Enabled: true, SignedURLTTL: time.Hour}
		if set != nil {
			set(o)
		}
	})
	hs := httptest.NewServer(f.srv)
	tb.Cleanup(hs.Close)
	k, secret, err := ks.CreateWith(ctx, "ast client", keys.Limits{AST: true})
	if err != nil {
		tb.Fatal(err)
	}
	return &astFixture{fixture: f, keys: ks, pages: r, http: hs, id: k.ID, secret: secret}
}

// astTime is how the clients of the time wrote timestamps (PHP, Perl).
const astTime = "2006-01-02T15:04:05.000Z"

// sign adds the credentials of key id with secret to v, signing
// Action + Timestamp as AST's guide says.
func sign(v url.Values, id, secret string) url.Values {
	ts := time.Now().UTC().Format(astTime)
	v.Set("AWSAccessKeyId", id)
	v.Set("Timestamp", ts)
	v.Set("Signature", ast.Sign([]byte(secret), v.Get("Action")+ts))
	return v
}

// thumbnailCall is a signed Action=Thumbnail call with the fixture's key
// and the given parameters, as name, value pairs.
func (f *astFixture) thumbnailCall(kv ...string) url.Values {
	v := url.Values{"Action": {"Thumbnail"}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return sign(v, f.id, f.secret)
}

// call sends v by GET to path and returns the answer and its body.
func (f *astFixture) call(tb testing.TB, path string, v url.Values) (*http.Response, string) {
	tb.Helper()
	resp, err := noRedirect.Get(f.http.URL + path + "?" + v.Encode())
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (f *astFixture) post(tb testing.TB, path, contentType, body string) (*http.Response, string) {
	tb.Helper()
	resp, err := noRedirect.Post(f.http.URL+path, contentType, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// restAnswer is a QUERY answer, read with namespaces as a WSDL-aware
// client would.
type restAnswer struct {
	XMLName   xml.Name `xml:"http://ast.amazonaws.com/doc/2005-10-05/ ThumbnailResponse"`
	Responses []struct {
		RequestID string `xml:"OperationRequest>RequestId"`
		Thumbnail struct {
			Exists string `xml:"Exists,attr"`
			URL    string `xml:",chardata"`
		} `xml:"ThumbnailResult>Thumbnail"`
		RequestURL    string `xml:"ThumbnailResult>RequestUrl"`
		StatusCode    string `xml:"ResponseStatus>StatusCode"`
		StatusMessage string `xml:"ResponseStatus>StatusMessage"`
	} `xml:"Response"`
}

// answer is a call's QUERY answer.
func (f *astFixture) answer(tb testing.TB, path string, v url.Values) restAnswer {
	tb.Helper()
	resp, body := f.call(tb, path, v)
	return parseAnswer(tb, resp, body)
}

func parseAnswer(tb testing.TB, resp *http.Response, body string) restAnswer {
	tb.Helper()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/xml; charset=utf-8" {
		tb.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var a restAnswer
	if err := xml.Unmarshal([]byte(body), &a); err != nil {
		tb.Fatalf("%v: %s", err, body)
	}
	checkPrefixes(tb, body, "aws")
	return a
}

// checkPrefixes checks that every element of doc has the prefix p, as
// clients that match prefixed names (minidom, Perl's XPath) need.
func checkPrefixes(tb testing.TB, doc, p string) {
	tb.Helper()
	d := xml.NewDecoder(strings.NewReader(doc))
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			return
		}
		if err != nil {
			tb.Fatal(err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Space != p {
			tb.Fatalf("element %s:%s, want prefix %s", se.Name.Space, se.Name.Local, p)
		}
	}
}

// localNames returns the Exists attribute and text of the elements named
// local in any namespace, as PHP's getElementsByTagName("Thumbnail") and
// Zimbra's namespace-blind reader found them.
func localNames(tb testing.TB, doc, local string) []struct{ exists, text string } {
	tb.Helper()
	d := xml.NewDecoder(strings.NewReader(doc))
	var out []struct{ exists, text string }
	in := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			tb.Fatal(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if in = t.Name.Local == local; in {
				out = append(out, struct{ exists, text string }{})
				for _, a := range t.Attr {
					if a.Name.Local == "Exists" {
						out[len(out)-1].exists = a.Value
					}
				}
			}
		case xml.CharData:
			if in {
				out[len(out)-1].text += string(t)
			}
		case xml.EndElement:
			in = false
		}
	}
}

// errAnswer is the AWS 2006 error document.
type errAnswer struct {
	XMLName   xml.Name `xml:"Response"`
	Code      string   `xml:"Errors>Error>Code"`
	Message   string   `xml:"Errors>Error>Message"`
	RequestID string   `xml:"RequestID"`
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func parseError(tb testing.TB, resp *http.Response, body string) errAnswer {
	tb.Helper()
	var e errAnswer
	if err := xml.Unmarshal([]byte(body), &e); err != nil || e.Code == "" || e.Message == "" || !uuidRE.MatchString(e.RequestID) {
		tb.Fatalf("error document %q: %v", body, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/xml; charset=utf-8" {
		tb.Errorf("error of type %q", ct)
	}
	return e
}

// waitRendered calls until the thumbnail of page exists.
func (f *astFixture) waitRendered(tb testing.TB, pages ...string) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute) // slow under -race on a busy machine
	for _, p := range pages {
		for {
			a := f.answer(tb, "/xino", f.thumbnailCall("Url", p))
			if a.Responses[0].Thumbnail.Exists == "true" {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("%s never rendered: %+v", p, a.Responses[0])
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// fetch gets an image URL handed out and decodes it.
func fetch(tb testing.TB, u, wantType string) image.Image {
	tb.Helper()
	resp, err := http.Get(u)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != wantType {
		b, _ := io.ReadAll(resp.Body)
		tb.Fatalf("%s: %d %s %s", u, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	img, _, err := image.Decode(resp.Body)
	if err != nil {
		tb.Fatalf("%s: %v", u, err)
	}
	return img
}

func (f *astFixture) usage(tb testing.TB) keys.Usage {
	tb.Helper()
	u, err := f.keys.Usage(context.Background(), f.id)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// TestASTThumbnail is AST's contract: a thumbnail not cached yet answers
// Exists="false" with the placeholder and is queued; once made, it
// answers Exists="true" with a signed, expiring URL on kiln's own host,
// billed then and only then.
func TestASTThumbnail(t *testing.T) {
	f := newASTFixture(t, nil)
	a := f.answer(t, "/xino", f.thumbnailCall("Url", "good.test", "Size", "Small"))
	if len(a.Responses) != 1 {
		t.Fatalf("%d responses", len(a.Responses))
	}
	r := a.Responses[0]
	if r.Thumbnail.Exists != "false" || r.Thumbnail.URL != f.http.URL+"/ast/placeholder/small.gif" || r.RequestURL != "good.test" ||
		r.StatusCode != "Success" || !uuidRE.MatchString(r.RequestID) {
		t.Errorf("first answer %+v", r)
	}
	if img := fetch(t, r.Thumbnail.URL, "image/gif"); img.Bounds().Size() != image.Pt(111, 82) {
		t.Errorf("small placeholder is %v", img.Bounds().Size())
	}
	if u := f.usage(t); u.Requests != 1 || u.Thumbnails != 0 {
		t.Errorf("usage after a placeholder: %+v", u)
	}
	f.waitRendered(t, "good.test")
	a = f.answer(t, "/xino", f.thumbnailCall("Url", "good.test", "Size", "Small"))
	r = a.Responses[0]
	if r.Thumbnail.Exists != "true" || !strings.HasPrefix(r.Thumbnail.URL, f.http.URL+"/thumbnail/") || r.StatusCode != "Success" {
		t.Fatalf("cached answer %+v", r)
	}
	if !strings.Contains(r.Thumbnail.URL, "/small-ast/") {
		t.Errorf("image URL %s is not marked as billed by AST", r.Thumbnail.URL)
	}
	before := f.usage(t)
	for range 3 { // fetching the image is neither billed nor rate limited
		if img := fetch(t, r.Thumbnail.URL, "image/jpeg"); img.Bounds().Size() != image.Pt(111, 82) {
			t.Errorf("small thumbnail is %v", img.Bounds().Size())
		}
	}
	if u := f.usage(t); u.Thumbnails != before.Thumbnails || u.Requests != before.Requests || u.Thumbnails < 1 {
		t.Errorf("usage %+v after fetching the image, %+v before", u, before)
	}
	// Large by default.
	a = f.answer(t, "/xino", f.thumbnailCall("Url", "http://good.test/"))
	if r := a.Responses[0]; r.Thumbnail.Exists != "true" || !strings.Contains(r.Thumbnail.URL, "/large-ast/") {
		t.Errorf("default size: %+v", r)
	} else if img := fetch(t, r.Thumbnail.URL, "image/jpeg"); img.Bounds().Size() != image.Pt(201, 147) {
		t.Errorf("large thumbnail is %v", img.Bounds().Size())
	}
	if n := f.pages.loads.Load(); n != 1 {
		t.Errorf("%d page loads, want 1", n)
	}
	if strings.Contains(f.logBuf.String(), f.secret) {
		t.Error("the secret was logged")
	}
}

// TestASTBatch: answers in request order, one per URL, sizes shared and
// per item, a bad item failing alone, billing counting only Exists="true".
func TestASTBatch(t *testing.T) {
	f := newASTFixture(t, nil)
	f.waitRendered(t, "http://good.test/a", "http://good.test/b")
	before := f.usage(t)
	v := f.thumbnailCall(
		"Thumbnail.1.Url", "http://good.test/b",
		"Thumbnail.2.Url", "ftp://good.test/",
		"Thumbnail.3.Url", "http://good.test/500",
		"Thumbnail.4.Url", "http://good.test/a", "Thumbnail.4.Size", "Large",
		"Thumbnail.5.Url", "http://good.test/a", "Thumbnail.5.Size", "large",
		"Thumbnail.6.Url", "http://127.0.0.2/",
		"Thumbnail.10.Url", "good.test/a",
		"Thumbnail.Shared.Size", "Small",
	)
	a := f.answer(t, "/", v)
	want := []struct {
		url, exists, status, image string
	}{
		{"http://good.test/b", "true", "Success", "/small-ast/"},
		{"ftp://good.test/", "false", "InvalidParameterValue", "/ast/placeholder/small.gif"},
		{"http://good.test/500", "false", "Success", "/ast/placeholder/small.gif"}, // failed or still loading
		{"http://good.test/a", "true", "Success", "/large-ast/"},
		{"http://good.test/a", "false", "InvalidParameterValue", "/ast/placeholder/large.gif"},
		{"http://127.0.0.2/", "false", "InvalidParameterValue", "/ast/placeholder/small.gif"},
		{"good.test/a", "true", "Success", "/small-ast/"},
	}
	if len(a.Responses) != len(want) {
		t.Fatalf("%d responses, want %d", len(a.Responses), len(want))
	}
	id := a.Responses[0].RequestID
	for i, w := range want {
		r := a.Responses[i]
		if r.RequestURL != w.url || r.Thumbnail.Exists != w.exists || r.StatusCode != w.status || !strings.Contains(r.Thumbnail.URL, w.image) || r.RequestID != id {
			t.Errorf("response %d: %+v, want %+v", i+1, r, w)
		}
		if (w.status == "Success") != (r.StatusMessage == "") {
			t.Errorf("response %d: status message %q", i+1, r.StatusMessage)
		}
	}
	// Read as PHP's DOMDocument and Zimbra did, by local name: the same.
	resp, body := f.call(t, "/", v)
	php := localNames(t, body, "Thumbnail")
	if resp.StatusCode != 200 || len(php) != len(want) {
		t.Fatalf("local names: %d thumbnails", len(php))
	}
	for i, w := range want {
		if php[i].exists != w.exists || !strings.Contains(php[i].text, w.image) {
			t.Errorf("local name %d: %+v, want %+v", i+1, php[i], w)
		}
	}
	before.Thumbnails += 3
	before.Requests++
	if u := f.usage(t); u.Thumbnails-before.Thumbnails != 3 || u.Requests-before.Requests != 1 {
		t.Errorf("usage went from %+v to %+v: want 3 thumbnails billed (those that exist) in 1 request", before, u)
	}
	// Shared.Size (the guide's spelling) and the batch sorted by number.
	a = f.answer(t, "/xino/", f.thumbnailCall("Thumbnail.2.Url", "http://good.test/a", "Thumbnail.1.Url", "http://good.test/b", "Shared.Size", "Small"))
	if len(a.Responses) != 2 || a.Responses[0].RequestURL != "http://good.test/b" || !strings.Contains(a.Responses[1].Thumbnail.URL, "/small-ast/") {
		t.Errorf("Shared.Size batch: %+v", a.Responses)
	}
}

// TestASTRoutes: every path AST clients used, GET and POST, any case; the
// web page stays on / without Action.
func TestASTRoutes(t *testing.T) {
	f := newASTFixture(t, nil)
	for _, path := range []string{"/", "/xino", "/Xino", "/xino/", "/Xino/", "/XINO/", "/xino/xml", "/xino/XML"} {
		f.answer(t, path, f.thumbnailCall("Url", "good.test"))
		resp, body := f.post(t, path, "application/x-www-form-urlencoded", f.thumbnailCall("Url", "good.test").Encode())
		parseAnswer(t, resp, body)
	}
	resp, body := f.call(t, "/", url.Values{})
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET / without Action: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, body = f.post(t, "/", "application/x-www-form-urlencoded", "")
	if e := parseError(t, resp, body); resp.StatusCode != 400 || e.Code != "MissingAction" {
		t.Errorf("POST / without Action: %d %+v", resp.StatusCode, e)
	}
	req, _ := http.NewRequest("PUT", f.http.URL+"/xino", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if e := parseError(t, resp, string(b)); resp.StatusCode != 405 || e.Code != "InvalidHttpRequest" || resp.Header.Get("Allow") == "" {
		t.Errorf("PUT /xino: %d %+v", resp.StatusCode, e)
	}
	if resp, _ := f.call(t, "/xinox", f.thumbnailCall("Url", "good.test")); resp.StatusCode != 404 {
		t.Errorf("/xinox: %d", resp.StatusCode)
	}
	if resp, _ := f.call(t, "/ast/placeholder/huge.gif", nil); resp.StatusCode != 404 {
		t.Errorf("unknown placeholder: %d", resp.StatusCode)
	}
	// The placeholders revalidate.
	resp, _ = f.call(t, "/ast/placeholder/large.gif", nil)
	req, _ = http.NewRequest("GET", f.http.URL+"/ast/placeholder/large.gif", nil)
	req.Header.Set("If-None-Match", resp.Header.Get("Etag"))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 304 {
		t.Errorf("placeholder revalidation: %v %v", resp.StatusCode, err)
	}
	if img, err := gif.Decode(strings.NewReader(string(ast.Placeholder(ast.Large)))); err != nil || img.Bounds().Size() != image.Pt(201, 147) {
		t.Errorf("large placeholder: %v", err)
	}
}

// TestASTOff: with the API switched off, / is the web page only and the
// AST paths are not found.
func TestASTOff(t *testing.T) {
	f := newASTFixture(t, func(o *Options) { o.AST.Enabled = false })
	resp, _ := f.call(t, "/", f.thumbnailCall("Url", "good.test"))
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("/ with AST off: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, p := range []string{"/xino", "/soap", ast.WSDLPath, "/ast/placeholder/small.gif"} {
		if resp, _ := f.call(t, p, nil); resp.StatusCode != 404 && resp.StatusCode != 405 {
			t.Errorf("%s with AST off: %d", p, resp.StatusCode)
		}
	}
}

// TestASTErrors: every error's code and status, in the AWS 2006 form.
func TestASTErrors(t *testing.T) {
	f := newASTFixture(t, nil)
	ctx := context.Background()
	noAST, noASTSecret, _ := f.keys.CreateWith(ctx, "no ast", keys.Limits{})
	revoked, revokedSecret, _ := f.keys.CreateWith(ctx, "revoked", keys.Limits{AST: true})
	f.keys.Revoke(ctx, revoked.ID)
	at := func(d time.Duration, format string) url.Values {
		ts := time.Now().Add(d).UTC().Format(format)
		return url.Values{"Action": {"Thumbnail"}, "Url": {"good.test"}, "AWSAccessKeyId": {f.id}, "Timestamp": {ts},
			"Signature": {ast.Sign([]byte(f.secret), "Thumbnail"+ts)}}
	}
	with := func(v url.Values, kv ...string) url.Values {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v
	}
	batch := f.thumbnailCall()
	for i := 1; i <= 21; i++ {
		batch.Set("Thumbnail."+strconv.Itoa(i)+".Url", "good.test")
	}
	for _, tc := range []struct {
		name   string
		v      url.Values
		status int
		code   string
	}{
		{"no action", with(f.thumbnailCall("Url", "good.test"), "Action", ""), 400, "MissingAction"},
		{"action in lower case", sign(url.Values{"Action": {"thumbnail"}, "Url": {"good.test"}}, f.id, f.secret), 400, "InvalidAction"},
		{"unknown action", sign(url.Values{"Action": {"Rank"}, "Url": {"good.test"}}, f.id, f.secret), 400, "InvalidAction"},
		{"no key id", with(f.thumbnailCall("Url", "good.test"), "AWSAccessKeyId", ""), 403, "AuthFailure"},
		{"no signature", with(f.thumbnailCall("Url", "good.test"), "Signature", ""), 400, "MissingParameter"},
		{"no timestamp", with(f.thumbnailCall("Url", "good.test"), "Timestamp", ""), 400, "MissingParameter"},
		{"malformed timestamp", with(f.thumbnailCall("Url", "good.test"), "Timestamp", "2005-01-31T23:59:183Z"), 400, "InvalidParameterValue"},
		{"16 minutes old", at(-16*time.Minute, astTime), 400, "RequestExpired"},
		{"16 minutes ahead", at(16*time.Minute, astTime), 400, "RequestExpired"},
		{"unknown key", with(f.thumbnailCall("Url", "good.test"), "AWSAccessKeyId", "AKK00000000000000000"), 403, "InvalidClientTokenId"},
		{"malformed key", with(f.thumbnailCall("Url", "good.test"), "AWSAccessKeyId", "1FVZ0JNEJDA5TK457CR2"), 403, "InvalidClientTokenId"},
		{"revoked key", sign(url.Values{"Action": {"Thumbnail"}, "Url": {"good.test"}}, revoked.ID, revokedSecret), 403, "InvalidClientTokenId"},
		{"wrong secret", sign(url.Values{"Action": {"Thumbnail"}, "Url": {"good.test"}}, f.id, noASTSecret), 403, "SignatureDoesNotMatch"},
		{"signature of another action", with(f.thumbnailCall("Url", "good.test"), "Action", "Redirect"), 403, "SignatureDoesNotMatch"},
		{"garbage signature", with(f.thumbnailCall("Url", "good.test"), "Signature", "not base64!"), 403, "SignatureDoesNotMatch"},
		{"key without AST", sign(url.Values{"Action": {"Thumbnail"}, "Url": {"good.test"}}, noAST.ID, noASTSecret), 403, "AuthFailure"},
		{"no url", f.thumbnailCall("Size", "Small"), 400, "MissingParameter"},
		{"empty url", f.thumbnailCall("Url", ""), 400, "MissingParameter"},
		{"size in lower case", f.thumbnailCall("Url", "good.test", "Size", "small"), 400, "InvalidParameterValue"},
		{"unknown size", f.thumbnailCall("Url", "good.test", "Size", "Huge"), 400, "InvalidParameterValue"},
		{"ftp", f.thumbnailCall("Url", "ftp://good.test/"), 400, "InvalidParameterValue"},
		{"forbidden address", f.thumbnailCall("Url", "http://169.254.169.254/latest/meta-data/"), 400, "InvalidParameterValue"},
		{"user info", f.thumbnailCall("Url", "http://user:pw@good.test/"), 400, "InvalidParameterValue"},
		{"21 in a batch", batch, 400, "InvalidParameterValue"},
		{"item 0", f.thumbnailCall("Thumbnail.0.Url", "good.test"), 400, "InvalidParameterValue"},
		{"item 01", f.thumbnailCall("Thumbnail.01.Url", "good.test"), 400, "InvalidParameterValue"},
		{"size without url", f.thumbnailCall("Thumbnail.1.Url", "good.test", "Thumbnail.2.Size", "Small"), 400, "MissingParameter"},
		{"both forms", f.thumbnailCall("Url", "good.test", "Thumbnail.1.Url", "good.test"), 400, "InvalidParameterValue"},
		{"redirect batch", sign(url.Values{"Action": {"Redirect"}, "Thumbnail.1.Url": {"good.test"}}, f.id, f.secret), 400, "InvalidParameterValue"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.call(t, "/xino", tc.v)
			e := parseError(t, resp, body)
			if resp.StatusCode != tc.status || e.Code != tc.code {
				t.Errorf("%d %s (%s), want %d %s", resp.StatusCode, e.Code, e.Message, tc.status, tc.code)
			}
		})
	}
	if n := f.pages.loads.Load(); n != 0 {
		t.Errorf("%d pages loaded by calls that failed", n)
	}
	if strings.Contains(f.logBuf.String(), f.secret) || strings.Contains(f.logBuf.String(), noASTSecret) {
		t.Error("a secret was logged")
	}
}

// TestASTSignatures: the two strings to sign clients used, and their
// encoding quirks.
func TestASTSignatures(t *testing.T) {
	f := newASTFixture(t, nil)
	mac := func(s string) string { return ast.Sign([]byte(f.secret), s) }
	for _, tc := range []struct {
		name    string
		ts      string
		service string
		sig     func(ts string) string
		ok      bool
	}{
		{"Action+Timestamp", "2006-01-02T15:04:05.000Z", "", func(ts string) string { return mac("Thumbnail" + ts) }, true},
		{"seconds only (Python)", "2006-01-02T15:04:05Z", "", func(ts string) string { return mac("Thumbnail" + ts) }, true},
		{"milliseconds (guide)", "2006-01-02T15:04:05.183Z", "", func(ts string) string { return mac("Thumbnail" + ts) }, true},
		{"offset", "2006-01-02T15:04:05+00:00", "", func(ts string) string { return mac("Thumbnail" + ts) }, true},
		{"no zone", "2006-01-02T15:04:05", "", func(ts string) string { return mac("Thumbnail" + ts) }, true},
		{"Service+Action+Timestamp (PHP, Zimbra)", "2006-01-02T15:04:05.000Z", "AlexaSiteThumbnail",
			func(ts string) string { return mac("AlexaSiteThumbnailThumbnail" + ts) }, true},
		{"Action+Timestamp with Service", "2006-01-02T15:04:05.000Z", "AlexaSiteThumbnail", func(ts string) string { return mac("Thumbnail" + ts) }, true},
		{"Service variant without Service", "2006-01-02T15:04:05.000Z", "", func(ts string) string { return mac("AlexaSiteThumbnailThumbnail" + ts) }, false},
		{"no padding (Perl b64digest)", "2006-01-02T15:04:05.000Z", "", func(ts string) string { return strings.TrimRight(mac("Thumbnail"+ts), "=") }, true},
		{"padding doubled", "2006-01-02T15:04:05.000Z", "", func(ts string) string { return mac("Thumbnail"+ts) + "=" }, true},
		{"another timestamp's", "2006-01-02T15:04:05.000Z", "", func(ts string) string { return mac("Thumbnail2006-01-02T15:04:06.000Z") }, false},
		{"lower-case action signed", "2006-01-02T15:04:05.000Z", "", func(ts string) string { return mac("thumbnail" + ts) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Today at the same time of day: within the 15 minutes.
			now := time.Now().UTC()
			ts := now.Format("2006-01-02") + tc.ts[10:]
			if tc.ts[11:19] != "15:04:05" {
				t.Fatal("test timestamps are at 15:04:05")
			}
			ts = strings.Replace(ts, "15:04:05", now.Format("15:04:05"), 1)
			v := url.Values{"Action": {"Thumbnail"}, "Url": {"good.test"}, "AWSAccessKeyId": {f.id}, "Timestamp": {ts}, "Signature": {tc.sig(ts)}}
			if tc.service != "" {
				v.Set("Service", tc.service)
			}
			resp, body := f.call(t, "/xino", v)
			if tc.ok {
				parseAnswer(t, resp, body)
				return
			}
			if e := parseError(t, resp, body); e.Code != "SignatureDoesNotMatch" {
				t.Errorf("%d %s", resp.StatusCode, e.Code)
			}
		})
	}
	// A '+' of the signature sent unencoded arrives as a space: find a
	// timestamp whose signature has one.
	now := time.Now().UTC().Format("2006-01-02T15:04:05")
	for ms := range 1000 {
		ts := now + "." + fmt.Sprintf("%03d", ms) + "Z"
		sig := mac("Thumbnail" + ts)
		if !strings.Contains(sig, "+") {
			continue
		}
		raw := "Action=Thumbnail&Url=good.test&AWSAccessKeyId=" + f.id + "&Timestamp=" + url.QueryEscape(ts) +
			"&Signature=" + strings.ReplaceAll(url.QueryEscape(sig), "%2B", "+")
		resp, err := http.Get(f.http.URL + "/xino?" + raw)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		parseAnswer(t, resp, string(b))
		return
	}
	t.Error("no signature with a '+' in 1000 timestamps")
}

// TestASTRedirect: Action=Redirect, for <img src>: a 302 to the
// placeholder, then to the thumbnail, on public_url when set.
func TestASTRedirect(t *testing.T) {
	f := newASTFixture(t, func(o *Options) { o.PublicURL = "https://thumbs.example.org" })
	v := sign(url.Values{"Action": {"Redirect"}, "Service": {"AlexaSiteThumbnail"}, "Url": {"good.test"}, "Size": {"Small"}}, f.id, f.secret)
	resp, body := f.call(t, "/Xino/", v)
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "https://thumbs.example.org/ast/placeholder/small.gif" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("redirect before rendering: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		resp, _ = f.call(t, "/Xino/", sign(url.Values{"Action": {"Redirect"}, "Url": {"good.test"}, "Size": {"Small"}}, f.id, f.secret))
		loc := resp.Header.Get("Location")
		if strings.HasPrefix(loc, "https://thumbs.example.org/thumbnail/") {
			if img := fetch(t, f.http.URL+strings.TrimPrefix(loc, "https://thumbs.example.org"), "image/jpeg"); img.Bounds().Size() != image.Pt(111, 82) {
				t.Errorf("redirected to a %v image", img.Bounds().Size())
			}
			break
		}
		if resp.StatusCode != 302 || time.Now().After(deadline) {
			t.Fatalf("redirect: %d %s", resp.StatusCode, loc)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Errors are the error document.
	resp, body = f.call(t, "/xino", sign(url.Values{"Action": {"Redirect"}, "Url": {"ftp://x/"}}, f.id, f.secret))
	if e := parseError(t, resp, body); resp.StatusCode != 400 || e.Code != "InvalidParameterValue" {
		t.Errorf("bad redirect: %d %+v", resp.StatusCode, e)
	}
}

// TestASTLimits: the key's rate limit and quota answer Throttling (503,
// as AWS throttled); the quota counts only thumbnails that exist.
func TestASTLimits(t *testing.T) {
	f := newASTFixture(t, nil)
	ctx := context.Background()
	f.waitRendered(t, "http://good.test/a", "http://good.test/b")

	limited, limitedSecret, _ := f.keys.CreateWith(ctx, "limited", keys.Limits{Rate: 0.01, Burst: 2, AST: true})
	for i, want := range []int{200, 200, 503} {
		resp, body := f.call(t, "/xino", sign(url.Values{"Action": {"Thumbnail"}, "Url": {"good.test/a"}}, limited.ID, limitedSecret))
		if resp.StatusCode != want {
			t.Fatalf("call %d of a key with a burst of 2: %d, want %d", i+1, resp.StatusCode, want)
		}
		if want == 503 {
			if e := parseError(t, resp, body); e.Code != "Throttling" || resp.Header.Get("Retry-After") == "" {
				t.Errorf("throttled: %+v %v", e, resp.Header)
			}
		}
	}

	quota, quotaSecret, _ := f.keys.CreateWith(ctx, "quota", keys.Limits{Quota: 2, AST: true})
	call := func(kv ...string) (*http.Response, string) {
		v := url.Values{"Action": {"Thumbnail"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return f.call(t, "/xino", sign(v, quota.ID, quotaSecret))
	}
	// Placeholders are free: calls for pages not made yet, failed or not
	// found.
	for _, page := range []string{"http://good.test/new", "http://good.test/500", "http://good.test/500", "http://good.test/500", "http://nowhere.test/"} {
		resp, body := call("Url", page)
		a := parseAnswer(t, resp, body)
		if a.Responses[0].Thumbnail.Exists != "false" {
			t.Fatalf("%s exists", page)
		}
	}
	for _, page := range []string{"http://good.test/a", "http://good.test/b"} {
		resp, body := call("Url", page)
		if a := parseAnswer(t, resp, body); a.Responses[0].Thumbnail.Exists != "true" {
			t.Fatalf("%s does not exist", page)
		}
	}
	resp, body := call("Url", "http://good.test/a")
	if e := parseError(t, resp, body); resp.StatusCode != 503 || e.Code != "Throttling" || !strings.Contains(e.Message, "quota") {
		t.Errorf("over quota: %d %+v", resp.StatusCode, e)
	}
	u, _ := f.keys.Usage(ctx, quota.ID)
	if u.Thumbnails != 2 || u.Requests != 7 {
		t.Errorf("usage %+v: want 2 thumbnails in 7 requests", u)
	}
}

// TestASTExpiry: image URLs live the configured TTL, rounded up so that
// calls close in time hand out the same URL.
func TestASTExpiry(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 17, 42, 0, time.UTC)
	for _, tc := range []struct {
		ttl  time.Duration
		want time.Time
	}{
		{24 * time.Hour, time.Date(2026, 11, 24, 11, 0, 0, 0, time.UTC)},
		{time.Hour, time.Date(2026, 11, 23, 11, 22, 30, 0, time.UTC)},
		{10 * time.Second, time.Date(2026, 11, 23, 10, 17, 52, 0, time.UTC)},
		{0, time.Date(2026, 11, 24, 11, 0, 0, 0, time.UTC)},
	} {
		got := astExpiry(now, tc.ttl)
		if !got.Equal(tc.want) {
			t.Errorf("ttl %v: %v, want %v", tc.ttl, got, tc.want)
		}
		if tc.ttl > 0 && (got.Sub(now) < tc.ttl || got.Sub(now) > tc.ttl+tc.ttl/8+time.Second) {
			t.Errorf("ttl %v: lives %v", tc.ttl, got.Sub(now))
		}
	}
}

// soapCall is the guide's SOAP request for urls, signed with the key.
func soapCall(id, secret string, urls ...string) string {
	ts := time.Now().UTC().Format(astTime)
	var b strings.Builder
	b.WriteString(`<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
 <SOAP-ENV:Body>
  <m:ThumbnailRequest xmlns:m="http://ast.amazonaws.com/doc/2006-05-15/">
   <m:Request>
    <m:Signature>` + ast.Sign([]byte(secret), "Thumbnail"+ts) + `</m:Signature>
    <m:Timestamp>` + ts + `</m:Timestamp>
    <m:AWSAccessKeyId>` + id + `</m:AWSAccessKeyId>
    <m:Url>` + urls[0] + `</m:Url>
   </m:Request>
`)
	for _, u := range urls[1:] {
		b.WriteString("   <m:Request><m:Url>" + u + "</m:Url></m:Request>\n")
	}
	b.WriteString("  </m:ThumbnailRequest>\n </SOAP-ENV:Body>\n</SOAP-ENV:Envelope>\n")
	return b.String()
}

// soapAnswer is a SOAP answer or fault, read with namespaces.
type soapAnswer struct {
	Body struct {
		Responses []struct {
			RequestID string `xml:"http://ast.amazonaws.com/doc/2006-05-15/ OperationRequest>RequestId"`
			Thumbnail struct {
				Exists string `xml:"Exists,attr"`
				URL    string `xml:",chardata"`
			} `xml:"http://ast.amazonaws.com/doc/2006-05-15/ ThumbnailResult>Thumbnail"`
			RequestURL string `xml:"http://ast.amazonaws.com/doc/2006-05-15/ ThumbnailResult>RequestUrl"`
			StatusCode string `xml:"http://ast.amazonaws.com/doc/2006-05-15/ ResponseStatus>StatusCode"`
		} `xml:"http://ast.amazonaws.com/doc/2006-05-15/ ThumbnailResponse>Response"`
		Fault *struct {
			Code   string `xml:"faultcode"`
			String string `xml:"faultstring"`
		} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

func (f *astFixture) soap(t *testing.T, body string) (*http.Response, soapAnswer) {
	t.Helper()
	req, _ := http.NewRequest("POST", f.http.URL+"/soap", strings.NewReader(body))
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"http://soap.amazon.com"`) // dispatched on the body, whatever this says
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a soapAnswer
	if err := xml.Unmarshal(b, &a); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/xml; charset=utf-8" {
		t.Errorf("SOAP answer of type %q", ct)
	}
	return resp, a
}

func TestASTSOAP(t *testing.T) {
	f := newASTFixture(t, nil)
	resp, a := f.soap(t, soapCall(f.id, f.secret, "www.good.test", "good.test/amazon", "http://good.test/a9"))
	if resp.StatusCode != 200 || len(a.Body.Responses) != 3 || a.Body.Fault != nil {
		t.Fatalf("%d %+v", resp.StatusCode, a)
	}
	for i, u := range []string{"www.good.test", "good.test/amazon", "http://good.test/a9"} {
		r := a.Body.Responses[i]
		if r.RequestURL != u || r.Thumbnail.Exists != "false" || r.StatusCode != "Success" || r.RequestID != a.Body.Responses[0].RequestID {
			t.Errorf("response %d: %+v", i, r)
		}
	}
	f.waitRendered(t, "www.good.test")
	if _, a := f.soap(t, soapCall(f.id, f.secret, "www.good.test")); len(a.Body.Responses) != 1 || a.Body.Responses[0].Thumbnail.Exists != "true" {
		t.Errorf("after rendering: %+v", a)
	} else if img := fetch(t, a.Body.Responses[0].Thumbnail.URL, "image/jpeg"); img.Bounds().Size() != image.Pt(201, 147) {
		t.Errorf("large thumbnail is %v", img.Bounds().Size())
	}

	ctx := context.Background()
	limited, limitedSecret, _ := f.keys.CreateWith(ctx, "limited", keys.Limits{Rate: 0.01, Burst: 1, AST: true})
	f.soap(t, soapCall(limited.ID, limitedSecret, "good.test"))
	for _, tc := range []struct {
		name, body, code string
	}{
		{"wrong secret", soapCall(f.id, "not the secret", "good.test"), "SOAP-ENV:Client.SignatureDoesNotMatch"},
		{"unknown key", soapCall("AKK00000000000000000", f.secret, "good.test"), "SOAP-ENV:Client.InvalidClientTokenId"},
		{"no url", strings.Replace(soapCall(f.id, f.secret, "x"), "<m:Url>x</m:Url>", "", 1), "SOAP-ENV:Client.MissingParameter"},
		{"bad url", soapCall(f.id, f.secret, "ftp://good.test/"), "SOAP-ENV:Client.InvalidParameterValue"},
		{"throttled", soapCall(limited.ID, limitedSecret, "good.test"), "SOAP-ENV:Server.Throttling"},
		{"SOAP 1.2", `<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>`, "SOAP-ENV:VersionMismatch"},
		{"not SOAP", "Action=Thumbnail", "SOAP-ENV:Client.InvalidSOAPRequest"},
		{"other operation", strings.ReplaceAll(soapCall(f.id, f.secret, "x"), "ThumbnailRequest", "RedirectRequest"), "SOAP-ENV:Client.InvalidAction"},
	} {
		resp, a := f.soap(t, tc.body)
		if resp.StatusCode != 500 || a.Body.Fault == nil || a.Body.Fault.Code != tc.code || a.Body.Fault.String == "" {
			t.Errorf("%s: %d %+v, want a %s fault", tc.name, resp.StatusCode, a.Body.Fault, tc.code)
		}
	}
	// An envelope posted to a QUERY path is SOAP too: stubs generated from
	// Amazon's WSDL post where it said, not to /soap.
	req, _ := http.NewRequest("POST", f.http.URL+"/Xino/", strings.NewReader(soapCall(f.id, f.secret, "www.good.test")))
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("SOAP on /Xino/: %v %v", resp.StatusCode, err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "<m:ThumbnailResponse") {
			t.Errorf("SOAP on /Xino/: %s", b)
		}
	}
	// A bad item in a batch fails alone.
	_, a = f.soap(t, soapCall(f.id, f.secret, "www.good.test", "ftp://good.test/"))
	if len(a.Body.Responses) != 2 || a.Body.Responses[0].StatusCode != "Success" || a.Body.Responses[1].StatusCode != "InvalidParameterValue" {
		t.Errorf("batch with a bad item: %+v", a)
	}
}

func TestASTWSDL(t *testing.T) {
	f := newASTFixture(t, nil)
	for _, path := range []string{ast.WSDLPath, "/soap?wsdl"} {
		resp, body := f.call(t, path, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/xml; charset=utf-8" ||
			!strings.Contains(body, `<soap:address location="`+f.http.URL+`/soap"/>`) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	if resp, body := f.call(t, ast.SchemaPath, nil); resp.StatusCode != 200 || !strings.Contains(body, `name="ThumbnailRequestType"`) {
		t.Errorf("schema: %d", resp.StatusCode)
	}
	g := newASTFixture(t, func(o *Options) { o.PublicURL = "https://thumbs.example.org" })
	if _, body := g.call(t, ast.WSDLPath, nil); !strings.Contains(body, `<soap:address location="https://thumbs.example.org/soap"/>`) {
		t.Errorf("WSDL with public_url: %s", body)
	}
}

// BenchmarkASTBatch20Cached is a QUERY call for 20 cached thumbnails over
// HTTP on 127.0.0.1: parsing, the signature, the key and its limits, the
// cache lookups, 20 signed URLs, the XML.
func BenchmarkASTBatch20Cached(b *testing.B) {
	f := newASTFixture(b, nil)
	pages := make([]string, ast.MaxBatch)
	for i := range pages {
		pages[i] = "http://good.test/page" + strconv.Itoa(i)
	}
	f.waitRendered(b, pages...)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	var took []time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		v := f.thumbnailCall("Thumbnail.Shared.Size", "Small")
		for i, p := range pages {
			v.Set("Thumbnail."+strconv.Itoa(i+1)+".Url", p)
		}
		resp, err := client.Post(f.http.URL+"/xino", "application/x-www-form-urlencoded", strings.NewReader(v.Encode()))
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.Count(string(body), `Exists="true"`) != ast.MaxBatch {
			b.Fatalf("%d %s", resp.StatusCode, body)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
}
