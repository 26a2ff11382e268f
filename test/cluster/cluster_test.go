// Package cluster_test runs several kiln serve nodes on 127.0.0.1 over
// the shared parts of a multi-node deployment (PostGIS for the map data,
// an S3 server for the cache, river in the same PostgreSQL for the render
// queue) and kills one in the middle of a bulk render.
package cluster_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"github.com/paulmach/orb"

	"kiln/internal/metatile"
	"kiln/internal/pgtest"
	"kiln/internal/s3test"
	"kiln/internal/tile"
)

// Liechtenstein, the bundled extract, and the zooms the bulk render covers.
const (
	bbox       = "9.47,47.04,9.64,47.28"
	zooms      = "10-16"
	style      = "osm"
	metaSize   = 8
	runTimeout = 4 * time.Minute
)

var bboxBound = [4]float64{9.47, 47.04, 9.64, 47.28}

var (
	binOnce  sync.Once
	binPath  string
	binErr   error
	binDir   string
	repoRoot string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kiln-cluster-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster test:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// kiln builds the kiln binary once.
func kiln(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			binErr = err
			return
		}
		repoRoot = filepath.Dir(strings.TrimSpace(string(out)))
		binPath = filepath.Join(binDir, "kiln")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/kiln")
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// cluster is the shared parts and a config that points at them.
type cluster struct {
	dir, config string
	db          string
	s3          *s3test.Server
	env         []string
}

func newCluster(t testing.TB, lease string, workers int) *cluster {
	t.Helper()
	bin := kiln(t)
	db := pgtest.Start(t).NewDatabase(t)
	s3 := s3test.Start(t)
	dir := t.TempDir()
	c := &cluster{dir: dir, db: db, s3: s3, config: filepath.Join(dir, "kiln.toml"),
		env: append(os.Environ(), "KILN_S3_SECRET_ACCESS_KEY="+s3.SecretKey)}
	conf := fmt.Sprintf(`db = %q

[log]
level = "debug"

[render]
timeout = "4s"
workers = %d

[queue]
backend = "postgres"
lease = %q

# Page jobs must end within the lease too.
[thumbnails]
timeout = "3s"

[cache]
backend = "s3"
endpoint = %q
bucket = %q
access_key_id = %q
tls = false

[[styles]]
id = %q
style = "default"
`, db, workers, lease, s3.Endpoint, s3.Bucket, s3.AccessKey, style)
	if err := os.WriteFile(c.config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	c.run(t, bin, "import", "--config", c.config, "--data", filepath.Join(dir, "import"),
		filepath.Join(repoRoot, "data/osm/liechtenstein-2013-08-03.osm.pbf"))
	return c
}

// run runs a kiln command to completion and returns its stdout.
func (c *cluster) run(t testing.TB, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = c.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kiln %s: %v\n%s\n%s", strings.Join(args, " "), err, out.String(), tail(errb.String(), 40))
	}
	return out.String()
}

// node is a kiln serve process.
type node struct {
	name, url, log string
	cmd            *exec.Cmd
	done           chan struct{}
}

func (c *cluster) startNode(t testing.TB, name string) *node {
	t.Helper()
	return c.startNodeWith(t, name, c.config)
}

func (c *cluster) startNodeWith(t testing.TB, name, config string) *node {
	t.Helper()
	port := freePort(t)
	n := &node{name: name, url: fmt.Sprintf("http://127.0.0.1:%d", port),
		log: filepath.Join(c.dir, name+".log"), done: make(chan struct{})}
	logf, err := os.Create(n.log)
	if err != nil {
		t.Fatal(err)
	}
	n.cmd = exec.Command(kiln(t), "serve", "--config", config, "--data", filepath.Join(c.dir, name),
		"--listen", fmt.Sprintf("127.0.0.1:%d", port))
	n.cmd.Env = c.env
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { n.cmd.Wait(); logf.Close(); close(n.done) }()
	t.Cleanup(func() { n.kill() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(n.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return n
			}
		}
		select {
		case <-n.done:
			t.Fatalf("node %s exited: %s", name, tail(readFile(n.log), 30))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s not ready in 60 s: %s", name, tail(readFile(n.log), 30))
		}
	}
}

func (n *node) kill() {
	if n.cmd.Process != nil {
		n.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-n.done
}

var renderedLine = regexp.MustCompile(`msg=rendered style=(\S+) metatile=(\d+/\d+/\d+)`)

// renders counts the metatiles a node's log says it rendered and stored.
func renders(path string, into map[string]int) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := renderedLine.FindStringSubmatch(sc.Text()); m != nil {
			into[m[1]+"/"+m[2]]++
		}
	}
}

