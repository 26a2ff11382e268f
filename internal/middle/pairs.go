package middle

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
)

// pair is one (node, way) entry of the node→ways index.
type pair struct{ node, way int64 }

const pairSize = 16

// pairSorter collects pairs and writes them sorted to a file, spilling
// sorted runs of at most chunk pairs to disk and merging them, so that
// memory stays bounded however many ways a file has.
type pairSorter struct {
	dir   string
	chunk int
	buf   []pair
	runs  []string
}

func newPairSorter(dir string, chunk int) *pairSorter {
	return &pairSorter{dir: dir, chunk: chunk}
}

// growStep is where the buffer stops doubling and takes its full chunk at
// once, so that growing never holds two large copies.
const growStep = 1 << 20

func (s *pairSorter) add(node, way int64) error {
	if len(s.buf) == growStep && cap(s.buf) == len(s.buf) && s.chunk > growStep {
		full := make([]pair, len(s.buf), s.chunk)
		copy(full, s.buf)
		s.buf = full
	}
	s.buf = append(s.buf, pair{node, way})
	if len(s.buf) >= s.chunk {
		return s.spill()
	}
	return nil
}

func sortPairs(p []pair) {
	slices.SortFunc(p, func(a, b pair) int {
		switch {
		case a.node != b.node:
			return cmp64(a.node, b.node)
		default:
			return cmp64(a.way, b.way)
		}
	})
}

func cmp64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *pairSorter) spill() error {
	sortPairs(s.buf)
	f, err := os.CreateTemp(s.dir, "waynodes-run-*")
	if err != nil {
		return err
	}
	if err := writePairs(f, s.buf); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	s.runs = append(s.runs, f.Name())
	s.buf = s.buf[:0]
	return f.Close()
}

func writePairs(w io.Writer, ps []pair) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	var rec [pairSize]byte
	for _, p := range ps {
		binary.LittleEndian.PutUint64(rec[0:], uint64(p.node))
		binary.LittleEndian.PutUint64(rec[8:], uint64(p.way))
		if _, err := bw.Write(rec[:]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// finish writes every pair, sorted and without duplicates, to path.
func (s *pairSorter) finish(path string) error {
	defer func() {
		for _, r := range s.runs {
			os.Remove(r)
		}
	}()
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if len(s.runs) == 0 {
		sortPairs(s.buf)
		s.buf = slices.Compact(s.buf)
		err = writePairs(out, s.buf)
	} else {
		if len(s.buf) > 0 {
			if err := s.spill(); err != nil {
				out.Close()
				return err
			}
		}
		err = s.merge(out)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

type run struct {
	r   *bufio.Reader
	f   *os.File
	cur pair
}

type runHeap []*run

func (h runHeap) Len() int { return len(h) }
func (h runHeap) Less(i, j int) bool {
	a, b := h[i].cur, h[j].cur
	return a.node < b.node || a.node == b.node && a.way < b.way
}
func (h runHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)   { *h = append(*h, x.(*run)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (r *run) next() (bool, error) {
	var rec [pairSize]byte
	if _, err := io.ReadFull(r.r, rec[:]); err != nil {
		if err == io.EOF {
			return false, nil
		}
		return false, err
	}
	r.cur = pair{int64(binary.LittleEndian.Uint64(rec[0:])), int64(binary.LittleEndian.Uint64(rec[8:]))}
	return true, nil
}

// merge k-way merges the sorted runs into out.
func (s *pairSorter) merge(out io.Writer) error {
	h := &runHeap{}
	for _, name := range s.runs {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		r := &run{r: bufio.NewReaderSize(f, 256<<10), f: f}
		ok, err := r.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Push(h, r)
		}
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	var last pair
	first := true
	var rec [pairSize]byte
	for h.Len() > 0 {
		r := (*h)[0]
		if first || r.cur != last {
			binary.LittleEndian.PutUint64(rec[0:], uint64(r.cur.node))
			binary.LittleEndian.PutUint64(rec[8:], uint64(r.cur.way))
			if _, err := bw.Write(rec[:]); err != nil {
				return err
			}
			last, first = r.cur, false
		}
		ok, err := r.next()
		if err != nil {
			return fmt.Errorf("merging way-node runs: %w", err)
		}
		if ok {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	return bw.Flush()
}

// pairFile looks up the ways of a node in a sorted pair file.
type pairFile struct {
	f *os.File
	n int64
}

func openPairs(path string) (*pairFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.Size()%pairSize != 0 {
		f.Close()
		return nil, fmt.Errorf("%s: %d bytes is not a whole number of pairs", path, fi.Size())
	}
	return &pairFile{f: f, n: fi.Size() / pairSize}, nil
}

func (p *pairFile) at(i int64) (pair, error) {
	var rec [pairSize]byte
	if _, err := p.f.ReadAt(rec[:], i*pairSize); err != nil {
		return pair{}, err
	}
	return pair{int64(binary.LittleEndian.Uint64(rec[0:])), int64(binary.LittleEndian.Uint64(rec[8:]))}, nil
}

// ways returns the ways that used node in the import.
func (p *pairFile) ways(node int64) ([]int64, error) {
	var ioErr error
	i := sort.Search(int(p.n), func(i int) bool {
		q, err := p.at(int64(i))
		if err != nil {
			ioErr = err
			return true
		}
		return q.node >= node
	})
	var out []int64
	for j := int64(i); j < p.n && ioErr == nil; j++ {
		q, err := p.at(j)
		if err != nil {
			return nil, err
		}
		if q.node != node {
			break
		}
		out = append(out, q.way)
	}
	return out, ioErr
}

func (p *pairFile) close() error { return p.f.Close() }
