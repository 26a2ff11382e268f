// Command kilnbench is the tooling of kiln's benchmark scripts: tile lists
// for wrk, a plain Go static file server to compare kiln with, and an
// unpacker that writes a metatile cache out as z/x/y files for it.
//
//	kilnbench tiles W,S,E,N MINZ MAXZ      "z x y" lines of every tile touching the box
//	kilnbench unpack TILEDIR STYLE OUTDIR  metatiles → OUTDIR/z/x/y.png
//	kilnbench fileserver DIR ADDR          http.FileServer on ADDR
package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/paulmach/orb"

	"kiln/internal/metatile"
	"kiln/internal/tile"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kilnbench:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 1 {
		return errors.New("usage: kilnbench tiles|unpack|fileserver ARGS")
	}
	switch args[0] {
	case "tiles":
		if len(args) != 4 {
			return errors.New("usage: kilnbench tiles W,S,E,N MINZ MAXZ")
		}
		var v [4]float64
		for i, p := range strings.Split(args[1], ",") {
			f, err := strconv.ParseFloat(p, 64)
			if err != nil || i > 3 {
				return fmt.Errorf("bad bbox %q", args[1])
			}
			v[i] = f
		}
		lo, _ := strconv.Atoi(args[2])
		hi, _ := strconv.Atoi(args[3])
		b := orb.Bound{Min: orb.Point{v[0], v[1]}, Max: orb.Point{v[2], v[3]}}
		for z := lo; z <= hi; z++ {
			r := tile.Covering(b, z)
			for x := r.MinX; x <= r.MaxX; x++ {
				for y := r.MinY; y <= r.MaxY; y++ {
					fmt.Printf("%d %d %d\n", z, x, y)
				}
			}
		}
		return nil
	case "unpack":
		if len(args) != 4 {
			return errors.New("usage: kilnbench unpack TILEDIR STYLE OUTDIR")
		}
		return unpack(args[1], args[2], args[3])
	case "fileserver":
		if len(args) != 3 {
			return errors.New("usage: kilnbench fileserver DIR ADDR")
		}
		return http.ListenAndServe(args[2], http.FileServer(http.Dir(args[1])))
	}
	return fmt.Errorf("unknown command %q", args[0])
}

// unpack writes every tile of every metatile of a style as a file, as
// mod_tile's convert_meta -u does.
func unpack(root, style, out string) error {
	dir := filepath.Join(root, style)
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".meta" {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		m, err := metatile.ParsePath(rel, 8)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, tiles, err := metatile.Decode(b, m)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		for c := range m.Tiles() {
			f := filepath.Join(out, strconv.Itoa(c.Z), strconv.Itoa(c.X), strconv.Itoa(c.Y)+".png")
			if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(f, tiles[m.Index(c)], 0o644); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	fmt.Fprintf(os.Stderr, "unpacked %d tiles\n", n)
	return err
}
