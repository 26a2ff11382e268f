package modtile_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"kiln/internal/metatile"
	"kiln/internal/tile"
	"kiln/internal/tilestore"
)

// kilnRenderd is a kiln serve answering renderd's protocol on a Unix socket
// and on TCP, with a debug style per part of the test so that each checks
// a tileset nothing else writes to.
type kilnRenderd struct {
	p      *proc
	dir    string // working directory, traversable by Apache's user
	tiles  string // DATA/tiles
	sock   string // the Unix socket
	tcp    string // the TCP address
	stats  string // renderd's stats file
	http   string // kiln's HTTP address
	styles []string
}

func startKilnRenderd(t *testing.T, styles ...string) *kilnRenderd {
	t.Helper()
	kiln := kilnBinary(t)
	dir := t.TempDir()
	makeTraversable(t, dir)
	k := &kilnRenderd{dir: dir, tiles: filepath.Join(dir, "data", "tiles"), sock: filepath.Join(dir, "renderd.sock"),
		tcp: freeAddr(t), http: freeAddr(t), stats: filepath.Join(dir, "renderd.stats"), styles: styles}
	if err := os.MkdirAll(k.tiles, 0o755); err != nil {
		t.Fatal(err)
	}
	touchStamp(t, k.tiles) // every tile rendered from now on is fresh, to kiln and to mod_tile
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "[log]\nlevel = \"debug\"\naccess = false\n\n[renderd]\nsocket = %q\naddress = %q\nstats_file = %q\n", k.sock, k.tcp, k.stats)
	for _, id := range styles {
		fmt.Fprintf(&cfg, "\n[[styles]]\nid = %q\nrenderer = \"debug\"\nmax_zoom = 12\n", id)
	}
	conf := filepath.Join(dir, "kiln.toml")
	writeFile(t, conf, cfg.String())
	k.p = start(t, "kiln serve", dir, filepath.Join(dir, "kiln.log"),
		kiln, "serve", "--config", conf, "--data", filepath.Join(dir, "data"), "--listen", k.http)
	waitHTTP(t, k.p, "http://"+k.http+"/healthz", http.StatusOK)
	waitUnix(t, k.p, k.sock)
	if fi, err := os.Stat(k.sock); err != nil || fi.Mode().Perm() != 0o777 {
		t.Fatalf("kiln's socket: %v, mode %v; want 0777 as renderd makes it", err, fi.Mode())
	}
	return k
}

// renders is kiln's count of metatiles rendered for a style.
func (k *kilnRenderd) renders(t *testing.T, style string) int {
	t.Helper()
	text := getText(t, k.p, "http://"+k.http+"/metrics")
	v, _ := metricValue(text, fmt.Sprintf(`kiln_renders_total{renderer="map",result="ok",style=%q}`, style))
	if e, _ := metricValue(text, fmt.Sprintf(`kiln_renders_total{renderer="map",result="error",style=%q}`, style)); e > 0 {
		t.Errorf("kiln counted %v failed renders for %s\n%s", e, style, k.p.tail())
	}
	return int(v)
}

func (k *kilnRenderd) mtime(t *testing.T, style string, m tile.Meta) time.Time {
	t.Helper()
	fi, err := os.Stat(metatile.Path(k.tiles, style, m))
	if err != nil {
		t.Fatalf("metatile %s of %s: %v\n%s", m, style, err, k.p.tail())
	}
	return fi.ModTime()
}

// runTool runs one of renderd's tools against kiln and checks that kiln
// answered every request Done: on anything else the tools print
// "rendering failed" (and pause for 10 s). Lists for render_list end
// without a newline: render_list 0.6.1 sends the last line of its input
// again after a final newline (a braceless "if (verbose)" swallows its
// check of fscanf's result at the end of the input).
func (k *kilnRenderd) runTool(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	var in io.Reader
	if stdin != "" {
		in = strings.NewReader(stdin)
	}
	out := run(t, k.dir, in, k.p, args...)
	if strings.Contains(out, "rendering failed") {
		t.Errorf("%s: kiln did not answer Done:\n%s\n%s", filepath.Base(args[0]), out, k.p.tail())
	}
	return out
}

func metas(ms ...tile.Meta) []tile.Meta { return ms }

