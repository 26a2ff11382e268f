package thumbstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"kiln/internal/objstore"
)

// ErrUnavailable: the store did not answer in time or failed; the same
// call may succeed later.
var ErrUnavailable = errors.New("thumbnail storage is unavailable")

// S3 is the store as objects of an S3-compatible store, named as Files
// names its files, under "thumbs/". Each object is written whole, and the
// record last, so the same rules keep readers from pairing a record with
// another generation's images.
type S3 struct{ b *objstore.Bucket }

// NewS3 stores thumbnails in bucket b.
func NewS3(b *objstore.Bucket) *S3 { return &S3{b: b} }

// pageKey is the "directory" of a page's objects, ending in "/".
func pageKey(k Key) string {
	id := k.ID()
	return "thumbs/" + id[:2] + "/" + id[2:4] + "/" + id + "/"
}

func (s *S3) fail(err error) error {
	switch {
	case errors.Is(err, objstore.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, objstore.ErrUnavailable), errors.Is(err, objstore.ErrFull):
		// A full store is the operator's to fix; clients are told to come
		// back, as for a store that does not answer.
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return fmt.Errorf("thumbnail cache: %w", err)
}

// Get reads a page's record.
func (s *S3) Get(ctx context.Context, k Key) (Entry, error) {
	b, _, err := s.b.Get(ctx, pageKey(k)+"meta.json")
	if err != nil {
		return Entry{}, s.fail(err)
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil || e.URL != k.URL || e.FullPage != k.FullPage {
		return Entry{}, ErrNotFound // a page to capture again, as Files has it
	}
	return e, nil
}

// PutCapture stores a new capture of a page with its record and
// thumbnails, replacing what the store had.
func (s *S3) PutCapture(ctx context.Context, k Key, e Entry, capture []byte, thumbs map[string][]byte) error {
	dir := pageKey(k)
	e.URL, e.FullPage, e.Failed = k.URL, k.FullPage, false
	e.Generation = time.Now().UnixNano()
	gen := strconv.FormatInt(e.Generation, 10)
	if _, err := s.b.Put(ctx, dir+gen+".capture.jpeg", capture, nil); err != nil {
		return s.fail(err)
	}
	for name, b := range thumbs {
		if _, err := s.b.Put(ctx, dir+gen+"."+name, b, nil); err != nil {
			return s.fail(err)
		}
	}
	if err := s.putRecord(ctx, dir, e); err != nil {
		return err
	}
	s.removeOthers(ctx, dir, gen)
	return nil
}

// PutFailure records that a page failed, keeping nothing else of it.
func (s *S3) PutFailure(ctx context.Context, k Key, e Entry) error {
	dir := pageKey(k)
	e.URL, e.FullPage, e.Failed, e.Generation = k.URL, k.FullPage, true, 0
	if err := s.putRecord(ctx, dir, e); err != nil {
		return err
	}
	s.removeOthers(ctx, dir, "")
	return nil
}

func (s *S3) putRecord(ctx context.Context, dir string, e Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err := s.b.Put(ctx, dir+"meta.json", b, nil); err != nil {
		return s.fail(err)
	}
	return nil
}

// Capture reads the capture of the generation e names.
func (s *S3) Capture(ctx context.Context, k Key, e Entry) ([]byte, error) {
	return s.get(ctx, pageKey(k)+strconv.FormatInt(e.Generation, 10)+".capture.jpeg")
}

// Thumb reads a thumbnail (by name, see ThumbName) of e's generation.
func (s *S3) Thumb(ctx context.Context, k Key, e Entry, name string) ([]byte, error) {
	return s.get(ctx, pageKey(k)+strconv.FormatInt(e.Generation, 10)+"."+name)
}

// PutThumb stores a thumbnail cut later from e's capture.
func (s *S3) PutThumb(ctx context.Context, k Key, e Entry, name string, b []byte) error {
	if _, err := s.b.Put(ctx, pageKey(k)+strconv.FormatInt(e.Generation, 10)+"."+name, b, nil); err != nil {
		return s.fail(err)
	}
	return nil
}

func (s *S3) get(ctx context.Context, key string) ([]byte, error) {
	b, _, err := s.b.Get(ctx, key)
	if err != nil {
		return nil, s.fail(err)
	}
	return b, nil
}

// removeOthers deletes the objects of generations other than gen, as
// Files does; what it cannot delete now stays until the next capture.
func (s *S3) removeOthers(ctx context.Context, dir, gen string) {
	for key, err := range s.b.List(ctx, dir) {
		if err != nil {
			return
		}
		n := strings.TrimPrefix(key, dir)
		if n == "meta.json" || gen != "" && strings.HasPrefix(n, gen+".") {
			continue
		}
		s.b.Delete(ctx, key)
	}
}
