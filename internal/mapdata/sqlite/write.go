package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/paulmach/orb"

	"kiln/internal/mapdata"
)

// Import is a full import in progress: new tables filled in one write
// transaction, swapped in at Commit.
type Import struct {
	s       *Store
	conn    *sql.Conn
	tx      *sql.Tx
	insert  *sql.Stmt
	indexed bool
}

// BeginImport starts a full import. Its commit, unlike other writes,
// reaches the disk before it returns (synchronous FULL: one sync of the
// WAL), since the import's old files are deleted after it; SQLite copies
// the WAL into the database later by itself.
func (s *Store) BeginImport(ctx context.Context) (*Import, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("map database: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = FULL`); err != nil {
		conn.Close()
		return nil, fmt.Errorf("map database: %w", err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`)
		conn.Close()
		return nil, fmt.Errorf("map database: %w", err)
	}
	imp := &Import{s: s, conn: conn, tx: tx}
	for _, q := range []string{`DROP TABLE IF EXISTS new_features_index`, `DROP TABLE IF EXISTS new_features`} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			imp.Abort()
			return nil, fmt.Errorf("map database: %w", err)
		}
	}
	if err := createTables(ctx, tx, "new_"); err != nil {
		imp.Abort()
		return nil, err
	}
	if imp.insert, err = tx.PrepareContext(ctx, insertSQL("new_features")); err != nil {
		imp.Abort()
		return nil, fmt.Errorf("map database: %w", err)
	}
	return imp, nil
}

// Write adds a feature.
func (imp *Import) Write(ctx context.Context, f *mapdata.Feature) error {
	li, err := imp.s.layerIndex(f.Layer)
	if err != nil {
		return err
	}
	args, err := featureArgs(li, f)
	if err != nil {
		return err
	}
	if _, err := imp.insert.ExecContext(ctx, args...); err != nil {
		return fmt.Errorf("map database: writing %s: %w", f.Layer, err)
	}
	return nil
}

// Index builds the new tables' indexes. Commit does it if it has not been
// done; calling it first lets the caller do other work meanwhile.
func (imp *Import) Index(ctx context.Context) error {
	if imp.indexed {
		return nil
	}
	imp.insert.Close()
	// Index names stay with a renamed table: each import's are its own.
	gen := time.Now().UnixNano()
	for _, q := range []string{
		`INSERT INTO new_features_index SELECT bucket, min(minx), max(maxx), min(miny), max(maxy), layer, layer, min(minzoom), 99
			FROM new_features GROUP BY bucket`,
		fmt.Sprintf(`CREATE INDEX features_bucket_%d ON new_features (bucket)`, gen),
		fmt.Sprintf(`CREATE INDEX features_osm_%d ON new_features (osm_type, osm_id)`, gen),
	} {
		if _, err := imp.tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("map database: indexing the import: %w", err)
		}
	}
	imp.indexed = true
	return nil
}

// Commit swaps the new tables in for the old ones and records meta, in
// the import's transaction.
func (imp *Import) Commit(ctx context.Context, meta map[string]string) error {
	tx := imp.tx
	fail := func(err error) error {
		tx.Rollback()
		imp.release()
		return err
	}
	if err := imp.Index(ctx); err != nil {
		return fail(err)
	}
	stmts := []string{
		`DROP TABLE IF EXISTS features_index`,
		`DROP TABLE IF EXISTS features`,
		`ALTER TABLE new_features RENAME TO features`,
		`ALTER TABLE new_features_index RENAME TO features_index`,
		`DELETE FROM meta`,
	}
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fail(fmt.Errorf("map database: finishing the import: %w", err))
		}
	}
	for k, v := range meta {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)`, k, v); err != nil {
			return fail(fmt.Errorf("map database: %w", err))
		}
	}
	err := tx.Commit()
	imp.release()
	if err != nil {
		return fmt.Errorf("map database: commit: %w", err)
	}
	return nil
}

// Abort drops the import, leaving the old data.
func (imp *Import) Abort() {
	if imp.insert != nil {
		imp.insert.Close()
	}
	imp.tx.Rollback()
	imp.release()
}

// release hands the connection back to the pool with its usual setting.
func (imp *Import) release() {
	imp.conn.ExecContext(context.Background(), `PRAGMA synchronous = NORMAL`)
	imp.conn.Close()
}

// Update applies a change to the live tables in one transaction.
type Update struct {
	s  *Store
	tx *sql.Tx
}

// BeginUpdate starts an update.
func (s *Store) BeginUpdate(ctx context.Context) (*Update, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("map database: %w", err)
	}
	return &Update{s: s, tx: tx}, nil
}

// Delete removes every feature of an OSM object and returns their bounds.
func (u *Update) Delete(ctx context.Context, osmType byte, id int64) ([]orb.Bound, error) {
	rows, err := u.tx.QueryContext(ctx, `SELECT id, minx, maxx, miny, maxy FROM features WHERE osm_type = ? AND osm_id = ?`, string(osmType), id)
	if err != nil {
		return nil, fmt.Errorf("map database: %w", err)
	}
	var ids []int64
	var bounds []orb.Bound
	for rows.Next() {
		var fid int64
		var b orb.Bound
		if err := rows.Scan(&fid, &b.Min[0], &b.Max[0], &b.Min[1], &b.Max[1]); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, fid)
		bounds = append(bounds, b)
	}
	rows.Close()
	for _, fid := range ids {
		for _, q := range []string{`DELETE FROM features WHERE id = ?`, `DELETE FROM features_index WHERE id = ?`} {
			if _, err := u.tx.ExecContext(ctx, q, fid); err != nil {
				return nil, fmt.Errorf("map database: %w", err)
			}
		}
	}
	return bounds, nil
}

// Write adds a feature.
func (u *Update) Write(ctx context.Context, f *mapdata.Feature) error {
	li, err := u.s.layerIndex(f.Layer)
	if err != nil {
		return err
	}
	args, err := featureArgs(li, f)
	if err != nil {
		return err
	}
	if _, err := u.tx.ExecContext(ctx, insertSQL("features"), args...); err != nil {
		return fmt.Errorf("map database: writing %s: %w", f.Layer, err)
	}
	// Grow the feature's bucket to hold it (a bucket that only shrank by a
	// delete keeps its larger box, which only costs a look).
	b := f.Geom.Bound()
	_, err = u.tx.ExecContext(ctx, `INSERT OR REPLACE INTO features_index
		SELECT ?1, min(ifnull(r.minx, ?2), ?2), max(ifnull(r.maxx, ?3), ?3), min(ifnull(r.miny, ?4), ?4), max(ifnull(r.maxy, ?5), ?5),
			?6, ?6, min(ifnull(r.minzoom, ?7), ?7), 99
		FROM (SELECT 1) LEFT JOIN features_index r ON r.id = ?1`,
		bucketOf(li, b), b.Min[0], b.Max[0], b.Min[1], b.Max[1], li, f.MinZoom)
	if err != nil {
		return fmt.Errorf("map database: indexing %s: %w", f.Layer, err)
	}
	return nil
}

// SetMeta records a value with the update.
func (u *Update) SetMeta(ctx context.Context, key, value string) error {
	_, err := u.tx.ExecContext(ctx, `INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)`, key, value)
	return err
}

// Commit applies the update.
func (u *Update) Commit(context.Context) error { return u.tx.Commit() }

// Abort drops the update.
func (u *Update) Abort() { u.tx.Rollback() }
