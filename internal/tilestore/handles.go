package tilestore

import (
	"container/list"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	"kiln/internal/metatile"
)

// handles keeps recently served metatile files open with their headers
// read, as nginx's open_file_cache does: a cached tile then costs one
// pread instead of open, fstat, two preads and close. An entry is checked
// against the file on disk (one stat) at most once per revalidate, so a
// metatile replaced by another process (renderd, a second kiln) is seen
// within that time; this process's own writes drop their entry at once.
type handles struct {
	revalidate time.Duration
	limit      int

	mu  sync.Mutex
	m   map[string]*handle
	lru list.List // of *handle, most recently used first
}

// handle is one open metatile file.
type handle struct {
	path    string
	fd      int
	head    []byte // the header and index
	size    int64
	mtime   time.Time
	etag    string
	dev     uint64
	ino     uint64
	checked time.Time
	refs    int  // readers using fd
	dead    bool // dropped from the cache: close when the last reader is done
	elem    *list.Element
}

func newHandles(limit int, revalidate time.Duration) *handles {
	return &handles{limit: limit, revalidate: revalidate, m: make(map[string]*handle)}
}

// acquire returns an open handle on the metatile at path with a header of
// headSize bytes; release it when done. ErrNotFound if there is no file.
func (hs *handles) acquire(path string, headSize int) (*handle, error) {
	now := time.Now()
	hs.mu.Lock()
	h := hs.m[path]
	if h != nil && len(h.head) == headSize && now.Sub(h.checked) < hs.revalidate {
		h.refs++
		hs.lru.MoveToFront(h.elem)
		hs.mu.Unlock()
		return h, nil
	}
	hs.mu.Unlock()

	if h != nil {
		// Due for a check: is it still the same file?
		var st syscall.Stat_t
		err := syscall.Stat(path, &st)
		hs.mu.Lock()
		if err == nil && len(h.head) == headSize && h.same(&st) && hs.m[path] == h {
			h.checked = now
			h.refs++
			hs.lru.MoveToFront(h.elem)
			hs.mu.Unlock()
			return h, nil
		}
		hs.dropLocked(h)
		hs.mu.Unlock()
	}

	h, err := open(path, headSize)
	if err != nil {
		return nil, err
	}
	h.checked = now
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if old := hs.m[path]; old != nil {
		hs.dropLocked(old) // another reader opened it meanwhile; keep the newest
	}
	h.refs = 1
	h.elem = hs.lru.PushFront(h)
	hs.m[path] = h
	for hs.lru.Len() > hs.limit {
		hs.dropLocked(hs.lru.Back().Value.(*handle))
	}
	return h, nil
}

func (hs *handles) release(h *handle) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	h.refs--
	if h.dead && h.refs == 0 {
		syscall.Close(h.fd)
	}
}

// forget drops the entry for path, after this process replaced, touched or
// removed the file.
func (hs *handles) forget(path string) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if h := hs.m[path]; h != nil {
		hs.dropLocked(h)
	}
}

func (hs *handles) dropLocked(h *handle) {
	if h.dead {
		return
	}
	h.dead = true
	if hs.m[h.path] == h {
		delete(hs.m, h.path)
	}
	hs.lru.Remove(h.elem)
	if h.refs == 0 {
		syscall.Close(h.fd)
	}
}

// close drops every entry.
func (hs *handles) close() {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	for _, h := range hs.m {
		hs.dropLocked(h)
	}
}

func (h *handle) same(st *syscall.Stat_t) bool {
	return uint64(st.Dev) == h.dev && st.Ino == h.ino && st.Size == h.size && time.Unix(st.Mtim.Unix()).Equal(h.mtime)
}

// open opens a metatile file and reads its header. A file too short to
// hold one is metatile.ErrCorrupt.
func open(path string, headSize int) (*handle, error) {
	fd, err := openRead(path)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENOTDIR) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("tile cache: open %s: %w", path, err)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("tile cache: stat %s: %w", path, err)
	}
	head := make([]byte, headSize)
	if err := preadFull(fd, head, 0); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("%w: %s: reading header: %v", metatile.ErrCorrupt, path, err)
	}
	mtime := time.Unix(st.Mtim.Unix())
	return &handle{path: path, fd: fd, head: head, size: st.Size, mtime: mtime, etag: fileETag(st.Ino, st.Size, mtime),
		dev: uint64(st.Dev), ino: st.Ino}, nil
}

func openRead(path string) (int, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// preadFull reads len(b) bytes at off; a short read means the file ended.
func preadFull(fd int, b []byte, off int64) error {
	for len(b) > 0 {
		n, err := syscall.Pread(fd, b, off)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return err
		case n == 0:
			return io.ErrUnexpectedEOF
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}