func mt(z, x, y int) tile.Meta { return tile.MetaOf(tile.Coord{Z: z, X: x, Y: y}, metaSize) }

// TestRenderdProtocol drives kiln's queue with the real Debian mod_tile,
// render_list, render_expired and render_old over renderd's protocol, and
// checks what they read back from kiln's cache.
func TestRenderdProtocol(t *testing.T) {
	renderList := lookTool(t, "render_list", "/usr/bin/render_list")
	renderExpired := lookTool(t, "render_expired", "/usr/bin/render_expired")
	renderOld := lookTool(t, "render_old", "/usr/bin/render_old")
	k := startKilnRenderd(t, "ap", "rl", "ex", "old")

	t.Run("mod_tile", func(t *testing.T) { testModTileThroughKiln(t, k) })

	// render_list of Debian's renderd 0.6.1 speaks only to a Unix socket
	// (its -s is a path); TCP is covered by mod_tile above.
	t.Run("render_list", func(t *testing.T) {
		var want []tile.Meta
		for z := 0; z <= 4; z++ {
			for m := range tile.World(z).Metas(metaSize) {
				want = append(want, m)
			}
		}
		out := k.runTool(t, "", renderList, "-a", "-m", "rl", "-s", k.sock, "-t", k.tiles, "-z", "0", "-Z", "4", "-n", "2", "-l", "1000")
		checkRenderdFiles(t, k.tiles, "rl", want, out+k.p.tail())
		if n := k.renders(t, "rl"); n != len(want) {
			t.Errorf("kiln rendered %d metatiles for render_list's %d requests\n%s", n, len(want), out)
		}
		// The tiles are fresh to render_list (newer than the import
		// stamp): it asks for nothing until forced.
		k.runTool(t, "", renderList, "-a", "-m", "rl", "-s", k.sock, "-t", k.tiles, "-z", "0", "-Z", "4", "-l", "1000")
		if n := k.renders(t, "rl"); n != len(want) {
			t.Errorf("after render_list without -f over fresh tiles, kiln rendered %d metatiles, want still %d", n, len(want))
		}
		before := k.mtime(t, "rl", mt(1, 0, 0))
		k.runTool(t, "", renderList, "-a", "-f", "-m", "rl", "-s", k.sock, "-t", k.tiles, "-z", "1", "-Z", "1", "-l", "1000")
		if n := k.renders(t, "rl"); n != len(want)+1 {
			t.Errorf("after render_list -f of zoom 1, kiln rendered %d metatiles, want %d", n, len(want)+1)
		}
		if after := k.mtime(t, "rl", mt(1, 0, 0)); !after.After(before) {
			t.Errorf("render_list -f: metatile 1/0/0 still dated %v", after)
		}
		checkRenderdFiles(t, k.tiles, "rl", want, k.p.tail())
	})

	t.Run("render_expired", func(t *testing.T) {
		// The expiry below reaches, from tile 5/17/13, metatiles 5/16/8,
		// 4/8/0 and 3/0/0; 5/0/0 is cached too and must be left alone.
		expired := metas(mt(5, 16, 8), mt(4, 8, 0), mt(3, 0, 0))
		other := mt(5, 0, 0)
		k.runTool(t, "17 13 5\n8 6 4\n4 3 3\n0 0 5", renderList, "-m", "ex", "-s", k.sock, "-t", k.tiles, "-l", "1000")
		checkRenderdFiles(t, k.tiles, "ex", append(expired, other), k.p.tail())
		rendered := k.renders(t, "ex")
		if rendered != 4 {
			t.Fatalf("kiln rendered %d metatiles for render_list, want 4", rendered)
		}
		otherTime := k.mtime(t, "ex", other)
		expire := func(args ...string) string {
			return k.runTool(t, "5/17/13\n", append([]string{renderExpired, "-m", "ex", "-s", k.sock, "-t", k.tiles,
				"-z", "3", "-Z", "5", "-l", "1000"}, args...)...)
		}

		// Touch: marked dirty on disk as kiln does it, nothing asked of kiln.
		expire("-T", "3")
		for _, m := range expired {
			if at := k.mtime(t, "ex", m); !tilestore.MarkedDirty(at, time.Now()) {
				t.Errorf("render_expired -T: metatile %s dated %v, want marked dirty", m, at)
			}
		}
		if n := k.renders(t, "ex"); n != rendered {
			t.Errorf("render_expired -T made kiln render %d metatiles", n-rendered)
		}

		// Render: each cached metatile asked for with RenderBulk, rendered
		// anew and no longer dirty.
		start := time.Now()
		expire()
		for _, m := range expired {
			if at := k.mtime(t, "ex", m); at.Before(start) {
				t.Errorf("render_expired: metatile %s dated %v, before the run", m, at)
			}
		}
		if n := k.renders(t, "ex"); n != rendered+len(expired) {
			t.Errorf("render_expired: kiln rendered %d metatiles, want %d", n-rendered, len(expired))
		}
		rendered += len(expired)

		// Delete from zoom 4: zooms 4 and 5 deleted, zoom 3 rendered.
		start = time.Now()
		expire("-d", "4")
		for _, m := range expired[:2] {
			if _, err := os.Stat(metatile.Path(k.tiles, "ex", m)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("render_expired -d 4: metatile %s: %v, want deleted", m, err)
			}
		}
		if at := k.mtime(t, "ex", expired[2]); at.Before(start) {
			t.Errorf("render_expired -d 4: metatile 3/0/0 dated %v, want rendered during the run", at)
		}
		if n := k.renders(t, "ex"); n != rendered+1 {
			t.Errorf("render_expired -d 4: kiln rendered %d metatiles, want 1", n-rendered)
		}
		if at := k.mtime(t, "ex", other); !at.Equal(otherTime) {
			t.Errorf("metatile %s, outside the expiry, changed from %v to %v", other, otherTime, at)
		}
		checkRenderdFiles(t, k.tiles, "ex", metas(mt(3, 0, 0), other), k.p.tail())
	})

	// Last: the import stamp it moves makes every cached tile old.
	t.Run("render_old", func(t *testing.T) {
		want := metas(mt(2, 0, 0), mt(3, 0, 0), mt(4, 8, 8))
		k.runTool(t, "0 0 2\n0 0 3\n8 8 4", renderList, "-m", "old", "-s", k.sock, "-t", k.tiles, "-l", "1000")
		before := map[tile.Meta]time.Time{}
		for _, m := range want {
			before[m] = k.mtime(t, "old", m)
		}
		rendered := k.renders(t, "old")
		// A new import, a second after the renders (render_old compares
		// whole seconds).
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond)))
		stamp := filepath.Join(k.tiles, "planet-import-complete")
		now := time.Now()
		if err := os.Chtimes(stamp, now, now); err != nil {
			t.Fatal(err)
		}
		// -c: render_old opens the file even with -m.
		out := k.runTool(t, "", renderOld, "-c", os.DevNull, "-m", "old", "-s", k.sock, "-t", k.tiles, "-z", "0", "-Z", "12", "-l", "1000")
		for _, m := range want {
			if at := k.mtime(t, "old", m); !at.After(before[m]) || at.Before(now) {
				t.Errorf("render_old: metatile %s dated %v (was %v, import at %v), want rendered again\n%s", m, at, before[m], now, out)
			}
		}
		if n := k.renders(t, "old"); n != rendered+len(want) {
			t.Errorf("render_old: kiln rendered %d metatiles, want %d\n%s", n-rendered, len(want), out)
		}
		checkRenderdFiles(t, k.tiles, "old", want, k.p.tail())
	})

	// After: kiln's stats file, as renderd's Munin plugins read it.
	t.Run("munin", func(t *testing.T) { testMuninPlugins(t, k) })
}

