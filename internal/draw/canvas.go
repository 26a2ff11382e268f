package draw

import (
	"encoding/binary"
	"image"
	"image/color"
	stddraw "image/draw"
	"math"

	"golang.org/x/image/vector"
)

// Point is a position in pixels, x to the right and y down.
type Point struct{ X, Y float64 }

// Canvas draws into an *image.RGBA. It keeps the rasterizer and scratch
// buffers between calls, so reuse one Canvas for a whole metatile. A Canvas
// is not safe for concurrent use.
type Canvas struct {
	dst    *image.RGBA
	clip   image.Rectangle
	offset Point

	ras   vector.Rasterizer
	mask  []byte
	shape path // the polygons of the shape being drawn
	text  path // glyph outlines, kept apart from their halo
	strk  stroker

	// Scratch space.
	pts, offs, dashCur, runs []Point
	dashBuf                  []float64
	clipA, clipB             []Point
	tileCount                []int32
	tileItems                []int32
	blurBuf                  []byte
	blits                    []blit
}

// New returns a Canvas drawing into dst, clipped to dst's bounds.
// Coordinates are dst's own pixel coordinates until SetOffset says
// otherwise.
func New(dst *image.RGBA) *Canvas {
	return &Canvas{dst: dst, clip: dst.Bounds()}
}

// Reset makes the canvas draw into dst, as New does, keeping its scratch
// buffers: a renderer reuses one canvas per worker for many metatiles.
func (c *Canvas) Reset(dst *image.RGBA) {
	c.dst, c.clip, c.offset = dst, dst.Bounds(), Point{}
}

// Image returns the image the canvas draws into.
func (c *Canvas) Image() *image.RGBA { return c.dst }

// SetClip restricts drawing to r (in dst's pixel coordinates), intersected
// with dst's bounds.
func (c *Canvas) SetClip(r image.Rectangle) { c.clip = r.Intersect(c.dst.Bounds()) }

// SetOffset makes every later drawing call translate its coordinates by d,
// e.g. minus the metatile's top-left corner when features come in world
// pixel coordinates.
func (c *Canvas) SetOffset(d Point) { c.offset = d }

// path holds closed polygons in canvas pixels until they are rasterized
// together in one pass.
type path struct {
	pts   []Point
	ends  []int // end of each polygon in pts
	boxes []box // bounds of each polygon
	all   box
}

// box is an axis-aligned bounding box.
type box struct{ x0, y0, x1, y1 float64 }

func emptyBox() box { return box{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)} }

func (b box) union(o box) box {
	return box{min(b.x0, o.x0), min(b.y0, o.y0), max(b.x1, o.x1), max(b.y1, o.y1)}
}

func (b box) finite() bool {
	return !math.IsInf(b.x0, 0) && !math.IsInf(b.x1, 0) && !math.IsInf(b.y0, 0) && !math.IsInf(b.y1, 0) &&
		b.x0 == b.x0 && b.x1 == b.x1 && b.y0 == b.y0 && b.y1 == b.y1
}

func (b box) within(o box) bool {
	return b.x0 >= o.x0 && b.y0 >= o.y0 && b.x1 <= o.x1 && b.y1 <= o.y1
}

func (b box) meets(o box) bool {
	return b.x0 < o.x1 && b.x1 > o.x0 && b.y0 < o.y1 && b.y1 > o.y0
}

func (p *path) reset() {
	p.pts, p.ends, p.boxes = p.pts[:0], p.ends[:0], p.boxes[:0]
	p.all = emptyBox()
}

// addPolygon appends a closed polygon; polygons with fewer than three
// points or a coordinate that is not finite are dropped.
func (p *path) addPolygon(pts []Point) {
	if len(pts) < 3 {
		return
	}
	b := emptyBox()
	for _, q := range pts {
		b.x0, b.x1 = min(b.x0, q.X), max(b.x1, q.X)
		b.y0, b.y1 = min(b.y0, q.Y), max(b.y1, q.Y)
	}
	if !b.finite() {
		return
	}
	p.pts = append(p.pts, pts...)
	p.ends = append(p.ends, len(p.pts))
	p.boxes = append(p.boxes, b)
	p.all = p.all.union(b)
}

func (p *path) polygon(i int) []Point {
	start := 0
	if i > 0 {
		start = p.ends[i-1]
	}
	return p.pts[start:p.ends[i]]
}

