// Package nodestore keeps node locations on disk, so that an import's
// memory does not grow with the node count: a flat file of fixed 16-byte
// records (id, lon, lat; ids ascending, as OSM files sort them), a sparse
// index of the first id of each 4 KiB block, held in memory (2 MiB per 100
// million nodes), and a bounded cache of recently read blocks.
//
// It is written here because osm2pgsql's flat-nodes file is indexed by id
// (tens of GiB however small the extract) and no Go library does this.
package nodestore

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

const (
	recordSize  = 16 // id int64, lon int32, lat int32 (1e-7 degrees)
	blockSize   = 4096
	perBlock    = blockSize / recordSize
	footerMagic = "KILNNODS"
	scale       = 1e7
)

// ErrUnsorted: node ids did not ascend (sort the file, e.g. osmium sort).
var ErrUnsorted = errors.New("nodes are not sorted by id")

// Writer writes a node store.
type Writer struct {
	f     *os.File
	w     *bufio.Writer
	last  int64
	n     int64
	index []int64
	rec   [recordSize]byte
}

// Create starts a node store at path.
func Create(path string) (*Writer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("node store: %w", err)
	}
	return &Writer{f: f, w: bufio.NewWriterSize(f, 1<<20), last: math.MinInt64}, nil
}

// Add stores a node; ids must ascend.
func (w *Writer) Add(id int64, lon, lat float64) error {
	if id <= w.last {
		return fmt.Errorf("%w: node %d after node %d", ErrUnsorted, id, w.last)
	}
	if w.n%perBlock == 0 {
		w.index = append(w.index, id)
	}
	binary.LittleEndian.PutUint64(w.rec[0:], uint64(id))
	binary.LittleEndian.PutUint32(w.rec[8:], uint32(int32(math.Round(lon*scale))))
	binary.LittleEndian.PutUint32(w.rec[12:], uint32(int32(math.Round(lat*scale))))
	w.last = id
	w.n++
	_, err := w.w.Write(w.rec[:])
	return err
}

// Count is the number of nodes added.
func (w *Writer) Count() int64 { return w.n }

// Close pads the last block, writes the index as a footer and closes.
func (w *Writer) Close() error {
	if pad := (perBlock - w.n%perBlock) % perBlock; pad > 0 {
		if _, err := w.w.Write(make([]byte, pad*recordSize)); err != nil {
			w.f.Close()
			return err
		}
	}
	for _, id := range w.index {
		binary.Write(w.w, binary.LittleEndian, id)
	}
	binary.Write(w.w, binary.LittleEndian, w.n)
	w.w.WriteString(footerMagic)
	if err := w.w.Flush(); err != nil {
		w.f.Close()
		return fmt.Errorf("node store: %w", err)
	}
	return w.f.Close()
}

// Store reads node locations. It is safe for concurrent use.
type Store struct {
	f     *os.File
	index []int64
	n     int64

	mu     sync.Mutex
	blocks map[int]*list.Element // block number → element of lru
	lru    list.List             // of *block, most recent first
	limit  int
}

type block struct {
	num  int
	recs [blockSize]byte
}

// Open opens a node store, caching up to cacheBlocks 4 KiB blocks.
func Open(path string, cacheBlocks int) (*Store, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("node store: %w", err)
	}
	s, err := open(f, cacheBlocks)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("node store %s: %w", path, err)
	}
	return s, nil
}

func open(f *os.File, cacheBlocks int) (*Store, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	var tail [16]byte
	if size < 16 {
		return nil, errors.New("too short")
	}
	if _, err := f.ReadAt(tail[:], size-16); err != nil {
		return nil, err
	}
	if string(tail[8:]) != footerMagic {
		return nil, errors.New("not a node store")
	}
	n := int64(binary.LittleEndian.Uint64(tail[:8]))
	blocks := (n + perBlock - 1) / perBlock
	if n < 0 || blocks*blockSize+blocks*8+16 != size {
		return nil, fmt.Errorf("%d nodes do not fit %d bytes", n, size)
	}
	raw := make([]byte, blocks*8)
	if _, err := f.ReadAt(raw, blocks*blockSize); err != nil {
		return nil, err
	}
	index := make([]int64, blocks)
	for i := range index {
		index[i] = int64(binary.LittleEndian.Uint64(raw[i*8:]))
	}
	return &Store{f: f, index: index, n: n, blocks: make(map[int]*list.Element), limit: max(cacheBlocks, 1)}, nil
}

// Count is the number of nodes stored.
func (s *Store) Count() int64 { return s.n }

// Get returns the location of node id.
func (s *Store) Get(id int64) (lon, lat float64, ok bool) {
	b := sort.Search(len(s.index), func(i int) bool { return s.index[i] > id }) - 1
	if b < 0 {
		return 0, 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	blk, err := s.block(b)
	if err != nil {
		return 0, 0, false
	}
	count := int(min(perBlock, s.n-int64(b)*perBlock))
	i := sort.Search(count, func(i int) bool {
		return int64(binary.LittleEndian.Uint64(blk.recs[i*recordSize:])) >= id
	})
	if i == count || int64(binary.LittleEndian.Uint64(blk.recs[i*recordSize:])) != id {
		return 0, 0, false
	}
	r := blk.recs[i*recordSize:]
	lon = float64(int32(binary.LittleEndian.Uint32(r[8:]))) / scale
	lat = float64(int32(binary.LittleEndian.Uint32(r[12:]))) / scale
	return lon, lat, true
}

// block returns block b from the cache or the file; s.mu is held.
func (s *Store) block(b int) (*block, error) {
	if e, ok := s.blocks[b]; ok {
		s.lru.MoveToFront(e)
		return e.Value.(*block), nil
	}
	var blk *block
	if s.lru.Len() >= s.limit {
		e := s.lru.Back()
		blk = s.lru.Remove(e).(*block)
		delete(s.blocks, blk.num)
	} else {
		blk = new(block)
	}
	blk.num = b
	if _, err := s.f.ReadAt(blk.recs[:], int64(b)*blockSize); err != nil {
		return nil, err
	}
	s.blocks[b] = s.lru.PushFront(blk)
	return blk, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.f.Close() }
