package middle

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/paulmach/osm"

	"kiln/internal/nodestore"
)

// Builder writes a new generation of the middle during an import: nodes
// first (ascending ids, as OSM files give them), then ways, then relations.
type Builder struct {
	files Files
	nodes *nodestore.Writer
	store *nodestore.Store // open once the nodes are done
	db    *sql.DB
	tx    *sql.Tx
	way   *sql.Stmt
	rel   *sql.Stmt
	mem   *sql.Stmt
	pairs *pairSorter
}

// pairChunk bounds the node→way pairs held in memory before a sorted run
// is written to disk: 32 Mi pairs, 512 MiB.
const pairChunk = 32 << 20

// NewBuilder starts generation gen in dir.
func NewBuilder(ctx context.Context, dir, gen string) (*Builder, error) {
	files := FilesOf(dir, gen)
	files.Remove()
	b := &Builder{files: files, pairs: newPairSorter(dir, pairChunk)}
	var err error
	if b.nodes, err = nodestore.Create(files.Nodes); err != nil {
		return nil, err
	}
	if b.db, err = openDB(files.DB); err != nil {
		b.Abort()
		return nil, err
	}
	if _, err = b.db.ExecContext(ctx, schemaSQL); err != nil {
		b.Abort()
		return nil, fmt.Errorf("middle: %w", err)
	}
	if b.tx, err = b.db.BeginTx(ctx, nil); err != nil {
		b.Abort()
		return nil, fmt.Errorf("middle: %w", err)
	}
	for _, s := range []struct {
		st **sql.Stmt
		q  string
	}{
		{&b.way, `INSERT INTO ways (id, refs, tags) VALUES (?, ?, ?)`},
		{&b.rel, `INSERT INTO relations (id, members, tags) VALUES (?, ?, ?)`},
		{&b.mem, `INSERT INTO members (type, ref, relation) VALUES (?, ?, ?)`},
	} {
		if *s.st, err = b.tx.PrepareContext(ctx, s.q); err != nil {
			b.Abort()
			return nil, fmt.Errorf("middle: %w", err)
		}
	}
	return b, nil
}

// Files are the generation's files.
func (b *Builder) Files() Files { return b.files }

// AddNode stores a node's location; ids must ascend.
func (b *Builder) AddNode(id int64, lon, lat float64) error { return b.nodes.Add(id, lon, lat) }

// NodesDone closes the node store for writing and opens it for Node.
func (b *Builder) NodesDone() error {
	if b.store != nil {
		return nil
	}
	if err := b.nodes.Close(); err != nil {
		return err
	}
	s, err := openNodes(b.files.Nodes)
	if err != nil {
		return err
	}
	b.store = s
	return nil
}

// Node returns a stored node's location (after NodesDone).
func (b *Builder) Node(id int64) (lon, lat float64, ok bool) { return b.store.Get(id) }

// NodeCount is the number of nodes stored.
func (b *Builder) NodeCount() int64 { return b.nodes.Count() }

// AddWay stores a way.
func (b *Builder) AddWay(ctx context.Context, id int64, refs []int64, tags map[string]string) error {
	if _, err := b.way.ExecContext(ctx, id, encodeRefs(refs), encodeTags(tags)); err != nil {
		return fmt.Errorf("middle: way %d: %w", id, err)
	}
	for _, n := range refs {
		if err := b.pairs.add(n, id); err != nil {
			return fmt.Errorf("middle: %w", err)
		}
	}
	return nil
}

// Way reads a stored way (nil if not stored).
func (b *Builder) Way(ctx context.Context, id int64) (*Way, error) { return getWay(ctx, b.tx, id) }

// AddRelation stores a relation and indexes its members.
func (b *Builder) AddRelation(ctx context.Context, id int64, members osm.Members, tags map[string]string) error {
	ms := make([]Member, len(members))
	for i, m := range members {
		ms[i] = Member{Type: m.Type, Ref: m.Ref, Role: m.Role}
		if _, err := b.mem.ExecContext(ctx, string(m.Type), m.Ref, id); err != nil {
			return fmt.Errorf("middle: relation %d: %w", id, err)
		}
	}
	enc, _ := json.Marshal(ms)
	if _, err := b.rel.ExecContext(ctx, id, enc, encodeTags(tags)); err != nil {
		return fmt.Errorf("middle: relation %d: %w", id, err)
	}
	return nil
}

// Finish writes the indexes and closes the generation.
func (b *Builder) Finish(ctx context.Context) error {
	if err := b.NodesDone(); err != nil {
		b.Abort()
		return err
	}
	for _, st := range []*sql.Stmt{b.way, b.rel, b.mem} {
		st.Close()
	}
	if _, err := b.tx.ExecContext(ctx, `CREATE INDEX members_ref ON members (type, ref)`); err != nil {
		b.Abort()
		return fmt.Errorf("middle: %w", err)
	}
	if err := b.tx.Commit(); err != nil {
		b.Abort()
		return fmt.Errorf("middle: %w", err)
	}
	b.tx = nil
	if err := b.pairs.finish(b.files.WayNodes); err != nil {
		b.Abort()
		return fmt.Errorf("middle: node index: %w", err)
	}
	b.store.Close()
	b.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return b.db.Close()
}

// Abort removes the generation.
func (b *Builder) Abort() {
	if b.tx != nil {
		b.tx.Rollback()
	}
	if b.db != nil {
		b.db.Close()
	}
	if b.store != nil {
		b.store.Close()
	} else if b.nodes != nil {
		b.nodes.Close()
	}
	b.files.Remove()
	runs, _ := filepath.Glob(filepath.Join(b.pairs.dir, "waynodes-run-*"))
	for _, r := range runs {
		os.Remove(r)
	}
}
