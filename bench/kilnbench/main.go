// Command kilnbench is the tooling of kiln's benchmark scripts: tile lists
// for wrk, a plain Go static file server to compare kiln with, and an
// unpacker that writes a metatile cache out as z/x/y files for it.
//
//	kilnbench tiles W,S,E,N MINZ MAXZ      "z x y" lines of every tile touching the box
//	kilnbench unpack TILEDIR STYLE OUTDIR  metatiles → OUTDIR/z/x/y.png
//	kilnbench fileserver DIR ADDR          http.FileServer on ADDR
//	kilnbench synth NODES                  a synthetic OSM XML extract on stdout
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
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
	case "synth":
		if len(args) != 2 {
			return errors.New("usage: kilnbench synth NODES")
		}
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 100 {
			return fmt.Errorf("bad node count %q", args[1])
		}
		return synth(os.Stdout, n)
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

// synth writes a synthetic extract of about n nodes: a square grid of
// streets (ways of 10 nodes along the grid lines, as long as real street
// ways) and a building (a closed way of 5 nodes) in every fifth block,
// near 10°E 50°N. It exists
// to measure how an import's time, memory and disk grow with the input.
func synth(w io.Writer, n int) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	// side² street nodes + 4 per building, one building per 5 blocks.
	side := int(math.Sqrt(float64(n) / (1 + 4.0/5)))
	const step = 0.0005 // degrees, about 40 m
	fmt.Fprintf(bw, "<?xml version='1.0' encoding='UTF-8'?>\n<osm version='0.6' generator='kilnbench synth'>\n")
	node := func(id int64, lon, lat float64) {
		fmt.Fprintf(bw, "<node id='%d' version='1' lon='%.7f' lat='%.7f'/>\n", id, lon, lat)
	}
	id := func(x, y int) int64 { return int64(y*side + x + 1) }
	for y := range side {
		for x := range side {
			node(id(x, y), 10+float64(x)*step, 50+float64(y)*step)
		}
	}
	bid := int64(side*side) + 1
	var buildings [][4]int64
	for y := 0; y < side-1; y++ {
		for x := 0; x < side-1; x++ {
			if (x+y)%5 != 0 {
				continue
			}
			lon, lat := 10+float64(x)*step+step/4, 50+float64(y)*step+step/4
			var b [4]int64
			for k, d := range [4][2]float64{{0, 0}, {step / 2, 0}, {step / 2, step / 2}, {0, step / 2}} {
				b[k] = bid
				node(bid, lon+d[0], lat+d[1])
				bid++
			}
			buildings = append(buildings, b)
		}
	}
	wid := int64(1)
	const segment = 10
	for _, horizontal := range []bool{true, false} {
		for line := range side {
			for start := 0; start < side-1; start += segment - 1 {
				fmt.Fprintf(bw, "<way id='%d' version='1'>", wid)
				for k := start; k < min(start+segment, side); k++ {
					if horizontal {
						fmt.Fprintf(bw, "<nd ref='%d'/>", id(k, line))
					} else {
						fmt.Fprintf(bw, "<nd ref='%d'/>", id(line, k))
					}
				}
				kind := map[bool]string{true: "residential", false: "tertiary"}[horizontal]
				fmt.Fprintf(bw, "<tag k='highway' v='%s'/><tag k='name' v='Strasse %d'/></way>\n", kind, line)
				wid++
			}
		}
	}
	for _, b := range buildings {
		fmt.Fprintf(bw, "<way id='%d' version='1'><nd ref='%d'/><nd ref='%d'/><nd ref='%d'/><nd ref='%d'/><nd ref='%d'/><tag k='building' v='yes'/><tag k='addr:housenumber' v='%d'/></way>\n",
			wid, b[0], b[1], b[2], b[3], b[0], wid%200)
		wid++
	}
	fmt.Fprintf(bw, "</osm>\n")
	return bw.Flush()
}
