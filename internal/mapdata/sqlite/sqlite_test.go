package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"kiln/internal/mapdata/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) (storetest.Store, storetest.Store) {
			p := filepath.Join(t.TempDir(), "map.db")
			w, err := Open(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Open(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { w.Close(); r.Close() })
			return w, r
		},
		BeginImport: func(ctx context.Context, s storetest.Store) (storetest.Import, error) {
			return s.(*Store).BeginImport(ctx)
		},
		BeginUpdate: func(ctx context.Context, s storetest.Store) (storetest.Update, error) {
			return s.(*Store).BeginUpdate(ctx)
		},
	})
}
