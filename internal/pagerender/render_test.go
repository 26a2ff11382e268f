package pagerender

import (
	"bytes"
	"flag"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden thumbnails in testdata")

// near reports whether c is within tol of (r, g, b) in every channel.
func near(c color.Color, r, g, b, tol int) bool {
	cr, cg, cb, _ := c.RGBA()
	d := func(v uint32, want int) bool { x := int(v>>8) - want; return x <= tol && x >= -tol }
	return d(cr, r) && d(cg, g) && d(cb, b)
}

type pixel struct {
	x, y    int
	r, g, b int
}

// checkPixels compares img's colours at the given places, with the
// tolerance JPEG needs.
func checkPixels(t *testing.T, img image.Image, want []pixel) {
	t.Helper()
	for _, p := range want {
		if c := img.At(p.x, p.y); !near(c, p.r, p.g, p.b, 12) {
			r, g, b, _ := c.RGBA()
			t.Errorf("pixel (%d,%d) is (%d,%d,%d), want (%d,%d,%d)", p.x, p.y, r>>8, g>>8, b>>8, p.r, p.g, p.b)
		}
	}
}

var (
	red   = [3]int{200, 40, 30}
	blue  = [3]int{30, 120, 200}
	green = [3]int{40, 160, 60}
	white = [3]int{255, 255, 255}
)

func px(x, y int, c [3]int) pixel { return pixel{x, y, c[0], c[1], c[2]} }

func TestCaptureSimplePage(t *testing.T) {
	f := setup(t)
	for _, u := range []string{f.url("/"), "http://127.0.0.1:" + f.port + "/"} {
		c := mustCapture(t, f.r, Job{URL: u})
		if got := c.Image.Bounds(); got != image.Rect(0, 0, 1024, 768) {
			t.Errorf("%s: image %v, want 1024x768", u, got)
		}
		if c.Title != "kiln simple" || c.Status != 200 || c.Partial || c.Blank {
			t.Errorf("%s: title %q status %d partial %v blank %v", u, c.Title, c.Status, c.Partial, c.Blank)
		}
		if c.URL != u {
			t.Errorf("URL %q, want %q", c.URL, u)
		}
		if c.Requests < 1 || c.Bytes < int64(len(simplePage)) {
			t.Errorf("%s: %d requests, %d bytes", u, c.Requests, c.Bytes)
		}
		if len(c.Blocked) != 0 {
			t.Errorf("%s: blocked %v", u, c.Blocked)
		}
		// The JPEG is the image Chromium encoded.
		img, err := jpeg.Decode(bytes.NewReader(c.JPEG))
		if err != nil || img.Bounds() != c.Image.Bounds() {
			t.Errorf("%s: JPEG %v %v", u, err, img.Bounds())
		}
		checkPixels(t, c.Image, []pixel{
			px(5, 5, white), px(101, 201, red), px(250, 275, red), px(398, 348, red), px(402, 275, white),
			px(250, 352, white), px(700, 450, blue), px(601, 401, blue), px(598, 450, white),
			px(512, 740, green), px(2, 766, green), px(1021, 702, green), px(512, 697, white),
		})
	}
}

func TestCaptureBlankPage(t *testing.T) {
	f := setup(t)
	c := mustCapture(t, f.r, Job{URL: f.url("/blank")})
	if !c.Blank || c.Title != "nothing" {
		t.Errorf("blank %v, title %q", c.Blank, c.Title)
	}
	c = mustCapture(t, f.r, Job{URL: f.url("/text")})
	if c.Blank {
		t.Error("a page of text is blank")
	}
}

func TestCaptureFullPage(t *testing.T) {
	f := setup(t)
	tests := []struct {
		name      string
		path      string
		maxHeight int
		full      bool
		height    int
		pixels    []pixel
	}{
		{"viewport", "/tall", 0, false, 768, []pixel{px(10, 50, red), px(10, 700, white)}},
		{"full", "/tall", 0, true, 3000,
			[]pixel{px(10, 50, red), px(1000, 99+0, red), px(10, 1000, white), px(500, 1550, blue), px(10, 2950, green), px(1020, 2998, green)}},
		{"cut", "/tall", 2000, true, 2000, []pixel{px(10, 50, red), px(500, 1550, blue), px(10, 1990, white)}},
		// A short page full-page is the viewport: never less.
		{"short", "/", 0, true, 768, []pixel{px(250, 275, red), px(512, 740, green)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := f.r
			if tc.maxHeight > 0 {
				r = f.with(func(o *Options) { o.MaxHeight = tc.maxHeight })
			}
			c := mustCapture(t, r, Job{URL: f.url(tc.path), FullPage: tc.full})
			if got := c.Image.Bounds().Size(); got != image.Pt(1024, tc.height) {
				t.Fatalf("image %v, want 1024x%d", got, tc.height)
			}
			checkPixels(t, c.Image, tc.pixels)
		})
	}
}

// with is a renderer on the shared browsers with other options.
func (f *fixture) with(change func(*Options)) *Renderer {
	o := f.r.opts
	change(&o)
	return &Renderer{opts: o, guard: f.guard, pool: f.r.pool}
}

// testSource is a 1024x768 capture: red top half, blue bottom half, and a
// green band of 24 rows at the bottom.
func testSource() *image.RGBA {
	src := image.NewRGBA(image.Rect(0, 0, 1024, 768))
	for y := range 768 {
		c := []byte{200, 40, 30, 255}
		if y >= 384 {
			c = []byte{30, 120, 200, 255}
		}
		if y >= 744 {
			c = []byte{40, 160, 60, 255}
		}
		row := src.Pix[y*src.Stride : y*src.Stride+4*1024]
		for x := 0; x < len(row); x += 4 {
			copy(row[x:], c)
		}
	}
	return src
}

func TestThumbnailSizes(t *testing.T) {
	t.Parallel() // no browser
	src := testSource()
	tests := []struct {
		size   string
		want   Size
		pixels []pixel
	}{
		// 768*111/1024 = 83.25 rows: cropped to 82, the green band cut.
		{"small", Small, []pixel{px(55, 10, red), px(55, 60, blue)}},
		{"LARGE", Large, []pixel{px(100, 10, red), px(100, 120, blue)}},
		{"", Large, []pixel{px(100, 10, red)}},
		// Wide and short: only the top of the page (100 rows of a 240-row
		// scale).
		{"320x100", Size{320, 100}, []pixel{px(160, 50, red), px(160, 98, red)}},
		// Narrow and tall: the whole page (75 rows) then white.
		{"100x300", Size{100, 300}, []pixel{px(50, 10, red), px(50, 55, blue), px(50, 74, green), px(50, 76, white), px(50, 299, white)}},
		// Upscaled.
		{"1x1", Size{1, 1}, nil},
	}
	for _, tc := range tests {
		s, err := ParseSize(tc.size)
		if err != nil || s != tc.want {
			t.Errorf("ParseSize(%q) = %v, %v", tc.size, s, err)
			continue
		}
		th := Thumbnail(src, s)
		if th.Bounds() != image.Rect(0, 0, s.W, s.H) {
			t.Errorf("%v: thumbnail %v", s, th.Bounds())
		}
		checkPixels(t, th, tc.pixels)
	}
	for _, bad := range []string{"0x10", "10x0", "4097x10", "10x", "x", "big", "-1x5", "10x10x10"} {
		if s, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) = %v", bad, s)
		}
	}
	// A source not at the origin.
	sub := src.SubImage(image.Rect(0, 384, 1024, 768))
	checkPixels(t, Thumbnail(sub, Size{100, 100}), []pixel{px(50, 10, blue), px(50, 36, green), px(50, 60, white)})
	// Upscaled: a 256x192 part to twice its size.
	sub = src.SubImage(image.Rect(0, 288, 256, 480))
	checkPixels(t, Thumbnail(sub, Size{512, 384}), []pixel{px(256, 180, red), px(256, 200, blue), px(256, 380, blue)})
}

