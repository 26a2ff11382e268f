// Package modtile_test proves that kiln's tile cache is byte-compatible with
// the real Debian mod_tile and renderd in both directions: Apache's mod_tile
// serves the metatiles kiln writes, and kiln serves the metatiles renderd
// writes, each tile byte for byte as it is stored.
package modtile_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"io/fs"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"kiln/internal/metatile"
	"kiln/internal/pipeline"
	"kiln/internal/renderd"
	"kiln/internal/tile"
)

const (
	// metaSize is mod_tile's METATILE: 8×8 tiles per metatile.
	metaSize = 8
	// pollTimeout bounds every wait for a process to come up.
	pollTimeout = 30 * time.Second
	// runTimeout bounds one run of a command-line tool.
	runTimeout = 60 * time.Second
	// apacheModules is where Debian installs Apache's modules.
	apacheModules = "/usr/lib/apache2/modules"
	// requireEnv makes missing tools a failure instead of a skip.
	requireEnv = "KILN_REQUIRE_INTEROP"
)

// oldStamp is the time the tests give planet-import-complete: far in the
// past, so that mod_tile, renderd and kiln all call every tile fresh.
var oldStamp = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

var client = &http.Client{Timeout: 10 * time.Second}

// kiln is built once for the whole package, into a directory TestMain removes.
var (
	binDir    string
	kilnOnce  sync.Once
	kilnPath  string
	kilnBuild error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kiln-modtile-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "modtile test:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestModTileServesKilnCache renders tiles with kiln and serves them with
// Apache's mod_tile: every tile must be byte-identical to kiln's own answer
// and to the bytes in the .meta file, and mod_tile must call it clean.
func TestModTileServesKilnCache(t *testing.T) {
	apache := lookTool(t, "apache2", "/usr/sbin/apache2")
	modTile := needFile(t, filepath.Join(apacheModules, "mod_tile.so"), "libapache2-mod-tile")
	mpm := needFile(t, filepath.Join(apacheModules, "mod_mpm_event.so"), "apache2")
	authz := needFile(t, filepath.Join(apacheModules, "mod_authz_core.so"), "apache2")
	kiln := kilnBinary(t)

	dir := t.TempDir()
	makeTraversable(t, dir) // Apache's child drops root for www-data
	data := filepath.Join(dir, "data")
	tiles := filepath.Join(data, "tiles")

	// Liechtenstein: a few metatiles per zoom from 0 to 12.
	const west, south, east, north = 9.47, 47.04, 9.64, 47.27
	bbox := fmt.Sprintf("%g,%g,%g,%g", west, south, east, north)
	run(t, dir, nil, nil, kiln, "render", "--data", data, "--style", "debug", "--bbox", bbox, "--zoom", "0-12")
	// The default style around the country at z10: a metatile of mostly
	// empty land, whose equal tiles kiln stores once, pointed at by every
	// index entry, which mod_tile must read as any metatile.
	sample, err := filepath.Abs(filepath.Join("..", "..", "data", "osm", "liechtenstein-2013-08-03.osm.pbf"))
	if err != nil {
		t.Fatal(err)
	}
	run(t, dir, nil, nil, kiln, "import", "--data", data, sample)
	run(t, dir, nil, nil, kiln, "render", "--data", data, "--style", "default", "--bbox", bbox, "--zoom", "10")
	touchStamp(t, tiles)
	cx, cy := lonLatTile((west+east)/2, (south+north)/2, 10)
	emptyTile := farthestTile(10, cx, cy)
	checkSharedTiles(t, tiles, "default", tile.MetaOf(emptyTile, metaSize))

	kilnAddr := freeAddr(t)
	ks := start(t, "kiln serve", dir, filepath.Join(dir, "kiln.log"),
		kiln, "serve", "--data", data, "--listen", kilnAddr)
	waitHTTP(t, ks, "http://"+kilnAddr+"/healthz", http.StatusOK)

	apacheAddr := freeAddr(t)
	ap := filepath.Join(dir, "apache")
	if err := os.MkdirAll(ap, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(ap, "httpd.conf")
	writeFile(t, conf, apacheConf(ap, apacheAddr, tiles, mpm, authz, modTile))
	ah := startApache(t, dir, ap, conf, apache, "http://"+apacheAddr+"/")

	nwX, nwY := lonLatTile(west, north, 12)
	seX, seY := lonLatTile(east, south, 12)
	mx, my := lonLatTile((west+east)/2, (south+north)/2, 8)
	cases := []struct {
		name string
		set  string
		c    tile.Coord
	}{
		{"z0 world", "debug", tile.Coord{Z: 0, X: 0, Y: 0}},
		{"z1 north-east of a mostly empty metatile", "debug", tile.Coord{Z: 1, X: 1, Y: 0}},
		{"z1 south-west", "debug", tile.Coord{Z: 1, X: 0, Y: 1}},
		{"z2 middle", "debug", tile.Coord{Z: 2, X: 2, Y: 1}},
		{"z2 last tile of the world", "debug", tile.Coord{Z: 2, X: 3, Y: 3}},
		{"z8 bbox centre", "debug", tile.Coord{Z: 8, X: mx, Y: my}},
		{"z12 north-west corner of the bbox", "debug", tile.Coord{Z: 12, X: nwX, Y: nwY}},
		{"z12 south-east corner of the bbox", "debug", tile.Coord{Z: 12, X: seX, Y: seY}},
		{"z10 empty tile stored once for its metatile", "default", emptyTile},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			stored := storedTile(t, tiles, tc.set, c)
			fromApache := getTile(t, ah, fmt.Sprintf("http://%s/%s/%d/%d/%d.png", apacheAddr, tc.set, c.Z, c.X, c.Y))
			fromKiln := getTile(t, ks, fmt.Sprintf("http://%s/styles/%s/%d/%d/%d.png", kilnAddr, tc.set, c.Z, c.X, c.Y))
			if !bytes.Equal(fromApache, stored) {
				t.Errorf("tile %s: mod_tile served %d bytes that differ from the %d bytes in kiln's metatile\n%s",
					c, len(fromApache), len(stored), ah.tail())
			}
			if !bytes.Equal(fromKiln, stored) {
				t.Errorf("tile %s: kiln served %d bytes that differ from the %d bytes in its metatile\n%s", c, len(fromKiln), len(stored), ks.tail())
			}
			decodePNG(t, c, stored)
		})
	}

	// mod_tile must have served every tile from the cache as fresh, without
	// asking renderd (whose socket does not exist) for anything.
	metrics := getText(t, ah, "http://"+apacheAddr+"/metrics")
	if got, ok := metricValue(metrics, `modtile_tiles_total{age="fresh",rendered="no"}`); !ok || got != float64(len(cases)) {
		t.Errorf("mod_tile counted %v fresh unrendered tiles (found: %t), want %d:\n%s\n%s", got, ok, len(cases), grepLines(metrics, "modtile_tiles_total"), ah.tail())
	}

	for _, tc := range cases {
		c := tc.c
		want := "file://" + metatile.Path(tiles, tc.set, tile.MetaOf(c, metaSize))
		for _, s := range []struct {
			who string
			p   *proc
			url string
		}{
			{"mod_tile", ah, fmt.Sprintf("http://%s/%s/%d/%d/%d.png/status", apacheAddr, tc.set, c.Z, c.X, c.Y)},
			{"kiln", ks, fmt.Sprintf("http://%s/styles/%s/%d/%d/%d.png/status", kilnAddr, tc.set, c.Z, c.X, c.Y)},
		} {
			status := getText(t, s.p, s.url)
			if !strings.HasPrefix(status, "Tile is clean.") {
				t.Errorf("%s status of %s = %q, want \"Tile is clean. ...\"\n%s", s.who, c, status, s.p.tail())
			}
			if !strings.Contains(status, "Stored in "+want+"\n") {
				t.Errorf("%s status of %s = %q, want it stored in %s", s.who, c, status, want)
			}
		}
	}
}

