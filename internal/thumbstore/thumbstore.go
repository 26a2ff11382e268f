// Package thumbstore is the cache of page thumbnails in DATA/thumbs: for
// each page (its canonical URL and capture options) the capture Chromium
// made, the thumbnails cut from it in the sizes and formats asked so far,
// and what is known of the page (when captured, where it ended up, its
// title) — or, for a page that failed, why, so that failures are not
// retried on every request (a negative cache).
//
// Keeping the capture means a new size or format never loads the page
// again. Every file is written to a temporary name and renamed into place;
// a page's record (meta.json) is written last and names the generation of
// the files it goes with, so a reader never pairs a new record with old
// images or the reverse, and a crash leaves the old record whole.
package thumbstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"kiln/internal/atomicfile"
)

// Key names a page capture.
type Key struct {
	URL      string // canonical (see netguard.ParseURL)
	FullPage bool
}

// ID is the key's file name: a SHA-256 of its parts.
func (k Key) ID() string {
	h := sha256.New()
	fmt.Fprintf(h, "v1\n%s\n%t", k.URL, k.FullPage)
	return hex.EncodeToString(h.Sum(nil))
}

// Entry is the record of a page.
type Entry struct {
	URL        string    `json:"url"`
	FullPage   bool      `json:"full_page"`
	Generation int64     `json:"generation"` // of the capture and thumbnails; 0 for a failure
	CapturedAt time.Time `json:"captured_at"`
	FinalURL   string    `json:"final_url,omitempty"`
	Title      string    `json:"title,omitempty"`
	Status     int       `json:"status,omitempty"`
	Partial    bool      `json:"partial,omitempty"`
	Blank      bool      `json:"blank,omitempty"`
	// A failed page: its kind and reason; no capture.
	Failed bool   `json:"failed,omitempty"`
	Kind   string `json:"kind,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// ErrNotFound is a page the store has no record of, or a thumbnail not
// made yet.
var ErrNotFound = errors.New("not in the thumbnail cache")

// Files is the store on disk.
type Files struct{ dir string }

// Open uses dir, creating it if needed.
func Open(dir string) (*Files, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("thumbnail cache: %w", err)
	}
	return &Files{dir: dir}, nil
}

func (s *Files) pageDir(k Key) string {
	id := k.ID()
	return filepath.Join(s.dir, id[:2], id[2:4], id)
}

// Get reads a page's record.
func (s *Files) Get(_ context.Context, k Key) (Entry, error) {
	b, err := os.ReadFile(filepath.Join(s.pageDir(k), "meta.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return Entry{}, ErrNotFound
	}
	if err != nil {
		return Entry{}, fmt.Errorf("thumbnail cache: %w", err)
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil || e.URL != k.URL || e.FullPage != k.FullPage {
		// A damaged record is a page to capture again.
		return Entry{}, ErrNotFound
	}
	return e, nil
}

// PutCapture stores a new capture of a page (JPEG) with its record and
// thumbnails already made (by name, see ThumbName), replacing what the
// store had.
func (s *Files) PutCapture(_ context.Context, k Key, e Entry, capture []byte, thumbs map[string][]byte) error {
	dir := s.pageDir(k)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("thumbnail cache: %w", err)
	}
	e.URL, e.FullPage, e.Failed = k.URL, k.FullPage, false
	e.Generation = time.Now().UnixNano()
	gen := strconv.FormatInt(e.Generation, 10)
	if err := writeFile(filepath.Join(dir, gen+".capture.jpeg"), capture); err != nil {
		return err
	}
	for name, b := range thumbs {
		if err := writeFile(filepath.Join(dir, gen+"."+name), b); err != nil {
			return err
		}
	}
	if err := s.putRecord(dir, e); err != nil {
		return err
	}
	removeOthers(dir, gen)
	return nil
}

// PutFailure records that a page failed, keeping nothing else of it.
func (s *Files) PutFailure(_ context.Context, k Key, e Entry) error {
	dir := s.pageDir(k)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("thumbnail cache: %w", err)
	}
	e.URL, e.FullPage, e.Failed, e.Generation = k.URL, k.FullPage, true, 0
	if err := s.putRecord(dir, e); err != nil {
		return err
	}
	removeOthers(dir, "")
	return nil
}

func (s *Files) putRecord(dir string, e Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "meta.json"), b)
}

// Capture reads the capture of the generation e names.
func (s *Files) Capture(_ context.Context, k Key, e Entry) ([]byte, error) {
	return readFile(filepath.Join(s.pageDir(k), strconv.FormatInt(e.Generation, 10)+".capture.jpeg"))
}

// Thumb reads a thumbnail (by name, see ThumbName) of e's generation.
func (s *Files) Thumb(_ context.Context, k Key, e Entry, name string) ([]byte, error) {
	return readFile(filepath.Join(s.pageDir(k), strconv.FormatInt(e.Generation, 10)+"."+name))
}

// PutThumb stores a thumbnail cut later from e's capture.
func (s *Files) PutThumb(_ context.Context, k Key, e Entry, name string, b []byte) error {
	return writeFile(filepath.Join(s.pageDir(k), strconv.FormatInt(e.Generation, 10)+"."+name), b)
}

// ThumbName is a thumbnail's file name: "201x147.jpeg".
func ThumbName(w, h int, ext string) string { return fmt.Sprintf("%dx%d.%s", w, h, ext) }

func readFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("thumbnail cache: %w", err)
	}
	return b, nil
}

// writeFile writes a file of the cache whole or not at all.
func writeFile(path string, b []byte) error {
	if err := atomicfile.WriteBytes(path, 0o600, b); err != nil {
		return fmt.Errorf("thumbnail cache: %w", err)
	}
	return nil
}

// removeOthers deletes the files of generations other than gen; a reader
// still on an old record finds its thumbnail gone and cuts it again.
func removeOthers(dir, gen string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		n := e.Name()
		if n == "meta.json" || strings.HasPrefix(n, atomicfile.TempPrefix) || gen != "" && strings.HasPrefix(n, gen+".") {
			continue
		}
		os.Remove(filepath.Join(dir, n))
	}
}
