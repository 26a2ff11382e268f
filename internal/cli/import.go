package cli

import (
	"context"
	"errors"
	"fmt"
	goio "io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/paulmach/orb"

	"kiln/internal/atomicfile"
	"kiln/internal/expire"
	"kiln/internal/importer"
	"kiln/internal/mapdata"
	"kiln/internal/mapdata/postgis"
	"kiln/internal/mapdata/sqlite"
	"kiln/internal/middle"
	"kiln/internal/osmread"
)

// mapStore is the map database: SQLite or PostGIS. Imports write it,
// renderers and vector tiles read it.
type mapStore interface {
	Meta(ctx context.Context, key string) (string, error)
	Features(ctx context.Context, layer string, bbox orb.Bound, zoom int, fn func(*mapdata.Feature) error) error
	Close() error
	beginImport(ctx context.Context) (mapImport, error)
	beginUpdate(ctx context.Context) (mapUpdate, error)
}

type mapUpdate interface {
	importer.Updater
	SetMeta(ctx context.Context, key, value string) error
	Commit(ctx context.Context) error
	Abort()
}

type mapImport interface {
	Write(ctx context.Context, f *mapdata.Feature) error
	Index(ctx context.Context) error
	Commit(ctx context.Context, meta map[string]string) error
	Abort()
}

type sqliteStore struct{ *sqlite.Store }

func (s sqliteStore) beginImport(ctx context.Context) (mapImport, error) { return s.BeginImport(ctx) }
func (s sqliteStore) beginUpdate(ctx context.Context) (mapUpdate, error) { return s.BeginUpdate(ctx) }

type postgisStore struct{ *postgis.Store }

func (s postgisStore) beginImport(ctx context.Context) (mapImport, error) { return s.BeginImport(ctx) }
func (s postgisStore) beginUpdate(ctx context.Context) (mapUpdate, error) { return s.BeginUpdate(ctx) }

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
	dbURL := fs.String("db", "", "PostGIS database, postgres://user:pass@host:port/db (default: db in the configuration, else SQLite in the data directory)")
	appendChange := fs.Bool("append", false, "apply a change file (.osc, .osc.gz, .osc.bz2) to the imported data")
	expireOut := fs.String("expire-output", "", "with --append: write the touched tiles here as z/x/y lines, for kiln expire")
	expireZoom := fs.Int("expire-zoom", 15, "with --append: zoom of the tiles in --expire-output")
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
	if *expireZoom < 0 || *expireZoom > 20 {
		return usagef("--expire-zoom %d: want 0 to 20", *expireZoom)
	}
	if *dbURL == "" {
		*dbURL = cfg.DB
	}
	store, err := openMapStore(ctx, cfg.Data, *dbURL)
	if err != nil {
		return err
	}
	defer store.Close()
	if *appendChange {
		if err := applyChange(ctx, path, cfg.Data, store, *expireOut, *expireZoom, io); err != nil {
			return err
		}
		// Nodes sharing the database see the new data at once.
		tellNodes(ctx, cfg, log, "import --append")
		return nil
	}
	if *expireOut != "" {
		return usagef("--expire-output goes with --append")
	}
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
		// The middle's files and the map database's indexes are
		// finished side by side; the swap waits for both.
		indexed := make(chan error, 1)
		go func() { indexed <- imp.Index(ctx) }()
		err = errors.Join(mid.Finish(ctx), <-indexed)
	}
	if err == nil {
		err = imp.Commit(ctx, map[string]string{
			"middle_generation": gen,
			"source":            filepath.Base(path),
			"imported_at":       time.Now().UTC().Format(time.RFC3339Nano),
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
	tiles, err := openTileStore(ctx, cfg)
	if err == nil {
		err = tiles.TouchImport(time.Now())
		tiles.Close()
	}
	if err != nil {
		log.Warn("marking cached tiles stale", "err", err)
	}
	tellNodes(ctx, cfg, log, "import")
	objects := sum.Nodes + sum.Ways + sum.Relations
	fmt.Fprintf(io.Out, "kiln import: %s: %d nodes, %d ways, %d relations → %d features in %.2f s (%.0f objects/s); %d warnings (%d missing nodes, %d broken rings, %d incomplete relations)\n",
		filepath.Base(path), sum.Nodes, sum.Ways, sum.Relations, sum.TotalFeatures(), sum.Seconds,
		float64(objects)/max(sum.Seconds, 1e-9), sum.Warnings(), sum.MissingNodes, sum.BrokenRings, sum.IncompleteRelations)
	return nil
}

// applyChange is kiln import --append.
func applyChange(ctx context.Context, path, dataDir string, store mapStore, expireOut string, expireZoom int, io IO) error {
	gen, err := store.Meta(ctx, "middle_generation")
	if err != nil {
		return err
	}
	if gen == "" {
		return usagef("no imported data to update: run kiln import with an extract first")
	}
	edits, err := osmread.ReadChange(ctx, path)
	if err != nil {
		return usageError{err}
	}
	mid, err := middle.OpenUpdate(ctx, dataDir, gen)
	if err != nil {
		return err
	}
	upd, err := store.beginUpdate(ctx)
	if err != nil {
		mid.Abort()
		return err
	}
	exp := expire.NewList(expireZoom)
	sum, err := importer.Apply(ctx, edits, upd, mid, exp)
	if err == nil {
		err = upd.SetMeta(ctx, "updated_at", time.Now().UTC().Format(time.RFC3339Nano))
	}
	if err != nil {
		upd.Abort()
		mid.Abort()
		return err
	}
	if err := upd.Commit(ctx); err != nil {
		mid.Abort()
		return err
	}
	if err := mid.Commit(); err != nil {
		return fmt.Errorf("the map data is updated but the update store is not, so the next change may miss nodes; import the extract again: %w", err)
	}
	if expireOut != "" {
		if err := atomicfile.Write(expireOut, 0o644, func(w goio.Writer) error { _, err := exp.WriteTo(w); return err }); err != nil {
			return fmt.Errorf("expire list: %w", err)
		}
	}
	fmt.Fprintf(io.Out, "kiln import --append: %s: %d nodes, %d ways, %d relations changed → %d objects rebuilt, %d features removed, %d written in %.2f s; %d tiles at zoom %d expired\n",
		filepath.Base(path), sum.Nodes, sum.Ways, sum.Relations, sum.Rebuilt, sum.Deleted, sum.Written, sum.Seconds, exp.Len(), expireZoom)
	return nil
}