// TestKilnServesRenderdCache renders metatiles with renderd and Mapnik and
// serves them with kiln: every tile must be the bytes renderd stored, a
// Mapnik PNG of the style, and kiln must not have rendered anything.
func TestKilnServesRenderdCache(t *testing.T) {
	renderd := lookTool(t, "renderd", "/usr/bin/renderd")
	renderList := lookTool(t, "render_list", "/usr/bin/render_list")
	plugins := mapnikPlugins(t, "geojson.input")
	kiln := kilnBinary(t)

	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	tiles := filepath.Join(data, "tiles")
	if err := os.MkdirAll(tiles, 0o755); err != nil {
		t.Fatal(err)
	}
	style := filepath.Join(dir, "style.xml")
	writeFile(t, style, mapnikStyle)
	sock := filepath.Join(dir, "renderd.sock")
	conf := filepath.Join(dir, "renderd.conf")
	writeFile(t, conf, fmt.Sprintf(`[renderd]
num_threads=1
socketname=%s
tile_dir=%s
stats_file=%s
pid_file=%s

[mapnik]
plugins_dir=%s
font_dir=/usr/share/fonts
font_dir_recurse=true

[rd]
URI=/rd/
XML=%s
MAXZOOM=5
`, sock, tiles, filepath.Join(dir, "renderd.stats"), filepath.Join(dir, "renderd.pid"), plugins, style))

	rd := start(t, "renderd", dir, filepath.Join(dir, "renderd.log"), renderd, "-f", "-c", conf)
	waitUnix(t, rd, sock)

	// Every metatile of zooms 0 to 4, and at zoom 5 the four of the
	// north-east quarter, which holds the polygon.
	var metas []tile.Meta
	for z := 0; z <= 4; z++ {
		for m := range tile.World(z).Metas(metaSize) {
			metas = append(metas, m)
		}
	}
	for m := range (tile.Range{Z: 5, MinX: 16, MinY: 0, MaxX: 31, MaxY: 15}).Metas(metaSize) {
		metas = append(metas, m)
	}
	var list strings.Builder
	for _, m := range metas {
		fmt.Fprintf(&list, "%d %d %d\n", m.X, m.Y, m.Z)
	}
	// -l: never pause for the machine's load average.
	out := run(t, dir, strings.NewReader(list.String()), rd, renderList,
		"-m", "rd", "-s", sock, "-t", tiles, "-z", "0", "-Z", "5", "-n", "1", "-l", "1000")
	rd.stop()
	if rd.exitedEarly() {
		t.Fatalf("renderd died while rendering:\n%s", rd.tail())
	}
	checkRenderdFiles(t, tiles, "rd", metas, out+"\n"+rd.tail())
	checkStatsFileNames(t, filepath.Join(dir, "renderd.stats"))
	touchStamp(t, tiles)

	cfg := filepath.Join(dir, "kiln.toml")
	writeFile(t, cfg, `# The debug renderer would only draw tiles missing from the cache.
[[styles]]
id = "rd"
renderer = "debug"
max_zoom = 5
`)
	addr := freeAddr(t)
	ks := start(t, "kiln serve", dir, filepath.Join(dir, "kiln.log"),
		kiln, "serve", "--config", cfg, "--data", data, "--listen", addr)
	waitHTTP(t, ks, "http://"+addr+"/healthz", http.StatusOK)

	background := color.NRGBA{0xa0, 0xc8, 0xf0, 0xff}
	fill := color.NRGBA{0xe0, 0x30, 0x20, 0xff}
	cases := []struct {
		name   string
		c      tile.Coord
		centre color.Color // nil: the tile is not one colour
	}{
		{"z0 world", tile.Coord{Z: 0, X: 0, Y: 0}, nil},
		{"z1 south-west", tile.Coord{Z: 1, X: 0, Y: 1}, background},
		{"z2 north-east", tile.Coord{Z: 2, X: 2, Y: 1}, nil},
		{"z3 inside the polygon", tile.Coord{Z: 3, X: 4, Y: 3}, fill},
		{"z4 south-west ocean", tile.Coord{Z: 4, X: 3, Y: 12}, background},
		{"z5 inside the polygon", tile.Coord{Z: 5, X: 17, Y: 13}, fill},
		{"z5 north of the polygon", tile.Coord{Z: 5, X: 17, Y: 2}, background},
		{"z5 east of the polygon", tile.Coord{Z: 5, X: 30, Y: 14}, background},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			stored := storedTile(t, tiles, "rd", c)
			got := getTile(t, ks, fmt.Sprintf("http://%s/styles/rd/%d/%d/%d.png", addr, c.Z, c.X, c.Y))
			if !bytes.Equal(got, stored) {
				t.Errorf("tile %s: kiln served %d bytes that differ from the %d bytes renderd stored\n%s", c, len(got), len(stored), ks.tail())
			}
			img := decodePNG(t, c, stored)
			if tc.centre != nil {
				if px := color.NRGBAModel.Convert(img.At(128, 128)).(color.NRGBA); px != tc.centre {
					t.Errorf("tile %s: centre pixel %v, want %v from the Mapnik style", c, px, tc.centre)
				}
			}
			status := getText(t, ks, fmt.Sprintf("http://%s/styles/rd/%d/%d/%d.png/status", addr, c.Z, c.X, c.Y))
			if !strings.HasPrefix(status, "Tile is clean.") {
				t.Errorf("kiln status of %s = %q, want \"Tile is clean. ...\"", c, status)
			}
		})
	}

	const okRenders = `kiln_renders_total{renderer="map",result="ok",style="rd"}`
	metrics := getText(t, ks, "http://"+addr+"/metrics")
	for _, line := range strings.Split(metrics, "\n") {
		if !strings.HasPrefix(line, "kiln_renders_total{") || !strings.Contains(line, `style="rd"`) {
			continue
		}
		if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err != nil || v > 0 {
			t.Errorf("kiln rendered for style rd although renderd's cache held every tile asked for: %q\n%s", line, ks.tail())
		}
	}

	// Control: a tile renderd did not render is drawn by kiln, and the
	// counter checked above then counts it, so its absence meant something.
	missing := tile.Coord{Z: 5, X: 0, Y: 31}
	if _, err := os.Stat(metatile.Path(tiles, "rd", tile.MetaOf(missing, metaSize))); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("control tile %s should not be in renderd's cache: %v", missing, err)
	}
	getTile(t, ks, fmt.Sprintf("http://%s/styles/rd/%d/%d/%d.png", addr, missing.Z, missing.X, missing.Y))
	metrics = getText(t, ks, "http://"+addr+"/metrics")
	if v, ok := metricValue(metrics, okRenders); !ok || v != 1 {
		t.Errorf("after asking for missing tile %s, %s = %v (found: %t), want 1:\n%s",
			missing, okRenders, v, ok, grepLines(metrics, "kiln_renders_total"))
	}
}

