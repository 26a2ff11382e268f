package cli

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"kiln/internal/renderd"
)

// startRenderd listens for renderd's protocol where [renderd] says, so
// that mod_tile and renderd's tools drive a's pipeline, and keeps
// renderd's stats file if one is named. The returned stop answers waiting
// clients, closes the listeners and writes the stats file a last time;
// with nothing configured it does nothing.
func startRenderd(a *app, log *slog.Logger) (stop func(context.Context) error, err error) {
	rc := a.cfg.Renderd
	stopStats := func() {}
	if rc.StatsFile != "" {
		// The first write is checked here, so that a path that cannot be
		// written stops kiln at start rather than in a log line later.
		if err := renderd.WriteStatsFile(rc.StatsFile, a.pipeline.RenderStats()); err != nil {
			return nil, usageError{fmt.Errorf("renderd.stats_file: %w", err)}
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { renderd.KeepStatsFile(ctx, rc.StatsFile, renderd.StatsEvery, a.pipeline.RenderStats, log) })
		stopStats = func() { cancel(); wg.Wait() }
		log.Info("renderd stats file kept", "path", rc.StatsFile)
	}
	if rc.Socket == "" && rc.Address == "" {
		return func(context.Context) error { stopStats(); return nil }, nil
	}
	srv, err := renderd.Listen(renderd.Config{Socket: rc.Socket, Address: rc.Address}, a.pipeline, a.styles, log)
	if err != nil {
		stopStats()
		return nil, err
	}
	var attrs []any
	for _, ad := range srv.Addrs() {
		key := "address"
		if ad.Network() == "unix" {
			key = "socket"
		}
		attrs = append(attrs, key, ad.String())
	}
	log.Info("renderd protocol listening", attrs...)
	return func(ctx context.Context) error {
		err := srv.Close(ctx)
		stopStats()
		return err
	}, nil
}
