package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/paulmach/orb"

	"kiln/internal/mapdata"
)

// Import is a full import in progress: new tables filled in one write
// transaction, swapped in at Commit.
type Import struct {
	s     *Store
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

// BeginImport starts a full import.
func (s *Store) BeginImport(ctx context.Context) (*Import, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("map database: %w", err)
	}
	imp := &Import{s: s, tx: tx, stmts: map[string]*sql.Stmt{}}
	for _, l := range s.layers {
		for _, q := range []string{fmt.Sprintf(`DROP TABLE IF EXISTS "nr_%s"`, l), fmt.Sprintf(`DROP TABLE IF EXISTS "nf_%s"`, l)} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				imp.Abort()
				return nil, err
			}
		}
		if err := createLayer(ctx, tx, l, "n"); err != nil {
			imp.Abort()
			return nil, err
		}
		st, err := tx.PrepareContext(ctx, insertSQL("nf_"+l))
		if err != nil {
			imp.Abort()
			return nil, err
		}
		imp.stmts[l] = st
	}
	return imp, nil
}

// Write adds a feature.
func (imp *Import) Write(ctx context.Context, f *mapdata.Feature) error {
	st, ok := imp.stmts[f.Layer]
	if !ok {
		return fmt.Errorf("no layer %q in the map schema", f.Layer)
	}
	args, err := featureArgs(f)
	if err != nil {
		return err
	}
	if _, err := st.ExecContext(ctx, args...); err != nil {
		return fmt.Errorf("map database: writing %s: %w", f.Layer, err)
	}
	return nil
}

// Commit indexes the new tables, swaps them for the old ones and records
// meta, all in the import's transaction.
func (imp *Import) Commit(ctx context.Context, meta map[string]string) error {
	defer imp.closeStmts()
	tx := imp.tx
	for _, l := range imp.s.layers {
		stmts := []string{
			fmt.Sprintf(`INSERT INTO "nr_%[1]s" (id, minx, maxx, miny, maxy) SELECT id, minx, maxx, miny, maxy FROM "nf_%[1]s"`, l),
			fmt.Sprintf(`CREATE INDEX "nf_%[1]s_osm" ON "nf_%[1]s" (osm_type, osm_id)`, l),
			fmt.Sprintf(`DROP TABLE IF EXISTS "r_%s"`, l),
			fmt.Sprintf(`DROP TABLE IF EXISTS "f_%s"`, l),
			fmt.Sprintf(`ALTER TABLE "nf_%[1]s" RENAME TO "f_%[1]s"`, l),
			fmt.Sprintf(`ALTER TABLE "nr_%[1]s" RENAME TO "r_%[1]s"`, l),
		}
		for _, q := range stmts {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				tx.Rollback()
				return fmt.Errorf("map database: finishing %s: %w", l, err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM meta`); err != nil {
		tx.Rollback()
		return err
	}
	for k, v := range meta {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)`, k, v); err != nil {
			tx.Rollback()
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("map database: commit: %w", err)
	}
	// Hand the old tables' pages back and keep the WAL small.
	imp.s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return nil
}

// Abort drops the import, leaving the old data.
func (imp *Import) Abort() {
	imp.closeStmts()
	imp.tx.Rollback()
}

func (imp *Import) closeStmts() {
	for _, st := range imp.stmts {
		st.Close()
	}
	imp.stmts = nil
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
	var bounds []orb.Bound
	for _, l := range u.s.layers {
		rows, err := u.tx.QueryContext(ctx, fmt.Sprintf(`SELECT id, minx, maxx, miny, maxy FROM "f_%s" WHERE osm_type = ? AND osm_id = ?`, l), string(osmType), id)
		if err != nil {
			return nil, fmt.Errorf("map database: %w", err)
		}
		var ids []int64
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
			for _, q := range []string{fmt.Sprintf(`DELETE FROM "f_%s" WHERE id = ?`, l), fmt.Sprintf(`DELETE FROM "r_%s" WHERE id = ?`, l)} {
				if _, err := u.tx.ExecContext(ctx, q, fid); err != nil {
					return nil, fmt.Errorf("map database: %w", err)
				}
			}
		}
	}
	return bounds, nil
}

// Write adds a feature.
func (u *Update) Write(ctx context.Context, f *mapdata.Feature) error {
	if err := u.s.checkLayer(f.Layer); err != nil {
		return err
	}
	args, err := featureArgs(f)
	if err != nil {
		return err
	}
	res, err := u.tx.ExecContext(ctx, insertSQL("f_"+f.Layer), args...)
	if err != nil {
		return fmt.Errorf("map database: writing %s: %w", f.Layer, err)
	}
	id, _ := res.LastInsertId()
	b := f.Geom.Bound()
	_, err = u.tx.ExecContext(ctx, fmt.Sprintf(`INSERT INTO "r_%s" (id, minx, maxx, miny, maxy) VALUES (?, ?, ?, ?, ?)`, f.Layer), id, b.Min[0], b.Max[0], b.Min[1], b.Max[1])
	return err
}

// SetMeta records a value with the update.
func (u *Update) SetMeta(ctx context.Context, key, value string) error {
	_, err := u.tx.ExecContext(ctx, `INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)`, key, value)
	return err
}

// Commit applies the update.
func (u *Update) Commit() error { return u.tx.Commit() }

// Abort drops the update.
func (u *Update) Abort() { u.tx.Rollback() }
