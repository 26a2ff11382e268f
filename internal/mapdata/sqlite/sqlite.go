// Package sqlite stores kiln's map data in an embedded SQLite database
// (modernc.org/sqlite, pure Go, WAL): one table of features, geometries as
// WKB in web mercator with simplified copies for low zooms. An import
// builds new tables beside the old ones in one transaction and swaps them
// at commit, so readers see the old data until the new is complete, and a
// failed import leaves the old untouched.
//
// The spatial index is an R*Tree over four dimensions — x, y, layer and
// minimum zoom — not of features but of buckets: the features of one layer
// whose centres fall in one cell of a grid sized to them (a zoom-14 tile
// for a building, a coarser cell for a forest). SQLite's R*Tree inserts are
// costly (about 17 µs each here), and a bucket holds ten features or more
// where the map is dense, so an import indexes an order of magnitude fewer
// entries; a query reads the buckets from the R*Tree and their features by
// an ordinary index.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"kiln/internal/mapdata"
	"kiln/internal/schema"
)

// Store is a map database in a SQLite file.
type Store struct {
	db     *sql.DB
	path   string
	layers map[string]int // name → index in the R*Tree
}

// Open opens (creating if needed) the map database at path.
func Open(ctx context.Context, path string) (*Store, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(30000)", "synchronous(NORMAL)", "foreign_keys(OFF)", "cache_size(-65536)",
		"journal_size_limit(67108864)"} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("map database %s: %w", path, err)
	}
	s := &Store{db: db, path: path, layers: map[string]int{}}
	for i, l := range schema.LayerNames() {
		s.layers[l] = i
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`); err != nil {
		db.Close()
		return nil, fmt.Errorf("map database %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Meta reads a value recorded at the last import ("" if none).
func (s *Store) Meta(ctx context.Context, key string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

func (s *Store) layerIndex(layer string) (int, error) {
	i, ok := s.layers[layer]
	if !ok {
		return 0, fmt.Errorf("no layer %q in the map schema", layer)
	}
	return i, nil
}

// Features calls fn for the features of layer that intersect bbox (mercator)
// and show at zoom, in the layer's sort order, with geometries simplified
// for that zoom.
func (s *Store) Features(ctx context.Context, layer string, bbox orb.Bound, zoom int, fn func(*mapdata.Feature) error) error {
	li, err := s.layerIndex(layer)
	if err != nil {
		return err
	}
	col := mapdata.GeomColumns()[mapdata.Level(zoom)]
	rows, err := s.db.QueryContext(ctx, `SELECT f.osm_type, f.osm_id, f.minzoom, f.sort, f.props, f.`+col+`
		FROM features_index r JOIN features f ON f.bucket = r.id
		WHERE r.minx <= ?1 AND r.maxx >= ?2 AND r.miny <= ?3 AND r.maxy >= ?4
		AND r.minlayer <= ?5 AND r.maxlayer >= ?5 AND r.minzoom <= ?6
		AND f.minx <= ?1 AND f.maxx >= ?2 AND f.miny <= ?3 AND f.maxy >= ?4
		AND f.minzoom <= ?6 AND f.`+col+` IS NOT NULL
		ORDER BY f.sort, f.id`, bbox.Max[0], bbox.Min[0], bbox.Max[1], bbox.Min[1], li, zoom)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return nil // nothing imported yet
		}
		return fmt.Errorf("map database: %s: %w", layer, err)
	}
	defer rows.Close()
	for rows.Next() {
		f := &mapdata.Feature{Layer: layer}
		var osmType sql.NullString
		var props, geom []byte
		if err := rows.Scan(&osmType, &f.OSMID, &f.MinZoom, &f.Sort, &props, &geom); err != nil {
			return fmt.Errorf("map database: %s: %w", layer, err)
		}
		if osmType.String != "" {
			f.OSMType = osmType.String[0]
		}
		if f.Props, err = mapdata.UnmarshalProps(props); err != nil {
			return err
		}
		if f.Geom, err = wkb.Unmarshal(geom); err != nil {
			return fmt.Errorf("map database: %s feature %c%d: %w", layer, f.OSMType, f.OSMID, err)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return rows.Err()
}

// createTables creates the feature table and its index with the prefix
// ("" live, "new_" while importing).
func createTables(ctx context.Context, tx *sql.Tx, prefix string) error {
	var geoms []string
	for _, c := range mapdata.GeomColumns() {
		geoms = append(geoms, c+" BLOB")
	}
	stmts := []string{
		fmt.Sprintf(`CREATE TABLE %sfeatures (id INTEGER PRIMARY KEY, bucket INTEGER NOT NULL, layer INTEGER NOT NULL, osm_type TEXT, osm_id INTEGER,
			minzoom INTEGER NOT NULL, sort REAL NOT NULL, props BLOB, minx REAL, maxx REAL, miny REAL, maxy REAL, %s)`,
			prefix, strings.Join(geoms, ", ")),
		fmt.Sprintf(`CREATE VIRTUAL TABLE %sfeatures_index USING rtree(id, minx, maxx, miny, maxy, minlayer, maxlayer, minzoom, maxzoom)`, prefix),
	}
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("map database: %w", err)
		}
	}
	return nil
}

// insertSQL is the statement adding a feature row to a feature table.
func insertSQL(table string) string {
	cols := mapdata.GeomColumns()
	return fmt.Sprintf(`INSERT INTO %s (bucket, layer, osm_type, osm_id, minzoom, sort, props, minx, maxx, miny, maxy, %s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?%s)`,
		table, strings.Join(cols, ", "), strings.Repeat(", ?", len(cols)))
}

// featureArgs are a feature's insert arguments.
func featureArgs(layer int, f *mapdata.Feature) ([]any, error) {
	props, err := f.Props.Marshal()
	if err != nil {
		return nil, err
	}
	b := f.Geom.Bound()
	var osmType any
	if f.OSMType != 0 {
		osmType = string(f.OSMType)
	}
	args := []any{bucketOf(layer, b), layer, osmType, f.OSMID, f.MinZoom, f.Sort, props, b.Min[0], b.Max[0], b.Min[1], b.Max[1]}
	for _, g := range mapdata.Generalize(f) {
		if g == nil {
			args = append(args, nil)
			continue
		}
		w, err := wkb.Marshal(g)
		if err != nil {
			return nil, fmt.Errorf("feature %c%d of %s: %w", f.OSMType, f.OSMID, f.Layer, err)
		}
		args = append(args, w)
	}
	return args, nil
}

// world is the side of the web mercator square in metres.
const world = 2 * 20037508.342789244

// bucketOf is the bucket of a feature of layer with bounds b: the layer,
// the level of the grid whose cells are at least as big as the feature (at
// most 14), and the cell holding its centre.
func bucketOf(layer int, b orb.Bound) int64 {
	size := max(b.Max[0]-b.Min[0], b.Max[1]-b.Min[1])
	level := 14
	if size > 0 {
		level = min(14, max(0, int(math.Floor(math.Log2(world/size)))))
	}
	cells := float64(int64(1) << level)
	cx := int64(math.Floor(((b.Min[0]+b.Max[0])/2 + world/2) / world * cells))
	cy := int64(math.Floor(((b.Min[1]+b.Max[1])/2 + world/2) / world * cells))
	last := int64(1)<<level - 1
	cx, cy = min(max(cx, 0), last), min(max(cy, 0), last)
	return int64(layer)<<48 | int64(level)<<40 | cx<<20 | cy
}
