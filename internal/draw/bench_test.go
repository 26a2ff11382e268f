package draw

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"testing"
)

// benchCanvas is a 2048² metatile with an opaque background.
func benchCanvas() *Canvas {
	img := image.NewRGBA(image.Rect(0, 0, 2048, 2048))
	for i := range img.Pix {
		img.Pix[i] = 0xf2
	}
	return New(img)
}

// randomPolygons are star-shaped polygons of 5–14 vertices and radius
// 5–105 pixels spread over a 2048² canvas.
func randomPolygons(n int) [][]Point {
	rng := rand.New(rand.NewPCG(1, 2))
	polys := make([][]Point, n)
	for i := range polys {
		cx, cy := rng.Float64()*2048, rng.Float64()*2048
		r := 5 + rng.Float64()*100
		k := 5 + rng.IntN(10)
		for j := range k {
			a := 2 * math.Pi * float64(j) / float64(k)
			rr := r * (0.5 + rng.Float64()/2)
			polys[i] = append(polys[i], Point{cx + rr*math.Cos(a), cy + rr*math.Sin(a)})
		}
	}
	return polys
}

// randomLines are random walks of 5–20 vertices with steps of 10–60
// pixels, like streets.
func randomLines(n int) [][]Point {
	rng := rand.New(rand.NewPCG(3, 4))
	lines := make([][]Point, n)
	for i := range lines {
		p := Point{rng.Float64() * 2048, rng.Float64() * 2048}
		a := rng.Float64() * 2 * math.Pi
		for range 5 + rng.IntN(16) {
			lines[i] = append(lines[i], p)
			a += (rng.Float64() - 0.5) * 1.5
			l := 10 + rng.Float64()*50
			p = Point{p.X + l*math.Cos(a), p.Y + l*math.Sin(a)}
		}
	}
	return lines
}

func BenchmarkFill(b *testing.B) {
	polys := randomPolygons(3000)
	c := benchCanvas()
	col := color.NRGBA{40, 120, 200, 200}
	b.ResetTimer()
	for range b.N {
		for _, p := range polys {
			c.Fill([][]Point{p}, EvenOdd, col, 1)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(polys))/1e3, "µs/shape")
}

func benchStroke(b *testing.B, dash []float64) {
	lines := randomLines(3000)
	c := benchCanvas()
	rng := rand.New(rand.NewPCG(5, 6))
	widths := make([]float64, len(lines))
	for i := range widths {
		widths[i] = 1 + rng.Float64()*7
	}
	b.ResetTimer()
	for range b.N {
		for i, l := range lines {
			c.Stroke([][]Point{l}, StrokeStyle{Width: widths[i], Color: color.NRGBA{200, 60, 40, 255}, Opacity: 0.9,
				Cap: CapRound, Join: JoinRound, Dash: dash})
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(lines))/1e3, "µs/line")
}

func BenchmarkStroke(b *testing.B)       { benchStroke(b, nil) }
func BenchmarkStrokeDashed(b *testing.B) { benchStroke(b, []float64{6, 4}) }

// BenchmarkStrokeLong strokes roads crossing the whole metatile.
func BenchmarkStrokeLong(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	var lines [][]Point
	for range 100 {
		var l []Point
		y0, y1 := rng.Float64()*2048, rng.Float64()*2048
		for i := 0; i <= 40; i++ {
			t := float64(i) / 40
			l = append(l, Point{t * 2048, y0 + t*(y1-y0) + 20*math.Sin(t*20)})
		}
		lines = append(lines, l)
	}
	c := benchCanvas()
	b.ResetTimer()
	for range b.N {
		for _, l := range lines {
			c.Stroke([][]Point{l}, StrokeStyle{Width: 6, Color: color.NRGBA{255, 255, 255, 255}, Opacity: 1, Cap: CapRound, Join: JoinRound})
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(lines))/1e3, "µs/line")
}

func BenchmarkText(b *testing.B) {
	c := benchCanvas()
	rng := rand.New(rand.NewPCG(9, 10))
	type label struct {
		text string
		at   Point
	}
	labels := make([]label, 300)
	for i := range labels {
		labels[i] = label{fmt.Sprintf("Place %d Street", i%50), Point{rng.Float64() * 2048, rng.Float64() * 2048}}
	}
	st := TextStyle{Color: color.NRGBA{30, 30, 30, 255}, Opacity: 1, HaloColor: color.NRGBA{255, 255, 255, 255}, HaloWidth: 1.5}
	fonts := []string{"Noto Sans Regular"}
	b.ResetTimer()
	for range b.N {
		for _, l := range labels {
			blk := testFonts.Layout(l.text, fonts, 14, LayoutOptions{MaxWidth: 10})
			c.DrawText(blk, l.at, AnchorCenter, Point{}, 0, st)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(labels))/1e3, "µs/label")
}

func BenchmarkAlong(b *testing.B) {
	c := benchCanvas()
	lines := make([][]Point, 300)
	rng := rand.New(rand.NewPCG(11, 12))
	for i := range lines {
		x, y := rng.Float64()*1800, rng.Float64()*2000
		for k := 0; k <= 30; k++ {
			lines[i] = append(lines[i], Point{x + float64(k)*10, y + 15*math.Sin(float64(k)/5)})
		}
	}
	st := TextStyle{Color: color.NRGBA{30, 30, 30, 255}, Opacity: 1, HaloColor: color.NRGBA{255, 255, 255, 255}, HaloWidth: 1.5}
	fonts := []string{"Noto Sans Regular"}
	b.ResetTimer()
	for range b.N {
		for i, l := range lines {
			r := testFonts.Shape(fmt.Sprint("Long Street ", i%40), fonts, 13, 0)
			if p, ok := PlaceAlong(r, l, Length(l)/2, 45); ok {
				c.DrawPlacement(p, st)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(lines))/1e3, "µs/label")
}
