package draw

import (
	"image/color"
	"math"
)

// Cap is the shape at the ends of a stroked line (MapLibre line-cap).
type Cap uint8

// Line caps; the zero value is MapLibre's default.
const (
	CapButt   Cap = iota // ends square at the end point
	CapRound             // a half disc beyond the end point
	CapSquare            // a half square beyond the end point
)

// Join is the shape at the vertices of a stroked line (MapLibre
// line-join).
type Join uint8

// Line joins; the zero value is MapLibre's default.
const (
	JoinMiter Join = iota // sharp corners, bevelled beyond MiterLimit
	JoinRound             // rounded corners
	JoinBevel             // corners cut off
)

// StrokeStyle says how Stroke draws lines.
type StrokeStyle struct {
	// Width in pixels. Below one pixel a line is drawn one pixel wide with
	// its opacity scaled down by the width, so hairlines show, dimmed.
	Width float64
	// Color, not premultiplied, and Opacity (0–1; 0 draws nothing).
	Color   color.NRGBA
	Opacity float64
	Cap     Cap
	Join    Join
	// MiterLimit is the longest miter, as a multiple of the width, before
	// a miter join is bevelled (MapLibre line-miter-limit); 0 means 2.
	MiterLimit float64
	// Dash alternates dash and gap lengths in pixels, starting at each
	// line's first point and carrying on across its vertices (MapLibre
	// line-dasharray times the width). Each dash gets the caps. Nil draws
	// a solid line; so does a pattern shorter than a pixel in all.
	Dash []float64
	// Offset shifts the line sideways by this many pixels, to the right
	// of its direction when positive (MapLibre line-offset).
	Offset float64
}

// Points closer than this (pixels) are one point.
const samePoint = 1e-3

// Stroke draws lines (polylines in pixels) with style s, all in one pass:
// where lines or their parts overlap, a semi-transparent colour does not
// darken. A line whose last point equals its first is closed: joined
// there instead of capped.
func (c *Canvas) Stroke(lines [][]Point, s StrokeStyle) {
	width, opacity := s.Width, s.Opacity
	if !(width > 0) {
		return
	}
	if width < 1 {
		width, opacity = 1, opacity*width
	}
	src := premul(s.Color, opacity)
	if src>>24 == 0 {
		return
	}
	miter := s.MiterLimit
	if miter <= 0 {
		miter = 2
	}
	dash := dashPattern(s.Dash, c.dashBuf[:0])
	c.dashBuf = dash
	hw := width / 2
	reach := hw*max(miter, 1.5) + math.Abs(s.Offset) + 1
	view := box{float64(c.clip.Min.X) - reach, float64(c.clip.Min.Y) - reach,
		float64(c.clip.Max.X) + reach, float64(c.clip.Max.Y) + reach}

	c.shape.reset()
	c.strk.reset(&c.shape, hw, s.Cap, s.Join, miter)
	for _, line := range lines {
		pts, b := c.translated(line)
		if len(pts) == 0 || !b.meets(view) || !b.finite() {
			continue
		}
		pts = dedupe(pts)
		closed := len(pts) > 3 && near(pts[0], pts[len(pts)-1])
		if closed {
			pts = pts[:len(pts)-1]
		}
		if s.Offset != 0 && len(pts) > 1 {
			c.offs = offsetLine(pts, s.Offset, closed, c.offs[:0])
			pts = dedupe(c.offs)
		}
		if b.within(view) {
			c.strokeRun(pts, closed, dash, 0)
			continue
		}
		// Only what is near the canvas is stroked: the cuts, their caps
		// included, lie beyond reach of it.
		if closed {
			pts = append(pts, pts[0])
		}
		c.runs = visibleRuns(pts, view, c.runs[:0], func(run []Point, start float64) {
			c.strokeRun(run, false, dash, start)
		})
	}
	c.paint(&c.shape, src, 0)
}

// strokeRun strokes a polyline without repeated points, dashed when dash
// is not nil, the pattern starting start pixels along the line.
func (c *Canvas) strokeRun(pts []Point, closed bool, dash []float64, start float64) {
	if dash == nil {
		c.strk.polyline(pts, closed, Point{1, 0})
		return
	}
	if closed {
		pts = append(pts, pts[0])
	}
	c.dashCur = dashes(pts, dash, start, c.dashCur[:0], func(d []Point, dir Point) {
		c.strk.polyline(dedupe(d), false, dir)
	})
}

// visibleRuns calls emit with each stretch of the polyline pts inside b,
// and the distance along pts where it starts. run is scratch space,
// returned for reuse.
func visibleRuns(pts []Point, b box, run []Point, emit func([]Point, float64)) []Point {
	run, start, dist := run[:0], 0.0, 0.0
	flush := func() {
		if len(run) > 0 {
			emit(run, start)
			run = run[:0]
		}
	}
	for i := 1; i < len(pts); i++ {
		a, q := pts[i-1], pts[i]
		l := math.Hypot(q.X-a.X, q.Y-a.Y)
		t0, t1, ok := clipSegment(a, q, b)
		if !ok {
			flush()
		} else {
			if t0 > 0 {
				flush()
			}
			if len(run) == 0 {
				run, start = append(run, lerp(a, q, t0)), dist+t0*l
			}
			run = append(run, lerp(a, q, t1))
			if t1 < 1 {
				flush()
			}
		}
		dist += l
	}
	flush()
	return run
}

