// Package middle keeps what an import leaves for later updates, as
// osm2pgsql's slim mode does: node locations (a nodestore file), the node
// lists and tags of ways, the members and tags of relations, and the
// reverse indexes from nodes to the ways using them (a sorted flat file)
// and from members to the relations holding them. It lives in the data
// directory, in files named after the import's generation, so that a new
// import is built beside the old one.
package middle

import (
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/paulmach/osm"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"kiln/internal/nodestore"
)

// Files are the paths of one generation's middle.
type Files struct {
	Nodes    string // nodestore
	Ways     string // way store
	DB       string // relations, members, changes from updates (SQLite)
	WayNodes string // sorted (node, way) pairs
}

// FilesOf names the files of generation gen in dir.
func FilesOf(dir, gen string) Files {
	return Files{
		Nodes:    filepath.Join(dir, "nodes-"+gen+".bin"),
		Ways:     filepath.Join(dir, "ways-"+gen+".bin"),
		DB:       filepath.Join(dir, "middle-"+gen+".db"),
		WayNodes: filepath.Join(dir, "waynodes-"+gen+".bin"),
	}
}

// Remove deletes a generation's files.
func (f Files) Remove() {
	for _, p := range []string{f.Nodes, f.Ways, f.DB, f.DB + "-wal", f.DB + "-shm", f.WayNodes} {
		os.Remove(p)
	}
}

// openDB opens a middle database. While an import builds it, nobody else
// reads it and a failed import deletes it, so it is written without a
// journal or syncs; updates use the WAL.
func openDB(path string, building bool) (*sql.DB, error) {
	pragmas := []string{"journal_mode(WAL)", "busy_timeout(30000)", "synchronous(NORMAL)"}
	if building {
		pragmas = []string{"journal_mode(OFF)", "synchronous(OFF)"}
	}
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err == nil {
		db.SetMaxOpenConns(1) // one connection: the pragmas hold for every statement
	}
	return db, err
}

const schemaSQL = `
CREATE TABLE ways (id INTEGER PRIMARY KEY, refs BLOB, tags BLOB, deleted INTEGER NOT NULL DEFAULT 0);
CREATE TABLE relations (id INTEGER PRIMARY KEY, members BLOB NOT NULL, tags BLOB);
CREATE TABLE members (type TEXT NOT NULL, ref INTEGER NOT NULL, relation INTEGER NOT NULL);
CREATE TABLE node_changes (id INTEGER PRIMARY KEY, lon REAL, lat REAL, deleted INTEGER NOT NULL DEFAULT 0);
CREATE TABLE way_node_changes (node INTEGER NOT NULL, way INTEGER NOT NULL, PRIMARY KEY (node, way)) WITHOUT ROWID;
`

// Way is a way as the middle keeps it.
type Way struct {
	ID   int64
	Refs []int64
	Tags map[string]string
}

// Relation is a relation as the middle keeps it.
type Relation struct {
	ID      int64
	Members []Member
	Tags    map[string]string
}

// Member is a relation member.
type Member struct {
	Type osm.Type `json:"t"`
	Ref  int64    `json:"r"`
	Role string   `json:"o,omitempty"`
}

// encodeRefs packs node ids as delta varints.
func encodeRefs(refs []int64) []byte {
	b := make([]byte, 0, len(refs)*3)
	var prev int64
	for _, r := range refs {
		b = binary.AppendVarint(b, r-prev)
		prev = r
	}
	return b
}

func decodeRefs(b []byte) ([]int64, error) {
	var refs []int64
	var prev int64
	for len(b) > 0 {
		d, n := binary.Varint(b)
		if n <= 0 {
			return nil, errors.New("corrupt node list")
		}
		prev += d
		refs = append(refs, prev)
		b = b[n:]
	}
	return refs, nil
}

func encodeTags(t map[string]string) []byte {
	if len(t) == 0 {
		return nil
	}
	b, _ := json.Marshal(t)
	return b
}

func decodeTags(b []byte) (map[string]string, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var t map[string]string
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("corrupt tags: %w", err)
	}
	return t, nil
}

// scanWay reads a changed way from a "SELECT refs, tags, deleted FROM
// ways" row: found reports whether the row exists, w is nil if the way was
// deleted.
func scanWay(row *sql.Row, id int64) (w *Way, found bool, err error) {
	var refs, tags []byte
	var deleted bool
	err = row.Scan(&refs, &tags, &deleted)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("middle: way %d: %w", id, err)
	}
	if deleted {
		return nil, true, nil
	}
	w, err = decodeChangedWay(id, refs, tags)
	return w, true, err
}

func decodeChangedWay(id int64, refs, tags []byte) (*Way, error) {
	var err error
	w := &Way{ID: id}
	if w.Refs, err = decodeRefs(refs); err != nil {
		return nil, fmt.Errorf("middle: way %d: %w", id, err)
	}
	if w.Tags, err = decodeTags(tags); err != nil {
		return nil, fmt.Errorf("middle: way %d: %w", id, err)
	}
	return w, nil
}

// nodeCacheBlocks is how many 4 KiB node blocks the stores cache: 64 MiB.
const nodeCacheBlocks = 16384

// openNodes opens a generation's node store.
func openNodes(path string) (*nodestore.Store, error) {
	return nodestore.Open(path, nodeCacheBlocks)
}
