package middle

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/paulmach/osm"

	"kiln/internal/nodestore"
)

// Update is the middle of the live generation, open for applying a change
// file: reads see the changes made so far, and nothing is kept until
// Commit.
type Update struct {
	nodes *nodestore.Store
	ways  *wayStore
	pairs *pairFile
	db    *sql.DB
	tx    *sql.Tx
}

// ErrMissing: the generation's files are not in the data directory.
var ErrMissing = errors.New("no middle for this import in the data directory")

// OpenUpdate opens generation gen in dir for an update.
func OpenUpdate(ctx context.Context, dir, gen string) (*Update, error) {
	files := FilesOf(dir, gen)
	for _, p := range []string{files.Nodes, files.Ways, files.DB, files.WayNodes} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrMissing, p, err)
		}
	}
	u := &Update{}
	var err error
	if u.nodes, err = openNodes(files.Nodes); err != nil {
		return nil, err
	}
	if u.ways, err = openWays(files.Ways); err != nil {
		u.Abort()
		return nil, err
	}
	if u.pairs, err = openPairs(files.WayNodes); err != nil {
		u.Abort()
		return nil, err
	}
	if u.db, err = openDB(files.DB, false); err != nil {
		u.Abort()
		return nil, err
	}
	if u.tx, err = u.db.BeginTx(ctx, nil); err != nil {
		u.Abort()
		return nil, fmt.Errorf("middle: %w", err)
	}
	return u, nil
}

// Node returns a node's location as changed so far.
func (u *Update) Node(ctx context.Context, id int64) (lon, lat float64, ok bool, err error) {
	var deleted bool
	err = u.tx.QueryRowContext(ctx, `SELECT lon, lat, deleted FROM node_changes WHERE id = ?`, id).Scan(&lon, &lat, &deleted)
	switch {
	case err == nil:
		return lon, lat, !deleted, nil
	case !errors.Is(err, sql.ErrNoRows):
		return 0, 0, false, fmt.Errorf("middle: node %d: %w", id, err)
	}
	lon, lat, ok = u.nodes.Get(id)
	return lon, lat, ok, nil
}

// SetNode records a node's new location.
func (u *Update) SetNode(ctx context.Context, id int64, lon, lat float64) error {
	_, err := u.tx.ExecContext(ctx, `INSERT OR REPLACE INTO node_changes (id, lon, lat, deleted) VALUES (?, ?, ?, 0)`, id, lon, lat)
	return wrap(err)
}

// DeleteNode records a node's deletion.
func (u *Update) DeleteNode(ctx context.Context, id int64) error {
	_, err := u.tx.ExecContext(ctx, `INSERT OR REPLACE INTO node_changes (id, lon, lat, deleted) VALUES (?, 0, 0, 1)`, id)
	return wrap(err)
}

// WaysOfNode returns the ways that use a node now.
func (u *Update) WaysOfNode(ctx context.Context, node int64) ([]int64, error) {
	candidates, err := u.pairs.ways(node)
	if err != nil {
		return nil, fmt.Errorf("middle: node index: %w", err)
	}
	rows, err := u.tx.QueryContext(ctx, `SELECT way FROM way_node_changes WHERE node = ?`, node)
	if err != nil {
		return nil, wrap(err)
	}
	for rows.Next() {
		var w int64
		if err := rows.Scan(&w); err != nil {
			rows.Close()
			return nil, wrap(err)
		}
		candidates = append(candidates, w)
	}
	rows.Close()
	// The index only grows: keep the ways that still hold the node.
	var out []int64
	seen := map[int64]bool{}
	for _, id := range candidates {
		if seen[id] {
			continue
		}
		seen[id] = true
		w, err := u.Way(ctx, id)
		if err != nil {
			return nil, err
		}
		if w != nil && containsRef(w.Refs, node) {
			out = append(out, id)
		}
	}
	return out, nil
}

func containsRef(refs []int64, id int64) bool {
	for _, r := range refs {
		if r == id {
			return true
		}
	}
	return false
}

// Way reads a way as changed so far (nil if it does not exist).
func (u *Update) Way(ctx context.Context, id int64) (*Way, error) {
	w, changed, err := scanWay(u.tx.QueryRowContext(ctx, `SELECT refs, tags, deleted FROM ways WHERE id = ?`, id), id)
	if err != nil || changed {
		return w, err
	}
	return u.ways.get(id)
}

