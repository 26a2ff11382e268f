package middle

import (
	"bufio"
	"container/list"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"sync"
)

// The way store keeps an import's ways in a flat file: records sorted by
// id (as OSM files sort ways), each the way's node list and tags, with a
// sparse index of every 64th record's id and offset held in memory. It is
// written in one pass and read by id; changes from updates live in the
// middle's SQLite database, which is consulted first.

const (
	waysPerIndex = 64
	waysMagic    = "KILNWAYS"
)

// ErrWaysUnsorted: way ids did not ascend.
var ErrWaysUnsorted = errors.New("ways are not sorted by id")

type wayWriter struct {
	f     *os.File
	w     *bufio.Writer
	off   int64
	n     int64
	last  int64
	index []wayIndex
	buf   []byte
}

type wayIndex struct{ id, off int64 }

func createWays(path string) (*wayWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("way store: %w", err)
	}
	return &wayWriter{f: f, w: bufio.NewWriterSize(f, 1<<20), last: math.MinInt64}, nil
}

// encodeWay is a way record: id delta is not used (the index knows ids),
// so a record is id, refs (count, deltas) and tags (count, key/value).
func encodeWay(b []byte, id int64, refs []int64, tags map[string]string) []byte {
	b = binary.AppendVarint(b, id)
	b = binary.AppendUvarint(b, uint64(len(refs)))
	var prev int64
	for _, r := range refs {
		b = binary.AppendVarint(b, r-prev)
		prev = r
	}
	b = binary.AppendUvarint(b, uint64(len(tags)))
	for k, v := range tags {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

// decodeWay reads one record from b and returns the rest.
func decodeWay(b []byte) (*Way, []byte, error) {
	bad := errors.New("corrupt way record")
	id, n := binary.Varint(b)
	if n <= 0 {
		return nil, nil, bad
	}
	b = b[n:]
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return nil, nil, bad
	}
	b = b[n:]
	w := &Way{ID: id, Refs: make([]int64, count)}
	var prev int64
	for i := range w.Refs {
		d, n := binary.Varint(b)
		if n <= 0 {
			return nil, nil, bad
		}
		b = b[n:]
		prev += d
		w.Refs[i] = prev
	}
	tags, n := binary.Uvarint(b)
	if n <= 0 || tags > uint64(len(b)) {
		return nil, nil, bad
	}
	b = b[n:]
	if tags > 0 {
		w.Tags = make(map[string]string, tags)
	}
	str := func() (string, bool) {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return "", false
		}
		s := string(b[n : n+int(l)])
		b = b[n+int(l):]
		return s, true
	}
	for range tags {
		k, ok1 := str()
		v, ok2 := str()
		if !ok1 || !ok2 {
			return nil, nil, bad
		}
		w.Tags[k] = v
	}
	return w, b, nil
}

func (w *wayWriter) add(id int64, refs []int64, tags map[string]string) error {
	if id <= w.last {
		return fmt.Errorf("%w: way %d after way %d", ErrWaysUnsorted, id, w.last)
	}
	if w.n%waysPerIndex == 0 {
		w.index = append(w.index, wayIndex{id, w.off})
	}
	w.buf = encodeWay(w.buf[:0], id, refs, tags)
	w.last = id
	w.n++
	w.off += int64(len(w.buf))
	_, err := w.w.Write(w.buf)
	return err
}

// close writes the index as a footer: pairs of id and offset, the record
// count, the index length and the magic.
func (w *wayWriter) close() error {
	for _, e := range w.index {
		binary.Write(w.w, binary.LittleEndian, e.id)
		binary.Write(w.w, binary.LittleEndian, e.off)
	}
	binary.Write(w.w, binary.LittleEndian, w.n)
	binary.Write(w.w, binary.LittleEndian, int64(len(w.index)))
	w.w.WriteString(waysMagic)
	if err := w.w.Flush(); err != nil {
		w.f.Close()
		return fmt.Errorf("way store: %w", err)
	}
	return w.f.Close()
}

// wayStore reads a way store. It is safe for concurrent use.
type wayStore struct {
	f       *os.File
	index   []wayIndex
	dataEnd int64

	mu    sync.Mutex
	spans map[int]*list.Element // index entry → decoded ways between it and the next
	lru   list.List
}

type waySpan struct {
	entry int
	ways  []*Way
}

const waySpanCache = 1024

func openWays(path string) (*wayStore, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("way store: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	size := fi.Size()
	var tail [24]byte
	if size < 24 {
		f.Close()
		return nil, fmt.Errorf("way store %s: too short", path)
	}
	f.ReadAt(tail[:], size-24)
	if string(tail[16:]) != waysMagic {
		f.Close()
		return nil, fmt.Errorf("way store %s: not a way store", path)
	}
	entries := int64(binary.LittleEndian.Uint64(tail[8:16]))
	dataEnd := size - 24 - entries*16
	if entries < 0 || dataEnd < 0 {
		f.Close()
		return nil, fmt.Errorf("way store %s: bad footer", path)
	}
	raw := make([]byte, entries*16)
	if _, err := f.ReadAt(raw, dataEnd); err != nil {
		f.Close()
		return nil, fmt.Errorf("way store %s: %w", path, err)
	}
	s := &wayStore{f: f, dataEnd: dataEnd, spans: map[int]*list.Element{}}
	for i := range entries {
		s.index = append(s.index, wayIndex{int64(binary.LittleEndian.Uint64(raw[i*16:])), int64(binary.LittleEndian.Uint64(raw[i*16+8:]))})
	}
	return s, nil
}

// get returns way id, or nil if the store does not hold it.
func (s *wayStore) get(id int64) (*Way, error) {
	e := sort.Search(len(s.index), func(i int) bool { return s.index[i].id > id }) - 1
	if e < 0 {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	span, err := s.span(e)
	if err != nil {
		return nil, err
	}
	i := sort.Search(len(span.ways), func(i int) bool { return span.ways[i].ID >= id })
	if i < len(span.ways) && span.ways[i].ID == id {
		return span.ways[i], nil
	}
	return nil, nil
}

// span decodes the records of index entry e; s.mu is held.
func (s *wayStore) span(e int) (*waySpan, error) {
	if el, ok := s.spans[e]; ok {
		s.lru.MoveToFront(el)
		return el.Value.(*waySpan), nil
	}
	end := s.dataEnd
	if e+1 < len(s.index) {
		end = s.index[e+1].off
	}
	buf := make([]byte, end-s.index[e].off)
	if _, err := s.f.ReadAt(buf, s.index[e].off); err != nil {
		return nil, fmt.Errorf("way store: %w", err)
	}
	span := &waySpan{entry: e}
	for len(buf) > 0 {
		w, rest, err := decodeWay(buf)
		if err != nil {
			return nil, fmt.Errorf("way store: %w", err)
		}
		span.ways = append(span.ways, w)
		buf = rest
	}
	if s.lru.Len() >= waySpanCache {
		old := s.lru.Remove(s.lru.Back()).(*waySpan)
		delete(s.spans, old.entry)
	}
	s.spans[e] = s.lru.PushFront(span)
	return span, nil
}

func (s *wayStore) close() error { return s.f.Close() }
