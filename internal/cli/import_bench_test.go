package cli

import (
	"bytes"
	"context"
	"testing"
)

// BenchmarkImportSQLite is a whole `kiln import` of the bundled extract into
// a fresh SQLite map database.
func BenchmarkImportSQLite(b *testing.B) {
	for b.Loop() {
		var out, errb bytes.Buffer
		code := Main(context.Background(), []string{"import", "--data", b.TempDir(), "../../data/osm/liechtenstein-2013-08-03.osm.pbf"},
			IO{Out: &out, Err: &errb})
		if code != 0 {
			b.Fatalf("exit %d: %s", code, errb.String())
		}
	}
}
