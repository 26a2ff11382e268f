// Command kiln renders map tiles and web page thumbnails on demand, caches
// them and serves them. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"kiln/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
