package cli

import (
	"context"
	"log/slog"

	"kiln/internal/renderd"
)

// startRenderd listens for renderd's protocol where [renderd] says, so
// that mod_tile and renderd's tools drive a's pipeline. The returned stop
// answers waiting clients and closes the listeners; with nothing
// configured it does nothing.
func startRenderd(a *app, log *slog.Logger) (stop func(context.Context) error, err error) {
	rc := a.cfg.Renderd
	if rc.Socket == "" && rc.Address == "" {
		return func(context.Context) error { return nil }, nil
	}
	srv, err := renderd.Listen(renderd.Config{Socket: rc.Socket, Address: rc.Address}, a.pipeline, a.styles, log)
	if err != nil {
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
	return srv.Close, nil
}
