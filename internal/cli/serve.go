package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"kiln/internal/draw"
	"kiln/internal/glyphs"
	"kiln/internal/keys"
	"kiln/internal/server"
	"kiln/internal/vectortile"
)

// shutdownGrace is how long serve lets in-flight work finish on SIGINT or
// SIGTERM before abandoning it.
const shutdownGrace = 10 * time.Second

func serve(ctx context.Context, args []string, io IO) error {
	fs := flags("serve", io)
	var c common
	c.register(fs)
	listen := fs.String("listen", "", "address to listen on (default: 127.0.0.1:8080, or listen in the configuration)")
	if err := parse(fs, args, false); err != nil {
		return err
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Listen = *listen
		if err := cfg.Validate(); err != nil {
			return usageError{err}
		}
	}
	log := newLogger(io.Err, cfg.Log.Level, cfg.Log.Format)
	var access *slog.Logger
	if cfg.Log.Access {
		buf := newLineBuffer(io.Err, 64<<10)
		defer buf.Close()
		access = newLogger(buf, "info", cfg.Log.Format)
	}
	a, err := build(ctx, cfg, log, 0)
	if err != nil {
		return err
	}
	glyphSet, err := newGlyphs(a.fonts)
	if err != nil {
		a.close(ctx)
		return err
	}
	ps, err := buildPages(cfg, a.metrics, log)
	if err != nil {
		a.close(ctx)
		return err
	}
	if err := a.share(ctx, true, ps); err != nil {
		ps.close(ctx)
		a.close(ctx)
		return err
	}
	apiKeys, err := keys.OpenOptions(ctx, cfg.Data, keys.Options{Rate: cfg.Thumbnails.Rate, Burst: cfg.Thumbnails.Burst})
	if err != nil {
		ps.close(ctx)
		a.close(ctx)
		return err
	}
	defer apiKeys.Close()
	closeAll := func(ctx context.Context) error {
		return errors.Join(ps.close(ctx), a.close(ctx))
	}
	maps := a.maps
	srv, err := server.New(server.Options{
		PublicURL:     cfg.PublicURL,
		CacheMaxAge:   cfg.HTTP.CacheMaxAge,
		StaleMaxAge:   cfg.HTTP.StaleMaxAge,
		CORS:          cfg.HTTP.CORS,
		AccessLog:     access,
		Map:           maps,
		Vector:        vectortile.NewCache(vectortile.New(maps), dataVersion(maps), 0),
		Glyphs:        glyphSet,
		StyleDocs:     a.docs,
		Sprites:       a.sprites,
		Static:        a.static,
		StaticMaxSize: cfg.HTTP.StaticMaxSize,
		StaticSlots:   a.pipeline.Workers(),
		StaticWait:    cfg.Render.Wait,
		StaticTimeout: cfg.Render.Timeout,
		Thumbs: server.ThumbOptions{
			Pages: ps.pages, Guard: ps.guard, Keys: apiKeys,
			RequireKey: !loopbackOnly(cfg.Listen) && !cfg.Thumbnails.Public,
			MaxURL:     cfg.Thumbnails.MaxURLLength, QueuePerKey: cfg.Thumbnails.QueuePerKey, TTL: cfg.Thumbnails.TTL,
			SignedURLTTL: cfg.Thumbnails.SignedURLTTL, Local: loopbackOnly(cfg.Listen),
		},
		AST: server.ASTOptions{Enabled: cfg.AST.Enabled, Namespace: cfg.AST.Namespace, SignedURLTTL: cfg.Thumbnails.SignedURLTTL},
	}, a.pipeline, a.styles, a.metrics, log)
	if err != nil {
		closeAll(ctx)
		return usageError{err}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		closeAll(ctx)
		return err
	}
	stopRenderd, err := startRenderd(a, log)
	if err != nil {
		ln.Close()
		closeAll(ctx)
		return err
	}
	// Requests waiting for renders are answered 503 at once when draining.
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	hs := &http.Server{
		Handler:           srv,
		BaseContext:       func(net.Listener) context.Context { return base },
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	srv.SetReady(true)
	log.Info("kiln serving", "url", "http://"+urlHost(ln.Addr()), "data", cfg.Data, "styles", len(a.styles))

	select {
	case <-ctx.Done():
	case err := <-served:
		stopRenderd(context.Background())
		closeAll(context.Background())
		return fmt.Errorf("serving: %w", err)
	}
	log.Info("shutting down", "grace", shutdownGrace)
	srv.SetReady(false)
	cancelBase()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Warn("http shutdown", "err", err)
	}
	if err := stopRenderd(sctx); err != nil {
		log.Warn("renderd protocol shutdown", "err", err)
	}
	if err := closeAll(sctx); err != nil {
		log.Warn("render queue shutdown", "err", err)
	}
	log.Info("stopped")
	return nil
}

// urlHost is the listener's address as a browser should use it: a wildcard
// address is reached on loopback.
func urlHost(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port) + "/"
}

// dataVersion tells one state of the map data from another: the time of
// the last import and of the last update applied to it.
func dataVersion(maps mapStore) vectortile.DataVersion {
	return func(ctx context.Context) (string, error) {
		imported, err := maps.Meta(ctx, "imported_at")
		if err != nil {
			return "", err
		}
		updated, err := maps.Meta(ctx, "updated_at")
		return imported + "/" + updated, err
	}
}

// newGlyphs serves the raster renderer's fonts to MapLibre GL clients.
func newGlyphs(files []draw.FontFile) (*glyphs.Set, error) {
	fonts := make(map[string][]byte, len(files))
	names := make([]string, 0, len(files))
	for _, f := range files {
		fonts[f.Name] = f.Data
		names = append(names, f.Name)
	}
	return glyphs.New(fonts, names, names[0])
}
