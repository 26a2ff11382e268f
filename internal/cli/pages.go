package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"kiln/internal/config"
	"kiln/internal/metrics"
	"kiln/internal/netguard"
	"kiln/internal/pagerender"
	"kiln/internal/pipeline"
)

// pageSide is the page renderer with its guard and the page half of the
// pipeline, as serve and thumb use them.
type pageSide struct {
	guard    *netguard.Guard
	renderer *pagerender.Renderer
	pages    *pipeline.Pages
}

// buildPages makes the page side from the configuration. Chromium starts
// with the first page.
func buildPages(cfg *config.Config, m *metrics.Metrics, log *slog.Logger) (*pageSide, error) {
	t := cfg.Thumbnails
	policy := netguard.Policy{AllowPrivate: t.AllowPrivateNetworks}
	for _, a := range t.Allow {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			addr, err := netip.ParseAddr(a)
			if err != nil {
				return nil, usagef("thumbnails.allow: %q is not an IP address or prefix", a)
			}
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		policy.Allow = append(policy.Allow, p)
	}
	guard := netguard.New(policy, nil, log)
	r := pagerender.New(guard, pagerender.Options{
		Chromium: t.Chromium, Flags: t.ChromiumFlags, Pages: t.Pages, RecycleAfter: t.RecycleAfter,
		Timeout: t.Timeout, MaxBytes: t.MaxPageBytes, MaxURL: t.MaxURLLength, Log: log,
	})
	store, err := openThumbStore(context.Background(), cfg)
	if err != nil {
		r.Close()
		return nil, err
	}
	var sizes []pagerender.Size
	for _, s := range t.Sizes {
		sz, err := pagerender.ParseSize(s)
		if err != nil {
			r.Close()
			return nil, usageError{fmt.Errorf("thumbnails.sizes: %w", err)}
		}
		sizes = append(sizes, sz)
	}
	pages := pipeline.NewPages(store, r, pipeline.PagesConfig{
		Workers: r.Pages(), TTL: t.TTL, NegativeTTL: t.NegativeTTL, Wait: t.Wait,
		Timeout: t.JobTimeout(), Sizes: sizes,
	}, m, log)
	return &pageSide{guard: guard, renderer: r, pages: pages}, nil
}

// close stops the page workers (giving loading pages until ctx ends) and
// the browsers.
func (ps *pageSide) close(ctx context.Context) error {
	err := ps.pages.Close(ctx)
	ps.renderer.Close()
	return err
}

// loopbackOnly reports whether listen is reachable from this machine only.
func loopbackOnly(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
