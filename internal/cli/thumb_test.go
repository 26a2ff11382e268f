package cli

import (
	"fmt"
	"image"
	_ "image/jpeg" // thumbnails
	_ "image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"kiln/internal/browsertest"
)

// pageSite serves two small pages on 127.0.0.1.
func pageSite(t *testing.T) *httptest.Server {
	t.Helper()
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/", "/other":
			fmt.Fprintf(w, `<!doctype html><title>%s</title><body style="background:#2a6"><h1>kiln %[1]s</h1>`, r.URL.Path)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(site.Close)
	return site
}

// thumbConfig writes a config that lets pages reach the test sites.
func thumbConfig(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kiln.toml")
	data := filepath.Join(dir, "data")
	os.WriteFile(cfg, []byte(fmt.Sprintf("data = %q\n[thumbnails]\nallow = [\"127.0.0.1/32\"]\npages = 2\ntimeout = \"20s\"\n", data)), 0o644)
	return cfg, data
}

var thumbSummaryRE = regexp.MustCompile(`^kiln thumb: (\d+) URLs: (\d+) loaded, (\d+) from the cache, (\d+) failed in [\d.]+ s \([\d.]+ pages/s; p50 \d+ ms, p95 \d+ ms\)\n$`)

func TestThumb(t *testing.T) {
	browsertest.Require(t)
	site := pageSite(t)
	cfg, _ := thumbConfig(t)
	out := filepath.Join(t.TempDir(), "out")
	stdin := site.URL + "/other\n# a comment\n\nhttp://127.0.0.2/\n"
	code, stdout, stderr := run(t, stdin, "thumb", "--config", cfg, "--size", "small", "-o", out, site.URL+"/", "-", site.URL+"/missing")
	if code != 1 {
		t.Fatalf("exit %d, want 1 for the failed pages\n%s", code, stderr)
	}
	m := thumbSummaryRE.FindStringSubmatch(stdout)
	if m == nil || m[1] != "4" || m[2] != "2" || m[4] != "2" {
		t.Fatalf("summary %q\nstderr %s", stdout, stderr)
	}
	for _, want := range []string{"http://127.0.0.2/: forbidden address", "/missing: " + site.URL + "/missing answered HTTP 404"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	files, _ := filepath.Glob(filepath.Join(out, "*.jpg"))
	if len(files) != 2 {
		t.Fatalf("files %v", files)
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := image.Decode(fh)
		fh.Close()
		if err != nil || img.Bounds().Size() != image.Pt(111, 82) {
			t.Errorf("%s: %v %v", f, err, img)
		}
		if st, _ := os.Stat(f); st.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v", f, st.Mode())
		}
	}
	// Again, another size: from the cache, no page loaded.
	code, stdout, stderr = run(t, "", "thumb", "--config", cfg, "--size", "300x200", "--format", "png", "-o", out, site.URL+"/", site.URL+"/other")
	if m := thumbSummaryRE.FindStringSubmatch(stdout); code != 0 || m == nil || m[2] != "0" || m[3] != "2" {
		t.Fatalf("second run: %d %q\n%s", code, stdout, stderr)
	}
	if files, _ := filepath.Glob(filepath.Join(out, "*-300x200.png")); len(files) != 2 {
		t.Errorf("png files %v", files)
	}
}

func TestThumbUsage(t *testing.T) {
	cfg, _ := thumbConfig(t)
	for _, args := range [][]string{
		{"thumb", "--config", cfg, "http://example.com/"},                         // no -o
		{"thumb", "--config", cfg, "-o", t.TempDir()},                             // no URLs
		{"thumb", "--config", cfg, "--size", "huge", "-o", t.TempDir(), "x.com"},  // bad size
		{"thumb", "--config", cfg, "--format", "gif", "-o", t.TempDir(), "x.com"}, // bad format
	} {
		if code, _, stderr := run(t, "", args...); code != 2 || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}

func TestKeysSignServed(t *testing.T) {
	browsertest.Require(t)
	site := pageSite(t)
	cfg, _ := thumbConfig(t)
	id, _ := createKey(t, "--config", cfg, "create", "embed")
	code, out, stderr := run(t, "", "keys", "--config", cfg, "sign", id, site.URL+"/", "--size", "small", "--format", "png")
	if code != 0 || !strings.HasPrefix(out, "/thumbnail/") {
		t.Fatalf("sign: %d %q %s", code, out, stderr)
	}
	base := startServe(t, "--config", cfg)
	resp, err := http.Get(base + strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := image.Decode(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || err != nil || img.Bounds().Size() != image.Pt(111, 82) {
		t.Fatalf("signed URL: %d %v", resp.StatusCode, err)
	}
	// A signature is for one page only.
	other := strings.Replace(strings.TrimSpace(out), "/111x82/", "/201x147/", 1)
	if resp, err := http.Get(base + other); err != nil || resp.StatusCode != 403 {
		t.Errorf("altered signed URL: %v %v", resp.StatusCode, err)
	}
	for _, args := range [][]string{
		{"keys", "--config", cfg, "sign", id},
		{"keys", "--config", cfg, "sign", "AKK00000000000000000", site.URL},
		{"keys", "--config", cfg, "sign", id, "ftp://x/"},
		{"keys", "--config", cfg, "sign", id, site.URL, "--size", "huge"},
	} {
		if code, _, _ := run(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
