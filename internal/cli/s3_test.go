package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"kiln/internal/metatile"
	"kiln/internal/s3test"
	"kiln/internal/tile"
)

// s3Config writes a configuration whose cache is srv's bucket under
// prefix "kiln/", the secret coming from the environment.
func s3Config(t testing.TB, srv *s3test.Server, extra string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "kiln.toml")
	text := fmt.Sprintf(`data = %q
[cache]
backend = "s3"
endpoint = %q
bucket = %q
prefix = "kiln/"
access_key_id = %q
tls = false
timeout = "1s"
retries = 1
%s`, filepath.Join(dir, "data"), srv.Endpoint, srv.Bucket, srv.AccessKey, extra)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(envSecret, srv.SecretKey)
	return p
}

func get(t testing.TB, url string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// metric reads a counter from /metrics, 0 if it is not there yet.
func metric(t testing.TB, base, series string) float64 {
	t.Helper()
	_, _, b := get(t, base+"metrics")
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

const rendersOK = `kiln_renders_total{renderer="map",result="ok",style="debug"}`

// kiln serve on an S3 cache renders a missing tile into the bucket as a
// mod_tile metatile, serves it from there afterwards without rendering,
// and /dirty re-renders it.
func TestServeS3(t *testing.T) {
	srv := s3test.Start(t)
	base := startServe(t, "--config", s3Config(t, srv, ""))
	url := base + "styles/debug/6/35/21.png"
	code, _, first := get(t, url)
	if code != 200 || !bytes.HasPrefix(first, []byte("\x89PNG")) {
		t.Fatalf("first request: %d %q", code, first[:min(len(first), 80)])
	}
	if n := metric(t, base, rendersOK); n != 1 {
		t.Fatalf("%v renders after the first request, want 1", n)
	}

	// The metatile is in the bucket where mod_tile's layout puts it,
	// holding the tile served.
	m := tile.MetaOf(tile.Coord{Z: 6, X: 35, Y: 21}, 8)
	key := "kiln/" + strings.TrimPrefix(metatile.Path("/", "debug", m), "/")
	c := srv.Client(t)
	ctx := context.Background()
	obj, err := c.GetObject(ctx, srv.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	file, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("object %s: %v", key, err)
	}
	_, tiles, err := metatile.Decode(file, m)
	if err != nil || !bytes.Equal(tiles[m.Index(tile.Coord{Z: 6, X: 35, Y: 21})], first) {
		t.Fatalf("object %s does not hold the tile served: %v", key, err)
	}
	before, _ := c.StatObject(ctx, srv.Bucket, key, minio.StatObjectOptions{})

	// Served from the bucket: the same bytes, no render.
	for range 3 {
		if code, h, b := get(t, url); code != 200 || !bytes.Equal(b, first) || h.Get("Etag") == "" {
			t.Fatalf("cached request: %d, %d bytes", code, len(b))
		}
	}
	if n := metric(t, base, rendersOK); n != 1 {
		t.Errorf("%v renders after cached requests, want 1", n)
	}
	if n := metric(t, base, `kiln_cache_requests_total{kind="tile",result="hit"}`); n != 3 {
		t.Errorf("%v cache hits, want 3", n)
	}

	// /dirty marks it and re-renders it into a new object.
	if code, _, b := get(t, url+"/dirty"); code != 200 || !strings.Contains(string(b), "submitted") {
		t.Fatalf("dirty: %d %q", code, b)
	}
	deadline := time.Now().Add(20 * time.Second)
	for metric(t, base, rendersOK) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("not re-rendered after /dirty")
		}
		time.Sleep(20 * time.Millisecond)
	}
	after, err := c.StatObject(ctx, srv.Bucket, key, minio.StatObjectOptions{})
	if err != nil || after.ETag == before.ETag {
		t.Errorf("object after the re-render: %v, ETag %q (was %q)", err, after.ETag, before.ETag)
	}
	code, _, b := get(t, url+"/status")
	if code != 200 || !strings.Contains(string(b), "Tile is clean") || !strings.Contains(string(b), "s3://"+srv.Bucket+"/"+key) {
		t.Errorf("status: %d %q", code, b)
	}
}