// testMuninPlugins stops kiln, which writes its stats file a last time,
// and runs the Munin plugins of Debian's renderd package on it: every
// render of the test is counted once, by queue and by zoom.
func testMuninPlugins(t *testing.T, k *kilnRenderd) {
	total := 0
	for _, style := range k.styles {
		total += k.renders(t, style)
	}
	k.p.stop()
	plugin := func(name string) map[string]int {
		t.Helper()
		src, err := os.ReadFile(filepath.Join("/usr/share/munin/plugins", name))
		if err != nil {
			t.Fatalf("renderd's Munin plugin %s: %v (the renderd package installs it)", name, err)
		}
		// The plugins read renderd's default path; this one reads kiln's.
		script := filepath.Join(k.dir, name)
		writeFile(t, script, strings.ReplaceAll(string(src), "/run/renderd/renderd.stats", k.stats))
		out := run(t, k.dir, nil, nil, "sh", script)
		values := map[string]int{}
		for line := range strings.Lines(out) {
			field, v, ok := strings.Cut(line, ".value")
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if !ok || err != nil {
				t.Fatalf("%s printed %q:\n%s", name, line, out)
			}
			values[field] = n
		}
		return values
	}
	processed := plugin("renderd_processed")
	sum := 0
	for _, n := range processed {
		sum += n
	}
	// mod_tile asked for two missing tiles (on demand: "req") and marked
	// one dirty; render_list, render_expired and render_old ask in bulk.
	if sum != total || processed["req"] != 2 || processed["dirty"] != 1 || processed["reqPrio"] != 0 || processed["dropped"] != 0 {
		t.Errorf("renderd_processed: %v; want %d in all, req 2, dirty 1\n%s", processed, total, tailFile(k.stats, 60))
	}
	if processed["reqBulk"] != total-3 {
		t.Errorf("renderd_processed: reqBulk %d, want %d", processed["reqBulk"], total-3)
	}
	zooms := plugin("renderd_zoom")
	sum = 0
	for _, n := range zooms {
		sum += n
	}
	if sum != total {
		t.Errorf("renderd_zoom: %v, %d in all; want %d", zooms, sum, total)
	}
	for _, name := range []string{"renderd_queue", "renderd_queue_time", "renderd_zoom_time"} {
		values := plugin(name)
		if len(values) < 5 {
			t.Errorf("%s: %v", name, values)
		}
		if name == "renderd_queue" {
			for q, n := range values {
				if n != 0 {
					t.Errorf("renderd_queue: %s %d, want an empty queue at the end", q, n)
				}
			}
		}
	}
}