// premul turns a style colour and opacity into packed premultiplied RGBA
// (R in the low byte).
func premul(c color.NRGBA, opacity float64) uint32 {
	if !(opacity > 0) { // NaN too
		return 0
	}
	a := float64(c.A) / 255 * min(1, opacity)
	ch := func(v uint8) uint32 { return uint32(float64(v)*a + 0.5) }
	return ch(c.R) | ch(c.G)<<8 | ch(c.B)<<16 | uint32(a*255+0.5)<<24
}

const (
	tileSize = 64
	// A path whose polygons cover less than this fraction of its bounding
	// box is rasterized tile by tile.
	sparse = 0.5
)

// paint rasterizes p (non-zero winding) and composites src (packed
// premultiplied) through the coverage onto the canvas. blur > 0 softens the
// mask with a box blur of that radius (text halos).
func (c *Canvas) paint(p *path, src uint32, blur int) {
	if src>>24 == 0 || len(p.ends) == 0 {
		return
	}
	b := p.all
	r := image.Rect(int(math.Floor(b.x0))-blur, int(math.Floor(b.y0))-blur,
		int(math.Ceil(b.x1))+blur, int(math.Ceil(b.y1))+blur).Intersect(c.clip)
	if r.Empty() {
		return
	}
	switch {
	case blur > 0 || r.Dx()*r.Dy() <= 4*tileSize*tileSize:
		c.raster(p, nil, r, src, blur)
	case c.isSparse(p, r):
		c.paintTiles(p, r, src)
	default:
		// Dense shapes go in blocks of at most maxMask pixels a side, each
		// with the polygons clipped to it: the same coverage as one pass,
		// while the rasterizer's buffers stay at 1 MB instead of the 20 MB
		// a metatile-sized mask takes, per canvas.
		for y := r.Min.Y; y < r.Max.Y; y += maxMask {
			for x := r.Min.X; x < r.Max.X; x += maxMask {
				c.raster(p, nil, image.Rect(x, y, x+maxMask, y+maxMask).Intersect(r), src, 0)
			}
		}
	}
}

// maxMask bounds the side of the masks dense shapes are rasterized in.
const maxMask = 512

// isSparse reports whether p's polygons cover little of r, like the pieces
// of a long diagonal stroke.
func (c *Canvas) isSparse(p *path, r image.Rectangle) bool {
	limit := sparse * float64(r.Dx()) * float64(r.Dy())
	area := 0.0
	for _, b := range p.boxes {
		area += (b.x1 - b.x0 + 1) * (b.y1 - b.y0 + 1)
		if area > limit {
			return false
		}
	}
	return true
}

// paintTiles rasterizes p tile by tile over r, each tile with the polygons
// whose bounds meet it: a polygon that does not cross a tile contributes
// nothing to it, so the result is the same as one pass over r.
func (c *Canvas) paintTiles(p *path, r image.Rectangle, src uint32) {
	cols := (r.Dx() + tileSize - 1) / tileSize
	rows := (r.Dy() + tileSize - 1) / tileSize
	span := func(b box) (tx0, ty0, tx1, ty1 int) {
		tx0 = max(0, (int(math.Floor(b.x0))-r.Min.X)/tileSize)
		ty0 = max(0, (int(math.Floor(b.y0))-r.Min.Y)/tileSize)
		tx1 = min(cols-1, (int(math.Ceil(b.x1))-r.Min.X)/tileSize)
		ty1 = min(rows-1, (int(math.Ceil(b.y1))-r.Min.Y)/tileSize)
		return
	}
	// Counting sort of polygon indices by tile.
	count := growInt32(c.tileCount[:0], cols*rows+1)
	for _, b := range p.boxes {
		tx0, ty0, tx1, ty1 := span(b)
		for ty := ty0; ty <= ty1; ty++ {
			for tx := tx0; tx <= tx1; tx++ {
				count[ty*cols+tx+1]++
			}
		}
	}
	for i := 1; i < len(count); i++ {
		count[i] += count[i-1]
	}
	items := growInt32(c.tileItems[:0], int(count[len(count)-1]))
	fill := count[:len(count)-1]
	for i, b := range p.boxes {
		tx0, ty0, tx1, ty1 := span(b)
		for ty := ty0; ty <= ty1; ty++ {
			for tx := tx0; tx <= tx1; tx++ {
				t := ty*cols + tx
				items[fill[t]] = int32(i)
				fill[t]++
			}
		}
	}
	// fill[t] now ends tile t's items, and tile t starts where t-1 ends.
	start := int32(0)
	for t := 0; t < cols*rows; t++ {
		end := fill[t]
		if end > start {
			tx, ty := t%cols, t/cols
			tr := image.Rect(r.Min.X+tx*tileSize, r.Min.Y+ty*tileSize,
				r.Min.X+(tx+1)*tileSize, r.Min.Y+(ty+1)*tileSize).Intersect(r)
			c.raster(p, items[start:end], tr, src, 0)
		}
		start = end
	}
	c.tileCount, c.tileItems = count, items
}