// clipSegment returns the part of segment a→b inside box c as the range
// [t0, t1] of its parameter (Liang–Barsky), or false if none is.
func clipSegment(a, b Point, c box) (t0, t1 float64, ok bool) {
	t0, t1 = 0, 1
	d := sub(b, a)
	for _, e := range [4][2]float64{{-d.X, a.X - c.x0}, {d.X, c.x1 - a.X}, {-d.Y, a.Y - c.y0}, {d.Y, c.y1 - a.Y}} {
		p, q := e[0], e[1]
		switch {
		case p == 0:
			if q < 0 {
				return 0, 0, false
			}
		case p < 0:
			t0 = max(t0, q/p)
		default:
			t1 = min(t1, q/p)
		}
	}
	return t0, t1, t0 < t1
}

func lerp(a, b Point, t float64) Point { return Point{a.X + t*(b.X-a.X), a.Y + t*(b.Y-a.Y)} }

func near(a, b Point) bool {
	dx, dy := a.X-b.X, a.Y-b.Y
	return dx*dx+dy*dy < samePoint*samePoint
}

// dedupe drops, in place, points that repeat the one before.
func dedupe(pts []Point) []Point {
	if len(pts) < 2 {
		return pts
	}
	out := pts[:1]
	for _, q := range pts[1:] {
		if !near(q, out[len(out)-1]) {
			out = append(out, q)
		}
	}
	return out
}

// dashPattern normalizes a dash array into buf: negative lengths count as
// zero and an odd-length pattern repeats (as in SVG). It returns nil for a
// solid line: no pattern, no gaps, or a period under a pixel.
func dashPattern(d []float64, buf []float64) []float64 {
	if len(d) == 0 {
		return nil
	}
	buf = append(buf, d...)
	if len(d)%2 == 1 {
		buf = append(buf, d...)
	}
	var period, gaps float64
	for i, v := range buf {
		if !(v > 0) {
			buf[i] = 0
		}
		period += buf[i]
		if i%2 == 1 {
			gaps += buf[i]
		}
	}
	if gaps == 0 || period < 1 {
		return nil
	}
	return buf
}

// dashes calls emit with each dash of pattern along pts (the points of
// the dash, and the direction there, which a dash of zero length needs
// for its caps), the pattern starting phase pixels before pts. cur is
// scratch space, returned for reuse.
func dashes(pts []Point, pattern []float64, phase float64, cur []Point, emit func([]Point, Point)) []Point {
	period := 0.0
	for _, v := range pattern {
		period += v
	}
	i, left, on := 0, pattern[0], true
	for phase = math.Mod(phase, period); phase > left; {
		phase -= left
		i, on = (i+1)%len(pattern), !on
		left = pattern[i]
	}
	left -= phase
	cur = cur[:0]
	if on {
		cur = append(cur, pts[0])
	}
	dir := Point{1, 0}
	for k := 1; k < len(pts); k++ {
		a, b := pts[k-1], pts[k]
		l := math.Hypot(b.X-a.X, b.Y-a.Y)
		if l == 0 {
			continue
		}
		dir = Point{(b.X - a.X) / l, (b.Y - a.Y) / l}
		pos := 0.0
		for l-pos > left {
			pos += left
			q := Point{a.X + dir.X*pos, a.Y + dir.Y*pos}
			if on {
				emit(append(cur, q), dir)
			}
			cur = append(cur[:0], q)
			on = !on
			i = (i + 1) % len(pattern)
			left = pattern[i]
		}
		left -= l - pos
		if on {
			cur = append(cur, b)
		}
	}
	if on {
		emit(cur, dir)
	}
	return cur
}

// offsetLine shifts a polyline (without repeated points; closed: the last
// point joins the first) sideways by off pixels, to the right of its
// direction when positive, with mitred vertices, bevelled where the miter
// would be longer than twice off.
func offsetLine(pts []Point, off float64, closed bool, out []Point) []Point {
	n := len(pts)
	normal := func(i int) Point { // unit right-hand normal of segment i → i+1
		a, b := pts[i], pts[(i+1)%n]
		l := math.Hypot(b.X-a.X, b.Y-a.Y)
		return Point{-(b.Y - a.Y) / l, (b.X - a.X) / l}
	}
	shift := func(p, m Point, k float64) Point { return Point{p.X + m.X*k, p.Y + m.Y*k} }
	vertex := func(p, n0, n1 Point) {
		m := Point{n0.X + n1.X, n0.Y + n1.Y}
		if l := math.Hypot(m.X, m.Y); l > 1e-9 {
			m = Point{m.X / l, m.Y / l}
			if cosHalf := m.X*n1.X + m.Y*n1.Y; cosHalf > 0.5 {
				out = append(out, shift(p, m, off/cosHalf))
				return
			}
		}
		out = append(out, shift(p, n0, off), shift(p, n1, off))
	}
	if closed {
		vertex(pts[0], normal(n-1), normal(0))
	} else {
		out = append(out, shift(pts[0], normal(0), off))
	}
	for i := 1; i < n-1; i++ {
		vertex(pts[i], normal(i-1), normal(i))
	}
	if closed {
		vertex(pts[n-1], normal(n-2), normal(n-1))
	} else {
		out = append(out, shift(pts[n-1], normal(n-2), off))
	}
	return out
}
