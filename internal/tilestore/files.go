// Package tilestore is kiln's cache of rendered tiles, as mod_tile
// metatiles in renderd's hashed layout: Files keeps them in a directory,
// so that a cache written by renderd is served by kiln and mod_tile serves
// kiln's; S3 keeps the same files as objects of an S3-compatible store,
// which several kiln nodes share.
//
// Freshness follows mod_tile: a metatile is out of date when it is older than
// the tileset's "planet-import-complete" file, and marking one dirty sets its
// modification time back 20 years.
package tilestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"kiln/internal/metatile"
	"kiln/internal/tile"
)

var (
	// ErrNotFound: the cache holds no such metatile.
	ErrNotFound = errors.New("not in the cache")
	// ErrFull: the cache's disk or quota is full; nothing was written.
	ErrFull = errors.New("cache storage is full")
	// ErrUnavailable: the cache's storage did not answer in time or
	// failed; the same call may succeed later.
	ErrUnavailable = errors.New("cache storage is unavailable")
)

// ImportStamp is the file whose modification time marks the last data
// import; metatiles older than it are out of date. mod_tile and renderd look
// for it in the tileset directory, then in the cache root.
const ImportStamp = "planet-import-complete"

// Tile is one tile's bytes read from a metatile.
type Tile struct {
	Data    []byte
	Gzip    bool      // stored gzip-compressed (a "METZ" metatile)
	ModTime time.Time // when its metatile was last written or marked dirty
	ETag    string    // the stored metatile's version (see Info.ETag)
}

// Info describes a stored metatile.
type Info struct {
	ModTime    time.Time
	AccessTime time.Time
	Size       int64
	ID         string // where it is stored, as mod_tile's /status names it
	// ETag names the stored version of the metatile and changes when it
	// is rewritten: the object's ETag in S3; from inode, size and
	// modification time for a file.
	ETag string
}

// Files stores metatiles under a root directory.
type Files struct {
	root string
	open *handles

	mu     sync.Mutex
	stamps map[string]stampEntry // tileset → cached import time
}

type stampEntry struct {
	t       time.Time
	checked time.Time
}

const (
	// openFiles is how many metatile files stay open for serving.
	openFiles = 1024
	// revalidate bounds how long a metatile that another process replaced
	// may still be served from the open file.
	revalidate = time.Second
)

// Close releases the open files.
func (f *Files) Close() error {
	f.open.close()
	return nil
}

// stampRecheck bounds how stale the cached import time may be: a request
// does not pay a stat for it, and a new import is seen within a second.
const stampRecheck = time.Second

// NewFiles opens (and creates if needed) a metatile cache at root.
func NewFiles(root string) (*Files, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("tile cache: %w", err)
	}
	return &Files{root: root, open: newHandles(openFiles, revalidate), stamps: make(map[string]stampEntry)}, nil
}

// Root is the cache's directory.
func (f *Files) Root() string { return f.root }

func (f *Files) path(set string, m tile.Meta) string {
	return metatile.Path(f.root, set, m)
}

// ReadTile reads tile c of metatile m of tileset set, appending its bytes to
// dst: the metatile's index, then only that tile's bytes. A missing
// metatile is ErrNotFound; a truncated or corrupt one is metatile.ErrCorrupt.
// Recently read metatiles stay open (see handles).
func (f *Files) ReadTile(_ context.Context, set string, m tile.Meta, c tile.Coord, dst []byte) (Tile, error) {
	h, err := f.open.acquire(f.path(set, m), metatile.HeaderSize(m.N))
	if err != nil {
		return Tile{}, err
	}
	defer f.open.release(h)
	e, gz, err := metatile.Locate(h.head, m, c, h.size)
	if err != nil {
		f.open.forget(h.path) // read it afresh once it is mended
		return Tile{}, fmt.Errorf("%s: %w", h.path, err)
	}
	data := grow(dst, int(e.Size))
	if err := preadFull(h.fd, data, e.Offset); err != nil {
		f.open.forget(h.path)
		return Tile{}, fmt.Errorf("%w: %s: reading tile %s: %v", metatile.ErrCorrupt, h.path, c, err)
	}
	return Tile{Data: data, Gzip: gz, ModTime: h.mtime, ETag: h.etag}, nil
}

// fileETag names a version of a file as nginx and Apache do, from what
// changes when it is rewritten.
func fileETag(ino uint64, size int64, mtime time.Time) string {
	return strconv.FormatUint(ino, 16) + "-" + strconv.FormatInt(size, 16) + "-" + strconv.FormatInt(mtime.UnixNano(), 16)
}

// grow returns dst[:n], reallocating when dst is too small.
func grow(dst []byte, n int) []byte {
	if cap(dst) < n {
		return make([]byte, n)
	}
	return dst[:n]
}

// ReadMeta reads a whole metatile file.
func (f *Files) ReadMeta(_ context.Context, set string, m tile.Meta) ([]byte, error) {
	b, err := os.ReadFile(f.path(set, m))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	return b, err
}

