// Package staticmap makes single map pictures of any area and size, what
// Mapnik's generate_image.py made: it reads what is asked (a longitude and
// latitude box, or a centre and zoom, with a size and pixel ratio), works
// out the view and has a map renderer draw it. kiln static and the
// server's /styles/{id}/static/… URLs share it.
//
// A box is fitted into the picture keeping its shape: the picture shows
// the box and more of the map along the other axis, as Mapnik's
// zoom_to_box does. Zooms are MapLibre's (512-pixel tiles), as in
// tileserver-gl's and Mapbox's static APIs.
package staticmap

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"strconv"
	"strings"

	"github.com/paulmach/orb"

	"kiln/internal/maprender"
)

// Request is a picture to make.
type Request struct {
	BBox          orb.Bound // longitude/latitude; empty when Center and Zoom say where
	Center        orb.Point // longitude, latitude
	Zoom          float64
	Width, Height int     // in style pixels
	Scale         float64 // pixel ratio: 2 draws @2x pictures of twice the pixels
}

// Limits of what a request may ask.
const (
	MaxZoom  = 22
	maxLat   = 85.05112877980659
	MaxScale = 4
)

// ParseArea reads "W,S,E,N" (a box) or "lon,lat,zoom" (a centre) into r.
func (r *Request) ParseArea(s string) error {
	parts := strings.Split(s, ",")
	nums := make([]float64, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("area %q: %q is not a number", s, p)
		}
		nums[i] = v
	}
	switch len(nums) {
	case 4:
		w, south, e, n := nums[0], nums[1], nums[2], nums[3]
		switch {
		case w < -180 || e > 180 || w >= e:
			return fmt.Errorf("bbox %q: want west < east within -180..180", s)
		case south < -maxLat || n > maxLat || south >= n:
			return fmt.Errorf("bbox %q: want south < north within ±%.4f (web mercator)", s, maxLat)
		}
		r.BBox = orb.Bound{Min: orb.Point{w, south}, Max: orb.Point{e, n}}
	case 3:
		lon, lat, z := nums[0], nums[1], nums[2]
		switch {
		case lon < -180 || lon > 180 || lat < -maxLat || lat > maxLat:
			return fmt.Errorf("centre %q: longitude within -180..180, latitude within ±%.4f", s, maxLat)
		case z < 0 || z > MaxZoom:
			return fmt.Errorf("centre %q: zoom %g is not within 0..%d", s, z, MaxZoom)
		}
		r.Center, r.Zoom = orb.Point{lon, lat}, z
	default:
		return fmt.Errorf("area %q: want W,S,E,N or lon,lat,zoom", s)
	}
	return nil
}

// ParseSize reads "WxH" or "WxH@Nx" into r; a scale in the size wins over
// one set before.
func (r *Request) ParseSize(s string) error {
	size, scale, hasScale := strings.Cut(s, "@")
	ws, hs, ok := strings.Cut(size, "x")
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if !ok || err1 != nil || err2 != nil || w < 1 || h < 1 {
		return fmt.Errorf("size %q: want WxH, e.g. 800x600, or 800x600@2x", s)
	}
	r.Width, r.Height = w, h
	if hasScale {
		n, err := strconv.ParseFloat(strings.TrimSuffix(scale, "x"), 64)
		if err != nil || !strings.HasSuffix(scale, "x") {
			return fmt.Errorf("size %q: scale %q: want e.g. @2x", s, scale)
		}
		r.Scale = n
	}
	return nil
}

// Check validates the request against a largest side in pixels.
func (r *Request) Check(maxSide int) error {
	if r.Scale == 0 {
		r.Scale = 1
	}
	if r.Scale < 1 || r.Scale > MaxScale {
		return fmt.Errorf("scale %g: want 1 to %d", r.Scale, MaxScale)
	}
	if r.Width < 1 || r.Height < 1 {
		return errors.New("size: want a width and height of at least 1")
	}
	if w, h := r.Pixels(); w > maxSide || h > maxSide {
		return fmt.Errorf("size %dx%d at scale %g is %dx%d pixels: the most is %d a side", r.Width, r.Height, r.Scale, w, h, maxSide)
	}
	if !r.hasBox() && r.Center == (orb.Point{}) && r.Zoom == 0 {
		return errors.New("no area: want a bbox or a centre and zoom")
	}
	return nil
}

// Pixels is the picture's size in pixels.
func (r Request) Pixels() (w, h int) {
	return int(math.Round(float64(r.Width) * r.Scale)), int(math.Round(float64(r.Height) * r.Scale))
}

// halfWorld is half the side of the web mercator square, in metres.
const halfWorld = 20037508.342789244

func mercator(p orb.Point) orb.Point {
	lat := math.Max(-maxLat, math.Min(maxLat, p[1]))
	return orb.Point{p[0] * halfWorld / 180, math.Log(math.Tan((90+lat)*math.Pi/360)) * halfWorld / math.Pi}
}

// View is what the picture shows.
func (r Request) View() maprender.View {
	w, h := r.Pixels()
	var centre orb.Point
	var perMetre, zoom float64 // style pixels per metre
	if r.hasBox() {
		lo, hi := mercator(r.BBox.Min), mercator(r.BBox.Max)
		centre = orb.Point{(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2}
		perMetre = math.Min(float64(r.Width)/(hi[0]-lo[0]), float64(r.Height)/(hi[1]-lo[1]))
		zoom = math.Log2(perMetre * 2 * halfWorld / 512)
	} else {
		centre = mercator(r.Center)
		perMetre = 512 * math.Exp2(r.Zoom) / (2 * halfWorld)
		zoom = r.Zoom
	}
	ratio := r.Scale
	if zoom < 0 { // smaller than MapLibre's zoom 0: draw zoom 0 shrunk
		ratio *= math.Exp2(zoom)
		zoom = 0
	}
	halfW, halfH := float64(w)/2/(perMetre*r.Scale), float64(h)/2/(perMetre*r.Scale)
	return maprender.View{
		Bound:      orb.Bound{Min: orb.Point{centre[0] - halfW, centre[1] - halfH}, Max: orb.Point{centre[0] + halfW, centre[1] + halfH}},
		Zoom:       zoom,
		PixelRatio: ratio,
	}
}

// Drawer draws a view (maprender.Renderer).
type Drawer interface {
	Draw(ctx context.Context, v maprender.View, dst *image.RGBA) error
}

// Draw makes the picture.
func Draw(ctx context.Context, d Drawer, r Request) (*image.RGBA, error) {
	w, h := r.Pixels()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	if err := d.Draw(ctx, r.View(), img); err != nil {
		return nil, err
	}
	return img, nil
}

func (r Request) hasBox() bool { return r.BBox != orb.Bound{} }
