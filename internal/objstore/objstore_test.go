package objstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"kiln/internal/objstore"
	"kiln/internal/s3test"
)

func config(srv *s3test.Server) objstore.Config {
	return objstore.Config{
		Endpoint: srv.Endpoint, Bucket: srv.Bucket, Region: s3test.Region,
		AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey, Timeout: 5 * time.Second, Retries: 2,
	}
}

func TestErrors(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	cfg := config(srv)
	cfg.Prefix = "p/"
	b, err := objstore.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	etag, err := b.Put(ctx, "k", []byte("0123456789"), map[string]string{"Kiln-Mtime": "x"})
	if err != nil || etag == "" {
		t.Fatalf("Put: %q %v", etag, err)
	}
	got, o, err := b.ReadRange(ctx, "k", 2, 3, etag, nil)
	if err != nil || string(got) != "234" || o.Size != 10 || o.ETag != etag || o.Meta("Kiln-Mtime") != "x" {
		t.Errorf("ReadRange = %q %+v %v", got, o, err)
	}
	if got, _, err := b.ReadRange(ctx, "k", 8, 5, "", nil); err != nil || string(got) != "89" {
		t.Errorf("ReadRange past the end = %q %v", got, err)
	}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"missing", func() error { _, _, err := b.ReadRange(ctx, "nope", 0, 1, "", nil); return err }(), objstore.ErrNotFound},
		{"missing stat", func() error { _, err := b.Stat(ctx, "nope"); return err }(), objstore.ErrNotFound},
		{"changed", func() error { _, _, err := b.ReadRange(ctx, "k", 0, 1, "0123abc", nil); return err }(), objstore.ErrChanged},
		{"past the end", func() error { _, _, err := b.ReadRange(ctx, "k", 20, 1, "", nil); return err }(), objstore.ErrRange},
		{"changed copy", b.ReplaceMeta(ctx, "k", "0123abc", nil), objstore.ErrChanged},
		{"missing copy", b.ReplaceMeta(ctx, "nope", "0123abc", nil), objstore.ErrNotFound},
	}
	for _, tc := range tests {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	if err := b.ReplaceMeta(ctx, "k", etag, map[string]string{"Kiln-Mtime": "y"}); err != nil {
		t.Fatal(err)
	}
	if o, err := b.Stat(ctx, "k"); err != nil || o.Meta("Kiln-Mtime") != "y" || o.Size != 10 {
		t.Errorf("after ReplaceMeta: %+v %v", o, err)
	}
	var keys []string
	b.Put(ctx, "dir/a", nil, nil)
	b.Put(ctx, "dir/b/c", nil, nil)
	for k, err := range b.List(ctx, "dir/") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if strings.Join(keys, " ") != "dir/a dir/b/c" {
		t.Errorf("List = %q", keys)
	}
	if err := b.Delete(ctx, "dir/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(ctx, "dir/a"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("after Delete: %v", err)
	}
}

