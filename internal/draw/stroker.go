package draw

import "math"

// polygonSink receives the closed polygons a stroke is made of. It is the
// whole interface between stroking and rasterizing.
type polygonSink interface {
	addPolygon(pts []Point)
}

// stroker turns polylines into closed outlines: the left side of a
// stretch of the line forward, the cap, the right side back, the other
// cap. Joins go round the outer side of each turn and through the vertex
// on the inner side (or straight to where the inner sides cross, when the
// segments are long enough), so each outline is, edge for edge, the sum
// of one quadrilateral per segment and one wedge per join, all running
// the same way round (negative signedArea): a non-zero rasterizer fills
// their union, saturating where parts of the line overlap. (Where it goes
// through the vertex, the pixel at the inner corner can come out up to a
// third too dark; that takes a sharp turn between segments shorter than
// the width.) Long lines are cut halfway along a segment into stretches
// of about a tile, whose square ends cancel exactly, so that rasterizing
// tile by tile stays proportional to the line's length.
type stroker struct {
	out     polygonSink
	hw      float64 // half the width
	cap     Cap
	join    Join
	miter   float64 // miter limit, in widths
	arcStep float64 // angle between the points of round joins and caps
	cosStep float64 // its cosine
	segs    []segment
	buf     []Point
}

// segment is a piece of a polyline with its length l, unit direction d
// and normal n scaled to half the width.
type segment struct {
	a, b, d, n Point
	l          float64
}

// arcTolerance is how far (pixels) the chords of round joins and caps may
// stray from the true arc.
const arcTolerance = 0.05

func (s *stroker) reset(out polygonSink, hw float64, c Cap, j Join, miter float64) {
	s.out, s.hw, s.cap, s.join, s.miter = out, hw, c, j, miter
	s.arcStep = math.Pi / 2
	if hw > arcTolerance {
		s.arcStep = min(s.arcStep, 2*math.Acos(1-arcTolerance/hw))
	}
	s.cosStep = math.Cos(s.arcStep)
}

// polyline strokes pts (without repeated points). closed joins the last
// point to the first; dir orients the caps of a line that is one point.
func (s *stroker) polyline(pts []Point, closed bool, dir Point) {
	switch {
	case len(pts) == 0:
		return
	case len(pts) == 1:
		s.dot(pts[0], dir)
		return
	case len(pts) == 2:
		closed = false
	}
	s.segments(pts, closed)
	last := len(s.segs) - 1
	start, length, capStart := 0, 0.0, !closed
	for i := 0; i < last; i++ {
		length += s.segs[i].l
		if length < tileSize {
			continue
		}
		// End this stretch halfway along segment i, where the next one
		// starts straight on: the two square ends cancel exactly.
		first, second := halves(s.segs[i])
		s.segs[i] = first
		s.outline(start, i, capStart, false)
		s.segs[i] = second
		start, length, capStart = i, second.l, false
	}
	s.outline(start, last, capStart, !closed)
}

// segments puts the segments of pts into s.segs. A closed line starts
// and ends halfway along its first segment, so that every vertex is a
// join within one outline.
func (s *stroker) segments(pts []Point, closed bool) {
	s.segs = s.segs[:0]
	n := len(pts) - 1
	if closed {
		n++
	}
	for i := range n {
		s.addSegment(pts[i], pts[(i+1)%len(pts)])
	}
	if closed {
		first, second := halves(s.segs[0])
		s.segs[0] = second
		s.segs = append(s.segs, first)
	}
}

// halves cuts g in two at its middle, with the same direction and normal.
func halves(g segment) (segment, segment) {
	m := Point{(g.a.X + g.b.X) / 2, (g.a.Y + g.b.Y) / 2}
	return segment{g.a, m, g.d, g.n, g.l / 2}, segment{m, g.b, g.d, g.n, g.l / 2}
}

// dilation adds the outline of a closed contour of a shape drawn the
// stroker's way round (outer contours with negative signedArea, holes
// positive) pushed out by a half-width on the side away from the shape,
// with joins: filled alone, it covers the shape and everything within a
// half-width of it (edge for edge, the contour plus the outer halves of
// its stroke). Text halos are this.
func (s *stroker) dilation(pts []Point) {
	if len(pts) < 3 {
		return
	}
	s.segments(pts, true)
	out := append(s.buf[:0], add(s.segs[0].a, s.segs[0].n))
	for k := range len(s.segs) - 1 {
		out = s.side(out, &s.segs[k], &s.segs[k+1], true)
	}
	s.buf = out
	s.out.addPolygon(out)
}

// outline adds the outline of segments i to j, with caps or, where the
// line goes on, square ends.
func (s *stroker) outline(i, j int, capStart, capEnd bool) {
	g := &s.segs[i]
	pts := append(s.buf[:0], add(g.a, g.n))
	for k := i; k < j; k++ {
		pts = s.side(pts, &s.segs[k], &s.segs[k+1], true)
	}
	g = &s.segs[j]
	pts = append(pts, add(g.b, g.n))
	if capEnd {
		pts = s.capPoints(pts, g.b, g.d, g.n)
	}
	pts = append(pts, sub(g.b, g.n))
	for k := j; k > i; k-- {
		pts = s.side(pts, &s.segs[k], &s.segs[k-1], false)
	}
	g = &s.segs[i]
	pts = append(pts, sub(g.a, g.n))
	if capStart {
		pts = s.capPoints(pts, g.a, Point{-g.d.X, -g.d.Y}, Point{-g.n.X, -g.n.Y})
	}
	s.buf = pts
	s.out.addPolygon(pts)
}

