package postgis

import (
	"context"
	"errors"
	"strings"
	"testing"

	"kiln/internal/mapdata/storetest"
	"kiln/internal/pgtest"
)

func TestStore(t *testing.T) {
	srv := pgtest.Start(t)
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) (storetest.Store, storetest.Store) {
			url := srv.NewDatabase(t)
			w, err := Open(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Open(context.Background(), url)
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

// Without PostGIS and without the right to add it, the error says what an
// administrator must run.
func TestNoPostGIS(t *testing.T) {
	srv := pgtest.Start(t)
	url := srv.NewDatabaseWithoutPostGIS(t)
	_, err := Open(context.Background(), url)
	if !errors.Is(err, ErrNoPostGIS) || !strings.Contains(err.Error(), "CREATE EXTENSION postgis;") {
		t.Errorf("Open = %v", err)
	}
}