// mapnikStyle needs no database: a background colour, and a polygon from
// 0°E to 90°E and 0°N to 45°N read from an inline GeoJSON datasource, so
// that tiles differ by position.
const mapnikStyle = `<?xml version="1.0" encoding="utf-8"?>
<Map srs="+proj=merc +a=6378137 +b=6378137 +lat_ts=0.0 +lon_0=0.0 +x_0=0.0 +y_0=0 +k=1.0 +units=m +nadgrids=@null +wktext +no_defs +over" background-color="#a0c8f0">
  <Style name="box">
    <Rule>
      <PolygonSymbolizer fill="#e03020"/>
    </Rule>
  </Style>
  <Layer name="box" srs="+proj=longlat +ellps=WGS84 +datum=WGS84 +no_defs">
    <StyleName>box</StyleName>
    <Datasource>
      <Parameter name="type">geojson</Parameter>
      <Parameter name="inline"><![CDATA[{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[0,0],[90,0],[90,45],[0,45],[0,0]]]}}]}]]></Parameter>
    </Datasource>
  </Layer>
</Map>
`

// apacheConf is a self-contained Apache configuration that serves tileDir's
// "debug" and "default" tilesets with mod_tile at addr. It never waits for renderd: there
// is none, and bulk mode keeps mod_tile from asking for re-renders.
func apacheConf(root, addr, tileDir, mpm, authz, modTile string) string {
	user := ""
	if os.Geteuid() == 0 {
		user = "User www-data\nGroup www-data\n"
	}
	return fmt.Sprintf(`ServerRoot %[1]s
ServerName 127.0.0.1
DefaultRuntimeDir %[1]s
PidFile %[1]s/httpd.pid
Mutex file:%[1]s default
ErrorLog %[1]s/error.log
LogLevel warn tile:info
Listen %[2]s
LoadModule mpm_event_module %[4]s
LoadModule authz_core_module %[5]s
LoadModule tile_module %[6]s
%[7]sDocumentRoot %[1]s

<VirtualHost %[2]s>
    ServerName 127.0.0.1
    ModTileTileDir %[3]s
    AddTileConfig /debug/ debug
    AddTileConfig /default/ default
    ModTileRenderdSocketName %[1]s/no-renderd.sock
    ModTileBulkMode On
    ModTileRequestTimeout 0
    ModTileMissingRequestTimeout 0
    ModTileEnableStats On
</VirtualHost>
`, root, addr, tileDir, mpm, authz, modTile, user)
}

