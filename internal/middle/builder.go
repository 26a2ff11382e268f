package middle

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/paulmach/osm"

	"kiln/internal/nodestore"
)

// Builder writes a new generation of the middle during an import: nodes
// first (ascending ids, as OSM files give them), then ways, then relations.
type Builder struct {
	files  Files
	nodes  *nodestore.Writer
	store  *nodestore.Store // open once the nodes are done
	ways   *wayWriter
	wstore *wayStore // open once the ways are done
	db     *sql.DB
	tx     *sql.Tx
	pairs  *pairSorter

	// Relations are inserted in batches, a statement per batch: a
	// statement per row costs more than the rows.
	rels batch
}

// batch collects rows for one multi-row INSERT.
type batch struct {
	table string
	cols  int
	args  []any
}

// batchRows is the number of rows per INSERT.
const batchRows = 256

func (b *batch) add(ctx context.Context, tx *sql.Tx, row ...any) error {
	b.args = append(b.args, row...)
	if len(b.args) >= batchRows*b.cols {
		return b.flush(ctx, tx)
	}
	return nil
}

func (b *batch) flush(ctx context.Context, tx *sql.Tx) error {
	if len(b.args) == 0 {
		return nil
	}
	rows := len(b.args) / b.cols
	one := "(?" + strings.Repeat(", ?", b.cols-1) + ")"
	q := "INSERT INTO " + b.table + " VALUES " + one + strings.Repeat(", "+one, rows-1)
	_, err := tx.ExecContext(ctx, q, b.args...)
	b.args = b.args[:0]
	if err != nil {
		return fmt.Errorf("middle: %s: %w", b.table, err)
	}
	return nil
}

// pairChunk bounds the node→way pairs held in memory before a sorted run
// is written to disk: 4 Mi pairs, 64 MiB.
const pairChunk = 4 << 20

// NewBuilder starts generation gen in dir.
func NewBuilder(ctx context.Context, dir, gen string) (*Builder, error) {
	files := FilesOf(dir, gen)
	files.Remove()
	b := &Builder{files: files, pairs: newPairSorter(dir, pairChunk),
		rels: batch{table: "relations (id, members, tags)", cols: 3},
	}
	var err error
	if b.nodes, err = nodestore.Create(files.Nodes); err != nil {
		return nil, err
	}
	if b.ways, err = createWays(files.Ways); err != nil {
		b.Abort()
		return nil, err
	}
	if b.db, err = openDB(files.DB, true); err != nil {
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

// AddWay stores a way; ids must ascend.
func (b *Builder) AddWay(ctx context.Context, id int64, refs []int64, tags map[string]string) error {
	if err := b.ways.add(id, refs, tags); err != nil {
		return err
	}
	for _, n := range refs {
		if err := b.pairs.add(n, id); err != nil {
			return fmt.Errorf("middle: %w", err)
		}
	}
	return nil
}

// Way reads a stored way (nil if not stored). Once it is called, no more
// ways may be added.
func (b *Builder) Way(ctx context.Context, id int64) (*Way, error) {
	if err := b.waysDone(); err != nil {
		return nil, err
	}
	return b.wstore.get(id)
}

func (b *Builder) waysDone() error {
	if b.wstore != nil {
		return nil
	}
	if err := b.ways.close(); err != nil {
		return err
	}
	s, err := openWays(b.files.Ways)
	if err != nil {
		return err
	}
	b.wstore = s
	return nil
}

// AddRelation stores a relation; Finish indexes its members.
func (b *Builder) AddRelation(ctx context.Context, id int64, members osm.Members, tags map[string]string) error {
	ms := make([]Member, len(members))
	for i, m := range members {
		ms[i] = Member{Type: m.Type, Ref: m.Ref, Role: m.Role}
	}
	enc, _ := json.Marshal(ms)
	return b.rels.add(ctx, b.tx, id, enc, encodeTags(tags))
}

// Finish writes the indexes and closes the generation.
func (b *Builder) Finish(ctx context.Context) error {
	if err := b.NodesDone(); err != nil {
		b.Abort()
		return err
	}
	if err := b.waysDone(); err != nil {
		b.Abort()
		return err
	}
	if err := b.rels.flush(ctx, b.tx); err != nil {
		b.Abort()
		return err
	}
	for _, q := range []string{
		`INSERT INTO members (type, ref, relation)
			SELECT json_extract(m.value, '$.t'), json_extract(m.value, '$.r'), r.id FROM relations r, json_each(r.members) m`,
		`CREATE INDEX members_ref ON members (type, ref)`,
	} {
		if _, err := b.tx.ExecContext(ctx, q); err != nil {
			b.Abort()
			return fmt.Errorf("middle: %w", err)
		}
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
	b.wstore.close()
	// In WAL mode for updates, and on disk before the import that points
	// at it commits.
	if _, err := b.db.ExecContext(ctx, `PRAGMA journal_mode = WAL`); err != nil {
		b.db.Close()
		b.Abort()
		return fmt.Errorf("middle: %w", err)
	}
	if err := b.db.Close(); err != nil {
		b.Abort()
		return fmt.Errorf("middle: %w", err)
	}
	// The syncs run at once: the disk takes them together.
	paths := []string{b.files.Nodes, b.files.Ways, b.files.DB, b.files.WayNodes}
	errs := make([]error, len(paths))
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Go(func() { errs[i] = syncFile(p) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		b.Abort()
		return fmt.Errorf("middle: %w", err)
	}
	return nil
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
	if b.wstore != nil {
		b.wstore.close()
	} else if b.ways != nil {
		b.ways.f.Close()
	}
	b.files.Remove()
	runs, _ := filepath.Glob(filepath.Join(b.pairs.dir, "waynodes-run-*"))
	for _, r := range runs {
		os.Remove(r)
	}
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
