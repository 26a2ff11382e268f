package draw

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"testing"
)

// coverage strokes lines opaque black on a transparent w×h canvas and
// returns the alpha of each pixel (0–1).
func coverage(w, h int, lines [][]Point, s StrokeStyle) []float64 {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	s.Color, s.Opacity = color.NRGBA{0, 0, 0, 255}, 1
	New(img).Stroke(lines, s)
	a := make([]float64, w*h)
	for i := range a {
		a[i] = float64(img.Pix[4*i+3]) / 255
	}
	return a
}

// distance is how far q is from the polyline.
func distance(q Point, line []Point) float64 {
	d := math.Inf(1)
	for i := range line {
		a, b := line[i], line[min(i+1, len(line)-1)]
		ab := sub(b, a)
		t := 0.0
		if l2 := ab.X*ab.X + ab.Y*ab.Y; l2 > 0 {
			t = max(0, min(1, ((q.X-a.X)*ab.X+(q.Y-a.Y)*ab.Y)/l2))
		}
		d = min(d, math.Hypot(q.X-a.X-t*ab.X, q.Y-a.Y-t*ab.Y))
	}
	return d
}

// TestStrokeRound compares round strokes with the exact shape, the points
// within half the width of the line, sampled 16×16 per pixel: sharp and
// folding turns, segments far shorter than the width, crossings and a
// closed ring stress the joins. Where the inner sides of a sharp turn
// between segments shorter than the width cross, a pixel can come out up
// to a third too dark (the outline overlaps itself there, and a non-zero
// rasterizer saturates); nowhere else may coverage be off by more than a
// tenth.
func TestStrokeRound(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	var walk []Point
	p := Point{40, 40}
	for range 40 {
		walk = append(walk, p)
		p = add(p, Point{rng.Float64()*6 - 2, rng.Float64()*6 - 2})
	}
	cases := []struct {
		name    string
		line    []Point
		width   float64
		corners int // pixels at inner corners of short segments
	}{
		{"zigzag", []Point{{10, 60}, {30, 20}, {50, 60}, {70, 20}, {90, 60}}, 9, 0},
		{"hairpin", []Point{{10, 30}, {90, 40}, {10, 50}}, 12, 0},
		{"fold back", []Point{{10, 50}, {80, 50}, {30, 50}}, 10, 0},
		{"short segments", []Point{{20, 50}, {22, 47}, {23, 50}, {25, 46}, {60, 40}, {61, 44}, {90, 45}}, 24, 3},
		{"random walk", walk, 15, 12},
		{"crossing", []Point{{10, 10}, {90, 90}, {90, 10}, {10, 90}}, 7, 0},
		{"ring", append(circle(50, 50, 30, 7, false), circle(50, 50, 30, 7, false)[0]), 11, 0},
		{"thin", []Point{{5, 5}, {95, 30}, {20, 90}}, 1.3, 0},
		{"long", []Point{{2, 3}, {97, 90}, {3, 97}}, 5, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const n = 100
			got := coverage(n, n, [][]Point{tc.line}, StrokeStyle{Width: tc.width, Cap: CapRound, Join: JoinRound})
			worst, sum, off := 0.0, 0.0, 0
			for y := range n {
				for x := range n {
					want := 0.0
					switch dc := distance(Point{float64(x) + 0.5, float64(y) + 0.5}, tc.line); {
					case dc < tc.width/2-0.75:
						want = 1
					case dc < tc.width/2+0.75:
						in := 0
						for sy := range 16 {
							for sx := range 16 {
								q := Point{float64(x) + (float64(sx)+0.5)/16, float64(y) + (float64(sy)+0.5)/16}
								if distance(q, tc.line) <= tc.width/2 {
									in++
								}
							}
						}
						want = float64(in) / 256
					}
					d := math.Abs(got[y*n+x] - want)
					if d > 0.1 {
						off++
					}
					worst, sum = max(worst, d), sum+d
				}
			}
			if off > tc.corners || worst > 0.3 || sum/(n*n) > 0.002 {
				t.Errorf("%d pixels off by more than 0.1, want at most %d; worst %.3f, mean %.4f", off, tc.corners, worst, sum/(n*n))
			}
		})
	}
}

func total(a []float64) float64 {
	s := 0.0
	for _, v := range a {
		s += v
	}
	return s
}

