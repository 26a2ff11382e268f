package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"

	"kiln/internal/config"
	"kiln/internal/debugrender"
	"kiln/internal/imgenc"
	"kiln/internal/metrics"
	"kiln/internal/pipeline"
	"kiln/internal/renderq"
	"kiln/internal/tilestore"
)

// common are the flags every command that reads the configuration takes.
type common struct {
	config, data string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "config", "", "configuration file (default: ./"+config.DefaultFile+" if present)")
	fs.StringVar(&c.data, "data", "", "data directory (default: ./kiln-data, or data in the configuration)")
}

// load reads the configuration and applies the flags over it. A bad file
// is bad input (exit 2).
func (c *common) load() (*config.Config, error) {
	cfg, err := config.Load(c.config)
	if err != nil {
		return nil, usageError{err}
	}
	if c.data != "" {
		cfg.Data = c.data
	}
	return cfg, nil
}

// close stops the workers (giving running renders until ctx ends) and
// closes the cache.
func (a *app) close(ctx context.Context) error {
	err := a.pipeline.Close(ctx)
	a.store.Close()
	return err
}

// openStyle loads the configuration, builds the parts with threads render
// workers and finds the style a command works on.
func (c *common) openStyle(io IO, threads int, styleID string) (*app, *pipeline.Style, error) {
	cfg, err := c.load()
	if err != nil {
		return nil, nil, err
	}
	a, err := build(cfg, newLogger(io.Err, cfg.Log.Level, cfg.Log.Format), threads)
	if err != nil {
		return nil, nil, err
	}
	st, err := a.style(styleID)
	if err != nil {
		a.close(context.Background())
		return nil, nil, err
	}
	return a, st, nil
}

// app is the object graph that serve, render and expire share.
type app struct {
	cfg      *config.Config
	log      *slog.Logger
	metrics  *metrics.Metrics
	store    *tilestore.Files
	pipeline *pipeline.Pipeline
	styles   []*pipeline.Style
}

// build creates the data directory, the tile cache, the styles with their
// renderers and the pipeline with workers render workers (0: from config).
func build(cfg *config.Config, log *slog.Logger, workers int) (*app, error) {
	if err := mkdirData(cfg.Data); err != nil {
		return nil, err
	}
	styles, err := buildStyles(cfg)
	if err != nil {
		return nil, usageError{err}
	}
	store, err := tilestore.NewFiles(filepath.Join(cfg.Data, "tiles"))
	if err != nil {
		return nil, err
	}
	if workers == 0 {
		workers = cfg.Render.Workers
	}
	m := metrics.New()
	r := cfg.Render
	p := pipeline.New(store, pipeline.Config{
		Workers:       workers,
		Wait:          r.Wait,
		RenderTimeout: r.Timeout,
		QueueLimits: [renderq.NumPriorities]int{
			renderq.OnDemand: r.QueueOnDemand, renderq.Dirty: r.QueueDirty,
			renderq.Bulk: r.QueueBulk, renderq.Low: r.QueueLow,
		},
	}, m, log)
	return &app{cfg: cfg, log: log, metrics: m, store: store, pipeline: p, styles: styles}, nil
}

// buildStyles turns the configured styles into the pipeline's, with a
// renderer each.
func buildStyles(cfg *config.Config) ([]*pipeline.Style, error) {
	var styles []*pipeline.Style
	for i, sc := range cfg.Styles {
		var r pipeline.Renderer
		switch sc.Renderer {
		case "debug":
			d, err := debugrender.New(nil)
			if err != nil {
				return nil, err
			}
			r = d
		default:
			return nil, fmt.Errorf("styles[%d] (%q).renderer: %q is not a renderer of this kiln (available: debug)", i, sc.ID, sc.Renderer)
		}
		f, err := imgenc.ParseFormat(sc.Format)
		if err != nil {
			return nil, fmt.Errorf("styles[%d] (%q).format: %w", i, sc.ID, err)
		}
		styles = append(styles, &pipeline.Style{
			ID: sc.ID, Renderer: r, RendererName: "map", Encoder: imgenc.New(f, sc.Quality),
			MinZoom: sc.MinZoom, MaxZoom: sc.MaxZoom, TileSize: sc.TileSize, MetaSize: sc.Metatile,
			TTL: sc.TTL, URI: sc.URI, Description: sc.Description, Attribution: sc.Attribution,
		})
	}
	return styles, nil
}

// style finds a style by id, listing the known ones if it is not there.
func (a *app) style(id string) (*pipeline.Style, error) {
	var ids []string
	for _, s := range a.styles {
		if s.ID == id {
			return s, nil
		}
		ids = append(ids, s.ID)
	}
	return nil, usagef("no style %q (configured: %v)", id, ids)
}