// checkRenderdFiles checks renderd's tileset directory against kiln's
// metatile package: exactly the metatiles asked for, each at the path
// metatile.Path gives, each decoding with its existing tiles filled.
func checkRenderdFiles(t *testing.T, root, set string, want []tile.Meta, log string) {
	t.Helper()
	base := filepath.Join(root, set)
	var got []string
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(base, p)
		if err != nil {
			return err
		}
		m, err := metatile.ParsePath(rel, metaSize)
		if err != nil {
			return fmt.Errorf("renderd wrote %s: %w", p, err)
		}
		if mp := metatile.Path(root, set, m); mp != p {
			return fmt.Errorf("renderd wrote %s, metatile.Path puts %s at %s", p, m, mp)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h, tiles, err := metatile.Decode(b, m)
		if err != nil {
			return fmt.Errorf("decoding renderd's %s: %w", p, err)
		}
		if h.Compressed {
			return fmt.Errorf("renderd's %s is METZ, want META", p)
		}
		for c := range m.Tiles() {
			if len(tiles[m.Index(c)]) == 0 {
				return fmt.Errorf("renderd's %s holds no bytes for tile %s", p, c)
			}
		}
		got = append(got, m.String())
		return nil
	})
	if err != nil {
		t.Fatalf("renderd's cache: %v\n%s", err, log)
	}
	var names []string
	for _, m := range want {
		names = append(names, m.String())
	}
	slices.Sort(got)
	slices.Sort(names)
	if !slices.Equal(got, names) {
		t.Fatalf("renderd wrote metatiles %v, want %v\n%s", got, names, log)
	}
}

