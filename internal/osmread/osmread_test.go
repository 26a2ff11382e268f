package osmread

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/paulmach/osm"
)

const sample = "../../data/osm/liechtenstein-2013-08-03.osm.pbf"

func count(t *testing.T, path string) (map[osm.Type]int, *Reader, error) {
	t.Helper()
	r, err := Open(context.Background(), path, 2)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	n := map[osm.Type]int{}
	for r.Scan() {
		n[r.Object().ObjectID().Type()]++
	}
	return n, r, r.Err()
}

func TestOpenKinds(t *testing.T) {
	tests := []struct {
		path                  string
		nodes, ways, relation int
		bounds                bool
	}{
		{sample, 65733, 7121, 113, true},
		{"testdata/small.osm", 5, 2, 1, true},
		{"testdata/small.osm.gz", 5, 2, 1, true},
		{"testdata/small.osm.bz2", 5, 2, 1, true},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			n, r, err := count(t, tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if n[osm.TypeNode] != tc.nodes || n[osm.TypeWay] != tc.ways || n[osm.TypeRelation] != tc.relation {
				t.Errorf("counts %v", n)
			}
			if (r.Bounds() != nil) != tc.bounds {
				t.Errorf("bounds %v", r.Bounds())
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	pbf, _ := os.ReadFile(sample)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	xmlText, _ := os.ReadFile("testdata/small.osm")
	corrupt := append([]byte(nil), pbf...)
	for i := 200000; i < 200400; i++ {
		corrupt[i] ^= 0x5a
	}
	tests := []struct {
		name string
		path string
		want string // regexp
	}{
		{"missing", filepath.Join(dir, "nope.osm.pbf"), "no such file"},
		{"unknown extension", write("x.shp", nil), `x\.shp: not an OSM file: want \.osm\.pbf`},
		{"empty", write("empty.osm.pbf", nil), "empty file"},
		{"xml named pbf", write("xml.osm.pbf", xmlText), "holds XML, not PBF"},
		{"pbf named osm", write("pbf.osm", pbf), "holds PBF, not XML"},
		{"not gzip", write("plain.osm.gz", xmlText), "not gzip-compressed"},
		{"garbage pbf", write("garbage.osm.pbf", []byte(strings.Repeat("garbage ", 100))), "no OSMHeader"},
		{"truncated pbf", write("cut.osm.pbf", pbf[:len(pbf)-1000]), `cut\.osm\.pbf: truncated blob at byte \d+`},
		{"truncated in the header block", write("cut2.osm.pbf", pbf[:100]), `truncated blob at byte 0`},
		{"corrupt pbf", write("bad.osm.pbf", corrupt), `bad\.osm\.pbf: corrupt blob at byte \d+`},
		{"truncated xml", write("cut.osm", xmlText[:len(xmlText)-200]), `cut\.osm: .*byte \d+`},
		{"change file", "testdata/change.osc", "--append"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := count(t, tc.path)
			if err == nil || !regexp.MustCompile(tc.want).MatchString(err.Error()) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestTruncatedPosition(t *testing.T) {
	pbf, _ := os.ReadFile(sample)
	p := filepath.Join(t.TempDir(), "cut.osm.pbf")
	os.WriteFile(p, pbf[:300000], 0o644)
	_, _, err := count(t, p)
	var at int
	if m := regexp.MustCompile(`byte (\d+)`).FindStringSubmatch(err.Error()); m != nil {
		for _, c := range m[1] {
			at = at*10 + int(c-'0')
		}
	}
	// The position is the start of the blob the cut falls in.
	if at <= 0 || at > 300000 || at < 300000-70000 {
		t.Errorf("position %d for a cut at 300000: %v", at, err)
	}
}

func TestReadChange(t *testing.T) {
	for _, p := range []string{"testdata/change.osc", "testdata/change.osc.gz"} {
		edits, err := ReadChange(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range edits {
			got = append(got, e.Action.String()+" "+e.Object.ObjectID().String())
		}
		want := "modify node/5:2 create node/6:1 create way/12:1 modify way/11:2 delete relation/20:2 delete way/10:2"
		if strings.Join(got, " ") != want {
			t.Errorf("%s: %v\nwant %s", p, got, want)
		}
	}
	if _, err := ReadChange(context.Background(), "testdata/small.osm"); !errors.Is(err, ErrFormat) {
		t.Errorf("osm as change: %v", err)
	}
}

func TestDecodeChangeRejects(t *testing.T) {
	for _, doc := range []string{
		"",
		"<osm></osm>",
		"<osmChange><modify><node id='x'/></modify></osmChange>",
		"<osmChange><modify><node id='-1' lat='1' lon='2'/></modify></osmChange>",
		"<osmChange><modify><bounds/></modify></osmChange>",
		"<osmChange><modify><node id='1'",
	} {
		if edits, err := DecodeChange(context.Background(), strings.NewReader(doc)); err == nil {
			t.Errorf("%q decoded to %v", doc, edits)
		}
	}
}

func FuzzDecodeChange(f *testing.F) {
	b, _ := os.ReadFile("testdata/change.osc")
	f.Add(string(b))
	f.Add("<osmChange><delete><way id='3'/></delete></osmChange>")
	f.Fuzz(func(t *testing.T, doc string) {
		edits, err := DecodeChange(context.Background(), strings.NewReader(doc))
		if err != nil {
			return
		}
		for _, e := range edits {
			if e.Object == nil || e.Object.ObjectID().Ref() <= 0 {
				t.Fatalf("bad edit %+v", e)
			}
		}
	})
}

func FuzzLocateBlobs(f *testing.F) {
	pbf, _ := os.ReadFile(sample)
	f.Add(pbf[:3000])
	f.Fuzz(func(t *testing.T, b []byte) {
		locateBlobs(bytes.NewReader(b), int64(len(b)))
	})
}

func FuzzOpenPBF(f *testing.F) {
	pbf, _ := os.ReadFile(sample)
	f.Add(pbf[:2000])
	f.Add(pbf[:70000])
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "f.osm.pbf")
		os.WriteFile(p, b, 0o644)
		r, err := Open(context.Background(), p, 1)
		if err != nil {
			return
		}
		defer r.Close()
		for r.Scan() {
			r.Object()
		}
		r.Err()
	})
}