// TestThumbnailGolden captures a page and compares its thumbnails with
// the golden ones in testdata (go test -update rewrites them).
func TestThumbnailGolden(t *testing.T) {
	f := setup(t)
	c := mustCapture(t, f.r, Job{URL: f.url("/golden")})
	for _, s := range []Size{Small, Large, {320, 100}, {100, 300}} {
		th := Thumbnail(c.Image, s)
		name := filepath.Join("testdata", "golden-"+s.String()+".png")
		if *update {
			var b bytes.Buffer
			if err := png.Encode(&b, th); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(name, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		file, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		want, err := png.Decode(file)
		file.Close()
		if err != nil {
			t.Fatal(err)
		}
		if want.Bounds() != th.Bounds() {
			t.Errorf("%v: %v, golden %v", s, th.Bounds(), want.Bounds())
			continue
		}
		// JPEG and the rasteriser may differ a little between Chromium
		// builds: the mean difference must be small, and no pixel far off.
		mean, worst := imageDiff(th, want)
		if mean > 2 || worst > 48 {
			t.Errorf("%v: differs from %s: mean %.2f, worst %d", s, name, mean, worst)
		}
	}
}

// imageDiff is the mean and largest difference of two images' channels.
func imageDiff(a, b image.Image) (float64, int) {
	var sum, n float64
	worst := 0
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ar, ag, ab, _ := a.At(x, y).RGBA()
			br, bg, bb, _ := b.At(x, y).RGBA()
			for _, d := range []int{int(ar>>8) - int(br>>8), int(ag>>8) - int(bg>>8), int(ab>>8) - int(bb>>8)} {
				d = max(d, -d)
				sum += float64(d)
				n++
				worst = max(worst, d)
			}
		}
	}
	return sum / n, worst
}