func growInt32(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// raster rasterizes the polygons of p listed in which (all when nil) into
// a mask covering r and composites src through it.
func (c *Canvas) raster(p *path, which []int32, r image.Rectangle, src uint32, blur int) {
	m := c.rasterize(p, which, r)
	if blur > 0 {
		c.blurBuf = boxBlur(m, r.Dx(), r.Dy(), blur, c.blurBuf)
	}
	c.composite(m, r, src)
}

// rasterize returns the coverage of the polygons of p listed in which
// (all when nil) over r, as a mask of r's size (stride r.Dx()) in scratch
// space.
func (c *Canvas) rasterize(p *path, which []int32, r image.Rectangle) []byte {
	w, h := r.Dx(), r.Dy()
	c.ras.Reset(w, h)
	// Polygons reaching far outside r are clipped to it (plus a pixel):
	// vector walks every row an edge spans and loses float32 precision far
	// from the origin.
	ox, oy := float64(r.Min.X), float64(r.Min.Y)
	near := box{ox - 64, oy - 64, float64(r.Max.X) + 64, float64(r.Max.Y) + 64}
	cut := box{ox - 1, oy - 1, float64(r.Max.X) + 1, float64(r.Max.Y) + 1}
	add := func(i int) {
		b := p.boxes[i]
		if !b.meets(cut) {
			return
		}
		pts := p.polygon(i)
		if !b.within(near) {
			pts = c.clipPolygon(pts, cut)
			if len(pts) < 3 {
				return
			}
		}
		first := Point{pts[0].X - ox, pts[0].Y - oy}
		c.ras.MoveTo(float32(first.X), float32(first.Y))
		prev := first
		for _, q := range pts[1:] {
			q = Point{q.X - ox, q.Y - oy}
			c.lineTo(prev, q)
			prev = q
		}
		c.lineTo(prev, first)
	}
	if which == nil {
		for i := range p.ends {
			add(i)
		}
	} else {
		for _, i := range which {
			add(int(i))
		}
	}
	if cap(c.mask) < w*h {
		c.mask = make([]byte, w*h)
	}
	m := &image.Alpha{Pix: c.mask[:w*h], Stride: w, Rect: image.Rect(0, 0, w, h)}
	c.ras.DrawOp = stddraw.Src
	c.ras.Draw(m, m.Rect, image.Opaque, image.Point{})
	return m.Pix
}

// rowsPerEdge bounds the rows an edge spans when it reaches the
// rasterizer: vector's fixed-point path (used up to 512 pixels) truncates
// the step from row to row, drifting up to 1/512 pixel a row.
const rowsPerEdge = 16

// lineTo adds edge a→b to the rasterizer, in pieces of rowsPerEdge rows.
func (c *Canvas) lineTo(a, b Point) {
	if n := math.Abs(b.Y-a.Y) / rowsPerEdge; n > 1 {
		k := int(math.Ceil(n))
		for i := 1; i < k; i++ {
			t := float64(i) / float64(k)
			c.ras.LineTo(float32(a.X+t*(b.X-a.X)), float32(a.Y+t*(b.Y-a.Y)))
		}
	}
	c.ras.LineTo(float32(b.X), float32(b.Y))
}

// composite blends src (packed premultiplied) over the canvas at r with
// the coverage in mask (r's size, stride r.Dx()).
func (c *Canvas) composite(mask []byte, r image.Rectangle, src uint32) {
	w := r.Dx()
	srb, sga := src&0x00ff00ff, (src>>8)&0x00ff00ff
	opaque := src>>24 == 0xff
	for y := range r.Dy() {
		row := mask[y*w : y*w+w]
		off := c.dst.PixOffset(r.Min.X, r.Min.Y+y)
		pix := c.dst.Pix[off : off+4*w]
		for x := 0; x < len(row); x++ {
			m := uint32(row[x])
			if m == 0 {
				for x+9 <= len(row) && binary.LittleEndian.Uint64(row[x+1:]) == 0 {
					x += 8
				}
				continue
			}
			p := pix[4*x : 4*x+4]
			s := src
			if m != 0xff {
				s = mulPacked(srb, m) | mulPacked(sga, m)<<8
			} else if opaque {
				binary.LittleEndian.PutUint32(p, src)
				continue
			}
			inv := 0xff - s>>24
			d := binary.LittleEndian.Uint32(p)
			d = mulPacked(d&0x00ff00ff, inv) | mulPacked((d>>8)&0x00ff00ff, inv)<<8
			binary.LittleEndian.PutUint32(p, s+d)
		}
	}
}

// mulPacked multiplies the two 8-bit lanes of v (bits 0–7 and 16–23) by
// m/255, rounded.
func mulPacked(v, m uint32) uint32 {
	v = v*m + 0x00800080
	return ((v + (v>>8)&0x00ff00ff) >> 8) & 0x00ff00ff
}

// clipPolygon clips a closed polygon to b (Sutherland–Hodgman). Inside b
// the result covers exactly what the polygon did, which is all a fill
// needs; the returned slice is scratch, valid until the next call.
func (c *Canvas) clipPolygon(pts []Point, b box) []Point {
	bufs := [2][]Point{c.clipA[:0], c.clipB[:0]}
	defer func() { c.clipA, c.clipB = bufs[0], bufs[1] }()
	in := pts
	for edge := range 4 {
		out := bufs[edge%2][:0]
		prev := in[len(in)-1]
		prevIn := inside(prev, b, edge)
		for _, q := range in {
			qIn := inside(q, b, edge)
			if qIn != prevIn {
				out = append(out, crossing(prev, q, b, edge))
			}
			if qIn {
				out = append(out, q)
			}
			prev, prevIn = q, qIn
		}
		bufs[edge%2] = out
		if len(out) < 3 {
			return nil
		}
		in = out
	}
	return in
}

// inside reports whether q is on the inner side of b's edge (left, right,
// top, bottom).
func inside(q Point, b box, edge int) bool {
	switch edge {
	case 0:
		return q.X >= b.x0
	case 1:
		return q.X <= b.x1
	case 2:
		return q.Y >= b.y0
	}
	return q.Y <= b.y1
}

// crossing is where segment pq crosses the line of b's edge.
func crossing(p, q Point, b box, edge int) Point {
	switch edge {
	case 0:
		return Point{b.x0, p.Y + (b.x0-p.X)/(q.X-p.X)*(q.Y-p.Y)}
	case 1:
		return Point{b.x1, p.Y + (b.x1-p.X)/(q.X-p.X)*(q.Y-p.Y)}
	case 2:
		return Point{p.X + (b.y0-p.Y)/(q.Y-p.Y)*(q.X-p.X), b.y0}
	}
	return Point{p.X + (b.y1-p.Y)/(q.Y-p.Y)*(q.X-p.X), b.y1}
}

// boxBlur blurs a w×h mask in place with a (2r+1)² box, one direction at a
// time; tmp is scratch.
func boxBlur(m []byte, w, h, r int, tmp []byte) []byte {
	if cap(tmp) < w*h {
		tmp = make([]byte, w*h)
	}
	tmp = tmp[:w*h]
	n := uint32(2*r + 1)
	pass := func(dst, src []byte, count, length, step, stride int) {
		for i := range count {
			base := i * stride
			var sum uint32
			at := func(k int) uint32 {
				if k < 0 || k >= length {
					return 0
				}
				return uint32(src[base+k*step])
			}
			for k := -r; k <= r; k++ {
				sum += at(k)
			}
			for k := range length {
				dst[base+k*step] = byte((sum + n/2) / n)
				sum += at(k+r+1) - at(k-r)
			}
		}
	}
	pass(tmp, m, h, w, 1, w)
	pass(m, tmp, w, h, w, 1)
	return tmp
}
