// Command thumbdrive is the load driver of bench/thumbs.sh: it asks a kiln
// server for page thumbnails with a fixed number of requests in flight,
// records every request's latency and status, and watches the server's
// process tree (kiln and its Chromium) for CPU time and memory, the way
// the peer benchmark (shared/peers/thumbs/runner/bench.mjs) watches its
// browser. It prints one JSON summary line, like the peer.
//
//	thumbdrive -base http://127.0.0.1:8094 -c 4 -watch PID [-warmup URL] URL...
//	thumbdrive ... -n 500 URL...    (500 requests cycling over the URLs: cached latency)
//	thumbdrive -watch-cmd -- kiln thumb ... (runs the command, watches it, no requests)
//
// URLs are page URLs (given as arguments, or one a line on stdin with -);
// each becomes GET BASE/thumbnail?url=URL&size=SIZE&format=FORMAT.
//
// CPU time is counted as the peer counts it: utime+stime+cutime+cstime of
// every live process of the tree at the start and at the end of the run;
// children that exited and were reaped inside the tree are in their
// parent's cutime/cstime, so nothing is lost but processes reparented out
// of the tree. Memory: the sum of Pss (and Rss) of /proc/PID/smaps_rollup
// over the tree, sampled every -every, the peak from the start of the
// watch (warm-up included, as the peer's sampler runs from its launch).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	base := flag.String("base", "http://127.0.0.1:8094", "kiln's base URL")
	conc := flag.Int("c", 1, "requests in flight")
	n := flag.Int("n", 0, "requests in all, cycling over the URLs (0: each URL once)")
	size := flag.String("size", "large", "thumbnail size")
	format := flag.String("format", "jpeg", "thumbnail format")
	warmup := flag.String("warmup", "", "a page URL to ask for once before the run, not counted")
	watch := flag.Int("watch", 0, "PID of the process whose tree to watch (0: none)")
	watchCmd := flag.Bool("watch-cmd", false, "run the arguments as a command and watch its tree instead of sending requests")
	every := flag.Duration("every", 200*time.Millisecond, "sampling interval")
	results := flag.String("results", "", "file for one tab-separated line per request: page status ms cache bytes blank error")
	save := flag.String("save", "", "directory to save the thumbnails to")
	timeout := flag.Duration("timeout", 2*time.Minute, "per-request timeout")
	flag.Parse()

	if *watchCmd {
		if err := runCmd(flag.Args(), *every); err != nil {
			fmt.Fprintln(os.Stderr, "thumbdrive:", err)
			os.Exit(1)
		}
		return
	}
	pages, err := readURLs(flag.Args())
	if err != nil || len(pages) == 0 {
		fmt.Fprintln(os.Stderr, "thumbdrive: no page URLs (arguments, or - for stdin)", err)
		os.Exit(2)
	}
	if *save != "" {
		os.MkdirAll(*save, 0o755)
	}
	client := &http.Client{
		Timeout:   *timeout,
		Transport: &http.Transport{MaxIdleConnsPerHost: *conc + 1, DisableCompression: true},
	}
	d := &driver{client: client, base: strings.TrimRight(*base, "/"), size: *size, format: *format, save: *save}

	var w *watcher
	if *watch > 0 {
		w = newWatcher(*watch, *every)
		defer w.stop()
	}
	if *warmup != "" {
		r := d.get(context.Background(), *warmup)
		fmt.Fprintf(os.Stderr, "thumbdrive: warm-up %s: %d in %.0f ms %s\n", *warmup, r.Status, r.Ms, r.Error)
	}
	var idle sample
	var cpu0, root0 float64
	if w != nil {
		idle = w.sampleNow()
		cpu0, root0 = w.cpu(), w.rootCPU()
	}
	total := *n
	if total <= 0 {
		total = len(pages)
	}
	load0 := loadavg()
	res := make([]result, total)
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range *conc {
		wg.Go(func() {
			for i := range next {
				res[i] = d.get(context.Background(), pages[i%len(pages)])
			}
		})
	}
	for i := range total {
		next <- i
	}
	close(next)
	wg.Wait()
	secs := time.Since(start).Seconds()

	s := summary{Concurrency: *conc, Pages: total, Seconds: round(secs, 2), PagesPerS: round(float64(total)/secs, 3),
		LoadavgStart: load0, LoadavgEnd: loadavg()}
	lat := make([]float64, 0, total)
	cache := map[string]int{}
	for _, r := range res {
		lat = append(lat, r.Ms)
		if r.Status == http.StatusOK {
			s.OK++
			if r.Blank {
				s.Blank = append(s.Blank, r.Page)
			}
			cache[r.Cache]++
		} else {
			s.Failed = append(s.Failed, fmt.Sprintf("%s: %d %s", r.Page, r.Status, r.Error))
		}
	}
	s.Cache = cache
	slices.Sort(lat)
	s.P50Ms, s.P95Ms, s.P99Ms, s.MaxMs = pct(lat, 0.5), pct(lat, 0.95), pct(lat, 0.99), round(lat[len(lat)-1], 1)
	if w != nil {
		cpu := w.cpu() - cpu0
		peak := w.peakSample()
		s.CPUS = round(cpu, 1)
		s.CPUSPerPage = round(cpu/float64(total), 3)
		s.RootCPUSPerPage = round((w.rootCPU()-root0)/float64(total), 3)
		s.IdleMiB = idle.mib()
		s.PeakMiB = peak.mib()
	}
	if *results != "" {
		var b strings.Builder
		for _, r := range res {
			fmt.Fprintf(&b, "%s\t%d\t%.1f\t%s\t%d\t%t\t%s\n", r.Page, r.Status, r.Ms, r.Cache, r.Bytes, r.Blank, r.Error)
		}
		if err := os.WriteFile(*results, []byte(b.String()), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "thumbdrive:", err)
		}
	}
	json.NewEncoder(os.Stdout).Encode(s)
}