// storedTile reads tile c of tileset set straight from its metatile file.
func storedTile(t *testing.T, root, set string, c tile.Coord) []byte {
	t.Helper()
	m := tile.MetaOf(c, metaSize)
	p := metatile.Path(root, set, m)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("metatile of %s: %v", c, err)
	}
	_, tiles, err := metatile.Decode(b, m)
	if err != nil {
		t.Fatalf("decoding %s: %v", p, err)
	}
	data := tiles[m.Index(c)]
	if len(data) == 0 {
		t.Fatalf("%s holds no bytes for tile %s", p, c)
	}
	return data
}

// checkStatsFileNames checks that kiln's stats file names the same
// counters in the same order as the one renderd wrote at path.
func checkStatsFileNames(t *testing.T, path string) {
	t.Helper()
	theirs, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("renderd's stats file: %v", err)
	}
	var ours bytes.Buffer
	if err := renderd.WriteStats(&ours, pipeline.RenderStats{}); err != nil {
		t.Fatal(err)
	}
	names := func(b []byte) []string {
		var out []string
		for line := range strings.Lines(string(b)) {
			name, _, _ := strings.Cut(line, ": ")
			out = append(out, name)
		}
		return out
	}
	if got, want := names(ours.Bytes()), names(theirs); !slices.Equal(got, want) {
		t.Errorf("kiln's stats file names\n%v\nrenderd's\n%v", got, want)
	}
}

// farthestTile is the tile of x, y's metatile farthest from it.
func farthestTile(z, x, y int) tile.Coord {
	m := tile.MetaOf(tile.Coord{Z: z, X: x, Y: y}, metaSize)
	far := tile.Coord{Z: z, X: m.X, Y: m.Y}
	if x-m.X < m.N/2 {
		far.X = m.X + m.N - 1
	}
	if y-m.Y < m.N/2 {
		far.Y = m.Y + m.N - 1
	}
	return far
}