func countRenders(nodes ...*node) map[string]int {
	n := map[string]int{}
	for _, nd := range nodes {
		renders(nd.log, n)
	}
	return n
}

// metas lists the metatiles the bulk render covers.
func metas() []tile.Meta {
	var out []tile.Meta
	b := bboxBound
	for z := 10; z <= 16; z++ {
		r := tile.Covering(orb.Bound{Min: orb.Point{b[0], b[1]}, Max: orb.Point{b[2], b[3]}}, z)
		for m := range r.Metas(metaSize) {
			out = append(out, m)
		}
	}
	return out
}

// Three nodes share PostGIS, the S3 cache and the queue; a bulk render
// runs from a fourth process; one node is killed with SIGKILL half way.
// Every metatile ends in the cache, whole, rendered once, or twice for
// the jobs the killed node held.
func TestBulkRenderSurvivesSIGKILL(t *testing.T) {
	c := newCluster(t, "8s", 1)
	nodes := []*node{c.startNode(t, "a"), c.startNode(t, "b"), c.startNode(t, "c")}
	want := metas()

	renderOut := make(chan string, 1)
	renderErr := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, kiln(t), "render", "--config", c.config, "--data", filepath.Join(c.dir, "render"),
			"--style", style, "--bbox", bbox, "--zoom", zooms)
		cmd.Env = c.env
		out, err := cmd.CombinedOutput()
		renderOut <- string(out)
		renderErr <- err
	}()

	// Kill node b once a third of the work is done and it is rendering.
	victim := nodes[1]
	deadline := time.Now().Add(runTimeout)
	for {
		if time.Now().After(deadline) {
			t.Fatal("the bulk render made no progress")
		}
		done := 0
		for _, n := range countRenders(nodes...) {
			done += n
		}
		if done >= len(want)/3 && len(countRenders(victim)) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	before := countRenders(victim)
	victim.kill()
	t.Logf("killed node %s after it rendered %d metatiles", victim.name, len(before))

	out, err := <-renderOut, <-renderErr
	if err != nil {
		t.Fatalf("kiln render: %v\n%s", err, tail(out, 40))
	}
	t.Logf("kiln render: %s", lastLine(out))

	// Every metatile rendered once; a job the victim held when it died
	// may have been rendered a second time.
	got := countRenders(nodes...)
	twice := 0
	for _, m := range want {
		key := style + "/" + m.String()
		switch n := got[key]; {
		case n == 0:
			t.Errorf("metatile %s never rendered", key)
		case n == 2:
			twice++
		case n > 2:
			t.Errorf("metatile %s rendered %d times", key, n)
		}
	}
	// The victim held at most two jobs: one rendering on its one worker,
	// one prefetched.
	const held = 2
	if twice > held {
		t.Errorf("%d metatiles rendered twice, want at most %d (the killed node's jobs)", twice, held)
	}
	if len(got) != len(want) {
		t.Errorf("%d metatiles rendered, want %d", len(got), len(want))
	}

	// Every object is a whole metatile.
	client := c.s3.Client(t)
	for _, m := range want {
		key := metatile.Path(style, "", m)
		obj, err := client.GetObject(context.Background(), c.s3.Bucket, key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		b, err := io.ReadAll(obj)
		obj.Close()
		if err != nil {
			t.Errorf("read %s: %v", key, err)
			continue
		}
		if _, _, err := metatile.Decode(b, m); err != nil {
			t.Errorf("metatile %s: %v", key, err)
		}
	}

	// The queue holds no job of the render that did not end well.
	conn, err := pgx.Connect(context.Background(), c.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var left, failed, retried int
	if err := conn.QueryRow(context.Background(), `SELECT
			count(*) FILTER (WHERE state NOT IN ('completed')),
			count(*) FILTER (WHERE state IN ('cancelled', 'discarded')),
			count(*) FILTER (WHERE attempt > 1)
		FROM river_job`).Scan(&left, &failed, &retried); err != nil {
		t.Fatal(err)
	}
	if left != 0 || failed != 0 || retried > held {
		t.Errorf("queue: %d jobs not completed, %d failed, %d retried (want 0, 0, at most %d)", left, failed, retried, held)
	}
	t.Logf("%d metatiles, %d rendered twice, %d jobs retried after the kill", len(want), twice, retried)

	// The surviving nodes serve the tiles from the shared cache: no render.
	for _, n := range []*node{nodes[0], nodes[2]} {
		m := want[len(want)-1]
		if code, _ := get(t, fmt.Sprintf("%s/styles/%s/%d/%d/%d.png", n.url, style, m.Z, m.X, m.Y)); code != 200 {
			t.Errorf("node %s: %d", n.name, code)
		}
	}
	if after := countRenders(nodes...); len(after) != len(got) || sum(after) != sum(got) {
		t.Errorf("serving cached tiles rendered %d metatiles", sum(after)-sum(got))
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func get(t testing.TB, url string) (int, []byte) {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// A lake added by kiln import --append on the shared PostGIS reaches
// every node: kiln expire marks the tile dirty in the shared cache, every
// node hears of the import, and both serve the new tile once one of them
// has rendered it, the old one meanwhile, never a 404.
func TestAppendReachesEveryNode(t *testing.T) {
	c := newCluster(t, "8s", 1)
	a, b := c.startNode(t, "a"), c.startNode(t, "b")
	const lon, lat, z = 9.52, 47.14, 16
	x, y := lonLatTile(lon, lat, z)
	path := fmt.Sprintf("/styles/%s/%d/%d/%d.png", style, z, x, y)
	code, before := get(t, a.url+path)
	if code != 200 {
		t.Fatalf("node a: %d", code)
	}
	if code, fromB := get(t, b.url+path); code != 200 || !bytes.Equal(fromB, before) {
		t.Fatalf("node b: %d, same tile %v", code, bytes.Equal(fromB, before))
	}
	if n := sum(countRenders(a, b)); n != 1 {
		t.Fatalf("%d renders for one metatile asked of two nodes", n)
	}
	// River records the job completed shortly after its waiters hear it.
	waitFor(t, 5*time.Second, "the shared queue in /metrics, empty", func() bool {
		_, m := get(t, b.url+"/metrics")
		return bytes.Contains(m, []byte(`kiln_shared_queue_depth{priority="ondemand"} 0`)) &&
			bytes.Contains(m, []byte("kiln_shared_queue_running 0"))
	})

	// A square lake of 0.004° on the tile.
	d := 0.002
	osc := fmt.Sprintf(`<osmChange version="0.6"><create>
<node id="910000001" lat="%[1]f" lon="%[2]f" version="1"/>
<node id="910000002" lat="%[1]f" lon="%[3]f" version="1"/>
<node id="910000003" lat="%[4]f" lon="%[3]f" version="1"/>
<node id="910000004" lat="%[4]f" lon="%[2]f" version="1"/>
<way id="910000010" version="1"><nd ref="910000001"/><nd ref="910000002"/><nd ref="910000003"/><nd ref="910000004"/><nd ref="910000001"/><tag k="natural" v="water"/></way>
</create></osmChange>`, lat-d, lon-d, lon+d, lat+d)
	change := filepath.Join(c.dir, "lake.osc")
	expired := filepath.Join(c.dir, "expired.txt")
	if err := os.WriteFile(change, []byte(osc), 0o644); err != nil {
		t.Fatal(err)
	}
	c.run(t, kiln(t), "import", "--config", c.config, "--data", filepath.Join(c.dir, "import"),
		"--append", "--expire-output", expired, "--expire-zoom", fmt.Sprint(z), change)
	out := c.run(t, kiln(t), "expire", "--config", c.config, "--data", filepath.Join(c.dir, "expire"), "--style", style, expired)
	t.Logf("%s", strings.TrimSpace(out))
	for _, n := range []*node{a, b} {
		waitFor(t, 10*time.Second, "node "+n.name+" to hear of the import", func() bool {
			return strings.Contains(readFile(n.log), "cache invalidated by another node")
		})
	}
	// Both nodes serve the old tile or the new one, and soon the new one.
	var after []byte
	waitFor(t, 30*time.Second, "the new tile", func() bool {
		for _, n := range []*node{b, a} {
			code, got := get(t, n.url+path)
			if code != 200 {
				t.Fatalf("node %s: %d after the import", n.name, code)
			}
			if bytes.Equal(got, before) {
				return false
			}
			if after != nil && !bytes.Equal(got, after) {
				t.Fatalf("the nodes serve different new tiles")
			}
			after = got
		}
		return true
	})
	if n := sum(countRenders(a, b)); n != 2 {
		t.Errorf("%d renders of the metatile, want 2 (before and after the change)", n)
	}
}

func waitFor(t testing.TB, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func lonLatTile(lon, lat float64, z int) (x, y int) {
	n := math.Exp2(float64(z))
	phi := lat * math.Pi / 180
	x = int(math.Floor((lon + 180) / 360 * n))
	y = int(math.Floor((1 - math.Log(math.Tan(phi)+1/math.Cos(phi))/math.Pi) / 2 * n))
	return x, y
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func lastLine(s string) string { return tail(s, 1) }

// variant writes a config like c's with workers render workers per process
// and the shared queue or the in-process one.
func (c *cluster) variant(t testing.TB, workers int, shared bool) string {
	t.Helper()
	b, err := os.ReadFile(c.config)
	if err != nil {
		t.Fatal(err)
	}
	s := regexp.MustCompile(`(?m)^workers = \d+$`).ReplaceAllString(string(b), fmt.Sprintf("workers = %d", workers))
	if !shared {
		s = strings.Replace(s, `backend = "postgres"`, `backend = "local"`, 1)
	}
	p := filepath.Join(c.dir, fmt.Sprintf("kiln-%d-%v.toml", workers, shared))
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var renderSummary = regexp.MustCompile(`(\d+) tiles in (\d+) metatiles in ([0-9.]+) s`)

// cpu is the CPU time a running process used so far (Linux /proc), with
// that of its children that have exited if children is set.
func cpu(pid int, children bool) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	var ticks, t int64
	fields := []int{11, 12} // utime, stime
	if children {
		fields = append(fields, 13, 14) // cutime, cstime
	}
	for _, i := range fields {
		fmt.Sscan(f[i], &t)
		ticks += t
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

// postgresCPU is the CPU time PostgreSQL used so far: its live processes,
// and the backends that have exited, counted in the postmaster's children.
func postgresCPU() time.Duration {
	var total time.Duration
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		comm, err := os.ReadFile(d + "/comm")
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		var pid int
		fmt.Sscan(filepath.Base(d), &pid)
		stat, _ := os.ReadFile(d + "/stat")
		var ppid int
		if i := bytes.LastIndexByte(stat, ')'); i > 0 {
			fmt.Sscan(strings.Fields(string(stat[i+2:]))[1], &ppid)
		}
		parent, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", ppid))
		total += cpu(pid, strings.TrimSpace(string(parent)) != "postgres") // the postmaster
	}
	return total
}

// BenchmarkBulkRender renders the bundled extract at z0-18 (the default
// style from PostGIS into the S3 cache) four ways on the same cores:
// kiln render alone with its in-process queue and 2 workers; one node
// with 2 workers fed through the shared queue; two nodes with 2 workers
// each (workers = cores, as by default, so 4 on 2 cores); two nodes with
// 1 worker each (the same cores as one node). It reports each one's
// metatiles/s (best of 3 rounds, the variants taking turns), the
// renderers' and PostgreSQL's CPU per metatile (medians; the shared
// queue's cost is PostgreSQL's beyond kiln render alone's, which is the
// map data's), the wall time the queue adds per metatile (one node against
// kiln render alone) and two nodes' speed against one. Run with
// -benchtime 1x.
func BenchmarkBulkRender(b *testing.B) {
	c := newCluster(b, "8s", 1)
	bin := kiln(b)
	type variant struct {
		name           string
		nodes, workers int
		secs           float64
		cpu, pg        []float64 // CPU-ms a metatile of the renderers and of PostgreSQL, a round each
	}
	variants := []*variant{{name: "alone", workers: 2}, {name: "1node", nodes: 1, workers: 2},
		{name: "2x2", nodes: 2, workers: 2}, {name: "2x1", nodes: 2, workers: 1}}
	metas := 0
	round := func(v *variant) {
		config := c.variant(b, v.workers, v.nodes > 0)
		var nodes []*node
		for i := range v.nodes {
			nodes = append(nodes, c.startNodeWith(b, fmt.Sprintf("%s-%d", v.name, i), config))
		}
		if len(nodes) > 0 {
			// Long-lived nodes are warm: their fonts and styles are
			// loaded, their connections open.
			c.run(b, bin, "render", "--config", config, "--data", filepath.Join(c.dir, "render"),
				"--style", style, "--bbox", bbox, "--zoom", "0-14", "--force")
		}
		pgBefore := postgresCPU()
		var before time.Duration
		for _, n := range nodes {
			before += cpu(n.cmd.Process.Pid, false)
		}
		ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "render", "--config", config, "--data", filepath.Join(c.dir, "render"),
			"--style", style, "--bbox", bbox, "--zoom", "0-18", "--force")
		cmd.Env = c.env
		out, err := cmd.CombinedOutput()
		m := renderSummary.FindSubmatch(out)
		if err != nil || m == nil {
			b.Fatalf("kiln render: %v\n%s", err, out)
		}
		var secs float64
		fmt.Sscan(string(m[2]), &metas)
		fmt.Sscan(string(m[3]), &secs)
		used := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		if v.nodes > 0 {
			used = -before
			for _, n := range nodes {
				used += cpu(n.cmd.Process.Pid, false)
				n.kill()
			}
		}
		if v.secs == 0 || secs < v.secs {
			v.secs = secs
		}
		v.cpu = append(v.cpu, float64(used.Milliseconds())/float64(metas))
		v.pg = append(v.pg, float64((postgresCPU()-pgBefore).Milliseconds())/float64(metas))
	}
	for b.Loop() {
		round(variants[0]) // warms PostgreSQL's and the S3 server's caches
		variants[0].secs, variants[0].cpu, variants[0].pg = 0, nil, nil
		for range 3 {
			for _, v := range variants {
				round(v)
			}
		}
	}
	rate := map[string]float64{}
	for _, v := range variants {
		slices.Sort(v.cpu)
		slices.Sort(v.pg)
		rate[v.name] = float64(metas) / v.secs
		b.ReportMetric(rate[v.name], v.name+"-metatiles/s")
		b.ReportMetric(v.cpu[len(v.cpu)/2], v.name+"-cpu-ms/metatile")
		b.ReportMetric(v.pg[len(v.pg)/2], v.name+"-pg-cpu-ms/metatile")
	}
	b.ReportMetric(float64(metas), "metatiles")
	b.ReportMetric((variants[1].secs-variants[0].secs)/float64(metas)*1000, "queue-ms/metatile")
	b.ReportMetric(rate["2x2"]/rate["1node"], "2x2/1node")
	b.ReportMetric(rate["2x1"]/rate["1node"], "2x1/1node")
}