func TestStrokeEdgeCases(t *testing.T) {
	const n = 100
	style := StrokeStyle{Width: 8, Join: JoinMiter, Cap: CapButt}
	clean := coverage(n, n, [][]Point{{{10, 20}, {60, 20}, {60, 70}}}, style)
	t.Run("repeated points", func(t *testing.T) {
		got := coverage(n, n, [][]Point{{{10, 20}, {10, 20}, {60, 20}, {60, 20}, {60, 20 + 1e-5}, {60, 70}, {60, 70}}}, style)
		for i := range got {
			if math.Abs(got[i]-clean[i]) > 1.5/255 {
				t.Fatalf("pixel %d: %.3f, %.3f without repeats", i, got[i], clean[i])
			}
		}
	})
	t.Run("two points", func(t *testing.T) {
		for c, extra := range map[Cap]float64{CapButt: 0, CapRound: math.Pi * 16, CapSquare: 64} {
			got := total(coverage(n, n, [][]Point{{{20, 30}, {80, 50}}}, StrokeStyle{Width: 8, Cap: c}))
			if want := math.Hypot(60, 20)*8 + extra; math.Abs(got-want) > 0.01*want {
				t.Errorf("cap %d: area %.1f, want %.1f", c, got, want)
			}
		}
	})
	t.Run("one point", func(t *testing.T) {
		if got := total(coverage(n, n, [][]Point{{{50, 50}}}, StrokeStyle{Width: 10, Cap: CapButt})); got != 0 {
			t.Errorf("butt dot covers %.1f", got)
		}
		if got, want := total(coverage(n, n, [][]Point{{{50, 50}, {50, 50}}}, StrokeStyle{Width: 10, Cap: CapRound})), math.Pi*25; math.Abs(got-want) > 0.02*want {
			t.Errorf("round dot covers %.1f, want %.1f", got, want)
		}
		if got := total(coverage(n, n, [][]Point{{{50, 50}}}, StrokeStyle{Width: 10, Cap: CapSquare})); math.Abs(got-100) > 1 {
			t.Errorf("square dot covers %.1f, want 100", got)
		}
		if got := total(coverage(n, n, [][]Point{{}}, style)); got != 0 {
			t.Errorf("empty line covers %.1f", got)
		}
	})
	t.Run("miter limit", func(t *testing.T) {
		// A 20° turn back: the miter would reach 1/sin(10°) ≈ 5.8 widths
		// past the vertex.
		a := 10 * math.Pi / 180
		line := []Point{{10, 50 - 60*math.Sin(a)}, {70, 50}, {10, 50 + 60*math.Sin(a)}}
		tip := func(limit float64) float64 {
			got := coverage(n, n, [][]Point{line}, StrokeStyle{Width: 4, Join: JoinMiter, MiterLimit: limit})
			far := 0
			for x := 70; x < n; x++ {
				if got[50*n+x] > 0.05 {
					far = x - 70
				}
			}
			return float64(far)
		}
		if d := tip(10); d < 10 || d > 12 {
			t.Errorf("limit 10: miter reaches %.0f px past the vertex, want about 11.5", d)
		}
		if d := tip(4); d > 2 {
			t.Errorf("limit 4: miter reaches %.0f px past the vertex, want a bevel", d)
		}
	})
	t.Run("hairline", func(t *testing.T) {
		thin := total(coverage(n, n, [][]Point{{{10, 50.5}, {90, 50.5}}}, StrokeStyle{Width: 0.25}))
		if math.Abs(thin-80*0.25) > 0.5 {
			t.Errorf("0.25 px line: %.1f of ink, want 20", thin)
		}
	})
	t.Run("nothing", func(t *testing.T) {
		for _, s := range []StrokeStyle{{Width: 0}, {Width: -1}, {Width: math.NaN()}} {
			if got := total(coverage(n, n, [][]Point{{{10, 10}, {90, 90}}}, s)); got != 0 {
				t.Errorf("width %v: %.1f of ink", s.Width, got)
			}
		}
		if got := total(coverage(n, n, [][]Point{{{math.NaN(), 10}, {90, 90}}, {{10, 10}, {math.Inf(1), 90}}}, style)); got != 0 {
			t.Errorf("non-finite points: %.1f of ink", got)
		}
	})
}

func TestStrokeSemiTransparentOverlap(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 60, 60))
	// A line crossing itself and folding back over itself.
	New(img).Stroke([][]Point{{{5, 5}, {55, 55}, {55, 5}, {5, 55}, {30, 30}, {5, 55}}},
		StrokeStyle{Width: 6, Color: color.NRGBA{255, 0, 0, 255}, Opacity: 0.5, Join: JoinRound})
	for i := 3; i < len(img.Pix); i += 4 {
		if a := img.Pix[i]; a > 128 {
			t.Fatalf("pixel %d: alpha %d, overlaps darkened", i/4, a)
		}
	}
}

