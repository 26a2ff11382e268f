package renderd

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"

	"kiln/internal/pipeline"
	"kiln/internal/renderq"
	"kiln/internal/tile"
)

// noop answers every render at once: what is left is the protocol.
type noop struct{}

func (noop) Render(context.Context, *pipeline.Style, int, tile.Meta, renderq.Priority) error {
	return nil
}
func (noop) Dirty(context.Context, pipeline.Request) error { return nil }

// BenchmarkRoundTrip is one v2 request and its answer over the Unix
// socket, as render_list sends them: "noop" with a pipeline that answers
// at once (the protocol's own cost), "debug-z0" through the real pipeline
// rendering and storing the one 64-pixel debug tile of zoom 0 each time.
func BenchmarkRoundTrip(b *testing.B) {
	style := &pipeline.Style{ID: "debug", MinZoom: 0, MaxZoom: 20, TileSize: 64, MetaSize: 8}
	req, _ := v2(RenderBulk, "debug", 0, 0, 0).MarshalBinary()
	serial := func(b *testing.B, path string) {
		c, err := net.Dial("unix", path)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		ans := make([]byte, len(req))
		b.ResetTimer()
		for b.Loop() {
			if _, err := c.Write(req); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(c, ans); err != nil {
				b.Fatal(err)
			}
			if Cmd(ans[4]) != Done {
				b.Fatalf("answer %v", Cmd(ans[4]))
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/req")
	}
	b.Run("noop", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "renderd.sock")
		srv, err := Listen(Config{Socket: path}, noop{}, []*pipeline.Style{style}, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		defer srv.Close(context.Background())
		serial(b, path)
	})
	b.Run("noop-parallel", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "renderd.sock")
		srv, err := Listen(Config{Socket: path}, noop{}, []*pipeline.Style{style}, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		defer srv.Close(context.Background())
		b.RunParallel(func(pb *testing.PB) {
			c, err := net.Dial("unix", path)
			if err != nil {
				b.Error(err)
				return
			}
			defer c.Close()
			ans := make([]byte, len(req))
			for pb.Next() {
				c.Write(req)
				if _, err := io.ReadFull(c, ans); err != nil || Cmd(ans[4]) != Done {
					b.Errorf("answer %x, %v", ans, err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/req")
	})
	b.Run("debug-z0", func(b *testing.B) {
		f := newFixture(b, options{})
		serial(b, f.addr["unix"])
	})
}
