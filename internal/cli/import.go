package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"kiln/internal/importer"
	"kiln/internal/mapdata"
	"kiln/internal/mapdata/postgis"
	"kiln/internal/mapdata/sqlite"
	"kiln/internal/middle"
	"kiln/internal/tilestore"
)

// mapStore is the map database an import writes: SQLite or PostGIS.
type mapStore interface {
	Meta(ctx context.Context, key string) (string, error)
	Close() error
	beginImport(ctx context.Context) (mapImport, error)
}

type mapImport interface {
	Write(ctx context.Context, f *mapdata.Feature) error
	Commit(ctx context.Context, meta map[string]string) error
	Abort()
}

type sqliteStore struct{ *sqlite.Store }

func (s sqliteStore) beginImport(ctx context.Context) (mapImport, error) { return s.BeginImport(ctx) }

type postgisStore struct{ *postgis.Store }

func (s postgisStore) beginImport(ctx context.Context) (mapImport, error) { return s.BeginImport(ctx) }

// openMapStore opens the PostGIS database at dbURL, or else the SQLite one
// in the data directory.
func openMapStore(ctx context.Context, dataDir, dbURL string) (mapStore, error) {
	if dbURL != "" {
		s, err := postgis.Open(ctx, dbURL)
		if err != nil {
			return nil, err
		}
		return postgisStore{s}, nil
	}
	s, err := sqlite.Open(ctx, filepath.Join(dataDir, "map.db"))
	if err != nil {
		return nil, err
	}
	return sqliteStore{s}, nil
}

func importCmd(ctx context.Context, args []string, io IO) error {
	fs := flags("import", io)
	var c common
	c.register(fs)
	procs := fs.Int("procs", runtime.NumCPU(), "goroutines decoding PBF blocks and encoding features")
	dbURL := fs.String("db", "", "PostGIS database, postgres://user:pass@host:port/db (default: SQLite in the data directory)")
	if err := parse(fs, args, true); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want one OSM file, got %d arguments", fs.NArg())
	}
	path := fs.Arg(0)
	if _, err := os.Stat(path); err != nil {
		return usageError{err}
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	log := newLogger(io.Err, cfg.Log.Level, cfg.Log.Format)
	if err := mkdirData(cfg.Data); err != nil {
		return err
	}
	store, err := openMapStore(ctx, cfg.Data, *dbURL)
	if err != nil {
		return err
	}
	defer store.Close()
	prev, err := store.Meta(ctx, "middle_generation")
	if err != nil {
		return err
	}
	gen := time.Now().UTC().Format("20060102T150405.000000000")
	mid, err := middle.NewBuilder(ctx, cfg.Data, gen)
	if err != nil {
		return err
	}
	imp, err := store.beginImport(ctx)
	if err != nil {
		mid.Abort()
		return err
	}
	sum, err := importer.Run(ctx, path, imp, mid, importer.Options{
		Procs: *procs,
		Log:   log,
		Progress: func(p importer.Progress) {
			log.Info("import", "phase", p.Phase, "objects", p.Objects, "per_second", int64(p.PerSec), "mib_read", p.Bytes>>20)
		},
	})
	if err == nil {
		err = mid.Finish(ctx)
	}
	if err == nil {
		err = imp.Commit(ctx, map[string]string{
			"middle_generation": gen,
			"source":            filepath.Base(path),
			"imported_at":       time.Now().UTC().Format(time.RFC3339),
			"bounds": fmt.Sprintf("%g,%g,%g,%g", sum.Bounds.Min[0], sum.Bounds.Min[1],
				sum.Bounds.Max[0], sum.Bounds.Max[1]),
		})
	} else {
		imp.Abort()
		mid.Abort()
	}
	if err != nil {
		if errors.Is(err, importer.ErrInput) {
			return usageError{err}
		}
		return err
	}
	if prev != "" && prev != gen {
		middle.FilesOf(cfg.Data, prev).Remove()
	}
	// Every cached tile is now older than the data: served stale and
	// re-rendered when asked for, as after an osm2pgsql import.
	tiles, err := tilestore.NewFiles(filepath.Join(cfg.Data, "tiles"))
	if err == nil {
		err = tiles.TouchImport(time.Now())
		tiles.Close()
	}
	if err != nil {
		log.Warn("marking cached tiles stale", "err", err)
	}
	objects := sum.Nodes + sum.Ways + sum.Relations
	fmt.Fprintf(io.Out, "kiln import: %s: %d nodes, %d ways, %d relations → %d features in %.2f s (%.0f objects/s); %d warnings (%d missing nodes, %d broken rings, %d incomplete relations)\n",
		filepath.Base(path), sum.Nodes, sum.Ways, sum.Relations, sum.TotalFeatures(), sum.Seconds,
		float64(objects)/max(sum.Seconds, 1e-9), sum.Warnings(), sum.MissingNodes, sum.BrokenRings, sum.IncompleteRelations)
	return nil
}