// Stat describes metatile m of tileset set. For a missing metatile it
// returns ErrNotFound with Info.ID set to where it would be stored.
func (f *Files) Stat(_ context.Context, set string, m tile.Meta) (Info, error) {
	p := f.path(set, m)
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Info{ID: "file://" + p}, ErrNotFound
		}
		return Info{}, fmt.Errorf("tile cache: %w", err)
	}
	info := Info{ModTime: fi.ModTime(), AccessTime: fi.ModTime(), Size: fi.Size(), ID: "file://" + p}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		info.AccessTime = time.Unix(st.Atim.Unix())
		info.ETag = fileETag(st.Ino, fi.Size(), fi.ModTime())
	}
	return info, nil
}

// Put stores the metatile file b (see metatile.Encode), rendered at
// renderedAt, atomically: it is written to a temporary file in the same
// directory and renamed into place, so a reader sees the old file or the new
// one, never a part. A full disk is ErrFull, and leaves nothing behind.
func (f *Files) Put(_ context.Context, set string, m tile.Meta, b []byte, renderedAt time.Time) error {
	p := f.path(set, m)
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return storageErr(err)
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(p)+".tmp-*")
	if err != nil {
		return storageErr(err)
	}
	_, err = bytes.NewReader(b).WriteTo(tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// Apache's mod_tile reads the cache as another user.
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		// The modification time is the render time, which the render's
		// waiters were told (Last-Modified) before it reached the disk.
		err = os.Chtimes(tmp.Name(), renderedAt, renderedAt)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return storageErr(err)
	}
	f.open.forget(p)
	return nil
}

func storageErr(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %v", ErrFull, err)
	}
	return fmt.Errorf("tile cache: %w", err)
}

// dirtyAge is how far mod_tile's metatile_expire moves a modification time
// back to mark a metatile dirty.
const dirtyAge = 20

// MarkedDirty reports whether a metatile modified at mtime was marked dirty:
// its time lies more than 19 years back, which no real render does.
func MarkedDirty(mtime, now time.Time) bool {
	return mtime.Before(now.AddDate(-(dirtyAge - 1), 0, 0))
}

// RenderedAt is when a metatile with modification time mtime was rendered,
// undoing a dirty mark.
func RenderedAt(mtime, now time.Time) time.Time {
	if MarkedDirty(mtime, now) {
		return mtime.AddDate(dirtyAge, 0, 0)
	}
	return mtime
}

// MarkDirty marks metatile m out of date without deleting it, as renderd's
// tools do: its modification time goes back 20 years and its access time is
// kept. Unlike mod_tile, marking twice changes nothing, so RenderedAt still
// tells when it was rendered. The time is set on the file that was read,
// through its descriptor: a render that replaced it meanwhile keeps its
// own time, instead of getting the dirty time of the file it replaced.
func (f *Files) MarkDirty(_ context.Context, set string, m tile.Meta) error {
	p := f.path(set, m)
	fh, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return ErrNotFound
		}
		return fmt.Errorf("tile cache: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return fmt.Errorf("tile cache: %w", err)
	}
	mt := fi.ModTime()
	if MarkedDirty(mt, time.Now()) {
		return nil
	}
	at := mt
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		at = time.Unix(st.Atim.Unix())
	}
	// Linux's /proc link reaches the open file even once it is replaced.
	if err := os.Chtimes("/proc/self/fd/"+strconv.Itoa(int(fh.Fd())), at, mt.AddDate(-dirtyAge, 0, 0)); err != nil {
		return fmt.Errorf("tile cache: %s: %w", p, err)
	}
	f.open.forget(p)
	return nil
}

// Delete removes metatile m.
func (f *Files) Delete(_ context.Context, set string, m tile.Meta) error {
	p := f.path(set, m)
	f.open.forget(p)
	err := os.Remove(p)
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("tile cache: %w", err)
	}
	return nil
}

// ImportTime is the modification time of the tileset's import stamp, or of
// the cache-wide one, or the zero time if there is neither. It is cached for
// a second.
func (f *Files) ImportTime(set string) time.Time {
	now := time.Now()
	f.mu.Lock()
	e, ok := f.stamps[set]
	f.mu.Unlock()
	if ok && now.Sub(e.checked) < stampRecheck {
		return e.t
	}
	e = stampEntry{checked: now}
	for _, p := range []string{filepath.Join(f.root, set, ImportStamp), filepath.Join(f.root, ImportStamp)} {
		if fi, err := os.Stat(p); err == nil {
			e.t = fi.ModTime()
			break
		}
	}
	f.mu.Lock()
	f.stamps[set] = e
	f.mu.Unlock()
	return e.t
}

// TouchImport sets the cache-wide import stamp to t, making every metatile
// rendered before t out of date.
func (f *Files) TouchImport(t time.Time) error {
	p := filepath.Join(f.root, ImportStamp)
	fh, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("tile cache: %w", err)
	}
	fh.Close()
	if err := os.Chtimes(p, t, t); err != nil {
		return fmt.Errorf("tile cache: %w", err)
	}
	f.ForgetImportTime()
	return nil
}

// ForgetImportTime drops the cached import times: another process has
// just imported.
func (f *Files) ForgetImportTime() {
	f.mu.Lock()
	clear(f.stamps)
	f.mu.Unlock()
}