// side appends the vertex between g0 and g1 on one side of the outline:
// the left side going forward, the right side going back (g1 is then
// the segment before g0).
func (s *stroker) side(pts []Point, g0, g1 *segment, forward bool) []Point {
	var p, from, to Point
	if forward {
		p = g0.b
		from, to = add(p, g0.n), add(p, g1.n)
	} else {
		p = g0.a
		from, to = sub(p, g0.n), sub(p, g1.n)
	}
	cross := g0.d.X*g1.d.Y - g0.d.Y*g1.d.X
	dot := g0.d.X*g1.d.X + g0.d.Y*g1.d.Y
	if cross == 0 && dot > 0 {
		return append(pts, to) // straight on
	}
	// Where the two offset sides cross: 1/(1+cos θ) times from+to-2p
	// from p.
	corner := func() Point {
		k := 1 / (1 + dot)
		return Point{p.X + (from.X+to.X-2*p.X)*k, p.Y + (from.Y+to.Y-2*p.Y)*k}
	}
	// The inner side turns toward the normal going forward, away from it
	// going back; a line folding back on itself has its outer side left.
	if cross > 0 || cross == 0 && !forward {
		// The sides cross a half-width times tan(θ/2) before the vertex;
		// when both segments are longer than twice that, cut the corner
		// there, else go through the vertex (the segments' ends).
		if trim := s.hw * math.Abs(cross) / (1 + dot); dot > -1 && 2*trim <= min(g0.l, g1.l) {
			return append(pts, corner())
		}
		return append(pts, from, p, to)
	}
	switch s.join {
	case JoinRound:
		pts = append(pts, from)
		if dot < s.cosStep {
			pts = s.arc(pts, p, sub(from, p), math.Atan2(cross, dot), g0.d)
		}
		return append(pts, to)
	case JoinMiter:
		// The miter tip is 1/cos(θ/2) half-widths out.
		if cosHalf := math.Sqrt((1 + dot) / 2); cosHalf > 0 && 1/cosHalf <= s.miter {
			return append(pts, from, corner(), to)
		}
	}
	return append(pts, from, to)
}

// capPoints appends the points of the cap at end point p strictly
// between p+n and p-n, beyond which the line would go on in direction d
// (unit).
func (s *stroker) capPoints(pts []Point, p, d, n Point) []Point {
	switch s.cap {
	case CapRound:
		return s.arc(pts, p, n, math.Pi, d)
	case CapSquare:
		e := Point{d.X * s.hw, d.Y * s.hw}
		return append(pts, add(add(p, n), e), add(sub(p, n), e))
	}
	return pts
}

// arc appends the points of an arc round p from p+u turning by angle
// (radians, through the side of via when it is a half turn), both ends
// left out.
func (s *stroker) arc(pts []Point, p, u Point, angle float64, via Point) []Point {
	if math.Abs(angle) > math.Pi-1e-9 {
		angle = math.Pi
		if u.X*via.Y-u.Y*via.X < 0 {
			angle = -math.Pi
		}
	}
	k := int(math.Ceil(math.Abs(angle) / s.arcStep))
	sin, cos := math.Sincos(angle / float64(k))
	for range k - 1 {
		u = Point{u.X*cos - u.Y*sin, u.X*sin + u.Y*cos}
		pts = append(pts, add(p, u))
	}
	return pts
}

// addSegment appends segment a→b, cut into pieces no longer than a tile
// when it is much longer, so that a long diagonal does not put its
// bounding box into every tile it spans. The pieces share their end
// points and normal exactly, so they meet without a seam or a join.
func (s *stroker) addSegment(a, b Point) {
	l := math.Hypot(b.X-a.X, b.Y-a.Y)
	d := Point{(b.X - a.X) / l, (b.Y - a.Y) / l}
	n := Point{-d.Y * s.hw, d.X * s.hw}
	k := 1
	if l > 2*tileSize {
		k = int(math.Ceil(l / tileSize))
	}
	p := a
	for i := 1; i <= k; i++ {
		q := b
		if i < k {
			t := float64(i) / float64(k)
			q = Point{a.X + t*(b.X-a.X), a.Y + t*(b.Y-a.Y)}
		}
		s.segs = append(s.segs, segment{p, q, d, n, l / float64(k)})
		p = q
	}
}

// dot strokes a line that is a single point: a disc for round caps, a
// square along dir for square caps, nothing for butt caps.
func (s *stroker) dot(p, dir Point) {
	switch s.cap {
	case CapRound:
		k := int(math.Ceil(2 * math.Pi / s.arcStep))
		pts := s.buf[:0]
		for i := range k {
			sin, cos := math.Sincos(-2 * math.Pi * float64(i) / float64(k))
			pts = append(pts, Point{p.X + s.hw*cos, p.Y + s.hw*sin})
		}
		s.buf = pts
		s.out.addPolygon(pts)
	case CapSquare:
		d := Point{dir.X * s.hw, dir.Y * s.hw}
		n := Point{-d.Y, d.X}
		s.piece(add(add(p, d), n), sub(add(p, d), n), sub(sub(p, d), n), add(sub(p, d), n))
	}
}

// piece adds a convex polygon given in either direction.
func (s *stroker) piece(pts ...Point) {
	s.buf = append(s.buf[:0], pts...)
	s.orient(s.buf)
}

// orient adds pts, reversed if need be to run the stroke's way round.
func (s *stroker) orient(pts []Point) {
	a := signedArea(pts)
	if a == 0 {
		return
	}
	if a > 0 {
		for i, j := 0, len(pts)-1; i < j; i, j = i+1, j-1 {
			pts[i], pts[j] = pts[j], pts[i]
		}
	}
	s.out.addPolygon(pts)
}

func add(a, b Point) Point { return Point{a.X + b.X, a.Y + b.Y} }
func sub(a, b Point) Point { return Point{a.X - b.X, a.Y - b.Y} }
