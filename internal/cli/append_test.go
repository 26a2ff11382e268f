package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/osm"

	"kiln/internal/expire"
	"kiln/internal/mapdata"
	"kiln/internal/mapdata/postgis"
	"kiln/internal/mapdata/sqlite"
	"kiln/internal/osmgeom"
	"kiln/internal/osmread"
	"kiln/internal/pgtest"
	"kiln/internal/tile"
)

// sampleChange builds a change file against the bundled extract: it turns
// a residential street into a primary one and moves its first node 200 m
// east, deletes a building, and adds a café.
func sampleChange(t *testing.T) (osc string, street, building int64, moved orb.Point) {
	t.Helper()
	r, err := osmread.Open(context.Background(), sampleOSM, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	nodes := map[osm.NodeID]*osm.Node{}
	var w, b *osm.Way
	for r.Scan() {
		switch o := r.Object().(type) {
		case *osm.Node:
			nodes[o.ID] = o
		case *osm.Way:
			if w == nil && o.Tags.Find("highway") == "residential" && len(o.Nodes) > 3 {
				w = o
			}
			if b == nil && o.Tags.Find("building") == "yes" {
				b = o
			}
		}
	}
	n := nodes[w.Nodes[0].ID]
	var nds strings.Builder
	for _, wn := range w.Nodes {
		fmt.Fprintf(&nds, `<nd ref="%d"/>`, wn.ID)
	}
	osc = fmt.Sprintf(`<osmChange version="0.6">
<modify><node id="%d" lat="%f" lon="%f" version="9"/></modify>
<modify><way id="%d" version="9">%s<tag k="highway" v="primary"/><tag k="name" v="Neue Strasse"/></way></modify>
<delete><way id="%d" version="9"/></delete>
<create><node id="900000001" lat="47.14" lon="9.52" version="1"><tag k="amenity" v="cafe"/><tag k="name" v="Neu"/></node></create>
</osmChange>`, n.ID, n.Lat, n.Lon+0.00265, w.ID, nds.String(), b.ID)
	return osc, int64(w.ID), int64(b.ID), osmgeom.Mercator(n.Lon+0.00265, n.Lat)
}

func find(t *testing.T, r reader, layer string, osmType byte, id int64) []*mapdata.Feature {
	t.Helper()
	var out []*mapdata.Feature
	world := orb.Bound{Min: orb.Point{-2e7, -2e7}, Max: orb.Point{2e7, 2e7}}
	r.Features(context.Background(), layer, world, 14, func(f *mapdata.Feature) error {
		if f.OSMType == osmType && f.OSMID == id {
			out = append(out, f)
		}
		return nil
	})
	return out
}

func testAppend(t *testing.T, data, dbURL string, open func() reader) {
	osc, street, building, moved := sampleChange(t)
	dir := t.TempDir()
	change := filepath.Join(dir, "change.osc")
	os.WriteFile(change, []byte(osc), 0o644)
	expired := filepath.Join(dir, "expired.txt")
	args := []string{"import", "--data", data, "--append", "--expire-output", expired, "--expire-zoom", "15"}
	if dbURL != "" {
		args = append(args, "--db", dbURL)
	}
	code, out, stderr := run(t, "", append(args, change)...)
	if code != 0 || !regexp.MustCompile(`^kiln import --append: change\.osc: 2 nodes, 2 ways, 0 relations changed → \d+ objects rebuilt, \d+ features removed, \d+ written in [0-9.]+ s; \d+ tiles at zoom 15 expired\n$`).MatchString(out) {
		t.Fatalf("append: exit %d\n%s\n%s", code, out, stderr)
	}
	r := open()
	st := find(t, r, "streets", 'w', street)
	if len(st) != 1 || st[0].Props["kind"] != "primary" {
		t.Fatalf("street after the change: %+v", st)
	}
	// The change file has 6 decimals: within half a metre.
	if got := st[0].Geom.(orb.LineString)[0]; abs(got[0]-moved[0]) > 0.5 || abs(got[1]-moved[1]) > 0.5 {
		t.Errorf("street starts at %v, want the moved node at %v", got, moved)
	}
	if lbl := find(t, r, "street_labels", 'w', street); len(lbl) != 1 || lbl[0].Props["name"] != "Neue Strasse" {
		t.Errorf("street label %+v", lbl)
	}
	if b := find(t, r, "buildings", 'w', building); len(b) != 0 {
		t.Errorf("deleted building still there: %+v", b)
	}
	if c := find(t, r, "pois", 'n', 900000001); len(c) != 1 || c[0].Props["amenity"] != "cafe" {
		t.Errorf("new café: %+v", c)
	}
	// The expire list holds the tiles of the old and new street, nothing far off.
	f, err := os.Open(expired)
	if err != nil {
		t.Fatal(err)
	}
	tiles, err := expire.Read(f)
	f.Close()
	if err != nil || len(tiles) == 0 || len(tiles) > 50 {
		t.Fatalf("expire list: %d tiles, %v", len(tiles), err)
	}
	want := tile.CoveringMercator(orb.Bound{Min: moved, Max: moved}, 15)
	found := false
	for _, c := range tiles {
		if c.Z != 15 {
			t.Errorf("tile %v not at zoom 15", c)
		}
		found = found || (c.X == want.MinX && c.Y == want.MinY)
	}
	if !found {
		t.Errorf("expire list lacks the moved node's tile %v: %v", want, tiles)
	}
	// kiln expire reads the list.
	if code, out, stderr := run(t, "", "expire", "--data", data, "--style", "debug", expired); code != 0 || !strings.Contains(out, "kiln expire:") {
		t.Errorf("kiln expire: %d %s %s", code, out, stderr)
	}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func TestAppendSQLite(t *testing.T) {
	data := t.TempDir()
	if code, _, stderr := run(t, "", "import", "--data", data, sampleOSM); code != 0 {
		t.Fatal(stderr)
	}
	var s *sqlite.Store
	t.Cleanup(func() {
		if s != nil {
			s.Close()
		}
	})
	testAppend(t, data, "", func() reader {
		var err error
		if s, err = sqlite.Open(context.Background(), filepath.Join(data, "map.db")); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestAppendPostGIS(t *testing.T) {
	srv := pgtest.Start(t)
	url := srv.NewDatabase(t)
	data := t.TempDir()
	if code, _, stderr := run(t, "", "import", "--data", data, "--db", url, sampleOSM); code != 0 {
		t.Fatal(stderr)
	}
	var s *postgis.Store
	t.Cleanup(func() {
		if s != nil {
			s.Close()
		}
	})
	testAppend(t, data, url, func() reader {
		var err error
		if s, err = postgis.Open(context.Background(), url); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestAppendErrors(t *testing.T) {
	data := t.TempDir()
	osc := filepath.Join(t.TempDir(), "c.osc")
	os.WriteFile(osc, []byte(`<osmChange version="0.6"></osmChange>`), 0o644)
	if code, _, stderr := run(t, "", "import", "--data", data, "--append", osc); code != 2 || !strings.Contains(stderr, "no imported data to update") {
		t.Errorf("append before import: %d %s", code, stderr)
	}
	run(t, "", "import", "--data", data, sampleOSM)
	if code, _, stderr := run(t, "", "import", "--data", data, "--append", sampleOSM); code != 2 || !strings.Contains(stderr, "change file") {
		t.Errorf("append of a PBF: %d %s", code, stderr)
	}
	bad := filepath.Join(t.TempDir(), "bad.osc")
	os.WriteFile(bad, []byte(`<osmChange><modify><node id="1" lat="x"`), 0o644)
	if code, _, stderr := run(t, "", "import", "--data", data, "--append", bad); code != 2 || !strings.Contains(stderr, "bad.osc") {
		t.Errorf("broken change: %d %s", code, stderr)
	}
	if code, _, stderr := run(t, "", "import", "--data", data, "--expire-output", "x", sampleOSM); code != 2 || !strings.Contains(stderr, "goes with --append") {
		t.Errorf("expire-output without append: %d %s", code, stderr)
	}
}
