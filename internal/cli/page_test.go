package cli

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"kiln/internal/browsertest"
)

// TestServePage runs kiln serve on the bundled extract and loads its page
// in the real Chromium: the default raster map first, then the same style
// drawn by MapLibre from kiln's vector tiles and fonts, then the debug grid.
func TestServePage(t *testing.T) {
	data := t.TempDir()
	if code, _, stderr := run(t, "", "import", "--data", data, sampleOSM); code != 0 {
		t.Fatal(stderr)
	}
	url := startServe(t, "--data", data)
	ctx := browsertest.New(t, 3*time.Minute)
	const loaded = `window.kilnMap && kilnMap.loaded() && kilnMap.areTilesLoaded()`
	asked := func(part string) bool {
		t.Helper()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
			`performance.getEntriesByType('resource').some(e => e.name.includes(`+"`"+part+"`"+`))`))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(url+"#13/47.14/9.52"),
		chromedp.Poll[chromedp.Void](loaded, chromedp.WithPollingTimeout(2*time.Minute)),
	); err != nil {
		t.Fatalf("the page did not load: %v", err)
	}
	if !asked("/styles/default/") {
		t.Error("the page did not open on the default style's raster tiles")
	}
	// MapLibre's worker fetches vector tiles and glyphs, out of the page's
	// sight: the map's own sources say what it loaded.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`input[value="default:vector"]`)),
		chromedp.Poll[chromedp.Void](`kilnMap.getSource('osm') && kilnMap.isSourceLoaded('osm') && `+loaded+
			` && kilnMap.querySourceFeatures('osm', {sourceLayer: 'streets'}).length > 100`, chromedp.WithPollingTimeout(2*time.Minute)),
	); err != nil {
		t.Fatalf("vector map: %v", err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`input[value="debug"]`)),
		chromedp.Poll[chromedp.Void](`!kilnMap.getSource('osm') && `+loaded, chromedp.WithPollingTimeout(2*time.Minute)),
	); err != nil {
		t.Fatalf("debug: %v", err)
	}
	if !asked("/styles/debug/") {
		t.Error("debug: no debug tiles asked for")
	}
}

// A running server's vector tiles show a new import without a restart.
func TestServeVectorTilesSeeNewImport(t *testing.T) {
	data := t.TempDir()
	if code, _, stderr := run(t, "", "import", "--data", data, sampleOSM); code != 0 {
		t.Fatal(stderr)
	}
	url := startServe(t, "--data", data)
	get := func() []byte {
		t.Helper()
		resp, err := http.Get(url + "data/osm/0/0/0.pbf")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%v %v", resp, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return b
	}
	before := get()
	if code, _, stderr := run(t, "", "import", "--data", data, "../importer/testdata/coast.osm"); code != 0 {
		t.Fatal(stderr)
	}
	time.Sleep(1100 * time.Millisecond) // the data version is read again after a second
	if bytes.Equal(before, get()) {
		t.Error("the vector tile did not change with the data")
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Errorf("serving on %s, not loopback", url)
	}
}
