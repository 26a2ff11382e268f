package cluster_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg" // thumbnails
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"kiln/internal/browsertest"
)

// Page thumbnails go through the shared queue too: a page asked of two
// nodes many times at once is loaded once, by whichever node has a free
// page, into the shared cache, and both answer it; a page that fails is
// loaded once as well, and both answer its reason; kiln thumb only queues.
func TestPagesSharedAcrossNodes(t *testing.T) {
	browsertest.Require(t)
	var mu sync.Mutex
	hits := map[string]int{}
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		switch r.URL.Path {
		case "/page", "/other":
			time.Sleep(300 * time.Millisecond) // the requests overlap the load
			fmt.Fprintf(w, `<!doctype html><title>%s</title><body style="background:#2a6"><h1>kiln %[1]s</h1>`, r.URL.Path)
		case "/download":
			w.Header().Set("Content-Type", "application/zip")
			w.Write([]byte("PK\x03\x04 not really a zip"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(site.Close)
	hitsOf := func(path string) int {
		mu.Lock()
		defer mu.Unlock()
		return hits[path]
	}

	c := newCluster(t, "60s", 1)
	b, err := os.ReadFile(c.config)
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(c.dir, "kiln-pages.toml")
	conf := strings.Replace(string(b), "[thumbnails]\n", "[thumbnails]\nallow = [\"127.0.0.1/32\"]\npages = 1\nwait = \"60s\"\n", 1)
	conf = strings.Replace(conf, `timeout = "3s"`, `timeout = "20s"`, 1)
	if err := os.WriteFile(config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	nodes := []*node{c.startNodeWith(t, "pa", config), c.startNodeWith(t, "pb", config)}

	type answer struct {
		code  int
		ctype string
		body  []byte
		err   error
	}
	askAll := func(path string, n int) []answer {
		out := make([]answer, n)
		var wg sync.WaitGroup
		client := &http.Client{Timeout: 90 * time.Second}
		for i := range n {
			wg.Go(func() {
				u := nodes[i%len(nodes)].url + "/thumbnail?size=small&url=" + url.QueryEscape(site.URL+path)
				resp, err := client.Get(u)
				if err != nil {
					out[i].err = err
					return
				}
				defer resp.Body.Close()
				out[i].code, out[i].ctype = resp.StatusCode, resp.Header.Get("Content-Type")
				out[i].body, out[i].err = io.ReadAll(resp.Body)
			})
		}
		wg.Wait()
		return out
	}

	for i, a := range askAll("/page", 8) {
		if a.err != nil || a.code != 200 || a.ctype != "image/jpeg" {
			t.Fatalf("request %d: %d %s %v: %.200s\n%s", i, a.code, a.ctype, a.err, a.body, tail(readFile(nodes[i%2].log), 20))
		}
		img, _, err := image.Decode(bytes.NewReader(a.body))
		if err != nil || img.Bounds().Size() != image.Pt(111, 82) {
			t.Errorf("request %d: %v, %v", i, err, img)
		}
	}
	if n := hitsOf("/page"); n != 1 {
		t.Errorf("the page was loaded %d times by two nodes asked 8 times, want once", n)
	}
	if n := pageLoads(t, nodes, "ok"); n != 1 {
		t.Errorf("the nodes count %d page loads, want 1", n)
	}

	for i, a := range askAll("/download", 4) {
		var body struct{ Error, Kind string }
		if a.err != nil || a.code != 422 || json.Unmarshal(a.body, &body) != nil || body.Kind != "not_a_page" {
			t.Errorf("download %d: %d %v %s, want 422 not_a_page", i, a.code, a.err, a.body)
		}
	}
	if n := hitsOf("/download"); n != 1 {
		t.Errorf("the download was fetched %d times, want once", n)
	}

	// kiln thumb with the shared queue: a node loads the page.
	out := filepath.Join(c.dir, "thumbs")
	summary := c.run(t, kiln(t), "thumb", "--config", config, "--data", filepath.Join(c.dir, "thumb"), "-o", out, site.URL+"/other")
	if !regexp.MustCompile(`1 URLs: 1 loaded, 0 from the cache, 0 failed`).MatchString(summary) {
		t.Errorf("kiln thumb: %s", summary)
	}
	if n := hitsOf("/other"); n != 1 {
		t.Errorf("kiln thumb's page was loaded %d times, want once", n)
	}
	if n := pageLoads(t, nodes, "ok"); n != 2 {
		t.Errorf("the nodes count %d page loads, want 2 (kiln thumb's by a node)", n)
	}
}

var pageRenders = regexp.MustCompile(`(?m)^kiln_renders_total\{renderer="page",result="(\w+)",style="thumbnail"\} (\d+)$`)

// pageLoads sums the nodes' page loads that ended with result.
func pageLoads(t *testing.T, nodes []*node, result string) int {
	t.Helper()
	total := 0
	for _, n := range nodes {
		_, m := get(t, n.url+"/metrics")
		for _, s := range pageRenders.FindAllStringSubmatch(string(m), -1) {
			if s[1] == result {
				v, _ := strconv.Atoi(s[2])
				total += v
			}
		}
	}
	return total
}
