// Package cli implements kiln's commands: it parses flags, loads the
// configuration, builds the parts (store, renderers, pipeline, server) and
// runs them. Exit codes: 0 ok, 1 runtime failure, 2 bad usage or input.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

// IO is where a command reads and writes.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
}

// usageError is bad usage or bad input: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, io IO) error
}

func commands() []command {
	return []command{
		{"serve", "run the HTTP server, render workers and queue", serve},
		{"import", "load an OpenStreetMap extract into the map database", importCmd},
		{"render", "pre-render (seed) metatiles into the cache", render},
		{"expire", "expire cached metatiles from an osm2pgsql expire list", expireCmd},
		{"static", "draw one map picture of an area at any size", staticCmd},
		{"thumb", "thumbnails of web pages, through the server's cache", thumbCmd},
		{"keys", "manage API keys for thumbnails (create, list, revoke)", keysCmd},
		{"version", "print version, commit and Go version", version},
	}
}

// Main runs the command named by args[0] and returns the exit code.
func Main(ctx context.Context, args []string, io IO) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(io.Err)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], io)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		}
		fmt.Fprintf(io.Err, "kiln: %s: %v\n", c.name, err)
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	fmt.Fprintf(io.Err, "kiln: unknown command %q\n", args[0])
	usage(io.Err)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: kiln <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'kiln <command> -h' for its flags.")
}

// flags returns a flag set for a command that reports errors as usage
// errors instead of exiting.
func flags(name string, io IO) *flag.FlagSet {
	fs := flag.NewFlagSet("kiln "+name, flag.ContinueOnError)
	fs.SetOutput(io.Err)
	return fs
}

// parse parses args, turning flag errors into usage errors and refusing
// stray arguments unless the command takes some.
func parse(fs *flag.FlagSet, args []string, positional bool) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if !positional && fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func version(_ context.Context, args []string, io IO) error {
	fs := flags("version", io)
	if err := parse(fs, args, false); err != nil {
		return err
	}
	v, commit, modified := "devel", "unknown", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = " (modified)"
				}
			}
		}
	}
	fmt.Fprintf(io.Out, "kiln %s\ncommit %s%s\n%s %s/%s\n", v, commit, modified, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

// newLogger logs to w at level in format ("text" or "json").
func newLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	l.UnmarshalText([]byte(strings.ToUpper(level)))
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// mkdirData creates the data directory, as every command does.
func mkdirData(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	return nil
}
