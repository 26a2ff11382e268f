package tilestore_test

import (
	"context"
	"testing"
	"time"

	"kiln/internal/objstore"
	"kiln/internal/s3test"
	"kiln/internal/tilestore"
	"kiln/internal/tilestore/storetest"
)

func TestFilesConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		s, err := tilestore.NewFiles(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, storetest.Options{})
}

func TestS3Conformance(t *testing.T) {
	srv := s3test.Start(t)
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return tilestore.NewS3(openBucket(t, srv, t.Name()+"/"))
	}, storetest.Options{DirtyMayWinRace: true}) // versitygw's copy (storetest.Options)
}

// openBucket opens srv's bucket with every key under prefix.
func openBucket(t testing.TB, srv *s3test.Server, prefix string) *objstore.Bucket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := objstore.Open(ctx, objstore.Config{
		Endpoint: srv.Endpoint, Bucket: srv.Bucket, Prefix: prefix, Region: s3test.Region,
		AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey, Timeout: 5 * time.Second, Retries: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
