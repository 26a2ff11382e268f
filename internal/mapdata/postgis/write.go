package postgis

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/ewkb"

	"kiln/internal/mapdata"
)

func toEWKB(g orb.Geometry) ([]byte, error) { return ewkb.Marshal(g, 3857) }

// Import is a full import in progress: rows are COPYed into the import
// schema while the file is read, and swapped in at Commit.
type Import struct {
	s       *Store
	conn    *pgxpool.Conn
	rows    chan []any
	copied  chan error // the COPY's result
	lastID  atomic.Int64
	once    sync.Once
	err     error
	indexed bool
}

// BeginImport starts a full import.
func (s *Store) BeginImport(ctx context.Context) (*Import, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("map database: %w", err)
	}
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+importSchema+" CASCADE;\n"+createSQL(importSchema, s.names)); err != nil {
		conn.Release()
		return nil, fmt.Errorf("map database: creating the import schema: %w", err)
	}
	imp := &Import{s: s, conn: conn, rows: make(chan []any, 4096), copied: make(chan error, 1)}
	go func() {
		_, err := conn.Conn().CopyFrom(ctx, pgx.Identifier{importSchema, "features"}, copyColumns(), &chanSource{rows: imp.rows})
		imp.copied <- err
	}()
	return imp, nil
}

// chanSource feeds COPY from a channel.
type chanSource struct {
	rows chan []any
	cur  []any
}

func (c *chanSource) Next() bool {
	r, ok := <-c.rows
	c.cur = r
	return ok
}

func (c *chanSource) Values() ([]any, error) { return c.cur, nil }
func (c *chanSource) Err() error             { return nil }

// Write adds a feature. It may be called from several goroutines.
func (imp *Import) Write(ctx context.Context, f *mapdata.Feature) error {
	li, ok := imp.s.layers[f.Layer]
	if !ok {
		return fmt.Errorf("no layer %q in the map schema", f.Layer)
	}
	row, err := featureRow(imp.lastID.Add(1), li, f)
	if err != nil {
		return err
	}
	select {
	case imp.rows <- row:
		return nil
	case err := <-imp.copied:
		imp.copied <- err // keep it for endCopy
		if err == nil {
			err = fmt.Errorf("COPY ended early")
		}
		return fmt.Errorf("map database: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// endCopy finishes the COPY once and returns its error.
func (imp *Import) endCopy() error {
	imp.once.Do(func() {
		close(imp.rows)
		imp.err = <-imp.copied
	})
	return imp.err
}

// Index ends the COPY and builds the new tables' indexes. Commit does it
// if it has not been done; calling it first lets the caller do other work
// meanwhile.
func (imp *Import) Index(ctx context.Context) error {
	if imp.indexed {
		return nil
	}
	if err := imp.endCopy(); err != nil {
		return fmt.Errorf("map database: COPY: %w", err)
	}
	for _, q := range []string{
		"CREATE INDEX ON " + importSchema + ".features USING gist (geom)",
		"CREATE INDEX ON " + importSchema + ".features (osm_type, osm_id)",
		"ANALYZE " + importSchema + ".features",
	} {
		if _, err := imp.conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("map database: indexing: %w", err)
		}
	}
	imp.indexed = true
	return nil
}

// Commit swaps the import schema in with meta.
func (imp *Import) Commit(ctx context.Context, meta map[string]string) error {
	defer imp.conn.Release()
	if err := imp.Index(ctx); err != nil {
		imp.drop(ctx)
		return err
	}
	tx, err := imp.conn.Begin(ctx)
	if err != nil {
		imp.drop(ctx)
		return fmt.Errorf("map database: %w", err)
	}
	defer tx.Rollback(ctx)
	for k, v := range meta {
		if _, err := tx.Exec(ctx, "INSERT INTO "+importSchema+".meta (key, value) VALUES ($1, $2)", k, v); err != nil {
			return fmt.Errorf("map database: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, "DROP SCHEMA IF EXISTS "+liveSchema+" CASCADE; ALTER SCHEMA "+importSchema+" RENAME TO "+liveSchema); err != nil {
		return fmt.Errorf("map database: swapping in the import: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("map database: commit: %w", err)
	}
	return nil
}

func (imp *Import) drop(ctx context.Context) {
	imp.conn.Exec(context.WithoutCancel(ctx), "DROP SCHEMA IF EXISTS "+importSchema+" CASCADE")
}

// Abort drops the import, leaving the old data.
func (imp *Import) Abort() {
	imp.endCopy()
	imp.drop(context.Background())
	imp.conn.Release()
}

// Update applies a change to the live tables in one transaction.
type Update struct {
	s  *Store
	tx pgx.Tx
}

// BeginUpdate starts an update.
func (s *Store) BeginUpdate(ctx context.Context) (*Update, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("map database: %w", err)
	}
	return &Update{s: s, tx: tx}, nil
}

// Delete removes every feature of an OSM object and returns their bounds.
func (u *Update) Delete(ctx context.Context, osmType byte, id int64) ([]orb.Bound, error) {
	rows, err := u.tx.Query(ctx, `DELETE FROM kiln.features WHERE osm_type = $1 AND osm_id = $2
		RETURNING ST_XMin(geom), ST_XMax(geom), ST_YMin(geom), ST_YMax(geom)`, string(osmType), id)
	if err != nil {
		return nil, fmt.Errorf("map database: %w", err)
	}
	defer rows.Close()
	var bounds []orb.Bound
	for rows.Next() {
		var b orb.Bound
		if err := rows.Scan(&b.Min[0], &b.Max[0], &b.Min[1], &b.Max[1]); err != nil {
			return nil, err
		}
		bounds = append(bounds, b)
	}
	return bounds, rows.Err()
}

// Write adds a feature.
func (u *Update) Write(ctx context.Context, f *mapdata.Feature) error {
	li, ok := u.s.layers[f.Layer]
	if !ok {
		return fmt.Errorf("no layer %q in the map schema", f.Layer)
	}
	var id int64
	if err := u.tx.QueryRow(ctx, `SELECT coalesce(max(id), 0) + 1 FROM kiln.features`).Scan(&id); err != nil {
		return fmt.Errorf("map database: %w", err)
	}
	row, err := featureRow(id, li, f)
	if err != nil {
		return err
	}
	_, err = u.tx.CopyFrom(ctx, pgx.Identifier{liveSchema, "features"}, copyColumns(), pgx.CopyFromRows([][]any{row}))
	if err != nil {
		return fmt.Errorf("map database: writing %s: %w", f.Layer, err)
	}
	return nil
}

// SetMeta records a value with the update.
func (u *Update) SetMeta(ctx context.Context, key, value string) error {
	_, err := u.tx.Exec(ctx, `INSERT INTO kiln.meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

// Commit applies the update.
func (u *Update) Commit(ctx context.Context) error { return u.tx.Commit(ctx) }

// Abort drops the update.
func (u *Update) Abort() { u.tx.Rollback(context.Background()) }