// checkSharedTiles checks that metatile m of set stores some of its tiles
// once for several index entries, so that the test reads such entries.
func checkSharedTiles(t *testing.T, root, set string, m tile.Meta) {
	t.Helper()
	b, err := os.ReadFile(metatile.Path(root, set, m))
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := metatile.Decode(b, m)
	if err != nil {
		t.Fatal(err)
	}
	offsets := map[int64]bool{}
	for _, e := range h.Index {
		offsets[e.Offset] = true
	}
	if len(offsets) >= len(h.Index)/2 {
		t.Fatalf("metatile %s of %s: %d distinct offsets for %d tiles; expected most tiles empty and shared", m, set, len(offsets), len(h.Index))
	}
}

// decodePNG checks that b is a 256×256 PNG and returns the image.
func decodePNG(t *testing.T, c tile.Coord, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("tile %s is not a PNG: %v", c, err)
	}
	if s := img.Bounds().Size(); s != image.Pt(256, 256) {
		t.Fatalf("tile %s is %v pixels, want 256×256", c, s)
	}
	return img
}

// lonLatTile is the web-mercator tile at zoom z holding a point.
func lonLatTile(lon, lat float64, z int) (x, y int) {
	n := math.Exp2(float64(z))
	phi := lat * math.Pi / 180
	x = int(math.Floor((lon + 180) / 360 * n))
	y = int(math.Floor((1 - math.Log(math.Tan(phi)+1/math.Cos(phi))/math.Pi) / 2 * n))
	return x, y
}

// proc is a server process the test started; t.Cleanup stops and reaps it.
type proc struct {
	name string
	cmd  *exec.Cmd
	logs []string // files whose tails explain a failure
	done chan struct{}
	err  error // from Wait, once done is closed

	stopOnce sync.Once
	stopped  bool // stop was asked for: an exit is not a crash
}

// start runs a server in dir with its output in logPath. It is stopped
// with SIGTERM (SIGKILL after 10 s) and waited for when the test ends.
func start(t *testing.T, name, dir, logPath string, args ...string) *proc {
	t.Helper()
	out, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, logs: []string{logPath}, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	t.Cleanup(p.stop)
	return p
}

// stop ends the process and waits for it; calling it again does nothing.
func (p *proc) stop() {
	p.stopOnce.Do(func() {
		select {
		case <-p.done:
			return
		default:
		}
		p.stopped = true
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	})
}

// exitedEarly reports whether the process ended without being asked to.
func (p *proc) exitedEarly() bool {
	select {
	case <-p.done:
		return !p.stopped
	default:
		return false
	}
}

// tail is the end of the process's logs, and how it ended if it did.
func (p *proc) tail() string {
	var b strings.Builder
	if p.exitedEarly() {
		fmt.Fprintf(&b, "%s exited unexpectedly: %v\n", p.name, p.err)
	}
	for _, l := range p.logs {
		fmt.Fprintf(&b, "--- last lines of %s ---\n%s", l, tailFile(l, 25))
	}
	return b.String()
}

// tailFile returns the last n lines of a file.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)\n", err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	s := strings.Join(lines, "")
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return s
}

// poll calls ready every 50 ms until it returns nil, failing the test if
// that takes longer than pollTimeout or if p exits meanwhile.
func poll(t *testing.T, p *proc, what string, ready func() error) {
	t.Helper()
	pollFailed(t, p, what, await(p, ready))
}

// errExited is await's answer when the process ended before it was ready.
var errExited = errors.New("exited")

