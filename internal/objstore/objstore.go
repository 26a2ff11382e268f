// Package objstore is kiln's client of an S3-compatible object store: one
// bucket, objects under a key prefix, every call bounded by a timeout and
// retried with exponential backoff (by minio-go), and S3's answers sorted
// into the few errors the caches act on: not found, changed since read
// (a failed precondition) and unavailable.
package objstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

var (
	// ErrNotFound: no such object.
	ErrNotFound = errors.New("no such object")
	// ErrChanged: the object is no longer the version a condition named.
	ErrChanged = errors.New("object changed")
	// ErrRange: a read began past the object's end.
	ErrRange = errors.New("range outside the object")
	// ErrUnavailable: the store did not answer in time, or failed, after
	// the retries; the same call may succeed later.
	ErrUnavailable = errors.New("object store unavailable")
	// ErrFull: the store refused a write for want of space or quota.
	ErrFull = errors.New("object store full")
)

// fullCodes are the S3 error codes of a full store or bucket: MinIO's
// (its disks, a bucket quota) and Ceph RGW's and Garage's quota.
var fullCodes = map[string]bool{"XMinioStorageFull": true, "XMinioAdminBucketQuotaExceeded": true, "QuotaExceeded": true}

// Config says where the bucket is and how long to try.
type Config struct {
	Endpoint        string // host:port
	Bucket          string
	Prefix          string // prepended to every key
	Region          string
	AccessKeyID     string
	SecretAccessKey string
	TLS             bool
	Timeout         time.Duration // of one call, retries included
	Retries         int           // after the first attempt
}

// Bucket is an open bucket. It is safe for concurrent use.
type Bucket struct {
	c       *minio.Client
	name    string
	prefix  string
	timeout time.Duration
	where   string // "s3://bucket/prefix", for messages
}

// Open connects to the bucket and checks that it exists: kiln does not
// create buckets, whose policy and lifecycle are the operator's.
func Open(ctx context.Context, cfg Config) (*Bucket, error) {
	tr, err := minio.DefaultTransport(cfg.TLS)
	if err != nil {
		return nil, err
	}
	// One connection per concurrent request stays open: a tile server
	// reads many small ranges at once.
	tr.MaxIdleConnsPerHost = 256
	tr.ResponseHeaderTimeout = cfg.Timeout
	tr.DialContext = (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(cfg.AccessKeyID, cfg.SecretAccessKey, ""),
		Secure:     cfg.TLS,
		Transport:  tr,
		Region:     cfg.Region,
		MaxRetries: cfg.Retries + 1, // minio-go counts attempts
	})
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", cfg.Endpoint, err)
	}
	b := &Bucket{c: c, name: cfg.Bucket, prefix: cfg.Prefix, timeout: cfg.Timeout, where: "s3://" + cfg.Bucket + "/" + cfg.Prefix}
	ctx, cancel := b.bound(ctx)
	defer cancel()
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, b.fail(ctx, "checking the bucket", "", err)
	}
	if !ok {
		return nil, fmt.Errorf("object store %s: bucket %q does not exist (kiln does not create it: make it with your S3 tools first)", cfg.Endpoint, cfg.Bucket)
	}
	return b, nil
}

// Where names the bucket and prefix: "s3://bucket/prefix".
func (b *Bucket) Where() string { return b.where }

// URL names an object: "s3://bucket/prefix/key".
func (b *Bucket) URL(key string) string { return b.where + key }

// Object describes a stored object.
type Object struct {
	ETag         string // without quotes
	Size         int64  // of the whole object
	LastModified time.Time
	header       http.Header
}

// Meta returns user metadata name ("x-amz-meta-name"), or "".
func (o Object) Meta(name string) string { return o.header.Get("X-Amz-Meta-" + name) }

func (b *Bucket) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, b.timeout)
}

// ReadRange reads n bytes of the object at off into dst (reallocated when
// too small), on the condition, if ifMatch is not "", that its ETag is
// still ifMatch (else ErrChanged). It returns fewer bytes when the object
// ends first. An object no longer than off is ErrRange.
func (b *Bucket) ReadRange(ctx context.Context, key string, off, n int64, ifMatch string, dst []byte) ([]byte, Object, error) {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	var opts minio.GetObjectOptions
	if err := opts.SetRange(off, off+n-1); err != nil {
		return nil, Object{}, err
	}
	if ifMatch != "" {
		opts.SetMatchETag(ifMatch)
	}
	body, info, h, err := minio.Core{Client: b.c}.GetObject(ctx, b.name, b.prefix+key, opts)
	if err != nil {
		return nil, Object{}, b.fail(ctx, "reading", key, err)
	}
	defer body.Close()
	o := Object{ETag: info.ETag, Size: info.Size, LastModified: info.LastModified, header: h}
	length := info.Size // of this answer
	if total, ok := rangeTotal(h.Get("Content-Range")); ok {
		o.Size = total
	} else if off > 0 {
		// The server sent the whole object: skip to the range.
		if _, err := io.CopyN(io.Discard, body, off); err != nil {
			return nil, Object{}, b.fail(ctx, "reading", key, err)
		}
		length -= off
	}
	if length < 0 || length > n {
		length = n
	}
	if cap(dst) < int(length) {
		dst = make([]byte, length)
	}
	dst = dst[:length]
	// A body shorter than announced is a dropped connection, not a short
	// object.
	if _, err := io.ReadFull(body, dst); err != nil {
		return nil, Object{}, b.fail(ctx, "reading", key, err)
	}
	return dst, o, nil
}