type summary struct {
	Concurrency int            `json:"concurrency"`
	Pages       int            `json:"pages"` // requests
	OK          int            `json:"ok"`
	Failed      []string       `json:"failed"`
	Blank       []string       `json:"blank"`
	Cache       map[string]int `json:"cache"` // X-Kiln-Cache of the 200s
	Seconds     float64        `json:"seconds"`
	PagesPerS   float64        `json:"pages_per_s"`
	P50Ms       float64        `json:"p50_ms"`
	P95Ms       float64        `json:"p95_ms"`
	P99Ms       float64        `json:"p99_ms"`
	MaxMs       float64        `json:"max_ms"`
	CPUS        float64        `json:"cpu_s,omitempty"`
	CPUSPerPage float64        `json:"cpu_s_per_page,omitempty"`
	// the watched process alone (kiln without its Chromium): utime+stime
	RootCPUSPerPage float64 `json:"root_cpu_s_per_page,omitempty"`
	LoadavgStart    string  `json:"loadavg_start"`
	LoadavgEnd      string  `json:"loadavg_end"`
	IdleMiB         *mib    `json:"idle_mib,omitempty"`
	PeakMiB         *mib    `json:"peak_mib,omitempty"`
}

type mib struct {
	PSS   float64 `json:"pss"`
	RSS   float64 `json:"rss"`
	Procs int     `json:"procs"`
}

// loadavg is the first three fields of /proc/loadavg.
func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// pct is the nearest-rank percentile, as the peer computes it.
func pct(sorted []float64, p float64) float64 {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return round(sorted[min(max(i, 0), len(sorted)-1)], 1)
}

func round(v float64, digits int) float64 {
	m := math.Pow(10, float64(digits))
	return math.Round(v*m) / m
}

