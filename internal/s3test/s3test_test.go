package s3test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// An object survives a restart on the same port; while stopped, the
// server refuses connections.
func TestStartRestart(t *testing.T) {
	s := Start(t)
	c := s.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.PutObject(ctx, s.Bucket, "a/b", bytes.NewReader([]byte("hello")), 5, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	off, _ := minio.New(s.Endpoint, &minio.Options{MaxRetries: 1})
	if _, err := off.ListBuckets(ctx); err == nil {
		t.Error("a stopped server answered")
	}
	s.Restart(t)
	o, err := c.GetObject(ctx, s.Bucket, "a/b", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(o)
	if err != nil || string(b) != "hello" {
		t.Errorf("after restart: %q %v", b, err)
	}
}
