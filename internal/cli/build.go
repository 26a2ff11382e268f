package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"kiln/internal/config"
	"kiln/internal/debugrender"
	"kiln/internal/defaultstyle"
	"kiln/internal/draw"
	"kiln/internal/imgenc"
	"kiln/internal/maprender"
	"kiln/internal/metrics"
	"kiln/internal/pipeline"
	"kiln/internal/renderq"
	"kiln/internal/sharedq"
	"kiln/internal/sprite"
	"kiln/internal/staticmap"
	"kiln/internal/style"
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
// closes the cache and the map database.
func (a *app) close(ctx context.Context) error {
	var err error
	if a.shared != nil {
		// Jobs taken from the shared queue finish first, or go back to it.
		err = a.shared.Close(ctx)
	}
	err = errors.Join(err, a.pipeline.Close(ctx))
	a.store.Close()
	a.maps.Close()
	return err
}

// openStyle loads the configuration, builds the parts with threads render
// workers and finds the style a command works on.
func (c *common) openStyle(io IO, threads int, styleID string) (*app, *pipeline.Style, error) {
	cfg, err := c.load()
	if err != nil {
		return nil, nil, err
	}
	a, err := build(context.Background(), cfg, newLogger(io.Err, cfg.Log.Level, cfg.Log.Format), threads)
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
	store    tileStore
	maps     mapStore
	fonts    []draw.FontFile
	pipeline *pipeline.Pipeline
	shared   *sharedq.Queue // nil unless [queue] is postgres
	styles   []*pipeline.Style
	mapStyles
}

// mapStyles is what the map styles offer besides tiles, by style id.
type mapStyles struct {
	docs    map[string][]byte           // MapLibre style documents
	static  map[string]staticmap.Drawer // their renderers, for static maps
	sprites map[string]*sprite.Set      // their icons
}

// build creates the data directory, opens the tile cache and the map
// database, and makes the styles with their renderers and the pipeline
// with workers render workers (0: from config).
func build(ctx context.Context, cfg *config.Config, log *slog.Logger, workers int) (*app, error) {
	if err := mkdirData(cfg.Data); err != nil {
		return nil, err
	}
	maps, err := openMapStore(ctx, cfg.Data, cfg.DB)
	if err != nil {
		return nil, err
	}
	fonts := draw.Embedded()
	styles, ms, err := buildStyles(cfg, maps, fonts)
	if err != nil {
		maps.Close()
		return nil, usageError{err}
	}
	store, err := openTileStore(ctx, cfg)
	if err != nil {
		maps.Close()
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
	return &app{cfg: cfg, log: log, metrics: m, store: store, maps: maps, fonts: fonts, pipeline: p, styles: styles, mapStyles: ms}, nil
}

// buildStyles turns the configured styles into the pipeline's, with a
// renderer each, and returns the MapLibre documents and the renderers of
// the map styles.
func buildStyles(cfg *config.Config, maps mapStore, fontFiles []draw.FontFile) ([]*pipeline.Style, mapStyles, error) {
	var styles []*pipeline.Style
	ms := mapStyles{docs: map[string][]byte{}, static: map[string]staticmap.Drawer{}, sprites: map[string]*sprite.Set{}}
	var fonts *draw.Fonts // made once, shared by every map style
	for i, sc := range cfg.Styles {
		key := fmt.Sprintf("styles[%d] (%q)", i, sc.ID)
		var r pipeline.Renderer
		switch {
		case sc.Renderer == "debug" || sc.Style == "debug":
			d, err := debugrender.New(nil)
			if err != nil {
				return nil, ms, err
			}
			r = d
		case sc.Renderer == "map":
			doc, err := styleDocument(sc.Style)
			if err != nil {
				return nil, ms, fmt.Errorf("%s.style: %w", key, err)
			}
			st, err := style.Parse(doc)
			if err != nil {
				return nil, ms, fmt.Errorf("%s.style: %s: %w", key, sc.Style, err)
			}
			if fonts == nil {
				if fonts, err = draw.NewFonts(fontFiles...); err != nil {
					return nil, ms, err
				}
			}
			icons, err := styleSprite(sc.Style, st)
			if err != nil {
				return nil, ms, fmt.Errorf("%s.style: %s: %w", key, sc.Style, err)
			}
			mr := maprender.New(maps, st, fonts, icons)
			r, ms.docs[sc.ID], ms.static[sc.ID] = mr, doc, mr
			if icons != nil {
				ms.sprites[sc.ID] = icons
			}
		default:
			return nil, ms, fmt.Errorf("%s.renderer: %q is not a renderer of this kiln (available: map, debug)", key, sc.Renderer)
		}
		f, err := imgenc.ParseFormat(sc.Format)
		if err != nil {
			return nil, ms, fmt.Errorf("%s.format: %w", key, err)
		}
		styles = append(styles, &pipeline.Style{
			ID: sc.ID, Renderer: r, RendererName: "map", Encoder: imgenc.New(f, sc.Quality),
			MinZoom: sc.MinZoom, MaxZoom: sc.MaxZoom, TileSize: sc.TileSize, MetaSize: sc.Metatile,
			TTL: sc.TTL, URI: sc.URI, Description: sc.Description, Attribution: sc.Attribution,
		})
	}
	return styles, ms, nil
}

// styleDocument reads a map style: a built-in one by name, else a
// MapLibre GL style file.
func styleDocument(name string) ([]byte, error) {
	if name == "default" {
		return defaultstyle.JSON(), nil
	}
	if name == "" {
		return nil, errors.New(`empty: want "default" or a MapLibre GL style file`)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("%w (want \"default\" or a MapLibre GL style file)", err)
	}
	return b, nil
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

// styleSprite loads a map style's icons: the built-in style's own, or, for
// a style file whose sprite is "local://sprite", sprite.json and
// sprite.png (and @2x) beside it. Other sprites are on the web, which the
// renderer does not fetch: such a style is drawn without icons.
func styleSprite(name string, st *style.Style) (*sprite.Set, error) {
	if name == "default" {
		return defaultstyle.Sprite()
	}
	if len(st.Sprites) != 1 || st.Sprites[0].URL != "local://sprite" {
		return nil, nil
	}
	dir := filepath.Dir(name)
	var sheets []*sprite.Sheet
	for _, suffix := range []string{"", "@2x"} {
		index, err := os.ReadFile(filepath.Join(dir, "sprite"+suffix+".json"))
		if errors.Is(err, fs.ErrNotExist) && suffix != "" {
			continue // 1x alone is a sprite
		}
		if err != nil {
			return nil, err
		}
		img, err := os.ReadFile(filepath.Join(dir, "sprite"+suffix+".png"))
		if err != nil {
			return nil, err
		}
		sheet, err := sprite.Parse(index, img)
		if err != nil {
			return nil, fmt.Errorf("sprite%s: %w", suffix, err)
		}
		sheets = append(sheets, sheet)
	}
	return sprite.NewSet(sheets...)
}