func TestDashes(t *testing.T) {
	line := []Point{{0, 0}, {10, 0}, {10, 10}, {0, 10}}
	var on float64
	var n int
	dashes(line, []float64{4, 3}, 0, nil, func(d []Point, _ Point) {
		n++
		on += Length(d)
	})
	// 30 px: dashes at 0–4, 7–11 (round the corner), 14–18, 21–25, 28–30.
	if n != 5 || math.Abs(on-18) > 1e-9 {
		t.Errorf("%d dashes, %.2f px of dash; want 5, 18", n, on)
	}
	// Started 5 px into the pattern, a pixel into its gap: dashes at 2–6,
	// 9–13, 16–20, 23–27.
	n, on = 0, 0
	dashes(line, []float64{4, 3}, 5+7*3, nil, func(d []Point, _ Point) {
		n++
		on += Length(d)
	})
	if n != 4 || math.Abs(on-16) > 1e-9 {
		t.Errorf("with a phase: %d dashes, %.2f px of dash; want 4, 16", n, on)
	}
	for _, tc := range []struct {
		in   []float64
		want int
	}{
		{nil, 0}, {[]float64{5, 0}, 0}, {[]float64{0.2, 0.3}, 0}, {[]float64{2}, 2}, {[]float64{3, 1, 2}, 6}, {[]float64{-1, 4}, 2},
	} {
		if got := dashPattern(tc.in, nil); len(got) != tc.want {
			t.Errorf("dashPattern(%v) = %v", tc.in, got)
		}
	}
}

func TestOffsetLine(t *testing.T) {
	// Going right along y = 0 then down: right of the direction is +y,
	// then -x.
	got := offsetLine([]Point{{0, 0}, {10, 0}, {10, 10}}, 2, false, nil)
	want := []Point{{0, 2}, {8, 2}, {8, 10}}
	for i := range want {
		if len(got) != len(want) || math.Hypot(got[i].X-want[i].X, got[i].Y-want[i].Y) > 1e-9 {
			t.Fatalf("offsetLine = %v, want %v", got, want)
		}
	}
	// A hairpin is bevelled rather than mitred far away.
	got = offsetLine([]Point{{0, 0}, {10, 0}, {0, 1}}, 2, false, nil)
	for _, p := range got {
		if p.X > 13 {
			t.Errorf("offset point %v far beyond the turn", p)
		}
	}
}

func TestFill(t *testing.T) {
	const n = 100
	area := func(rule FillRule, rings ...[]Point) float64 {
		img := image.NewRGBA(image.Rect(0, 0, n, n))
		New(img).Fill(rings, rule, color.NRGBA{0, 0, 0, 255}, 1)
		s := 0.0
		for i := 3; i < len(img.Pix); i += 4 {
			s += float64(img.Pix[i]) / 255
		}
		return s
	}
	outer, hole := rect(10, 10, 90, 90), rect(30, 30, 70, 70)
	island := rect(40, 40, 60, 60)
	for _, tc := range []struct {
		name  string
		rule  FillRule
		rings [][]Point
		want  float64
	}{
		{"even-odd, hole same way", EvenOdd, [][]Point{outer, hole}, 6400 - 1600},
		{"even-odd, hole first", EvenOdd, [][]Point{hole, outer}, 6400 - 1600},
		{"even-odd, island", EvenOdd, [][]Point{outer, reversed(hole), island}, 6400 - 1600 + 400},
		{"non-zero, hole same way", NonZero, [][]Point{outer, hole}, 6400},
		{"non-zero, hole reversed", NonZero, [][]Point{outer, reversed(hole)}, 6400 - 1600},
		{"triangle", EvenOdd, [][]Point{{{0, 0}, {100, 0}, {0, 100}}}, 5000},
		{"partly outside", EvenOdd, [][]Point{rect(-1e6, 50, 1e6, 1e6)}, 5000},
		{"degenerate", EvenOdd, [][]Point{{{10, 10}, {20, 20}}, {{5, 5}, {50, 50}, {95, 95}}}, 0},
	} {
		if got := area(tc.rule, tc.rings...); math.Abs(got-tc.want) > 1 {
			t.Errorf("%s: area %.1f, want %.0f", tc.name, got, tc.want)
		}
	}
}