// await calls ready every 50 ms until it succeeds (nil), p ends without
// being asked to (errExited) or pollTimeout has passed (ready's last
// error).
func await(p *proc, ready func() error) error {
	deadline := time.Now().Add(pollTimeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		if p.exitedEarly() {
			return errExited
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pollFailed fails the test with what await's err says of p, if anything.
func pollFailed(t *testing.T, p *proc, what string, err error) {
	t.Helper()
	switch {
	case err == nil:
	case errors.Is(err, errExited):
		t.Fatalf("%s exited before %s: %v\n%s", p.name, what, p.err, p.tail())
	default:
		t.Fatalf("%s: no %s within %v: %v\n%s", p.name, what, pollTimeout, err, p.tail())
	}
}

// startApache runs Apache in one process with conf (its logs in ap) and
// waits until it answers at url. mod_tile makes two POSIX shared memory
// objects at start, named after Apache's pid (modTileShm), and Apache run
// with -X and stopped with SIGTERM leaves them in /dev/shm: each start of
// the suite left two, and a later Apache that got the same pid exited at
// start with "Failed to create shared memory segment ... File exists"
// (seen once). So each Apache's objects are removed once it has stopped,
// and a start that finds one left by something else is tried again, twice
// at most; any other failure fails the test.
func startApache(t *testing.T, dir, ap, conf, apache, url string, logs ...string) *proc {
	t.Helper()
	errorLog := filepath.Join(ap, "error.log")
	for attempt := 1; ; attempt++ {
		os.Remove(errorLog)
		p := start(t, "apache2", dir, filepath.Join(ap, "stderr.log"), apache, "-X", "-f", conf)
		t.Cleanup(func() {
			p.stop()
			for _, name := range modTileShm(p.cmd.Process.Pid) {
				os.Remove(filepath.Join("/dev/shm", name))
			}
		})
		p.logs = append(append(p.logs, errorLog), logs...)
		err := await(p, answers(url, 0))
		if attempt == 3 || !errors.Is(err, errExited) || !logHas(errorLog, "Failed to create shared memory segment") {
			pollFailed(t, p, "answer at "+url, err)
			return p
		}
		t.Logf("apache2 could not make mod_tile's shared memory, starting it again:\n%s", tailFile(errorLog, 3))
	}
}

// modTileShm are the names in /dev/shm of the shared memory mod_tile makes
// in an Apache of that pid. mod_tile names it after the files
// /tmp/httpd_shm.PID and /tmp/httpd_shm_delay.PID, and APR (shm.c,
// make_shm_open_safe_name) turns a file name into "ShM.%xH%x" of two
// 32-bit hashes of it: times 33 (apr_hashfunc_default), and Sedgewick's.
func modTileShm(pid int) []string {
	var names []string
	for _, file := range []string{"/tmp/httpd_shm.", "/tmp/httpd_shm_delay."} {
		file += strconv.Itoa(pid)
		var h1, h2 uint32
		a := uint32(63689)
		for i := range len(file) {
			c := uint32(file[i])
			h1 = h1*33 + c
			h2 = h2*a + c
			a *= 378551
		}
		names = append(names, fmt.Sprintf("ShM.%xH%x", h1, h2))
	}
	return names
}

// logHas reports whether the file at path holds text.
func logHas(path, text string) bool {
	b, _ := os.ReadFile(path)
	return bytes.Contains(b, []byte(text))
}

// waitHTTP waits until url answers with status want (any status if 0).
func waitHTTP(t *testing.T, p *proc, url string, want int) {
	t.Helper()
	poll(t, p, "answer at "+url, answers(url, want))
}

// answers is a readiness check for poll and await: url answers, with
// status want (any status if 0).
func answers(url string, want int) func() error {
	return func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if want != 0 && resp.StatusCode != want {
			return fmt.Errorf("status %s", resp.Status)
		}
		return nil
	}
}

// waitUnix waits until something accepts connections on a Unix socket.
func waitUnix(t *testing.T, p *proc, path string) {
	t.Helper()
	poll(t, p, "socket "+path, func() error {
		c, err := net.DialTimeout("unix", path, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// get fetches url and fails the test unless the answer is 200.
func get(t *testing.T, p *proc, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v\n%s", url, err, p.tail())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v\n%s", url, err, p.tail())
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %.200q\n%s", url, resp.Status, body, p.tail())
	}
	return resp, body
}

// getTile fetches a PNG tile.
func getTile(t *testing.T, p *proc, url string) []byte {
	t.Helper()
	resp, body := get(t, p, url)
	if ct := resp.Header.Get("Content-Type"); ct != "image/png" {
		t.Errorf("GET %s: Content-Type %q, want image/png", url, ct)
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "" {
		t.Errorf("GET %s: Content-Encoding %q, want none", url, ce)
	}
	return body
}

// getText fetches a text page.
func getText(t *testing.T, p *proc, url string) string {
	t.Helper()
	_, body := get(t, p, url)
	return string(body)
}

// metricValue finds the sample named exactly name (with its labels) in a
// Prometheus text exposition.
func metricValue(text, name string) (float64, bool) {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, false
}

// grepLines returns the lines of text that start with prefix.
func grepLines(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// run runs a command-line tool to completion in dir and returns its output.
// On failure the message holds the output and, if p is not nil, p's logs.
func run(t *testing.T, dir string, stdin io.Reader, p *proc, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Stdin = stdin
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		explain := ""
		if p != nil {
			explain = p.tail()
		}
		t.Fatalf("%s: %v\n%s%s", strings.Join(args, " "), err, out, explain)
	}
	return string(out)
}

// kilnBinary builds kiln once for the package and returns its path.
func kilnBinary(t *testing.T) string {
	t.Helper()
	kilnOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			kilnBuild = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		p := filepath.Join(binDir, "kiln")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", p, "./cmd/kiln")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			kilnBuild = fmt.Errorf("go build ./cmd/kiln in %s: %v\n%s", root, err, out)
			return
		}
		kilnPath = p
	})
	if kilnBuild != nil {
		t.Fatalf("building kiln: %v", kilnBuild)
	}
	return kilnPath
}

// moduleRoot is the directory of kiln's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("go env GOMOD: not inside a module")
	}
	return filepath.Dir(gomod), nil
}

