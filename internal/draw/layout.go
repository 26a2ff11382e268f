package draw

import (
	"math"
	"slices"
	"strings"
)

// Justify aligns the lines of a Block (MapLibre text-justify).
type Justify uint8

// Justifications; the zero value is MapLibre's default.
const (
	JustifyCenter Justify = iota
	JustifyLeft
	JustifyRight
)

// LayoutOptions says how Layout sets text.
type LayoutOptions struct {
	// MaxWidth (ems) wraps lines at spaces and after hyphens and slashes,
	// balancing their lengths as MapLibre does, so that they come near it;
	// 0 does not wrap (MapLibre text-max-width, whose default is 10).
	MaxWidth float64
	// LineHeight is the distance between baselines in ems; 0 means 1.2.
	LineHeight float64
	// LetterSpacing is added between characters, in ems.
	LetterSpacing float64
	Justify       Justify
}

// Block is text laid out in lines, for a point label. Its box runs from
// (0, 0) to (Width, Height), y down. Blocks are cached and shared: do not
// modify one.
type Block struct {
	Lines         []Line
	Width, Height float64
}

// Line is one line of a Block: its run starts at X on baseline Y, from
// the block's top-left corner.
type Line struct {
	Run  *Run
	X, Y float64
}

type blockKey struct {
	text  string
	stack uint64
	size  float64
	opts  LayoutOptions
}

// Layout shapes text at size pixels with fonts (as Shape) into a block of
// lines: one per line of text ("\n" breaks), each wrapped to o.MaxWidth.
// Each line box is LineHeight high, the fonts' em box centred in it.
// Results are cached.
func (f *Fonts) Layout(text string, fonts []string, size float64, o LayoutOptions) *Block {
	if o.LineHeight <= 0 {
		o.LineHeight = 1.2
	}
	key := blockKey{text, f.stack(fonts), size, o}
	if b, ok := f.blocks.get(key); ok {
		return b
	}
	b := &Block{}
	lh := o.LineHeight * size
	for _, para := range strings.Split(text, "\n") {
		para = strings.TrimSpace(para)
		if para == "" {
			continue
		}
		lines := []string{para}
		if o.MaxWidth > 0 {
			if r := f.Shape(para, fonts, size, o.LetterSpacing); r.Width > o.MaxWidth*size {
				lines = wrap(para, r, o.MaxWidth*size, o.LetterSpacing*size)
			}
		}
		for _, l := range lines {
			r := f.Shape(l, fonts, size, o.LetterSpacing)
			y := float64(len(b.Lines))*lh + lh/2 + (r.Ascent-r.Descent)/2
			b.Lines = append(b.Lines, Line{Run: r, Y: y})
			b.Width = max(b.Width, r.Width)
		}
	}
	b.Height = float64(len(b.Lines)) * lh
	for i := range b.Lines {
		l := &b.Lines[i]
		switch o.Justify {
		case JustifyCenter:
			l.X = (b.Width - l.Run.Width) / 2
		case JustifyRight:
			l.X = b.Width - l.Run.Width
		}
	}
	f.blocks.put(key, b)
	return b
}

// wrap breaks text, shaped as r, into lines near maxWidth pixels wide:
// MapLibre's balanced breaking, which aims every line at the same width
// (the total over the fewest lines of at most maxWidth) and prefers a
// short last line.
func wrap(text string, r *Run, maxWidth, spacing float64) []string {
	runes := []rune(text)
	// Widths by rune, in logical order whatever the visual order.
	at := make([]float64, len(runes)+1)
	for i, g := range r.Glyphs {
		at[g.Rune+1] += g.Advance
		if i > 0 && g.Rune != r.Glyphs[i-1].Rune {
			at[g.Rune+1] += spacing
		}
	}
	for i := 1; i < len(at); i++ {
		at[i] += at[i-1]
	}
	// Breaks: a line may end at end and the next start at next.
	type brk struct {
		end, next int
		cost      float64
		prev      int
	}
	breaks := []brk{{}}
	for i, c := range runes {
		switch c {
		case ' ', '\u200b':
			breaks = append(breaks, brk{end: i, next: i + 1})
		case '-', '/', '\u2010', '\u2013':
			if i+1 < len(runes) {
				breaks = append(breaks, brk{end: i + 1, next: i + 1})
			}
		}
	}
	breaks = append(breaks, brk{end: len(runes)})
	total := at[len(runes)]
	target := total / math.Ceil(total/maxWidth)
	last := len(breaks) - 1
	for j := 1; j <= last; j++ {
		breaks[j].cost = math.Inf(1)
		for i := 0; i < j; i++ {
			w := at[breaks[j].end] - at[breaks[i].next]
			bad := (w - target) * (w - target)
			if j == last {
				if w < target {
					bad /= 2
				} else {
					bad *= 2
				}
			}
			if c := breaks[i].cost + bad; c < breaks[j].cost {
				breaks[j].cost, breaks[j].prev = c, i
			}
		}
	}
	var lines []string
	for j := last; j > 0; j = breaks[j].prev {
		i := breaks[j].prev
		if l := strings.TrimSpace(string(runes[breaks[i].next:breaks[j].end])); l != "" {
			lines = append(lines, l)
		}
	}
	slices.Reverse(lines)
	return lines
}