// testModTileThroughKiln serves tiles with Apache mod_tile whose renderd is
// kiln, once over the Unix socket and once over TCP.
func testModTileThroughKiln(t *testing.T, k *kilnRenderd) {
	apache := lookTool(t, "apache2", "/usr/sbin/apache2")
	modTile := needFile(t, filepath.Join(apacheModules, "mod_tile.so"), "libapache2-mod-tile")
	mpm := needFile(t, filepath.Join(apacheModules, "mod_mpm_event.so"), "apache2")
	authz := needFile(t, filepath.Join(apacheModules, "mod_authz_core.so"), "apache2")

	ap := filepath.Join(k.dir, "apache")
	if err := os.MkdirAll(ap, 0o755); err != nil {
		t.Fatal(err)
	}
	viaUnix, viaTCP := freeAddr(t), freeAddr(t)
	conf := filepath.Join(ap, "httpd.conf")
	writeFile(t, conf, renderdApacheConf(ap, viaUnix, viaTCP, k, mpm, authz, modTile))
	ah := startApache(t, k.dir, ap, conf, apache, "http://"+viaUnix+"/", k.p.logs[0])
	waitHTTP(t, ah, "http://"+viaTCP+"/", 0)

	renders := 0
	for _, tc := range []struct {
		via  string
		addr string
		c    tile.Coord
	}{
		{"Unix socket", viaUnix, tile.Coord{Z: 5, X: 3, Y: 7}},
		{"TCP", viaTCP, tile.Coord{Z: 6, X: 40, Y: 20}},
	} {
		m := tile.MetaOf(tc.c, metaSize)
		if _, err := os.Stat(metatile.Path(k.tiles, "ap", m)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("metatile %s should be missing before the request: %v", m, err)
		}
		// Missing: mod_tile sends RenderPrio and waits for Done, then
		// serves the tile from kiln's metatile.
		url := fmt.Sprintf("http://%s/ap/%d/%d/%d.png", tc.addr, tc.c.Z, tc.c.X, tc.c.Y)
		body := getTile(t, ah, url)
		renders++
		if !bytes.Equal(body, storedTile(t, k.tiles, "ap", tc.c)) {
			t.Errorf("via %s: mod_tile served %d bytes that are not tile %s of kiln's metatile\n%s", tc.via, len(body), tc.c, ah.tail())
		}
		decodePNG(t, tc.c, body)
		if n := k.renders(t, "ap"); n != renders {
			t.Errorf("via %s: kiln rendered %d metatiles, want %d", tc.via, n, renders)
		}
		// Cached now: served without asking kiln.
		if again := getTile(t, ah, url); !bytes.Equal(again, body) {
			t.Errorf("via %s: second answer differs", tc.via)
		}
		if n := k.renders(t, "ap"); n != renders {
			t.Errorf("via %s: a cached tile made kiln render (%d, want %d)", tc.via, n, renders)
		}
	}
	if log := tailFile(filepath.Join(ap, "error.log"), 200); !strings.Contains(log, "Requesting style(ap) z(5) x(3) y(7) from renderer with priority 5") {
		t.Errorf("mod_tile's log does not show the RenderPrio request:\n%s", log)
	}

	// /dirty: mod_tile sends Dirty and reads no answer; kiln marks the
	// metatile and renders it again.
	c := tile.Coord{Z: 5, X: 3, Y: 7}
	m := tile.MetaOf(c, metaSize)
	before := k.mtime(t, "ap", m)
	if got := getText(t, ah, fmt.Sprintf("http://%s/ap/%d/%d/%d.png/dirty", viaTCP, c.Z, c.X, c.Y)); got != "Tile submitted for rendering\n" {
		t.Errorf("/dirty answered %q", got)
	}
	poll(t, k.p, "re-render after /dirty", func() error {
		if n := k.renders(t, "ap"); n != renders+1 {
			return fmt.Errorf("%d renders", n)
		}
		return nil
	})
	if at := k.mtime(t, "ap", m); !at.After(before) || tilestore.MarkedDirty(at, time.Now()) {
		t.Errorf("after /dirty and its render, metatile %s dated %v (was %v)", m, at, before)
	}

	// Beyond the style's zooms (kiln's max_zoom 12, mod_tile's 20): kiln
	// answers Ignore at once and mod_tile answers 404 without waiting out
	// its 20 s timeout.
	start := time.Now()
	resp, err := client.Get(fmt.Sprintf("http://%s/ap/13/0/0.png", viaUnix))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || time.Since(start) > 5*time.Second {
		t.Errorf("tile beyond the style's zooms: %s after %v, want 404 at once\n%s", resp.Status, time.Since(start), ah.tail())
	}
}

