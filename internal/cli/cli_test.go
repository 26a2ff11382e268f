package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"kiln/internal/metatile"
	"kiln/internal/tile"
)

// TestMain lets the test binary stand in for kiln: with KILN_TEST_MAIN=1 it
// runs the command line it was given, so that tests can start real kiln
// processes and signal them.
func TestMain(m *testing.M) {
	if os.Getenv("KILN_TEST_MAIN") == "1" { // as cmd/kiln does
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := Main(ctx, os.Args[1:], IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// run runs kiln in-process and returns its exit code, stdout and stderr.
func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, IO{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "kiln ") || !strings.Contains(out, "go1.") {
		t.Errorf("version: %d %q", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	badConfig := filepath.Join(dir, "bad.toml")
	os.WriteFile(badConfig, []byte("[render]\nworkers = \"many\"\n"), 0o644)
	unknownKey := filepath.Join(dir, "unknown.toml")
	os.WriteFile(unknownKey, []byte("[[styles]]\nid = \"a\"\nrenderer = \"debug\"\nzoom = 3\n"), 0o644)
	noRenderer := filepath.Join(dir, "norenderer.toml")
	os.WriteFile(noRenderer, []byte("[[styles]]\nid = \"a\"\nrenderer = \"mapnik\"\n"), 0o644)
	badStyle := filepath.Join(dir, "bad-style.json")
	os.WriteFile(badStyle, []byte(`{"version": 8, "sources": {"osm": {"type": "vector", "url": "local://data/osm.json"}},
  "layers": [{"id": "roads", "type": "line", "source": "osm", "source-layer": "streets",
    "paint": {"line-width": ["interpolate", ["linear"], ["zoom"], 5]}}]}`), 0o644)
	badStyleConfig := filepath.Join(dir, "badstyle.toml")
	os.WriteFile(badStyleConfig, []byte("[[styles]]\nid = \"osm\"\nstyle = \""+badStyle+"\"\n"), 0o644)
	missingStyleConfig := filepath.Join(dir, "missingstyle.toml")
	os.WriteFile(missingStyleConfig, []byte("[[styles]]\nid = \"osm\"\nstyle = \"nowhere.json\"\n"), 0o644)
	badStats := filepath.Join(dir, "badstats.toml")
	os.WriteFile(badStats, []byte("[renderd]\nstats_file = \""+filepath.Join(dir, "no-such-dir", "renderd.stats")+"\"\n"), 0o644)
	data := filepath.Join(dir, "data")
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string // in stderr
	}{
		{"no command", "", nil, "usage: kiln"},
		{"unknown command", "", []string{"bake"}, `unknown command "bake"`},
		{"unknown flag", "", []string{"render", "--bogus"}, "flag provided but not defined"},
		{"stray argument", "", []string{"serve", "extra"}, `unexpected argument "extra"`},
		{"render without style", "", []string{"render", "--all"}, "--style is required"},
		{"render without area", "", []string{"render", "--style", "debug"}, "exactly one of --bbox"},
		{"render with both areas", "", []string{"render", "--style", "debug", "--all", "--bbox", "1,2,3,4"}, "exactly one of --bbox"},
		{"render bad bbox", "", []string{"render", "--style", "debug", "--bbox", "1,2,3"}, "--bbox"},
		{"render inverted bbox", "", []string{"render", "--style", "debug", "--bbox", "10,2,3,4"}, "--bbox"},
		{"render bad zoom", "", []string{"render", "--data", data, "--style", "debug", "--all", "--zoom", "5-3"}, "--zoom"},
		{"render unknown style", "", []string{"render", "--data", data, "--style", "nope", "--all", "--zoom", "0"}, `no style "nope"`},
		{"render zoom outside style", "", []string{"render", "--data", data, "--config", noRenderer, "--style", "debug", "--all"}, "renderer"},
		{"missing config", "", []string{"serve", "--config", filepath.Join(dir, "missing.toml")}, "missing.toml"},
		{"bad config value", "", []string{"serve", "--config", badConfig}, "workers"},
		{"unknown config key", "", []string{"serve", "--config", unknownKey}, "unknown key styles[0].zoom"},
		{"unknown renderer", "", []string{"serve", "--config", noRenderer, "--data", data}, `styles[0] ("a").renderer: "mapnik"`},
		{"bad listen", "", []string{"serve", "--listen", "nowhere", "--data", data}, "listen"},
		{"style error", "", []string{"serve", "--config", badStyleConfig, "--data", data}, `styles[0] ("osm").style: ` + badStyle + `: layer "roads": paint.line-width`},
		{"missing style file", "", []string{"serve", "--config", missingStyleConfig, "--data", data}, "nowhere.json"},
		{"stats file not writable", "", []string{"serve", "--config", badStats, "--data", data, "--listen", "127.0.0.1:0"}, "renderd.stats_file: renderd stats: open " + filepath.Join(dir, "no-such-dir")},
		{"expire missing list", "", []string{"expire", "--data", data, "--style", "debug", filepath.Join(dir, "nope.txt")}, "nope.txt"},
		{"expire bad line", "3/1/1\nhello\n", []string{"expire", "--data", data, "--style", "debug"}, "stdin: line 2"},
		{"expire bad mode", "", []string{"expire", "--style", "debug", "--mode", "zap"}, `--mode "zap"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, tc.stdin, tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.want)
			}
			if strings.HasPrefix(stderr, "kiln: ") && strings.Count(strings.TrimSpace(stderr), "\n") > 0 && !strings.Contains(stderr, "usage") {
				t.Errorf("error takes more than one line: %q", stderr)
			}
		})
	}
}

var summary = regexp.MustCompile(`^kiln render: debug 0-10: (\d+) tiles in (\d+) metatiles in [0-9.]+ s = [0-9.]+ tiles/s \((\d+) fresh metatiles skipped, 0 failed\)\n$`)

func TestRenderAndExpire(t *testing.T) {
	data := t.TempDir()
	render := func(extra ...string) (tiles, metas, skipped string) {
		t.Helper()
		args := append([]string{"render", "--data", data, "--style", "debug", "--bbox", "9.47,47.04,9.64,47.27", "--zoom", "0-10", "--threads", "2"}, extra...)
		code, out, stderr := run(t, "", args...)
		m := summary.FindStringSubmatch(out)
		if code != 0 || m == nil {
			t.Fatalf("render: exit %d, stdout %q, stderr %s", code, out, stderr)
		}
		return m[1], m[2], m[3]
	}
	// z0-2: 1+4+16 tiles in one metatile each; z3-9: one full metatile
	// each; z10: two (the country straddles a metatile edge).
	if tiles, metas, skipped := render(); tiles != fmt.Sprint(1+4+16+9*64) || metas != "12" || skipped != "0" {
		t.Errorf("first render: %s tiles, %s metatiles, %s skipped", tiles, metas, skipped)
	}
	if tiles, metas, skipped := render(); tiles != "0" || metas != "0" || skipped != "12" {
		t.Errorf("second render: %s tiles, %s metatiles, %s skipped; want all skipped", tiles, metas, skipped)
	}
	if _, metas, _ := render("--force"); metas != "12" {
		t.Errorf("forced render: %s metatiles", metas)
	}

	expireRun := func(list string, args ...string) string {
		t.Helper()
		code, out, stderr := run(t, list, append([]string{"expire", "--data", data, "--style", "debug"}, args...)...)
		if code != 0 {
			t.Fatalf("expire: exit %d: %s", code, stderr)
		}
		return out
	}
	meta := metatile.Path(filepath.Join(data, "tiles"), "debug", tile.Meta{Z: 10, X: 536, Y: 352, N: 8})
	stat := func() (time.Time, bool) {
		fi, err := os.Stat(meta)
		if err != nil {
			return time.Time{}, false
		}
		return fi.ModTime(), true
	}
	if _, ok := stat(); !ok {
		t.Fatalf("%s not rendered", meta)
	}
	// One z10 tile, zooms 9-10: two metatiles, both cached.
	out := expireRun("10/537/358\n", "--min-zoom", "9", "--max-zoom", "10")
	if !strings.Contains(out, "2 metatiles marked dirty, 0 deleted, 0 re-rendered; 2 not cached") {
		t.Errorf("dirty: %q", out) // the 2 not cached are the @2x ones
	}
	if mt, _ := stat(); time.Since(mt) < 19*365*24*time.Hour {
		t.Errorf("metatile not marked dirty: mtime %v", mt)
	}
	out = expireRun("10/537/358\n", "--min-zoom", "10", "--max-zoom", "10", "--mode", "render")
	if !strings.Contains(out, "1 re-rendered") {
		t.Errorf("render: %q", out)
	}
	if mt, _ := stat(); time.Since(mt) > time.Minute {
		t.Errorf("metatile not re-rendered: mtime %v", mt)
	}
	out = expireRun("10/537/358\n", "--min-zoom", "10", "--max-zoom", "10", "--mode", "render", "--delete-from", "10")
	if !strings.Contains(out, "1 deleted") {
		t.Errorf("delete-from: %q", out)
	}
	if _, ok := stat(); ok {
		t.Error("metatile not deleted")
	}
}

// TestServeSignals runs kiln serve as a process: it logs its URL, serves
// tiles, and on SIGTERM drains and exits 0 well within 10 s.
func TestServeSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0")
			cmd.Env = append(os.Environ(), "KILN_TEST_MAIN=1")
			stderr, _ := cmd.StderrPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			lines := bufio.NewScanner(stderr)
			url := ""
			for url == "" && lines.Scan() {
				if m := regexp.MustCompile(`msg="kiln serving" url=(\S+)`).FindStringSubmatch(lines.Text()); m != nil {
					url = m[1]
				}
			}
			if url == "" {
				t.Fatal("kiln serve never logged its URL")
			}
			go io.Copy(io.Discard, stderr)
			resp, err := http.Get(url + "styles/debug/2/1/1.png")
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("tile: %v %v", resp, err)
			}
			resp.Body.Close()
			start := time.Now()
			cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("exit after %v: %v", sig, err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("still running 10 s after %v", sig)
			}
			t.Logf("stopped %v after the signal", time.Since(start))
			host := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/")
			if c, err := net.DialTimeout("tcp", host, time.Second); err == nil {
				c.Close()
				t.Error("still listening after exit")
			}
		})
	}
}

func TestServePortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, _, stderr := run(t, "", "serve", "--data", t.TempDir(), "--listen", ln.Addr().String())
	if code != 1 || !strings.Contains(stderr, "address already in use") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

// startServe runs kiln serve as a process and returns its base URL.
func startServe(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "KILN_TEST_MAIN=1")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	lines := bufio.NewScanner(stderr)
	for lines.Scan() {
		if m := regexp.MustCompile(`msg="kiln serving" url=(\S+)`).FindStringSubmatch(lines.Text()); m != nil {
			go io.Copy(io.Discard, stderr)
			return m[1]
		}
	}
	t.Fatal("kiln serve never logged its URL")
	return ""
}

// A running server sees a new import without a restart.
func TestServeSeesNewImport(t *testing.T) {
	data := t.TempDir()
	if code, _, stderr := run(t, "", "import", "--data", data, sampleOSM); code != 0 {
		t.Fatal(stderr)
	}
	url := startServe(t, "--data", data)
	bounds := func() []float64 {
		t.Helper()
		resp, err := http.Get(url + "styles/debug.json")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tj struct{ Bounds []float64 }
		json.NewDecoder(resp.Body).Decode(&tj)
		return tj.Bounds
	}
	if b := bounds(); len(b) != 4 || b[0] < 9.3 || b[2] > 9.7 || b[1] < 46.7 || b[3] > 47.6 {
		t.Errorf("bounds after the first import: %v", b)
	}
	if code, _, stderr := run(t, "", "import", "--data", data, "../importer/testdata/coast.osm"); code != 0 {
		t.Fatal(stderr)
	}
	if b := bounds(); len(b) != 4 || b[0] < 9.9 || b[2] > 10.2 {
		t.Errorf("bounds after the second import: %v", b)
	}
}
