package cli

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"kiln/internal/config"
	"kiln/internal/objstore"
	"kiln/internal/pipeline"
	"kiln/internal/thumbstore"
	"kiln/internal/tilestore"
)

// tileStore is the tile cache as the commands use it.
type tileStore interface {
	pipeline.Store
	// TouchImport makes every metatile rendered before t out of date.
	TouchImport(t time.Time) error
	// ForgetImportTime drops the cached import times, when another node
	// says it imported.
	ForgetImportTime()
	Close() error
}

// openTileStore opens the tile cache [cache] names: DATA/tiles, or the
// bucket.
func openTileStore(ctx context.Context, cfg *config.Config) (tileStore, error) {
	if cfg.Cache.Backend != "s3" {
		return tilestore.NewFiles(filepath.Join(cfg.Data, "tiles"))
	}
	b, err := openBucket(ctx, cfg.Cache)
	if err != nil {
		return nil, err
	}
	return tilestore.NewS3(b), nil
}

// openThumbStore opens the thumbnail cache [cache] names: DATA/thumbs, or
// thumbs/ in the bucket.
func openThumbStore(ctx context.Context, cfg *config.Config) (pipeline.ThumbStore, error) {
	if cfg.Cache.Backend != "s3" {
		return thumbstore.Open(filepath.Join(cfg.Data, "thumbs"))
	}
	b, err := openBucket(ctx, cfg.Cache)
	if err != nil {
		return nil, err
	}
	return thumbstore.NewS3(b), nil
}

// Environment variables the S3 secret may come from, in this order, when
// the configuration file does not hold it.
const (
	envSecret    = "KILN_S3_SECRET_ACCESS_KEY"
	envAWSSecret = "AWS_SECRET_ACCESS_KEY"
)

// openBucket connects to the [cache] bucket, which must exist.
func openBucket(ctx context.Context, c config.Cache) (*objstore.Bucket, error) {
	secret := c.SecretAccessKey
	for _, env := range []string{envSecret, envAWSSecret} {
		if secret == "" {
			secret = os.Getenv(env)
		}
	}
	if secret == "" {
		return nil, usagef("cache.secret_access_key: empty, and neither %s nor %s is set", envSecret, envAWSSecret)
	}
	return objstore.Open(ctx, objstore.Config{
		Endpoint: c.Endpoint, Bucket: c.Bucket, Prefix: c.Prefix, Region: c.Region,
		AccessKeyID: c.AccessKeyID, SecretAccessKey: secret, TLS: c.TLS, Timeout: c.Timeout, Retries: c.Retries,
	})
}