// renderdApacheConf serves kiln's "ap" tileset with mod_tile on two
// addresses, one asking kiln over its Unix socket, one over TCP. Bulk mode
// is off and the load limits high, so that mod_tile asks for missing tiles
// and waits for them whatever the machine's load.
func renderdApacheConf(root, viaUnix, viaTCP string, k *kilnRenderd, mpm, authz, modTile string) string {
	user := ""
	if os.Geteuid() == 0 {
		user = "User www-data\nGroup www-data\n"
	}
	host, port, _ := net.SplitHostPort(k.tcp)
	vhost := func(addr, renderd string) string {
		return fmt.Sprintf(`
<VirtualHost %s>
    ServerName 127.0.0.1
    ModTileTileDir %s
    AddTileConfig /ap/ ap
    %s
    ModTileBulkMode Off
    ModTileRequestTimeout 20
    ModTileMissingRequestTimeout 20
    ModTileMaxLoadOld 1000
    ModTileMaxLoadMissing 1000
</VirtualHost>
`, addr, k.tiles, renderd)
	}
	return fmt.Sprintf(`ServerRoot %[1]s
ServerName 127.0.0.1
DefaultRuntimeDir %[1]s
PidFile %[1]s/httpd.pid
Mutex file:%[1]s default
ErrorLog %[1]s/error.log
LogLevel warn tile:info
Listen %[2]s
Listen %[3]s
LoadModule mpm_event_module %[4]s
LoadModule authz_core_module %[5]s
LoadModule tile_module %[6]s
%[7]sDocumentRoot %[1]s
`, root, viaUnix, viaTCP, mpm, authz, modTile, user) +
		vhost(viaUnix, "ModTileRenderdSocketName "+k.sock) +
		vhost(viaTCP, fmt.Sprintf("ModTileRenderdSocketAddr %s %s", host, port))
}
