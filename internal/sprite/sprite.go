// Package sprite reads MapLibre GL sprite sheets: an index (JSON: name →
// x, y, width, height, pixelRatio) and the PNG it indexes, at 1x and,
// optionally, 2x. The map renderer draws icon-image with them and the
// server hands them to MapLibre GL clients unchanged.
package sprite

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"math"
	"sort"
)

// Icon is one image of a sheet.
type Icon struct {
	Image      *image.NRGBA // the icon's pixels (a sub-image of the sheet)
	PixelRatio float64      // sheet pixels per style pixel
	SDF        bool         // a signed distance field to tint with icon-color
}

// Sheet is one sprite sheet with its index, and its files as read.
type Sheet struct {
	Ratio     float64
	Icons     map[string]Icon
	JSON, PNG []byte
}

// entry is an index entry as the sprite JSON writes it.
type entry struct {
	X, Y, Width, Height int
	PixelRatio          float64
	SDF                 bool
}

// Limits on what a sheet may hold.
const (
	maxSide  = 8192
	maxIcons = 10000
)

// Parse reads a sheet from its index and PNG.
func Parse(index, pngData []byte) (*Sheet, error) {
	var entries map[string]entry
	if err := json.Unmarshal(index, &entries); err != nil {
		return nil, fmt.Errorf("sprite index: %w", err)
	}
	if len(entries) > maxIcons {
		return nil, fmt.Errorf("sprite index: %d icons, at most %d", len(entries), maxIcons)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(pngData))
	if err != nil {
		return nil, fmt.Errorf("sprite image: %w", err)
	}
	if cfg.Width > maxSide || cfg.Height > maxSide {
		return nil, fmt.Errorf("sprite image: %dx%d, at most %d a side", cfg.Width, cfg.Height, maxSide)
	}
	img, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		return nil, fmt.Errorf("sprite image: %w", err)
	}
	sheet := image.NewNRGBA(img.Bounds())
	draw.Draw(sheet, sheet.Bounds(), img, img.Bounds().Min, draw.Src)
	s := &Sheet{Icons: make(map[string]Icon, len(entries)), JSON: index, PNG: pngData}
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		e := entries[n]
		r := image.Rect(e.X, e.Y, e.X+e.Width, e.Y+e.Height)
		if e.Width <= 0 || e.Height <= 0 || !r.In(sheet.Bounds()) {
			return nil, fmt.Errorf("sprite index: icon %q at %v is not inside the %dx%d image", n, r, cfg.Width, cfg.Height)
		}
		if e.PixelRatio == 0 {
			e.PixelRatio = 1
		}
		if !(e.PixelRatio > 0 && e.PixelRatio <= 16) {
			return nil, fmt.Errorf("sprite index: icon %q: pixelRatio %g", n, e.PixelRatio)
		}
		s.Ratio = math.Max(s.Ratio, e.PixelRatio)
		s.Icons[n] = Icon{Image: sheet.SubImage(r).(*image.NRGBA), PixelRatio: e.PixelRatio, SDF: e.SDF}
	}
	if s.Ratio == 0 {
		s.Ratio = 1
	}
	return s, nil
}

// Set is a sprite at its resolutions.
type Set struct {
	Sheets []*Sheet // by ratio, ascending
}

// ErrNoSheet is a set without a sheet.
var ErrNoSheet = errors.New("sprite: no sheet")

// NewSet gathers sheets (nil ones are left out).
func NewSet(sheets ...*Sheet) (*Set, error) {
	s := &Set{}
	for _, sh := range sheets {
		if sh != nil {
			s.Sheets = append(s.Sheets, sh)
		}
	}
	if len(s.Sheets) == 0 {
		return nil, ErrNoSheet
	}
	sort.Slice(s.Sheets, func(i, j int) bool { return s.Sheets[i].Ratio < s.Sheets[j].Ratio })
	return s, nil
}

// Icon finds icon name for drawing at ratio image pixels per style pixel:
// from the smallest sheet at least that fine, else the finest.
func (s *Set) Icon(name string, ratio float64) (Icon, bool) {
	for _, sh := range s.Sheets {
		if sh.Ratio >= ratio {
			if ic, ok := sh.Icons[name]; ok {
				return ic, true
			}
		}
	}
	for i := len(s.Sheets) - 1; i >= 0; i-- {
		if ic, ok := s.Sheets[i].Icons[name]; ok {
			return ic, true
		}
	}
	return Icon{}, false
}

// Sheet is the sheet of exactly this ratio, for serving.
func (s *Set) Sheet(ratio float64) *Sheet {
	for _, sh := range s.Sheets {
		if sh.Ratio == ratio {
			return sh
		}
	}
	return nil
}
