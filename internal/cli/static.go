package cli

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"kiln/internal/atomicfile"
	"kiln/internal/imgenc"
	"kiln/internal/staticmap"
)

// staticMaxSide bounds pictures from the command line, where posters are
// made: a 16384² picture takes 1 GiB to draw.
const staticMaxSide = 16384

func staticCmd(ctx context.Context, args []string, io IO) error {
	fs := flags("static", io)
	var c common
	c.register(fs)
	styleID := fs.String("style", "default", "map style to draw")
	bbox := fs.String("bbox", "", "area as W,S,E,N in degrees")
	center := fs.String("center", "", "centre as lon,lat, with --zoom (instead of --bbox)")
	zoom := fs.Float64("zoom", -1, "zoom of --center (MapLibre's: 512-pixel tiles)")
	size := fs.String("size", "", "picture size WxH in pixels (required)")
	scale := fs.Float64("scale", 1, "pixel ratio: 2 draws the picture at twice the pixels, as @2x tiles")
	out := fs.String("o", "", "output file: .png, .jpg or .webp (required)")
	if err := parse(fs, args, false); err != nil {
		return err
	}
	req := staticmap.Request{Scale: *scale}
	switch {
	case *out == "":
		return usagef("-o FILE is required")
	case *size == "":
		return usagef("--size WxH is required")
	case (*bbox == "") == (*center == ""):
		return usagef("give exactly one of --bbox W,S,E,N and --center lon,lat with --zoom")
	case *center != "" && *zoom < 0:
		return usagef("--center needs --zoom")
	}
	area := *bbox
	if *center != "" {
		area = fmt.Sprintf("%s,%g", *center, *zoom)
	}
	if err := req.ParseArea(area); err != nil {
		return usageError{err}
	}
	if err := req.ParseSize(*size); err != nil {
		return usageError{err}
	}
	if err := req.Check(staticMaxSide); err != nil {
		return usageError{err}
	}
	format, err := imgenc.ParseFormat(strings.TrimPrefix(strings.ToLower(filepath.Ext(*out)), "."))
	if err != nil || format == imgenc.PNG8 {
		return usagef("-o %s: want a .png, .jpg or .webp file", *out)
	}
	a, _, err := c.openStyle(io, 1, *styleID)
	if err != nil {
		return err
	}
	defer a.close(context.Background())
	drawer, ok := a.static[*styleID]
	if !ok {
		return usagef("--style %s: not a map style (it has no static maps)", *styleID)
	}
	start := time.Now()
	img, err := staticmap.Draw(ctx, drawer, req)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := imgenc.New(format, 0).Encode(&buf, img); err != nil {
		return err
	}
	n := buf.Len()
	if err := atomicfile.WriteBytes(*out, 0o644, buf.Bytes()); err != nil {
		return err
	}
	w, h := req.Pixels()
	fmt.Fprintf(io.Out, "kiln static: %s: %dx%d pixels at zoom %.2f, %d bytes in %.2f s\n",
		*out, w, h, req.View().Zoom, n, time.Since(start).Seconds())
	return nil
}
