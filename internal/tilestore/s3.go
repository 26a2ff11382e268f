package tilestore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"kiln/internal/metatile"
	"kiln/internal/objstore"
	"kiln/internal/tile"
)

// S3 stores metatiles as objects of an S3-compatible store, each object
// byte for byte the file Files would write, under the key of its path in
// mod_tile's layout ("osm/14/0/1/2/3/4.meta"), so that a cache can be
// copied between the two either way.
//
// S3 cannot set an object's Last-Modified, so the modification time that
// Files keeps in the file system is user metadata (mtimeMeta); an object
// without it (copied in by another tool) counts as modified when stored.
// The import stamps are empty objects named like mod_tile's files.
type S3 struct {
	b     *objstore.Bucket
	heads *lru.Cache[headKey, *head]

	mu     sync.Mutex
	stamps map[string]stampEntry // tileset → cached import time
	lookup singleflight.Group    // one stamp lookup per tileset at a time
}

// mtimeMeta is the user metadata (x-amz-meta-kiln-mtime) that holds the
// modification time, RFC 3339 with nanoseconds.
const mtimeMeta = "Kiln-Mtime"

// headCache is how many metatile headers S3 keeps, about 2.5 MB of 8×8
// ones: a cached tile then costs one ranged GET instead of two.
const headCache = 4096

type headKey struct {
	set string
	m   tile.Meta
}

// head is a metatile object's header and index, valid while its ETag is.
type head struct {
	etag string
	size int64
	b    []byte
}

// NewS3 stores metatiles in bucket b.
func NewS3(b *objstore.Bucket) *S3 {
	heads, _ := lru.New[headKey, *head](headCache)
	return &S3{b: b, heads: heads, stamps: make(map[string]stampEntry)}
}

// Close releases nothing: S3 holds no files.
func (s *S3) Close() error { return nil }

func metaKey(set string, m tile.Meta) string {
	return strings.TrimPrefix(metatile.Path("/", set, m), "/")
}

// ReadTile reads tile c of metatile m of tileset set, appending its bytes
// to dst, with a ranged GET of the metatile's header and index (skipped
// while the header is cached) and one of the tile's bytes. The second is
// conditional on the ETag the header came with, so that a header is never
// paired with the bytes of an object since replaced: then the whole new
// object is read, which S3 serves as one version. A missing metatile is
// ErrNotFound; a truncated or corrupt one is metatile.ErrCorrupt.
func (s *S3) ReadTile(ctx context.Context, set string, m tile.Meta, c tile.Coord, dst []byte) (Tile, error) {
	key, hk := metaKey(set, m), headKey{set, m}
	h, cached := s.heads.Get(hk)
	if !cached {
		b, o, err := s.b.ReadRange(ctx, key, 0, int64(metatile.HeaderSize(m.N)), "", nil)
		if errors.Is(err, objstore.ErrRange) { // an empty object
			return Tile{}, fmt.Errorf("%w: %s: empty", metatile.ErrCorrupt, s.b.URL(key))
		}
		if err != nil {
			return Tile{}, s.fail(err)
		}
		h = &head{etag: o.ETag, size: o.Size, b: b}
	}
	e, gz, err := metatile.Locate(h.b, m, c, h.size)
	if err != nil {
		s.heads.Remove(hk)
		return Tile{}, fmt.Errorf("%s: %w", s.b.URL(key), err)
	}
	if !cached {
		s.heads.Add(hk, h)
	}
	data, o, err := s.b.ReadRange(ctx, key, e.Offset, e.Size, h.etag, dst)
	switch {
	// Some servers check the range before the condition, some ignore
	// conditions (the answer's ETag tells), and some check them on one
	// version and read another (versitygw's posix backend: the size in
	// Content-Range tells, unless the new version has the old one's size).
	case errors.Is(err, objstore.ErrChanged), errors.Is(err, objstore.ErrRange), err == nil && (o.ETag != h.etag || o.Size != h.size):
		s.heads.Remove(hk)
		return s.readWhole(ctx, key, hk, m, c, dst)
	case err != nil:
		s.heads.Remove(hk)
		return Tile{}, s.fail(err)
	case int64(len(data)) != e.Size:
		s.heads.Remove(hk)
		return Tile{}, fmt.Errorf("%w: %s: tile %s: %d of %d bytes", metatile.ErrCorrupt, s.b.URL(key), c, len(data), e.Size)
	}
	return Tile{Data: data, Gzip: gz, ModTime: modTime(o), ETag: h.etag}, nil
}

// readWhole reads tile c from the whole metatile object, keeping its header.
func (s *S3) readWhole(ctx context.Context, key string, hk headKey, m tile.Meta, c tile.Coord, dst []byte) (Tile, error) {
	b, o, err := s.b.Get(ctx, key)
	if err != nil {
		return Tile{}, s.fail(err)
	}
	hs := metatile.HeaderSize(m.N)
	e, gz, err := metatile.Locate(b[:min(len(b), hs)], m, c, int64(len(b)))
	if err != nil {
		return Tile{}, fmt.Errorf("%s: %w", s.b.URL(key), err)
	}
	s.heads.Add(hk, &head{etag: o.ETag, size: int64(len(b)), b: append([]byte(nil), b[:hs]...)})
	data := append(dst[:0], b[e.Offset:e.Offset+e.Size]...)
	return Tile{Data: data, Gzip: gz, ModTime: modTime(o), ETag: o.ETag}, nil
}

