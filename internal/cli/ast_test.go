package cli

import (
	"image"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"kiln/internal/ast"
	"kiln/internal/browsertest"
)

// TestServeAST is the AST API as kiln serve wires it: a key made by kiln
// keys, a signed call, the placeholder, the WSDL pointing at the server,
// the usage in kiln keys list; with Chromium, the thumbnail itself.
func TestServeAST(t *testing.T) {
	site := pageSite(t)
	cfg, _ := thumbConfig(t)
	id, secret := createKey(t, "--config", cfg, "create", "old client")
	noAST, noASTSecret := createKey(t, "--config", cfg, "create", "modern only", "--no-ast")
	base := strings.TrimSuffix(startServe(t, "--config", cfg), "/")

	call := func(id, secret, page string) (*http.Response, string) {
		t.Helper()
		ts := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
		v := url.Values{"Service": {"AlexaSiteThumbnail"}, "Action": {"Thumbnail"}, "AWSAccessKeyId": {id}, "Timestamp": {ts},
			"Signature": {ast.Sign([]byte(secret), "AlexaSiteThumbnailThumbnail"+ts)}, "Url": {page}, "Size": {"Small"}}
		resp, err := http.Get(base + "/xino/?" + v.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	thumbRE := regexp.MustCompile(`<aws:Thumbnail Exists="(true|false)">([^<]*)</aws:Thumbnail>`)
	resp, body := call(id, secret, site.URL+"/")
	m := thumbRE.FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil || m[1] != "false" || m[2] != base+"/ast/placeholder/small.gif" {
		t.Fatalf("first call: %d %s", resp.StatusCode, body)
	}
	if r, err := http.Get(m[2]); err != nil || r.StatusCode != 200 || r.Header.Get("Content-Type") != "image/gif" {
		t.Errorf("placeholder: %v %v", r, err)
	}
	if resp, body := call(noAST, noASTSecret, site.URL+"/"); resp.StatusCode != 403 || !strings.Contains(body, "<Code>AuthFailure</Code>") {
		t.Errorf("key without AST: %d %s", resp.StatusCode, body)
	}
	r, err := http.Get(base + ast.WSDLPath)
	if err != nil {
		t.Fatal(err)
	}
	wsdl, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if !strings.Contains(string(wsdl), `<soap:address location="`+base+`/soap"/>`) {
		t.Errorf("WSDL: %s", wsdl)
	}
	// kiln keys list shows the usage once the server has written it (a
	// second at most).
	usage := func(want string) {
		t.Helper()
		re := regexp.MustCompile(`(?m)^` + id + ` +old client +\S+ +active +` + want + ` `)
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, out, _ := run(t, "", "keys", "--config", cfg, "list")
			if re.MatchString(out) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("keys list:\n%s\nwant requests and thumbnails %q", out, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	usage(`1 +0`)

	t.Run("rendered", func(t *testing.T) {
		browsertest.Require(t)
		deadline := time.Now().Add(time.Minute)
		calls := 1
		for {
			resp, body := call(id, secret, site.URL+"/")
			calls++
			m := thumbRE.FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			if m[1] == "true" {
				img := fetchImage(t, strings.ReplaceAll(m[2], "&amp;", "&"))
				if img.Bounds().Size() != image.Pt(111, 82) {
					t.Errorf("thumbnail is %v", img.Bounds().Size())
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the page was never rendered")
			}
			time.Sleep(200 * time.Millisecond)
		}
		usage(strconv.Itoa(calls) + ` +1`)
	})
}

func fetchImage(t *testing.T, u string) image.Image {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	img, _, err := image.Decode(resp.Body)
	if resp.StatusCode != 200 || err != nil {
		t.Fatalf("%s: %d %v", u, resp.StatusCode, err)
	}
	return img
}