// Start-up fails clearly without the bucket or without the secret.
func TestServeS3Refused(t *testing.T) {
	srv := s3test.Start(t)
	cfg := s3Config(t, srv, "")
	text, _ := os.ReadFile(cfg)
	noBucket := filepath.Join(t.TempDir(), "nobucket.toml")
	os.WriteFile(noBucket, bytes.Replace(text, []byte(`bucket = "`+srv.Bucket+`"`), []byte(`bucket = "no-such-bucket"`), 1), 0o644)
	code, _, stderr := run(t, "", "serve", "--config", noBucket, "--listen", "127.0.0.1:0")
	if code != 1 || !strings.Contains(stderr, `bucket "no-such-bucket" does not exist`) {
		t.Errorf("missing bucket: exit %d: %s", code, stderr)
	}
	t.Setenv(envSecret, "")
	t.Setenv(envAWSSecret, "")
	code, _, stderr = run(t, "", "serve", "--config", cfg, "--listen", "127.0.0.1:0")
	if code != 2 || !strings.Contains(stderr, "cache.secret_access_key: empty, and neither KILN_S3_SECRET_ACCESS_KEY nor AWS_SECRET_ACCESS_KEY is set") {
		t.Errorf("no secret: exit %d: %s", code, stderr)
	}
	t.Setenv(envAWSSecret, srv.SecretKey)
	if code, _, stderr := run(t, "", "import", "--config", cfg, sampleOSM); code != 0 {
		t.Fatalf("import with the secret from AWS_SECRET_ACCESS_KEY: %s", stderr)
	} else if strings.Contains(stderr, srv.SecretKey) {
		t.Error("the secret is in the log")
	}
	if _, err := srv.Client(t).StatObject(context.Background(), srv.Bucket, "kiln/planet-import-complete", minio.StatObjectOptions{}); err != nil {
		t.Errorf("import left no stamp in the bucket: %v", err)
	}
}

// TestServeS3Restart restarts the S3 server under load: while it is down
// requests fail with 503 and Retry-After within the configured timeout,
// none is answered with other bytes than the tile's, and once it is back
// every tile is served again.
func TestServeS3Restart(t *testing.T) {
	srv := s3test.Start(t)
	base := startServe(t, "--config", s3Config(t, srv, ""))
	var urls []string
	want := map[string][]byte{}
	for _, c := range [][2]int{{8, 8}, {9, 17}, {30, 40}, {47, 5}} {
		for _, d := range []int{0, 3} {
			u := fmt.Sprintf("%sstyles/debug/7/%d/%d.png", base, c[0]+d, c[1]+d)
			code, _, b := get(t, u)
			if code != 200 {
				t.Fatalf("%s: %d", u, code)
			}
			urls, want[u] = append(urls, u), b
		}
	}
	type result struct {
		code  int
		ok    bool // 200 with the tile's bytes, or 503 with Retry-After
		took  time.Duration
		after bool // sent after the restart
	}
	var (
		mu        sync.Mutex
		results   []result
		restarted bool
	)
	stop := make(chan struct{})
	client := &http.Client{Timeout: 20 * time.Second}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := 0; i < 2000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				u := urls[(g+i)%len(urls)]
				mu.Lock()
				after := restarted
				mu.Unlock()
				start := time.Now()
				resp, err := client.Get(u)
				if err != nil {
					t.Errorf("%s: %v", u, err)
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				r := result{code: resp.StatusCode, took: time.Since(start), after: after}
				r.ok = err == nil && (resp.StatusCode == 200 && bytes.Equal(b, want[u]) ||
					resp.StatusCode == 503 && resp.Header.Get("Retry-After") != "")
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	srv.Stop()
	time.Sleep(1500 * time.Millisecond)
	srv.Restart(t)
	mu.Lock()
	restarted = true
	mu.Unlock()
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()

	codes := map[int]int{}
	var slowest time.Duration
	okAfter := 0
	for _, r := range results {
		codes[r.code]++
		slowest = max(slowest, r.took)
		if !r.ok {
			t.Errorf("answer %d is not the tile nor a 503 with Retry-After", r.code)
		}
		if r.after && r.code == 200 {
			okAfter++
		}
	}
	t.Logf("%d requests: %v; slowest %v; %d served after the restart", len(results), codes, slowest, okAfter)
	if codes[503] == 0 {
		t.Error("no request failed while the S3 server was down")
	}
	if slowest > 5*time.Second {
		t.Errorf("a request took %v, past the 1 s store timeout (and its retry)", slowest)
	}
	if okAfter == 0 {
		t.Error("no tile served after the restart")
	}
	for _, u := range urls {
		if code, _, b := get(t, u); code != 200 || !bytes.Equal(b, want[u]) {
			t.Errorf("%s after the restart: %d", u, code)
		}
	}
}

// BenchmarkServeS3CachedTile is a cached tile served by kiln serve from
// the S3 bucket over loopback: one ranged GET per request once the
// metatile's header is cached. It reports the latency's p50 and p99.
func BenchmarkServeS3CachedTile(b *testing.B) {
	srv := s3test.Start(b)
	base := startServe(b, "--config", s3Config(b, srv, "[log]\naccess = false\n"))
	var urls []string // eight tiles of one metatile
	for x := range 8 {
		urls = append(urls, fmt.Sprintf("%sstyles/debug/14/%d/%d.png", base, 8696+x, 5752+x))
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	fetch := func(u string) {
		resp, err := client.Get(u)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("%s: %d", u, resp.StatusCode)
		}
	}
	for _, u := range urls {
		fetch(u) // rendered once, into the bucket
	}
	var took []time.Duration
	i := 0
	for b.Loop() {
		start := time.Now()
		fetch(urls[i%len(urls)])
		took = append(took, time.Since(start))
		i++
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
	if renders := metric(b, base, rendersOK); renders != 1 {
		b.Errorf("%v renders, want 1 (every tile from one metatile)", renders)
	}
}