// PutWay creates or replaces a way.
func (u *Update) PutWay(ctx context.Context, id int64, refs []int64, tags map[string]string) error {
	if _, err := u.tx.ExecContext(ctx, `INSERT OR REPLACE INTO ways (id, refs, tags, deleted) VALUES (?, ?, ?, 0)`, id, encodeRefs(refs), encodeTags(tags)); err != nil {
		return wrap(err)
	}
	for _, n := range refs {
		if _, err := u.tx.ExecContext(ctx, `INSERT OR IGNORE INTO way_node_changes (node, way) VALUES (?, ?)`, n, id); err != nil {
			return wrap(err)
		}
	}
	return nil
}

// DeleteWay deletes a way.
func (u *Update) DeleteWay(ctx context.Context, id int64) error {
	_, err := u.tx.ExecContext(ctx, `INSERT OR REPLACE INTO ways (id, refs, tags, deleted) VALUES (?, NULL, NULL, 1)`, id)
	return wrap(err)
}

// Relation reads a relation as changed so far (nil if it does not exist).
func (u *Update) Relation(ctx context.Context, id int64) (*Relation, error) {
	var members, tags []byte
	err := u.tx.QueryRowContext(ctx, `SELECT members, tags FROM relations WHERE id = ?`, id).Scan(&members, &tags)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("middle: relation %d: %w", id, err)
	}
	r := &Relation{ID: id}
	if err := json.Unmarshal(members, &r.Members); err != nil {
		return nil, fmt.Errorf("middle: relation %d: corrupt members: %w", id, err)
	}
	if r.Tags, err = decodeTags(tags); err != nil {
		return nil, fmt.Errorf("middle: relation %d: %w", id, err)
	}
	return r, nil
}

// PutRelation creates or replaces a relation.
func (u *Update) PutRelation(ctx context.Context, id int64, members osm.Members, tags map[string]string) error {
	if err := u.DeleteRelation(ctx, id); err != nil {
		return err
	}
	ms := make([]Member, len(members))
	for i, m := range members {
		ms[i] = Member{Type: m.Type, Ref: m.Ref, Role: m.Role}
		if _, err := u.tx.ExecContext(ctx, `INSERT INTO members (type, ref, relation) VALUES (?, ?, ?)`, string(m.Type), m.Ref, id); err != nil {
			return wrap(err)
		}
	}
	enc, _ := json.Marshal(ms)
	_, err := u.tx.ExecContext(ctx, `INSERT INTO relations (id, members, tags) VALUES (?, ?, ?)`, id, enc, encodeTags(tags))
	return wrap(err)
}

// DeleteRelation deletes a relation.
func (u *Update) DeleteRelation(ctx context.Context, id int64) error {
	if _, err := u.tx.ExecContext(ctx, `DELETE FROM relations WHERE id = ?`, id); err != nil {
		return wrap(err)
	}
	_, err := u.tx.ExecContext(ctx, `DELETE FROM members WHERE relation = ?`, id)
	return wrap(err)
}

// RelationsOf returns the relations that hold an object as a member now.
func (u *Update) RelationsOf(ctx context.Context, typ osm.Type, id int64) ([]int64, error) {
	rows, err := u.tx.QueryContext(ctx, `SELECT DISTINCT relation FROM members WHERE type = ? AND ref = ?`, string(typ), id)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var r int64
		if err := rows.Scan(&r); err != nil {
			return nil, wrap(err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Commit keeps the changes.
func (u *Update) Commit() error {
	err := u.tx.Commit()
	u.tx = nil
	u.Abort()
	return wrap(err)
}

// Abort forgets the changes and closes.
func (u *Update) Abort() {
	if u.tx != nil {
		u.tx.Rollback()
	}
	if u.db != nil {
		u.db.Close()
	}
	if u.pairs != nil {
		u.pairs.close()
	}
	if u.ways != nil {
		u.ways.close()
	}
	if u.nodes != nil {
		u.nodes.Close()
	}
}

func wrap(err error) error {
	if err != nil {
		return fmt.Errorf("middle: %w", err)
	}
	return nil
}