func readURLs(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		if a != "-" {
			out = append(out, a)
			continue
		}
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" {
				out = append(out, l)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type driver struct {
	client       *http.Client
	base         string
	size, format string
	save         string
}

type result struct {
	Page   string
	Status int
	Ms     float64
	Cache  string
	Bytes  int
	Blank  bool
	Error  string
}

func (d *driver) get(ctx context.Context, page string) result {
	r := result{Page: path.Base(page)}
	if u, err := url.Parse(page); err == nil && u.Path != "" {
		r.Page = path.Base(u.Path)
		if u.RawQuery != "" {
			r.Page += "?" + u.RawQuery
		}
	}
	q := url.Values{"url": {page}, "size": {d.size}, "format": {d.format}}
	t0 := time.Now()
	resp, err := d.client.Get(d.base + "/thumbnail?" + q.Encode())
	if err != nil {
		r.Ms = float64(time.Since(t0).Microseconds()) / 1000
		r.Error = err.Error()
		return r
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	r.Ms = float64(time.Since(t0).Microseconds()) / 1000
	r.Status, r.Cache, r.Bytes = resp.StatusCode, resp.Header.Get("X-Kiln-Cache"), len(body)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
			Kind  string `json:"kind"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			r.Error = e.Error
			if e.Kind != "" {
				r.Error = "[" + e.Kind + "] " + e.Error
			}
		} else {
			r.Error = strings.TrimSpace(string(body))
		}
		r.Error = strings.ReplaceAll(strings.ReplaceAll(r.Error, "\t", " "), "\n", " ")
		return r
	}
	if img, _, err := image.Decode(bytes.NewReader(body)); err == nil {
		r.Blank = blank(img)
	}
	if d.save != "" {
		name := strings.Map(func(c rune) rune {
			if strings.ContainsRune("?=&/", c) {
				return '_'
			}
			return c
		}, strings.TrimSuffix(r.Page, ".html"))
		os.WriteFile(filepath.Join(d.save, name+"."+d.format), body, 0o644)
	}
	return r
}

// blank reports a nearly uniform picture, as the peer does (every colour
// channel's standard deviation under 3).
func blank(img image.Image) bool {
	b := img.Bounds()
	var n float64
	var sum, sq [3]float64
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			for i, v := range [3]uint32{r >> 8, g >> 8, bl >> 8} {
				f := float64(v)
				sum[i] += f
				sq[i] += f * f
			}
			n++
		}
	}
	for i := range 3 {
		mean := sum[i] / n
		if math.Sqrt(max(sq[i]/n-mean*mean, 0)) >= 3 {
			return false
		}
	}
	return true
}

// watcher samples a process tree.
type watcher struct {
	root  int
	tick  *time.Ticker
	done  chan struct{}
	mu    sync.Mutex
	peak  sample
	clock float64 // clock ticks per second
}

type sample struct {
	pssKB, rssKB int64
	procs        int
}

func (s sample) mib() *mib {
	return &mib{PSS: round(float64(s.pssKB)/1024, 1), RSS: round(float64(s.rssKB)/1024, 1), Procs: s.procs}
}

func newWatcher(root int, every time.Duration) *watcher {
	w := &watcher{root: root, tick: time.NewTicker(every), done: make(chan struct{}), clock: 100}
	if out, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		if v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err == nil && v > 0 {
			w.clock = v
		}
	}
	go func() {
		for {
			select {
			case <-w.tick.C:
				w.sampleNow()
			case <-w.done:
				return
			}
		}
	}()
	return w
}

func (w *watcher) stop() { w.tick.Stop(); close(w.done) }

func (w *watcher) peakSample() sample {
	w.sampleNow()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peak
}

// sampleNow sums Pss and Rss over the tree and keeps the peaks.
func (w *watcher) sampleNow() sample {
	var s sample
	for _, pid := range tree(w.root) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
		if err != nil {
			continue
		}
		s.pssKB += kb(b, "Pss:")
		s.rssKB += kb(b, "Rss:")
		s.procs++
	}
	w.mu.Lock()
	w.peak.pssKB = max(w.peak.pssKB, s.pssKB)
	w.peak.rssKB = max(w.peak.rssKB, s.rssKB)
	w.peak.procs = max(w.peak.procs, s.procs)
	w.mu.Unlock()
	return s
}

// cpu is the CPU seconds of the tree: utime+stime+cutime+cstime of every
// live process in it.
func (w *watcher) cpu() float64 {
	var ticks float64
	for _, pid := range tree(w.root) {
		f, _, ok := stat(pid)
		if !ok || len(f) < 15 {
			continue
		}
		for _, i := range []int{11, 12, 13, 14} {
			v, _ := strconv.ParseFloat(f[i], 64)
			ticks += v
		}
	}
	return ticks / w.clock
}

// rootCPU is the CPU seconds of the watched process itself.
func (w *watcher) rootCPU() float64 {
	f, _, ok := stat(w.root)
	if !ok || len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / w.clock
}

func kb(b []byte, key string) int64 {
	i := bytes.Index(b, []byte("\n"+key))
	if i < 0 {
		return 0
	}
	fields := strings.Fields(string(b[i+1+len(key) : i+1+len(key)+bytes.IndexByte(b[i+1+len(key):], '\n')]))
	if len(fields) == 0 {
		return 0
	}
	v, _ := strconv.ParseInt(fields[0], 10, 64)
	return v
}

// stat returns the fields of /proc/PID/stat after the command name
// (state is [0], ppid [1], utime [11]) and the parent.
func stat(pid int) ([]string, int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 > len(b) {
		return nil, 0, false
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 2 {
		return nil, 0, false
	}
	ppid, _ := strconv.Atoi(f[1])
	return f, ppid, true
}

// tree lists root and all its descendants, from the parents in /proc.
func tree(root int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return []int{root}
	}
	kids := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, ppid, ok := stat(pid); ok {
			kids[ppid] = append(kids[ppid], pid)
		}
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, kids[out[i]]...)
	}
	return out
}

// runCmd runs a command, watching its tree; it prints the command's
// output, then a JSON line with its CPU time and peak memory. The CPU time
// is the rusage of the command and all its descendants (thumbdrive is
// their subreaper).
func runCmd(args []string, every time.Duration) error {
	if len(args) == 0 {
		return fmt.Errorf("-watch-cmd: no command")
	}
	// Processes the command's processes leave behind (Chromium's zygote and
	// renderers when the browser is killed) come to us instead of init, so
	// that their CPU time is counted too.
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return fmt.Errorf("PR_SET_CHILD_SUBREAPER: %w", errno)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	w := newWatcher(cmd.Process.Pid, every)
	err := cmd.Wait()
	w.stop()
	secs := time.Since(start).Seconds()
	// Reap the orphans (for at most 10 s), then take the rusage of all our
	// waited-for children: the command and everything it started.
	reaped := make(chan struct{})
	go func() {
		defer close(reaped)
		for {
			var ws syscall.WaitStatus
			if _, err := syscall.Wait4(-1, &ws, 0, nil); err == syscall.ECHILD {
				return
			}
		}
	}()
	select {
	case <-reaped:
	case <-time.After(10 * time.Second):
		fmt.Fprintln(os.Stderr, "thumbdrive: some processes of the command are still running; their CPU time is not counted")
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	out := map[string]any{"seconds": round(secs, 2), "cpu_s": round(cpu, 1), "exit": cmd.ProcessState.ExitCode()}
	w.mu.Lock()
	out["peak_mib"] = w.peak.mib()
	w.mu.Unlock()
	json.NewEncoder(os.Stdout).Encode(out)
	if err != nil && cmd.ProcessState.ExitCode() < 0 {
		return err
	}
	return nil
}
