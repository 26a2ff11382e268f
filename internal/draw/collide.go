package draw

import "math"

// Rect is an axis-aligned box in pixels.
type Rect struct{ MinX, MinY, MaxX, MaxY float64 }

// bounds is the smallest Rect holding pts.
func bounds(pts ...Point) Rect {
	r := Rect{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
	for _, p := range pts {
		r.MinX, r.MaxX = min(r.MinX, p.X), max(r.MaxX, p.X)
		r.MinY, r.MaxY = min(r.MinY, p.Y), max(r.MaxY, p.Y)
	}
	return r
}

// Expand returns r grown by d pixels on every side.
func (r Rect) Expand(d float64) Rect { return Rect{r.MinX - d, r.MinY - d, r.MaxX + d, r.MaxY + d} }

// Overlaps reports whether r and o share more than an edge.
func (r Rect) Overlaps(o Rect) bool {
	return r.MinX < o.MaxX && o.MinX < r.MaxX && r.MinY < o.MaxY && o.MinY < r.MaxY
}

// Collisions records the boxes of the labels drawn so far in a uniform
// grid (MapLibre's GridIndex idea), so that a new label can be tested
// against only its neighbours. Give it the canvas area plus the buffer
// labels may reach into; boxes beyond the area still work, filed in the
// edge cells. Not safe for concurrent use.
type Collisions struct {
	area       Rect
	cell       float64
	cols, rows int
	cells      [][]int32 // indices into boxes
	boxes      []Rect
}

// NewCollisions returns an empty index over area with square cells of
// cell pixels (0 means 64: a little more than a typical label is high).
func NewCollisions(area Rect, cell float64) *Collisions {
	if cell <= 0 {
		cell = 64
	}
	cols := max(1, int(math.Ceil((area.MaxX-area.MinX)/cell)))
	rows := max(1, int(math.Ceil((area.MaxY-area.MinY)/cell)))
	return &Collisions{area: area, cell: cell, cols: cols, rows: rows, cells: make([][]int32, cols*rows)}
}

// span is the range of cells r touches, clamped to the grid.
func (c *Collisions) span(r Rect) (x0, y0, x1, y1 int) {
	cellOf := func(v, origin float64, n int) int {
		return max(0, min(n-1, int(math.Floor((v-origin)/c.cell))))
	}
	return cellOf(r.MinX, c.area.MinX, c.cols), cellOf(r.MinY, c.area.MinY, c.rows),
		cellOf(r.MaxX, c.area.MinX, c.cols), cellOf(r.MaxY, c.area.MinY, c.rows)
}

// Fits reports whether boxes, each grown by padding (MapLibre
// text-padding), overlap none of the boxes inserted so far.
func (c *Collisions) Fits(boxes []Rect, padding float64) bool {
	for _, b := range boxes {
		b = b.Expand(padding)
		x0, y0, x1, y1 := c.span(b)
		for y := y0; y <= y1; y++ {
			for x := x0; x <= x1; x++ {
				for _, i := range c.cells[y*c.cols+x] {
					if c.boxes[i].Overlaps(b) {
						return false
					}
				}
			}
		}
	}
	return true
}

// Insert adds boxes, each grown by padding, to the index.
func (c *Collisions) Insert(boxes []Rect, padding float64) {
	for _, b := range boxes {
		b = b.Expand(padding)
		i := int32(len(c.boxes))
		c.boxes = append(c.boxes, b)
		x0, y0, x1, y1 := c.span(b)
		for y := y0; y <= y1; y++ {
			for x := x0; x <= x1; x++ {
				c.cells[y*c.cols+x] = append(c.cells[y*c.cols+x], i)
			}
		}
	}
}
