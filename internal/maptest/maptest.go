// Package maptest gives tests the bundled Liechtenstein extract imported
// into an SQLite map database. The import is made once per extract and
// kept in the system's temporary directory (like Go's build cache), built
// aside and renamed into place, so that test binaries running side by side
// share it and never see half of one.
package maptest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"kiln/internal/importer"
	"kiln/internal/mapdata/sqlite"
	"kiln/internal/middle"
)

// SamplePath is the bundled extract's path.
func SamplePath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "data", "osm", "liechtenstein-2013-08-03.osm.pbf")
}

// schemaVersion changes the cache key when the importer's output changes
// in ways the extract's bytes do not show.
const schemaVersion = "2"

var (
	once   sync.Once
	dbPath string
	dbErr  error
)

// Sample opens the imported sample, read only as far as tests go; the
// store is closed when the test ends.
func Sample(t testing.TB) *sqlite.Store {
	t.Helper()
	once.Do(func() { dbPath, dbErr = build(SamplePath()) })
	if dbErr != nil {
		t.Fatalf("importing the sample: %v", dbErr)
	}
	s, err := sqlite.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// build imports path unless an import of the same bytes is cached, and
// returns the database's path.
func build(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	io.WriteString(h, schemaVersion)
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	dir := filepath.Join(os.TempDir(), "kiln-maptest-"+hex.EncodeToString(h.Sum(nil))[:16])
	db := filepath.Join(dir, "map.db")
	if _, err := os.Stat(db); err == nil {
		return db, nil
	}
	tmp, err := os.MkdirTemp(os.TempDir(), "kiln-maptest-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := importInto(context.Background(), path, tmp); err != nil {
		return "", err
	}
	if err := os.Rename(filepath.Join(tmp, "db"), dir); err != nil {
		if _, statErr := os.Stat(db); statErr == nil {
			return db, nil // another test binary got there first
		}
		return "", err
	}
	return db, nil
}

func importInto(ctx context.Context, path, dir string) error {
	mid, err := middle.NewBuilder(ctx, dir, "test")
	if err != nil {
		return err
	}
	// Everything is in a directory the caller removes: on failure there
	// is nothing to roll back by hand.
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o755); err != nil {
		return err
	}
	store, err := sqlite.Open(ctx, filepath.Join(dir, "db", "map.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	imp, err := store.BeginImport(ctx)
	if err != nil {
		return err
	}
	sum, err := importer.Run(ctx, path, imp, mid, importer.Options{Procs: runtime.NumCPU()})
	if err != nil {
		mid.Abort()
		imp.Abort()
		return err
	}
	if err := errors.Join(imp.Index(ctx), mid.Finish(ctx)); err != nil {
		imp.Abort()
		return err
	}
	return imp.Commit(ctx, map[string]string{
		"source": filepath.Base(path),
		"bounds": fmt.Sprintf("%g,%g,%g,%g", sum.Bounds.Min[0], sum.Bounds.Min[1], sum.Bounds.Max[0], sum.Bounds.Max[1]),
	})
}