// TestIsolation: every page has a fresh profile: no cookie, storage or
// cache of an earlier page.
func TestIsolation(t *testing.T) {
	f := setup(t)
	for i := range 2 {
		c := mustCapture(t, f.r, Job{URL: f.url("/state")})
		// The page sees the cookie of its own answer only.
		if want := "cookie=srv=1;ls=;ss=;header="; c.Title != want {
			t.Errorf("capture %d: the page saw %q, want %q", i, c.Title, want)
		}
	}
	// Same from another name of the same server, and by address.
	for _, u := range []string{"http://127.0.0.1:" + f.port + "/state"} {
		if c := mustCapture(t, f.r, Job{URL: u}); !strings.HasSuffix(c.Title, "ls=;ss=;header=") {
			t.Errorf("%s: the page saw %q", u, c.Title)
		}
	}
}

// TestSettle: after the load event the page is captured once the network
// is quiet: an image that comes later is in the capture, and answers that
// Chromium does not report to the end (a cross-site frame's document, a
// blocked opaque answer) do not hold the capture to the settle cap.
func TestSettle(t *testing.T) {
	f := setup(t)
	rec := &recorder{}
	r := f.with(func(o *Options) { o.Log = slog.New(rec) })
	c := mustCapture(t, r, Job{URL: f.url("/settle")})
	checkPixels(t, c.Image, []pixel{px(200, 400, [3]int{255, 0, 0}), px(50, 400, white)})
	if rec.has("page not settled: captured at the settle cap") {
		t.Error("the page did not settle before the cap")
	}
	if len(c.Blocked) != 1 {
		t.Errorf("blocked %v", c.Blocked)
	}
	// The same with the forbidden sub-resources of every kind.
	mustCapture(t, r, Job{URL: f.url("/sub-evil?by=name")})
	if rec.has("page not settled: captured at the settle cap") {
		t.Error("the page with forbidden sub-resources did not settle before the cap")
	}
}

