package server

import (
	"bytes"
	"image/png"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"kiln/internal/browsertest"
)

// TestPageInChromium loads the web page in the real Chromium and checks
// that the map showed tiles of the data's region, with the OSM credit,
// the position in the hash and a working style switcher.
func TestPageInChromium(t *testing.T) {
	f := newFixture(t, withSampleData(t))
	log := &requestLog{} // gallery_page_test.go
	ts := httptest.NewServer(log.wrap(f.srv))
	defer ts.Close()
	ctx := browsertest.New(t, 2*time.Minute)

	const loaded = `window.kilnMap && kilnMap.loaded() && kilnMap.areTilesLoaded()`
	if err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.Poll[chromedp.Void](loaded, chromedp.WithPollingTimeout(time.Minute)),
	); err != nil {
		t.Fatalf("the map did not load: %v", err)
	}
	if n := log.count("GET /styles/debug/"); n == 0 {
		t.Fatalf("no debug tiles asked for; requests: %v", log.urls)
	}
	hash, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash`))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^#(\d+(?:\.\d+)?)/(-?\d+(?:\.\d+)?)/(-?\d+(?:\.\d+)?)$`).FindStringSubmatch(hash)
	if m == nil {
		t.Fatalf("hash %q is not #zoom/lat/lon", hash)
	}
	if !strings.HasPrefix(m[2], "47.") || !strings.HasPrefix(m[3], "9.") {
		t.Errorf("the map opened at %s, not on the imported data (Liechtenstein)", hash)
	}
	credit, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".maplibregl-ctrl-attrib")))
	if err != nil || !strings.Contains(credit, "© OpenStreetMap contributors") {
		t.Errorf("attribution %q, %v", credit, err)
	}
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if n := colours(t, shot); n < 20 {
		t.Errorf("the screenshot has %d colours: no tiles drawn", n)
	}
	keep(t, "page-raster.png", shot)

	// The vector rendering of the style: MapLibre draws kiln's vector
	// tiles with kiln's fonts.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/#14/47.1410/9.5209"),
		chromedp.Click(chromedp.CSS(`input[value="debug:vector"]`)),
		chromedp.Poll[chromedp.Void](`kilnMap.getSource('osm') && kilnMap.isSourceLoaded('osm') && `+loaded, chromedp.WithPollingTimeout(time.Minute)),
	); err != nil {
		t.Fatalf("vector style: %v", err)
	}
	if log.count("GET /data/osm/14/") == 0 || log.count("GET /fonts/Noto%20Sans")+log.count("GET /fonts/Noto Sans") == 0 {
		t.Errorf("no vector tiles or glyphs asked for: %v", log.urls)
	}
	if shot, err = chromedp.Run(ctx, chromedp.CaptureScreenshot()); err != nil {
		t.Fatal(err)
	}
	if n := colours(t, shot); n < 100 {
		t.Errorf("the vector map has %d colours", n)
	}
	keep(t, "page-vector.png", shot)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`input[value="debug"]`))); err != nil {
		t.Fatal(err)
	}

	// The switcher changes the style, and the page remembers it.
	before := log.count("GET /styles/jpg/")
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`input[value="jpg"]`)),
		chromedp.Poll[chromedp.Void](loaded, chromedp.WithPollingTimeout(time.Minute)),
	); err != nil {
		t.Fatalf("switching styles: %v", err)
	}
	if log.count("GET /styles/jpg/") == before {
		t.Error("no jpg tiles after switching to jpg")
	}

	// A permalink opens where it says.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/#13/47.1400/9.5200"),
		chromedp.Poll[chromedp.Void](loaded, chromedp.WithPollingTimeout(time.Minute)),
	); err != nil {
		t.Fatal(err)
	}
	z, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`kilnMap.getZoom()`))
	if err != nil || z != 13 {
		t.Errorf("permalink zoom %v, %v", z, err)
	}
	checked, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('input[name=style]:checked').value`))
	if err != nil || checked != "jpg" {
		t.Errorf("after a reload the style is %q, want the one picked (jpg): %v", checked, err)
	}
}

// keep writes a screenshot to $KILN_TEST_SCREENSHOTS, if set, for people
// to look at.
func keep(t *testing.T, name string, png []byte) {
	if dir := os.Getenv("KILN_TEST_SCREENSHOTS"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Error(err)
		}
	}
}

// colours counts the distinct colours of a PNG, up to 1000.
func colours(t *testing.T, b []byte) int {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[[4]uint32]bool{}
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y && len(seen) < 1000; y += 3 {
		for x := bounds.Min.X; x < bounds.Max.X && len(seen) < 1000; x += 3 {
			r, g, b, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, b, a}] = true
		}
	}
	return len(seen)
}
