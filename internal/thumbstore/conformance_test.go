package thumbstore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"kiln/internal/objstore"
	"kiln/internal/s3test"
	"kiln/internal/thumbstore"
	"kiln/internal/thumbstore/storetest"
)

// pagePath is where both backends keep a page's files: thumbs/ab/cd/abcd….
func pagePath(k thumbstore.Key) string {
	id := k.ID()
	return filepath.Join(id[:2], id[2:4], id)
}

func TestFilesConformance(t *testing.T) {
	var dir string
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) storetest.Store {
			dir = t.TempDir()
			s, err := thumbstore.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Names: func(t *testing.T, k thumbstore.Key) []string {
			entries, err := os.ReadDir(filepath.Join(dir, pagePath(k)))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			return names
		},
		Write: func(t *testing.T, k thumbstore.Key, name string, b []byte) {
			if err := os.WriteFile(filepath.Join(dir, pagePath(k), name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		},
	})
}

func TestS3Conformance(t *testing.T) {
	srv := s3test.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	var prefix string
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) storetest.Store {
			prefix = t.Name() + "/"
			b, err := objstore.Open(ctx, objstore.Config{
				Endpoint: srv.Endpoint, Bucket: srv.Bucket, Prefix: prefix, Region: s3test.Region,
				AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey, Timeout: 5 * time.Second, Retries: 2,
			})
			if err != nil {
				t.Fatal(err)
			}
			return thumbstore.NewS3(b)
		},
		Names: func(t *testing.T, k thumbstore.Key) []string {
			dir := prefix + "thumbs/" + pagePath(k) + "/"
			var names []string
			for o := range c.ListObjectsIter(ctx, srv.Bucket, minio.ListObjectsOptions{Prefix: dir, Recursive: true}) {
				if o.Err != nil {
					t.Fatal(o.Err)
				}
				names = append(names, strings.TrimPrefix(o.Key, dir))
			}
			slices.Sort(names)
			return names
		},
		Write: func(t *testing.T, k thumbstore.Key, name string, b []byte) {
			key := prefix + "thumbs/" + pagePath(k) + "/" + name
			if _, err := c.PutObject(ctx, srv.Bucket, key, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{}); err != nil {
				t.Fatal(err)
			}
		},
	})
}

// With the server down a call fails with ErrUnavailable, and works again
// once it is back.
func TestS3Unavailable(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	b, err := objstore.Open(ctx, objstore.Config{
		Endpoint: srv.Endpoint, Bucket: srv.Bucket, Region: s3test.Region,
		AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey, Timeout: 2 * time.Second, Retries: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := thumbstore.NewS3(b)
	k := thumbstore.Key{URL: "http://example.com/"}
	if err := s.PutCapture(ctx, k, thumbstore.Entry{}, []byte("c"), nil); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if _, err := s.Get(ctx, k); !errors.Is(err, thumbstore.ErrUnavailable) {
		t.Errorf("Get with the server down: %v", err)
	}
	if err := s.PutFailure(ctx, k, thumbstore.Entry{}); !errors.Is(err, thumbstore.ErrUnavailable) {
		t.Errorf("PutFailure with the server down: %v", err)
	}
	srv.Restart(t)
	if e, err := s.Get(ctx, k); err != nil || e.URL != k.URL {
		t.Errorf("after restart: %+v %v", e, err)
	}
}