// rangeTotal reads the size of the whole object from "bytes 0-9/1234".
func rangeTotal(cr string) (int64, bool) {
	_, total, ok := strings.Cut(cr, "/")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(total, 10, 64)
	return n, err == nil
}

// Get reads a whole object.
func (b *Bucket) Get(ctx context.Context, key string) ([]byte, Object, error) {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	body, info, h, err := minio.Core{Client: b.c}.GetObject(ctx, b.name, b.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, Object{}, b.fail(ctx, "reading", key, err)
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, Object{}, b.fail(ctx, "reading", key, err)
	}
	return data, Object{ETag: info.ETag, Size: int64(len(data)), LastModified: info.LastModified, header: h}, nil
}

// Stat describes an object without reading it.
func (b *Bucket) Stat(ctx context.Context, key string) (Object, error) {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	info, err := b.c.StatObject(ctx, b.name, b.prefix+key, minio.StatObjectOptions{})
	if err != nil {
		return Object{}, b.fail(ctx, "reading", key, err)
	}
	return Object{ETag: info.ETag, Size: info.Size, LastModified: info.LastModified, header: info.Metadata}, nil
}

// Put stores data as the object, with user metadata meta, in one request:
// S3 replaces an object whole, so readers see the old one or the new one.
// It returns the new ETag.
func (b *Bucket) Put(ctx context.Context, key string, data []byte, meta map[string]string) (string, error) {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	// The payload's SHA-256 in the signature lets the server check the
	// bytes; it replaces the chunked upload encoding minio-go uses without
	// TLS ("DisableContentSha256"), which versitygw misreads for an empty
	// object.
	sum := sha256.Sum256(data)
	info, err := minio.Core{Client: b.c}.PutObject(ctx, b.name, b.prefix+key, bytes.NewReader(data), int64(len(data)), "", hex.EncodeToString(sum[:]),
		minio.PutObjectOptions{UserMetadata: meta, ContentType: "application/octet-stream", DisableContentSha256: true})
	if err != nil {
		return "", b.fail(ctx, "writing", key, err)
	}
	return info.ETag, nil
}

// ReplaceMeta sets the object's user metadata to meta, keeping its bytes,
// on the condition that its ETag is still etag (else ErrChanged).
func (b *Bucket) ReplaceMeta(ctx context.Context, key, etag string, meta map[string]string) error {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	_, err := b.c.CopyObject(ctx,
		minio.CopyDestOptions{Bucket: b.name, Object: b.prefix + key, UserMetadata: meta, ReplaceMetadata: true, ContentType: "application/octet-stream"},
		minio.CopySrcOptions{Bucket: b.name, Object: b.prefix + key, MatchETag: etag})
	if err != nil {
		return b.fail(ctx, "updating", key, err)
	}
	return nil
}

// Delete removes an object; removing a missing one is not an error.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	if err := b.c.RemoveObject(ctx, b.name, b.prefix+key, minio.RemoveObjectOptions{}); err != nil {
		return b.fail(ctx, "deleting", key, err)
	}
	return nil
}

// List yields the keys (without the bucket's prefix) that start with
// prefix, in order.
func (b *Bucket) List(ctx context.Context, prefix string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		ctx, cancel := b.bound(ctx)
		defer cancel()
		for o := range b.c.ListObjectsIter(ctx, b.name, minio.ListObjectsOptions{Prefix: b.prefix + prefix, Recursive: true}) {
			if o.Err != nil {
				yield("", b.fail(ctx, "listing", prefix, o.Err))
				return
			}
			if !yield(strings.TrimPrefix(o.Key, b.prefix), nil) {
				return
			}
		}
	}
}

// fail sorts an error of a call on key into ErrNotFound, ErrChanged,
// ErrRange, ErrFull, ErrUnavailable or another (a refused request:
// credentials, permissions, a missing bucket), naming the object.
func (b *Bucket) fail(ctx context.Context, op, key string, err error) error {
	what := b.URL(key)
	r := minio.ToErrorResponse(err)
	switch {
	case r.Code == minio.NoSuchKey || r.StatusCode == http.StatusNotFound && r.Code != minio.NoSuchBucket:
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	case r.StatusCode == http.StatusPreconditionFailed || r.Code == "PreconditionFailed":
		return fmt.Errorf("%w: %s", ErrChanged, what)
	case r.StatusCode == http.StatusRequestedRangeNotSatisfiable || r.Code == "InvalidRange":
		return fmt.Errorf("%w: %s", ErrRange, what)
	case fullCodes[r.Code] || r.StatusCode == http.StatusInsufficientStorage:
		return fmt.Errorf("%w: %s %s: %w", ErrFull, op, what, err)
	case r.StatusCode >= 500, r.StatusCode == http.StatusTooManyRequests, r.StatusCode == http.StatusRequestTimeout:
		return fmt.Errorf("%w: %s %s: %w", ErrUnavailable, op, what, err)
	case r.StatusCode == 0 && ctx.Err() == context.DeadlineExceeded:
		return fmt.Errorf("%w: %s %s: no answer within %v: %w", ErrUnavailable, op, what, b.timeout, err)
	case r.StatusCode == 0 && !errors.Is(err, context.Canceled):
		// No answer at all: refused, reset, unreachable.
		return fmt.Errorf("%w: %s %s: %w", ErrUnavailable, op, what, err)
	}
	return fmt.Errorf("object store: %s %s: %w", op, what, err)
}
