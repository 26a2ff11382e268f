package cli

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"kiln/internal/mapdata"
	"kiln/internal/mapdata/postgis"
	"kiln/internal/mapdata/sqlite"
	"kiln/internal/pgtest"
)

const sampleOSM = "../../data/osm/liechtenstein-2013-08-03.osm.pbf"

var importSummary = regexp.MustCompile(`^kiln import: liechtenstein-2013-08-03\.osm\.pbf: 65733 nodes, 7121 ways, 113 relations → (\d+) features in [0-9.]+ s \(\d+ objects/s\); (\d+) warnings \(0 missing nodes, \d+ broken rings, \d+ incomplete relations\)\n$`)

// reader is what the import tests read back.
type reader interface {
	Features(ctx context.Context, layer string, bbox orb.Bound, zoom int, fn func(*mapdata.Feature) error) error
	Meta(ctx context.Context, key string) (string, error)
}

func count(t *testing.T, r reader, layer string) int {
	t.Helper()
	n := 0
	world := orb.Bound{Min: orb.Point{-2e7, -2e7}, Max: orb.Point{2e7, 2e7}}
	if err := r.Features(context.Background(), layer, world, 14, func(*mapdata.Feature) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func checkImported(t *testing.T, r reader) {
	t.Helper()
	for layer, least := range map[string]int{"buildings": 3000, "streets": 2500, "pois": 200, "boundaries": 10} {
		if n := count(t, r, layer); n < least {
			t.Errorf("%s: %d features", layer, n)
		}
	}
	if src, _ := r.Meta(context.Background(), "source"); src != filepath.Base(sampleOSM) {
		t.Errorf("meta source %q", src)
	}
}

func TestImportSQLite(t *testing.T) {
	data := t.TempDir()
	for i := range 2 { // the second import replaces the first
		code, out, stderr := run(t, "", "import", "--data", data, sampleOSM)
		if code != 0 || !importSummary.MatchString(out) {
			t.Fatalf("import %d: exit %d\nstdout %q\nstderr %s", i, code, out, stderr)
		}
		if !strings.Contains(stderr, "phase=") {
			t.Errorf("no progress on stderr: %s", stderr)
		}
	}
	s, err := sqlite.Open(context.Background(), filepath.Join(data, "map.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkImported(t, s)
	// One generation of the middle is left, and the tile cache is stale.
	if gens, _ := filepath.Glob(filepath.Join(data, "nodes-*.bin")); len(gens) != 1 {
		t.Errorf("node stores: %v", gens)
	}
	if _, err := os.Stat(filepath.Join(data, "tiles", "planet-import-complete")); err != nil {
		t.Errorf("import stamp: %v", err)
	}
}

func TestImportPostGIS(t *testing.T) {
	srv := pgtest.Start(t)
	url := srv.NewDatabase(t)
	code, out, stderr := run(t, "", "import", "--data", t.TempDir(), "--db", url, sampleOSM)
	if code != 0 || !importSummary.MatchString(out) {
		t.Fatalf("exit %d\nstdout %q\nstderr %s", code, out, stderr)
	}
	s, err := postgis.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkImported(t, s)
	// Same features as into SQLite.
	data := t.TempDir()
	run(t, "", "import", "--data", data, sampleOSM)
	lite, _ := sqlite.Open(context.Background(), filepath.Join(data, "map.db"))
	defer lite.Close()
	for _, layer := range []string{"streets", "land", "pois", "water_polygons", "place_labels"} {
		if a, b := count(t, s, layer), count(t, lite, layer); a != b {
			t.Errorf("%s: PostGIS %d, SQLite %d", layer, a, b)
		}
	}
	// A role that may not create the extension is told what to run.
	noPostGIS := srv.NewDatabaseWithoutPostGIS(t)
	code, _, stderr = run(t, "", "import", "--data", t.TempDir(), "--db", noPostGIS, sampleOSM)
	if code != 1 || !strings.Contains(stderr, "CREATE EXTENSION postgis;") {
		t.Errorf("without PostGIS: exit %d: %s", code, stderr)
	}
}

func TestImportBadInput(t *testing.T) {
	dir := t.TempDir()
	pbf, _ := os.ReadFile(sampleOSM)
	cut := filepath.Join(dir, "cut.osm.pbf")
	os.WriteFile(cut, pbf[:len(pbf)*2/3], 0o644)
	xml := filepath.Join(dir, "x.osm.pbf")
	os.WriteFile(xml, []byte("<osm></osm>"), 0o644)
	data := t.TempDir()
	// A good import first: a failed one must leave it untouched.
	if code, _, stderr := run(t, "", "import", "--data", data, sampleOSM); code != 0 {
		t.Fatal(stderr)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{cut}, `cut\.osm\.pbf: truncated blob at byte \d+`},
		{[]string{xml}, `x\.osm\.pbf: not an OSM file: it holds XML`},
		{[]string{filepath.Join(dir, "missing.osm.pbf")}, `missing\.osm\.pbf: no such file`},
		{[]string{}, `want one OSM file`},
	}
	for _, tc := range tests {
		code, _, stderr := run(t, "", append([]string{"import", "--data", data}, tc.args...)...)
		if code != 2 || !regexp.MustCompile(`^kiln: import: .*`+tc.want).MatchString(stderr) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line matching %q", tc.args, code, stderr, tc.want)
		}
	}
	s, _ := sqlite.Open(context.Background(), filepath.Join(data, "map.db"))
	defer s.Close()
	checkImported(t, s)
	if gens, _ := filepath.Glob(filepath.Join(data, "*.bin")); len(gens) != 3 { // nodes, ways, waynodes of the good import
		t.Errorf("files left by failed imports: %v", gens)
	}
}