func TestComposite(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 4, 1))
	copy(img.Pix, []byte{255, 255, 255, 255, 0, 0, 0, 0, 100, 50, 0, 200, 0, 0, 0, 255})
	c := New(img)
	c.composite([]byte{255, 255, 128, 0}, img.Rect, premul(color.NRGBA{0, 0, 255, 255}, 0.5))
	want := []byte{
		128, 128, 255, 255, // half blue over white
		0, 0, 128, 128, // half blue over nothing, premultiplied
		75, 38, 64, 214, // a quarter over a premultiplied colour
		0, 0, 0, 255, // untouched
	}
	for i := range want {
		if d := int(img.Pix[i]) - int(want[i]); d > 1 || d < -1 {
			t.Fatalf("pixels %v, want %v", img.Pix, want)
		}
	}
}

func TestClipAndOffset(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 50, 50))
	c := New(img)
	c.SetClip(image.Rect(10, 10, 20, 20))
	c.SetOffset(Point{-100, -100})
	c.Fill([][]Point{rect(100, 100, 150, 150)}, NonZero, color.NRGBA{0, 0, 0, 255}, 1)
	for y := range 50 {
		for x := range 50 {
			inside := x >= 10 && x < 20 && y >= 10 && y < 20
			if a := img.RGBAAt(x, y).A; (a == 255) != inside {
				t.Fatalf("pixel (%d, %d): alpha %d", x, y, a)
			}
		}
	}
}

// TestHugeStroke strokes a line between far-away points across a small
// canvas: clipped, it must cost little and land where it should.
func TestHugeStroke(t *testing.T) {
	got := coverage(100, 100, [][]Point{{{-1e8, 50}, {1e8, 50}}}, StrokeStyle{Width: 10})
	if s := total(got); math.Abs(s-1000) > 1 {
		t.Errorf("ink %.1f, want 1000", s)
	}
}

// TestClippedDashes checks that a dashed line reaching far beyond the
// canvas is dashed as if it were all drawn.
func TestClippedDashes(t *testing.T) {
	line := []Point{{-500, 20}, {100, 80}, {600, 20}}
	style := StrokeStyle{Width: 4, Cap: CapRound, Join: JoinRound, Dash: []float64{9, 5}}
	small := coverage(100, 100, [][]Point{line}, style)
	// The same line on a canvas that holds it all, 1200 px wide.
	img := image.NewRGBA(image.Rect(0, 0, 1200, 100))
	c := New(img)
	c.SetOffset(Point{600, 0})
	style.Color, style.Opacity = color.NRGBA{0, 0, 0, 255}, 1
	c.Stroke([][]Point{line}, style)
	for y := range 100 {
		for x := range 100 {
			if d := small[y*100+x] - float64(img.RGBAAt(600+x, y).A)/255; math.Abs(d) > 2.0/255 {
				t.Fatalf("pixel (%d, %d) differs by %.3f", x, y, d)
			}
		}
	}
}

// TestDilation checks the outline a halo is made of against the exact
// shape: the points inside the glyph-like polygon or within d of it.
func TestDilation(t *testing.T) {
	const n, d = 100, 4.0
	// An outer ring with a hole (an "o"), wound the stroker's way: outer
	// negative, hole positive.
	outer, hole := reversed(circle(50, 50, 35, 40, false)), rect(40, 35, 60, 65)
	if signedArea(outer) > 0 || signedArea(hole) < 0 {
		t.Fatal("test rings wound the wrong way")
	}
	img := image.NewRGBA(image.Rect(0, 0, n, n))
	c := New(img)
	var glyph path
	glyph.reset()
	glyph.addPolygon(outer)
	glyph.addPolygon(hole)
	c.dilate(&glyph, &c.shape, d)
	c.paint(&c.shape, 0xff000000, 0)
	edge := func(q Point) float64 {
		return min(distance(q, append(outer, outer[0])), distance(q, append(hole, hole[0])))
	}
	inside := func(q Point) bool { return contains(outer, q) && !contains(hole, q) || edge(q) <= d }
	off := 0
	for y := range n {
		for x := range n {
			want := 0.0
			switch e := edge(Point{float64(x) + 0.5, float64(y) + 0.5}); {
			case e < d-0.75:
				want = 1
			case e < d+0.75:
				in := 0
				for sy := range 8 {
					for sx := range 8 {
						if inside(Point{float64(x) + (float64(sx)+0.5)/8, float64(y) + (float64(sy)+0.5)/8}) {
							in++
						}
					}
				}
				want = float64(in) / 64
			case inside(Point{float64(x) + 0.5, float64(y) + 0.5}):
				want = 1
			}
			if math.Abs(float64(img.Pix[4*(y*n+x)+3])/255-want) > 0.1 {
				off++
			}
		}
	}
	if off > 0 {
		t.Errorf("%d pixels off by more than 0.1", off)
	}
}