// TestSeen: a page loads in a minimized window, unseen, and is shown once
// it has loaded: what it does only when seen (a lazy image in view,
// animation frames) is in the capture.
func TestSeen(t *testing.T) {
	f := setup(t)
	c := mustCapture(t, f.r, Job{URL: f.url("/seen")})
	checkPixels(t, c.Image, []pixel{
		px(100, 100, [3]int{255, 0, 0}), px(400, 100, [3]int{0, 0, 255}), px(700, 100, [3]int{0, 160, 0}), px(900, 100, white),
	})
}

// TestSettleChain: what the last answer sets off is waited for, though
// the page's script works longer than the network's quiet before it asks.
// A page whose script breaks the renderer's question (it replaced
// requestAnimationFrame) is settled by the network's quiet, not at the cap.
func TestSettleChain(t *testing.T) {
	f := setup(t)
	c := mustCapture(t, f.r, Job{URL: f.url("/chain")})
	checkPixels(t, c.Image, []pixel{px(200, 200, [3]int{255, 0, 0}), px(50, 50, white)})

	rec := &recorder{}
	r := f.with(func(o *Options) { o.Log = slog.New(rec) })
	c = mustCapture(t, r, Job{URL: f.url("/no-frames")})
	if c.Title != "kiln no frames" {
		t.Errorf("title %q", c.Title)
	}
	checkPixels(t, c.Image, []pixel{px(200, 200, [3]int{255, 0, 0})})
	if !rec.has("page settled by the network's quiet alone") || rec.has("page not settled: captured at the settle cap") {
		t.Errorf("not settled by the network's quiet: %v", rec.recs)
	}
}

// TestBlank: the fast path for JPEG captures agrees with the general one.
func TestBlank(t *testing.T) {
	t.Parallel() // no browser
	flat := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for i := range flat.Pix {
		flat.Pix[i] = 250
	}
	for _, tc := range []struct {
		name  string
		img   image.Image
		blank bool
	}{
		{"flat", flat, true},
		{"blocks", testSource(), false},
		{"flat part", testSource().SubImage(image.Rect(10, 10, 300, 300)), true},
		{"two parts", testSource().SubImage(image.Rect(10, 300, 300, 500)), false},
	} {
		var b bytes.Buffer
		if err := jpeg.Encode(&b, tc.img, &jpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
		dec, err := jpeg.Decode(&b)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := dec.(*image.YCbCr); !ok {
			t.Fatalf("JPEG decodes to %T", dec)
		}
		if got := blank(tc.img); got != tc.blank {
			t.Errorf("%s: blank %v", tc.name, got)
		}
		if got := blank(dec); got != tc.blank {
			t.Errorf("%s as JPEG: blank %v", tc.name, got)
		}
	}
}

// TestDeadHostBlocked: once the proxy has refused a host, the page's
// later requests to it fail in the renderer without reaching the proxy,
// and the page is captured as ever.
func TestDeadHostBlocked(t *testing.T) {
	f := setup(t)
	c := mustCapture(t, f.r, Job{URL: f.url("/dead-later")})
	if c.Title != "kiln dead later" {
		t.Errorf("title %q", c.Title)
	}
	// The live image whose query names the dead host is not blocked.
	checkPixels(t, c.Image, []pixel{px(500, 500, [3]int{0, 170, 0}), px(250, 250, [3]int{255, 0, 0})})
	// The document, the two first images (the second refusal of the host
	// blocks it), the live one, and the late ones sent before the
	// renderer heard of the block: none here, that takes a few
	// milliseconds and they come 60 ms later. Half of them name the
	// default port, half the port of the server.
	if c.Requests > 4 {
		t.Errorf("the proxy saw %d requests, want the document, the two first images and the live one", c.Requests)
	}
}
