// Package postgis stores kiln's map data in PostgreSQL with PostGIS, local
// or remote alike (pgx): schema "kiln" holds a table "features" partitioned
// by layer, one partition per schema layer named after it (kiln.streets,
// kiln.buildings, …, so that QGIS and psql users find them), geometries in
// EPSG:3857 with simplified copies for low zooms, GiST indexes. An import
// COPYs into schema "kiln_import" and swaps it for "kiln" in one
// transaction, so that readers see the old data until the new is complete.
package postgis

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"kiln/internal/mapdata"
	"kiln/internal/schema"
)

const (
	liveSchema   = "kiln"
	importSchema = "kiln_import"
)

// ErrNoPostGIS: the database lacks PostGIS and the role may not add it.
var ErrNoPostGIS = errors.New("PostGIS is not installed in the database")

// Store is a map database in PostGIS.
type Store struct {
	pool   *pgxpool.Pool
	layers map[string]int
	names  []string
}

// Open connects to the database at url (postgres://user:pass@host:port/db)
// and makes sure PostGIS is there, creating the extension if the role may.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("map database: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("map database: %w", err)
	}
	s := &Store{pool: pool, layers: map[string]int{}, names: schema.LayerNames()}
	for i, l := range s.names {
		s.layers[l] = i
	}
	if err := s.ensurePostGIS(ctx, cfg.ConnConfig.Database); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) ensurePostGIS(ctx context.Context, db string) error {
	var have bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'postgis')`).Scan(&have); err != nil {
		return fmt.Errorf("map database: %w", err)
	}
	if have {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS postgis`); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "42501" || pe.Code == "58P01") {
			return fmt.Errorf("%w and this role may not create it; as a superuser run: psql -d %s -c 'CREATE EXTENSION postgis;'", ErrNoPostGIS, db)
		}
		return fmt.Errorf("map database: creating the postgis extension: %w", err)
	}
	return nil
}

// Close disconnects.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Meta reads a value recorded at the last import ("" if none).
func (s *Store) Meta(ctx context.Context, key string) (string, error) {
	var v string
	err := s.pool.QueryRow(ctx, `SELECT value FROM kiln.meta WHERE key = $1`, key).Scan(&v)
	var pe *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows), errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "3F000"):
		return "", nil // no such row, table or schema: nothing imported yet
	case err != nil:
		return "", fmt.Errorf("map database: %w", err)
	}
	return v, nil
}

// Features calls fn for the features of layer that intersect bbox (mercator)
// and show at zoom, in the layer's sort order, with geometries simplified
// for that zoom.
func (s *Store) Features(ctx context.Context, layer string, bbox orb.Bound, zoom int, fn func(*mapdata.Feature) error) error {
	li, ok := s.layers[layer]
	if !ok {
		return fmt.Errorf("no layer %q in the map schema", layer)
	}
	col := mapdata.GeomColumns()[mapdata.Level(zoom)]
	// The layer number is written into the query so that the planner
	// prunes the other partitions.
	rows, err := s.pool.Query(ctx, fmt.Sprintf(`SELECT osm_type, osm_id, minzoom, sort, props, ST_AsBinary(%[1]s)
		FROM kiln.features WHERE layer = %[2]d AND minzoom <= $1 AND %[1]s IS NOT NULL
		AND geom && ST_MakeEnvelope($2, $3, $4, $5, 3857) ORDER BY sort, id`, col, li),
		zoom, bbox.Min[0], bbox.Min[1], bbox.Max[0], bbox.Max[1])
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "3F000") {
			return nil // nothing imported yet
		}
		return fmt.Errorf("map database: %s: %w", layer, err)
	}
	defer rows.Close()
	for rows.Next() {
		f := &mapdata.Feature{Layer: layer}
		var osmType *string
		var props, geom []byte
		var minZoom int16
		if err := rows.Scan(&osmType, &f.OSMID, &minZoom, &f.Sort, &props, &geom); err != nil {
			return fmt.Errorf("map database: %s: %w", layer, err)
		}
		f.MinZoom = int(minZoom)
		if osmType != nil && *osmType != "" {
			f.OSMType = (*osmType)[0]
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

// createSQL creates a schema's tables: features partitioned by layer.
func createSQL(schemaName string, layers []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE SCHEMA %s;\n", schemaName)
	fmt.Fprintf(&b, `CREATE TABLE %s.features (id bigint NOT NULL, layer smallint NOT NULL, osm_type text, osm_id bigint,
		minzoom smallint NOT NULL, sort double precision NOT NULL, props jsonb, %s) PARTITION BY LIST (layer);`+"\n",
		schemaName, geomDefs())
	for i, l := range layers {
		fmt.Fprintf(&b, "CREATE TABLE %s.%s PARTITION OF %s.features FOR VALUES IN (%d);\n", schemaName, pgx.Identifier{l}.Sanitize(), schemaName, i)
	}
	fmt.Fprintf(&b, "CREATE TABLE %s.meta (key text PRIMARY KEY, value text NOT NULL);\n", schemaName)
	return b.String()
}

func geomDefs() string {
	var defs []string
	for _, c := range mapdata.GeomColumns() {
		defs = append(defs, c+" geometry(Geometry, 3857)")
	}
	return strings.Join(defs, ", ")
}

// featureRow is a feature's COPY row.
func featureRow(id int64, layer int, f *mapdata.Feature) ([]any, error) {
	props, err := f.Props.Marshal()
	if err != nil {
		return nil, err
	}
	var osmType any
	if f.OSMType != 0 {
		osmType = string(f.OSMType)
	}
	row := []any{id, int16(layer), osmType, f.OSMID, int16(f.MinZoom), f.Sort, string(props)}
	for _, g := range mapdata.Generalize(f) {
		if g == nil {
			row = append(row, nil)
			continue
		}
		b, err := toEWKB(g)
		if err != nil {
			return nil, fmt.Errorf("feature %c%d of %s: %w", f.OSMType, f.OSMID, f.Layer, err)
		}
		row = append(row, b)
	}
	return row, nil
}

func copyColumns() []string {
	return append([]string{"id", "layer", "osm_type", "osm_id", "minzoom", "sort", "props"}, mapdata.GeomColumns()...)
}
