package vectortile

import (
	"context"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"kiln/internal/tile"
)

// DataVersion tells which state of the map data tiles are made from (see
// mapdata stores' import and update stamps); a new value drops the cache.
type DataVersion func(ctx context.Context) (string, error)

// Cache serves encoded tiles from memory while the data is unchanged.
// Vector tiles are cheap enough to make on demand (milliseconds) and are
// asked for in bursts by every map view, so an in-memory cache with one
// encoding per tile at a time is what they need; raster tiles, which are
// costly, go through the metatile pipeline instead.
type Cache struct {
	enc     *Encoder
	version DataVersion
	tiles   *lru.Cache[key, []byte]
	flight  singleflight.Group

	mu      sync.Mutex
	current string
	checked time.Time
}

type key struct {
	version string
	c       tile.Coord
}

// versionTTL is how long a data version is trusted before it is read again:
// a running server sees an update within this time.
const versionTTL = time.Second

// NewCache caches up to maxTiles tiles of enc (1024 when maxTiles <= 0).
func NewCache(enc *Encoder, version DataVersion, maxTiles int) *Cache {
	if maxTiles <= 0 {
		maxTiles = 1024
	}
	tiles, _ := lru.New[key, []byte](maxTiles) // errors only for a size <= 0
	return &Cache{enc: enc, version: version, tiles: tiles}
}

// Tile returns tile c, gzip-compressed, and the data version it was made
// from (an ETag's worth).
func (c *Cache) Tile(ctx context.Context, coord tile.Coord) ([]byte, string, error) {
	v, err := c.dataVersion(ctx)
	if err != nil {
		return nil, "", err
	}
	k := key{v, coord}
	if b, ok := c.tiles.Get(k); ok {
		return b, v, nil
	}
	out, err, _ := c.flight.Do(v+"/"+coord.String(), func() (any, error) {
		// Shared by every caller: one going away must not fail the others.
		b, err := c.enc.Tile(context.WithoutCancel(ctx), coord)
		if err != nil {
			return nil, err
		}
		c.tiles.Add(k, b)
		return b, nil
	})
	if err != nil {
		return nil, "", err
	}
	return out.([]byte), v, nil
}

func (c *Cache) dataVersion(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.checked) < versionTTL {
		return c.current, nil
	}
	v, err := c.version(ctx)
	if err != nil {
		return "", err
	}
	if v != c.current {
		c.tiles.Purge()
		c.current = v
	}
	c.checked = time.Now()
	return v, nil
}
