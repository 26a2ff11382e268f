package tilestore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"kiln/internal/metatile"
	"kiln/internal/s3test"
	"kiln/internal/tile"
	"kiln/internal/tilestore"
	"kiln/internal/tilestore/storetest"
)

// The objects are mod_tile's files under their paths: what Files writes,
// byte for byte, and a metatile copied in by another tool, without kiln's
// metadata, is served with the object's own time.
func TestS3Layout(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	s := tilestore.NewS3(openBucket(t, srv, "cache/"))
	files, err := tilestore.NewFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := tile.Meta{Z: 14, X: 8696, Y: 5752, N: 8}
	file := storetest.Encode(t, m, 3)
	for _, st := range []storetest.Store{s, files} {
		if err := st.Put(ctx, "osm@2x", m, file, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	onDisk, err := os.ReadFile(metatile.Path(files.Root(), "osm@2x", m))
	if err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(files.Root(), metatile.Path(files.Root(), "osm@2x", m))
	c := srv.Client(t)
	o, err := c.GetObject(ctx, srv.Bucket, "cache/"+rel, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	obj, err := io.ReadAll(o)
	if err != nil || !bytes.Equal(obj, onDisk) {
		t.Errorf("object cache/%s: %d bytes, %v; want the %d of the file", rel, len(obj), err, len(onDisk))
	}

	other := tile.Meta{Z: 14, X: 8704, Y: 5752, N: 8}
	rel, _ = filepath.Rel(files.Root(), metatile.Path(files.Root(), "osm", other))
	b := storetest.Encode(t, other, 2)
	if _, err := c.PutObject(ctx, srv.Bucket, "cache/"+rel, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	info, err := c.StatObject(ctx, srv.Bucket, "cache/"+rel, minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadTile(ctx, "osm", other, tile.Coord{Z: 14, X: 8705, Y: 5753}, nil)
	if err != nil || string(got.Data) != "14/8705/5753;14/8705/5753;" || !got.ModTime.Equal(info.LastModified) {
		t.Errorf("foreign object: %q %v %v, want its Last-Modified %v", got.Data, got.ModTime, err, info.LastModified)
	}

	// A tileset's own import stamp counts before the global one.
	stamp := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	if _, err := c.PutObject(ctx, srv.Bucket, "cache/osm/"+tilestore.ImportStamp, bytes.NewReader(nil), 0,
		minio.PutObjectOptions{UserMetadata: map[string]string{"kiln-mtime": stamp.Format(time.RFC3339Nano)}}); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchImport(stamp.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := s.ImportTime("osm"); !got.Equal(stamp) {
		t.Errorf("tileset stamp: %v, want %v", got, stamp)
	}
	if got := s.ImportTime("osm@2x"); !got.Equal(stamp.Add(time.Hour)) {
		t.Errorf("global stamp: %v, want %v", got, stamp.Add(time.Hour))
	}
}

// Two stores on one bucket are two kiln nodes: a metatile one rewrites
// with another layout is read right by the other, whose cached header
// is out of date, and a dirty mark is seen at once.
func TestS3SharedBetweenNodes(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	a := tilestore.NewS3(openBucket(t, srv, ""))
	b := tilestore.NewS3(openBucket(t, srv, ""))
	m := tile.Meta{Z: 12, X: 2048, Y: 1024, N: 8}
	c := tile.Coord{Z: 12, X: 2053, Y: 1030}
	if err := a.Put(ctx, "osm", m, storetest.Encode(t, m, 1), time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 7, 2} {
		if n != 1 {
			if err := b.Put(ctx, "osm", m, storetest.Encode(t, m, n), time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		got, err := a.ReadTile(ctx, "osm", m, c, nil)
		if want := bytes.Repeat([]byte(c.String()+";"), n); err != nil || !bytes.Equal(got.Data, want) {
			t.Fatalf("after the other node wrote %d: %q %v", n, got.Data, err)
		}
	}
	if err := b.MarkDirty(ctx, "osm", m); err != nil {
		t.Fatal(err)
	}
	if got, err := a.ReadTile(ctx, "osm", m, c, nil); err != nil || !tilestore.MarkedDirty(got.ModTime, time.Now()) {
		t.Errorf("the other node's dirty mark: mtime %v, %v", got.ModTime, err)
	}
	if err := b.Delete(ctx, "osm", m); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ReadTile(ctx, "osm", m, c, nil); !errors.Is(err, tilestore.ErrNotFound) {
		t.Errorf("after the other node deleted it: %v", err)
	}
}

// With the server down every call fails with ErrUnavailable within the
// timeout, and works again once it is back.
func TestS3Unavailable(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	s := tilestore.NewS3(openBucket(t, srv, ""))
	m := tile.Meta{Z: 5, X: 8, Y: 8, N: 8}
	c := tile.Coord{Z: 5, X: 9, Y: 9}
	if err := s.Put(ctx, "osm", m, storetest.Encode(t, m, 1), time.Now()); err != nil {
		t.Fatal(err)
	}
	imported := time.Now().Add(-time.Hour)
	if err := s.TouchImport(imported); err != nil {
		t.Fatal(err)
	}
	s.ImportTime("osm")
	srv.Stop()
	calls := map[string]func() error{
		"ReadTile":  func() error { _, err := s.ReadTile(ctx, "osm", m, c, nil); return err },
		"Stat":      func() error { _, err := s.Stat(ctx, "osm", m); return err },
		"Put":       func() error { return s.Put(ctx, "osm", m, storetest.Encode(t, m, 2), time.Now()) },
		"MarkDirty": func() error { return s.MarkDirty(ctx, "osm", m) },
		"Delete":    func() error { return s.Delete(ctx, "osm", m) },
	}
	for name, call := range calls {
		start := time.Now()
		err := call()
		if took := time.Since(start); !errors.Is(err, tilestore.ErrUnavailable) || took > 5*time.Second {
			t.Errorf("%s with the server down: %v after %v, want ErrUnavailable within the 5 s timeout", name, err, took)
		}
	}
	// The last import time known stands meanwhile.
	time.Sleep(1100 * time.Millisecond)
	if got := s.ImportTime("osm"); !got.Equal(imported) {
		t.Errorf("ImportTime with the server down: %v, want %v", got, imported)
	}
	srv.Restart(t)
	if got, err := s.ReadTile(ctx, "osm", m, c, nil); err != nil || string(got.Data) != c.String()+";" {
		t.Errorf("after restart: %q %v", got.Data, err)
	}
}

// BenchmarkS3ReadTile reads one ~28 KB tile from S3 over loopback: with
// the header cached (one ranged GET) and cold (two).
func BenchmarkS3ReadTile(b *testing.B) {
	srv := s3test.Start(b)
	ctx := context.Background()
	bucket := openBucket(b, srv, "")
	s := tilestore.NewS3(bucket)
	m := tile.Meta{Z: 14, X: 8696, Y: 5752, N: 8}
	if err := s.Put(ctx, "bench", m, storetest.Encode(b, m, 2000), time.Now()); err != nil {
		b.Fatal(err)
	}
	c := tile.Coord{Z: 14, X: 8699, Y: 5757}
	buf := make([]byte, 0, 64<<10)
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.ReadTile(ctx, "bench", m, c, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			cold := tilestore.NewS3(bucket) // no header cached
			if _, err := cold.ReadTile(ctx, "bench", m, c, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}