// modTime is an object's modification time as Files would have it.
func modTime(o objstore.Object) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, o.Meta(mtimeMeta)); err == nil {
		return t
	}
	return o.LastModified
}

func mtime(t time.Time) map[string]string {
	return map[string]string{mtimeMeta: t.UTC().Format(time.RFC3339Nano)}
}

// fail maps the store's errors onto the cache's.
func (s *S3) fail(err error) error {
	switch {
	case errors.Is(err, objstore.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, objstore.ErrUnavailable):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	case errors.Is(err, objstore.ErrFull):
		return fmt.Errorf("%w: %w", ErrFull, err)
	}
	return fmt.Errorf("tile cache: %w", err)
}

// ReadMeta reads a whole metatile object.
func (s *S3) ReadMeta(ctx context.Context, set string, m tile.Meta) ([]byte, error) {
	b, _, err := s.b.Get(ctx, metaKey(set, m))
	if err != nil {
		return nil, s.fail(err)
	}
	return b, nil
}

// Stat describes metatile m of tileset set. For a missing metatile it
// returns ErrNotFound with Info.ID set to where it would be stored. S3
// keeps no access time: it is the modification time.
func (s *S3) Stat(ctx context.Context, set string, m tile.Meta) (Info, error) {
	key := metaKey(set, m)
	o, err := s.b.Stat(ctx, key)
	if err != nil {
		return Info{ID: s.b.URL(key)}, s.fail(err)
	}
	mt := modTime(o)
	return Info{ModTime: mt, AccessTime: mt, Size: o.Size, ID: s.b.URL(key), ETag: o.ETag}, nil
}

// Put stores the metatile file b, rendered at renderedAt, in one PUT,
// which S3 applies whole: a reader sees the old object or the new one.
func (s *S3) Put(ctx context.Context, set string, m tile.Meta, b []byte, renderedAt time.Time) error {
	key, hk := metaKey(set, m), headKey{set, m}
	s.heads.Remove(hk)
	etag, err := s.b.Put(ctx, key, b, mtime(renderedAt))
	if err != nil {
		return s.fail(err)
	}
	// The next read of it needs no header request.
	if hs := metatile.HeaderSize(m.N); len(b) >= hs && etag != "" {
		s.heads.Add(hk, &head{etag: etag, size: int64(len(b)), b: append([]byte(nil), b[:hs]...)})
	}
	return nil
}

// MarkDirty marks metatile m out of date, as Files.MarkDirty does, by
// replacing the object's metadata with a copy onto itself conditional on
// the ETag read: a render stored meanwhile keeps its own time.
func (s *S3) MarkDirty(ctx context.Context, set string, m tile.Meta) error {
	key := metaKey(set, m)
	o, err := s.b.Stat(ctx, key)
	if err != nil {
		return s.fail(err)
	}
	mt := modTime(o)
	if MarkedDirty(mt, time.Now()) {
		return nil
	}
	err = s.b.ReplaceMeta(ctx, key, o.ETag, mtime(mt.AddDate(-dirtyAge, 0, 0)))
	if errors.Is(err, objstore.ErrChanged) {
		return nil // replaced by a newer render
	}
	if err != nil {
		return s.fail(err)
	}
	return nil
}

// Delete removes metatile m; ErrNotFound if there is none.
func (s *S3) Delete(ctx context.Context, set string, m tile.Meta) error {
	key := metaKey(set, m)
	s.heads.Remove(headKey{set, m})
	if _, err := s.b.Stat(ctx, key); err != nil {
		return s.fail(err)
	}
	if err := s.b.Delete(ctx, key); err != nil {
		return s.fail(err)
	}
	return nil
}

// ImportTime is the time of the tileset's import stamp, or of the
// cache-wide one, or the zero time if there is neither, as Files has it.
// It is cached for stampRecheck; while the store does not answer, the
// last known time stands.
func (s *S3) ImportTime(set string) time.Time {
	now := time.Now()
	s.mu.Lock()
	e, ok := s.stamps[set]
	s.mu.Unlock()
	if ok && now.Sub(e.checked) < stampRecheck {
		return e.t
	}
	v, _, _ := s.lookup.Do(set, func() (any, error) {
		t, err := s.readStamps(set)
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			t = s.stamps[set].t
		}
		s.stamps[set] = stampEntry{t: t, checked: time.Now()}
		return t, nil
	})
	return v.(time.Time)
}

func (s *S3) readStamps(set string) (time.Time, error) {
	for _, key := range []string{set + "/" + ImportStamp, ImportStamp} {
		o, err := s.b.Stat(context.Background(), key)
		if errors.Is(err, objstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return time.Time{}, err
		}
		return modTime(o), nil
	}
	return time.Time{}, nil
}

// TouchImport sets the cache-wide import stamp to t, making every metatile
// rendered before t out of date, on every node sharing the bucket within
// stampRecheck.
func (s *S3) TouchImport(t time.Time) error {
	if _, err := s.b.Put(context.Background(), ImportStamp, nil, mtime(t)); err != nil {
		return s.fail(err)
	}
	s.ForgetImportTime()
	return nil
}

// ForgetImportTime drops the cached import times: another node has just
// imported.
func (s *S3) ForgetImportTime() {
	s.mu.Lock()
	clear(s.stamps)
	s.mu.Unlock()
}