// Open refuses a missing bucket and wrong credentials with errors that say
// so, and neither is "unavailable": retrying does not help.
func TestOpenRefused(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	cfg := config(srv)
	cfg.Bucket = "no-such-bucket"
	if _, err := objstore.Open(ctx, cfg); err == nil || !strings.Contains(err.Error(), `bucket "no-such-bucket" does not exist`) {
		t.Errorf("missing bucket: %v", err)
	}
	cfg = config(srv)
	cfg.SecretAccessKey = "wrong"
	_, err := objstore.Open(ctx, cfg)
	if err == nil || errors.Is(err, objstore.ErrUnavailable) {
		t.Errorf("wrong secret: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), srv.SecretKey) {
		t.Errorf("the error shows the secret: %v", err)
	}
}

// A server that takes connections and never answers fails every call with
// ErrUnavailable once the timeout is over, not later.
func TestTimeout(t *testing.T) {
	srv := s3test.Start(t)
	p := newProxy(t, srv.Endpoint)
	cfg := config(srv)
	cfg.Endpoint, cfg.Timeout = p.addr, 500*time.Millisecond
	ctx := context.Background()
	b, err := objstore.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(ctx, "k", []byte("v"), nil); err != nil {
		t.Fatal(err)
	}
	p.freeze()
	start := time.Now()
	_, _, err = b.ReadRange(ctx, "k", 0, 1, "", nil)
	if took := time.Since(start); !errors.Is(err, objstore.ErrUnavailable) || took > 2*cfg.Timeout {
		t.Errorf("hung server: %v after %v, want ErrUnavailable after about %v", err, took, cfg.Timeout)
	}
	p.thaw()
	if got, _, err := b.ReadRange(ctx, "k", 0, 1, "", nil); err != nil || string(got) != "v" {
		t.Errorf("after the server came back: %q %v", got, err)
	}
}

// A call that meets dropped connections is retried, as often as
// configured.
func TestRetries(t *testing.T) {
	srv := s3test.Start(t)
	p := newProxy(t, srv.Endpoint)
	ctx := context.Background()
	for _, tc := range []struct {
		retries int
		ok      bool
	}{{0, false}, {3, true}} {
		cfg := config(srv)
		cfg.Endpoint, cfg.Retries = p.addr, tc.retries
		b, err := objstore.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Put(ctx, "k", []byte("v"), nil); err != nil {
			t.Fatal(err)
		}
		p.drop(2)
		_, _, err = b.ReadRange(ctx, "k", 0, 1, "", nil)
		if tc.ok && err != nil || !tc.ok && !errors.Is(err, objstore.ErrUnavailable) {
			t.Errorf("%d retries past 2 dropped connections: %v", tc.retries, err)
		}
	}
}

// proxy forwards TCP connections to a server until frozen: then it takes
// new connections and holds them, answering nothing, and drops the old.
// It can also close the next connections at once.
type proxy struct {
	addr    string
	mu      sync.Mutex
	cold    bool
	dropped int // connections to close at once
	open    []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: ln.Addr().String()}
	t.Cleanup(func() { ln.Close(); p.freeze() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			frozen, drop := p.cold, p.dropped > 0
			if drop {
				p.dropped--
			} else {
				p.open = append(p.open, c)
			}
			p.mu.Unlock()
			if drop {
				c.Close()
				continue
			}
			if frozen {
				continue // held open, never answered
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.open = append(p.open, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

func (p *proxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cold = true
	for _, c := range p.open {
		c.Close()
	}
	p.open = nil
}

// drop closes the open connections and the next n.
func (p *proxy) drop(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropped = n
	for _, c := range p.open {
		c.Close()
	}
	p.open = nil
}

func (p *proxy) thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cold = false
	for _, c := range p.open {
		c.Close()
	}
	p.open = nil
}

// A store that refuses writes for want of space or quota fails them with
// ErrFull, whatever its dialect. Such a store cannot be made on demand
// here, so an HTTP server on 127.0.0.1 answers as MinIO and Ceph RGW do
// (their documented error codes and statuses); the bucket exists.
func TestFull(t *testing.T) {
	for _, tc := range []struct {
		name, code string
		status     int
	}{
		{"MinIO disks full", "XMinioStorageFull", http.StatusInsufficientStorage},
		{"MinIO bucket quota", "XMinioAdminBucketQuotaExceeded", http.StatusBadRequest},
		{"RGW quota", "QuotaExceeded", http.StatusForbidden},
		{"507 of another store", "InsufficientStorage", http.StatusInsufficientStorage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodHead || r.Method == http.MethodGet {
					w.WriteHeader(http.StatusOK) // the bucket exists
					return
				}
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(tc.status)
				fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>no space</Message><Resource>%s</Resource></Error>`, tc.code, r.URL.Path)
			}))
			t.Cleanup(srv.Close)
			ctx := context.Background()
			b, err := objstore.Open(ctx, objstore.Config{Endpoint: strings.TrimPrefix(srv.URL, "http://"), Bucket: "kiln",
				Region: "us-east-1", AccessKeyID: "k", SecretAccessKey: "s", Timeout: 5 * time.Second, Retries: 1})
			if err != nil {
				t.Fatal(err)
			}
			_, err = b.Put(ctx, "k", []byte("v"), nil)
			if !errors.Is(err, objstore.ErrFull) || errors.Is(err, objstore.ErrUnavailable) {
				t.Errorf("put: %v, want ErrFull", err)
			}
		})
	}
}