// missingTool skips the test, or fails it when the interop tests are
// required to run (KILN_REQUIRE_INTEROP=1, as scripts/test sets).
func missingTool(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(requireEnv) == "1" {
		t.Fatalf("%s (%s=1: the interop tests must run; scripts/test installs the packages)", msg, requireEnv)
	}
	t.Skipf("%s; set %s=1 to make this a failure", msg, requireEnv)
}

// lookTool finds a program on PATH or at its Debian location.
func lookTool(t *testing.T, name, debianPath string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if fi, err := os.Stat(debianPath); err == nil && fi.Mode()&0o111 != 0 {
		return debianPath
	}
	missingTool(t, "%s not found on PATH nor at %s", name, debianPath)
	return ""
}

// needFile checks that a file the test relies on exists.
func needFile(t *testing.T, path, pkg string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		missingTool(t, "%s (package %s): %v", path, pkg, err)
	}
	return path
}

// mapnikPlugins finds the Mapnik input plugin directory holding plugin.
func mapnikPlugins(t *testing.T, plugin string) string {
	t.Helper()
	for _, pattern := range []string{"/usr/lib/mapnik/*/input", "/usr/lib/*/mapnik/*/input"} {
		dirs, _ := filepath.Glob(pattern)
		for _, d := range dirs {
			if _, err := os.Stat(filepath.Join(d, plugin)); err == nil {
				return d
			}
		}
	}
	missingTool(t, "Mapnik input plugin %s not found under /usr/lib/mapnik/*/input (package libmapnik3.1)", plugin)
	return ""
}

// makeTraversable lets other users reach dir: Apache started as root serves
// as www-data, and t.TempDir's directories are private (0700).
func makeTraversable(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return
	}
	tmp := filepath.Clean(os.TempDir())
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if d == tmp || d == filepath.Dir(d) {
			break
		}
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			t.Fatalf("%s is not searchable by other users (mode %v): Apache's www-data child cannot reach the tile cache; set TMPDIR elsewhere", d, fi.Mode().Perm())
		}
		if d == filepath.Dir(d) {
			break
		}
	}
}

// touchStamp creates the cache's planet-import-complete dated oldStamp.
func touchStamp(t *testing.T, tileDir string) {
	t.Helper()
	p := filepath.Join(tileDir, "planet-import-complete")
	writeFile(t, p, "")
	if err := os.Chtimes(p, oldStamp, oldStamp); err != nil {
		t.Fatal(err)
	}
}

// freeAddr returns a 127.0.0.1 address with a port that was free just now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestModTileShmNames: the names are those APR gave mod_tile's shared
// memory in Apaches of these pids (found left in /dev/shm).
func TestModTileShmNames(t *testing.T) {
	tests := []struct {
		pid  int
		want []string
	}{
		{430, []string{"ShM.1ed4aedfHcd6d159f", "ShM.c8e2fa2dH1d37924d"}},
		{3824, []string{"ShM.f96a1419Hb12e1251", "ShM.e541c927H5f630d4f"}},
	}
	for _, tc := range tests {
		if got := modTileShm(tc.pid); !slices.Equal(got, tc.want) {
			t.Errorf("modTileShm(%d) = %v, want %v", tc.pid, got, tc.want)
		}
	}
}
