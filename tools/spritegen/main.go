// Command spritegen makes the sprite sheets of kiln's default style from
// Maki's icons (CC0, npm @mapbox/maki): each SVG coloured as the style
// wants it, rasterized by the real Chromium at 1x and 2x, packed into
// sprite.png / sprite@2x.png with MapLibre's sprite index JSON next to
// them. scripts/web-assets runs it; its output is committed.
//
//	go run ./tools/spritegen -icons web/node_modules/@mapbox/maki/icons -out internal/defaultstyle/sprite
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

// Icon colours follow OpenStreetMap Carto's groups.
const (
	food     = "#c77400"
	amenity  = "#734a08"
	health   = "#bf0000"
	shop     = "#ac39ac"
	tourism  = "#0092da"
	leisure  = "#0c7b4e"
	historic = "#734a08"
	transit  = "#5b64a8"
)

// icons are the Maki icons the default style uses, with their colours.
var icons = map[string]string{
	"restaurant": food, "cafe": food, "fast-food": food, "bar": food, "beer": food,
	"bank": amenity, "post": amenity, "town-hall": amenity, "police": amenity, "fire-station": amenity,
	"library": amenity, "toilet": amenity, "drinking-water": amenity, "place-of-worship": amenity,
	"school": amenity, "college": amenity, "cinema": amenity, "theatre": amenity, "recycling": amenity,
	"embassy": amenity, "car-rental": amenity, "bicycle-share": amenity, "telephone": amenity,
	"shelter": amenity, "prison": amenity, "nightclub": amenity, "art-gallery": tourism,
	"hospital": health, "doctor": health, "dentist": health, "pharmacy": health, "veterinary": health,
	"defibrillator": health, "emergency-phone": health,
	"shop": shop, "grocery": shop, "convenience": shop, "bakery": shop, "clothing-store": shop,
	"hairdresser": shop, "florist": shop, "hardware": shop, "furniture": shop, "optician": shop,
	"jewelry-store": shop, "gift": shop, "alcohol-shop": shop, "shoe": shop, "garden-centre": shop,
	"bicycle": shop, "laundry": shop, "mobile-phone": shop,
	"lodging": tourism, "information": tourism, "viewpoint": tourism, "campsite": tourism,
	"picnic-site": tourism, "zoo": tourism, "amusement-park": tourism,
	"castle": historic, "monument": historic, "historic": historic,
	"lighthouse": amenity, "watermill": amenity, "windmill": amenity, "observation-tower": amenity,
	"playground": leisure, "swimming": leisure, "golf": leisure, "pitch": leisure, "stadium": leisure,
	"dog-park": leisure, "fitness-centre": leisure,
	"bus": transit, "rail": transit, "airport": transit, "ferry": transit, "aerialway": transit,
}

const page = `<!doctype html><canvas id=c></canvas><script>
async function raster(svg, size) {
  const img = new Image();
  img.src = 'data:image/svg+xml;base64,' + btoa(svg);
  await img.decode();
  const c = document.getElementById('c');
  c.width = size; c.height = size;
  const g = c.getContext('2d');
  g.clearRect(0, 0, size, size);
  g.drawImage(img, 0, 0, size, size);
  return c.toDataURL('image/png');
}
</script>`

func main() {
	dir := flag.String("icons", "web/node_modules/@mapbox/maki/icons", "Maki's icons directory")
	out := flag.String("out", "internal/defaultstyle/sprite", "output directory")
	chromium := flag.String("chromium", "/usr/bin/chromium", "Chromium binary")
	flag.Parse()
	if err := run(*dir, *out, *chromium); err != nil {
		fmt.Fprintln(os.Stderr, "spritegen:", err)
		os.Exit(1)
	}
}

func run(dir, out, chromium string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	profile, err := os.MkdirTemp("", "spritegen")
	if err != nil {
		return err
	}
	defer os.RemoveAll(profile)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(chromium), chromedp.UserDataDir(profile),
		chromedp.Headless, chromedp.NoSandbox, chromedp.NoFirstRun, chromedp.Flag("disable-gpu", true))
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx, chromedp.Navigate("data:text/html;base64,"+base64.StdEncoding.EncodeToString([]byte(page)))); err != nil {
		return err
	}
	names := make([]string, 0, len(icons))
	for n := range icons {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, ratio := range []int{1, 2} {
		imgs := map[string]image.Image{}
		for _, n := range names {
			svg, err := os.ReadFile(filepath.Join(dir, n+".svg"))
			if err != nil {
				return err
			}
			coloured := strings.Replace(string(svg), "<svg ", fmt.Sprintf(`<svg fill="%s" `, icons[n]), 1)
			arg, _ := json.Marshal(coloured)
			url, err := chromedp.Run(bctx, chromedp.Evaluate[string](fmt.Sprintf("raster(%s, %d)", arg, 15*ratio), chromedp.EvalAwaitPromise))
			if err != nil {
				return fmt.Errorf("%s: %w", n, err)
			}
			b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(url, "data:image/png;base64,"))
			if err != nil {
				return err
			}
			if imgs[n], err = png.Decode(bytes.NewReader(b)); err != nil {
				return err
			}
		}
		if err := write(out, ratio, names, imgs); err != nil {
			return err
		}
	}
	return nil
}

// write packs the icons in rows of 16 and writes the sheet and its index.
func write(out string, ratio int, names []string, imgs map[string]image.Image) error {
	size, cols := 15*ratio, 16
	rows := (len(names) + cols - 1) / cols
	sheet := image.NewNRGBA(image.Rect(0, 0, cols*(size+2), rows*(size+2)))
	type entry struct {
		X          int `json:"x"`
		Y          int `json:"y"`
		Width      int `json:"width"`
		Height     int `json:"height"`
		PixelRatio int `json:"pixelRatio"`
	}
	index := map[string]entry{}
	for i, n := range names {
		x, y := (i%cols)*(size+2)+1, (i/cols)*(size+2)+1
		draw.Draw(sheet, image.Rect(x, y, x+size, y+size), imgs[n], image.Point{}, draw.Src)
		index[n] = entry{x, y, size, size, ratio}
	}
	suffix := ""
	if ratio > 1 {
		suffix = fmt.Sprintf("@%dx", ratio)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, sheet); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "sprite"+suffix+".png"), buf.Bytes(), 0o644); err != nil {
		return err
	}
	js, err := json.MarshalIndent(index, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "sprite"+suffix+".json"), append(js, '\n'), 0o644)
}
