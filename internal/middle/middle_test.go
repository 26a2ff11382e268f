package middle

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/paulmach/osm"
)

func TestWayStore(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ways")
	w, err := createWays(p)
	if err != nil {
		t.Fatal(err)
	}
	var want []*Way
	for i := range 1000 {
		id := int64(10 + 3*i)
		way := &Way{ID: id, Refs: []int64{id * 7, id*7 + 1, -5, id * 7}}
		if i%3 == 0 {
			way.Tags = map[string]string{"highway": "residential", "name": fmt.Sprint("Strasse ", i), "": "empty key"}
		}
		want = append(want, way)
		if err := w.add(way.ID, way.Refs, way.Tags); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.add(5, nil, nil); !errors.Is(err, ErrWaysUnsorted) {
		t.Errorf("unsorted add: %v", err)
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	s, err := openWays(p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	for _, i := range rand.Perm(len(want)) {
		got, err := s.get(want[i].ID)
		if err != nil || got == nil || !slices.Equal(got.Refs, want[i].Refs) || fmt.Sprint(got.Tags) != fmt.Sprint(want[i].Tags) {
			t.Fatalf("way %d: %+v %v, want %+v", want[i].ID, got, err, want[i])
		}
		if got, _ := s.get(want[i].ID + 1); got != nil {
			t.Fatalf("way %d found", want[i].ID+1)
		}
	}
	for _, id := range []int64{0, 9, 1 << 40} {
		if got, _ := s.get(id); got != nil {
			t.Errorf("way %d found", id)
		}
	}
}

func FuzzDecodeWay(f *testing.F) {
	f.Add(encodeWay(nil, 7, []int64{1, 2, 3}, map[string]string{"a": "b"}))
	f.Add([]byte{0x02, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		w, rest, err := decodeWay(b)
		if err != nil {
			return
		}
		again := encodeWay(nil, w.ID, w.Refs, w.Tags)
		w2, _, err := decodeWay(again)
		if err != nil || !slices.Equal(w2.Refs, w.Refs) || len(w2.Tags) != len(w.Tags) || len(rest) > len(b) {
			t.Fatalf("round trip: %+v → %+v (%v)", w, w2, err)
		}
	})
}

// The node→way index stays right when it is sorted in runs on disk.
func TestPairSorterRuns(t *testing.T) {
	dir := t.TempDir()
	s := newPairSorter(dir, 100)
	var all []pair
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		p := pair{r.Int64N(300), r.Int64N(50)}
		all = append(all, p)
		if err := s.add(p.node, p.way); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "pairs")
	if err := s.finish(out); err != nil {
		t.Fatal(err)
	}
	if runs, _ := filepath.Glob(filepath.Join(dir, "waynodes-run-*")); len(runs) != 0 {
		t.Errorf("runs left: %v", runs)
	}
	pf, err := openPairs(out)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.close()
	for node := int64(0); node < 300; node++ {
		var want []int64
		for _, p := range all {
			if p.node == node {
				want = append(want, p.way)
			}
		}
		slices.Sort(want)
		want = slices.Compact(want)
		got, err := pf.ways(node)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("node %d: %v %v, want %v", node, got, err, want)
		}
	}
}

// A generation built and then updated answers with the changes.
func TestBuildAndUpdate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := NewBuilder(ctx, dir, "g1")
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(1); i <= 10; i++ {
		b.AddNode(i, float64(i), float64(i)/2)
	}
	b.NodesDone()
	b.AddWay(ctx, 100, []int64{1, 2, 3}, map[string]string{"highway": "path"})
	b.AddWay(ctx, 101, []int64{3, 4}, nil)
	b.AddRelation(ctx, 200, osm.Members{{Type: osm.TypeWay, Ref: 100, Role: "outer"}}, map[string]string{"type": "multipolygon"})
	if w, _ := b.Way(ctx, 101); w == nil || !slices.Equal(w.Refs, []int64{3, 4}) {
		t.Errorf("builder way %+v", w)
	}
	if err := b.Finish(ctx); err != nil {
		t.Fatal(err)
	}

	u, err := OpenUpdate(ctx, dir, "g1")
	if err != nil {
		t.Fatal(err)
	}
	if ws, _ := u.WaysOfNode(ctx, 3); !slices.Equal(ws, []int64{100, 101}) {
		t.Errorf("ways of node 3: %v", ws)
	}
	u.SetNode(ctx, 3, 30, 15)
	u.DeleteNode(ctx, 4)
	u.PutWay(ctx, 101, []int64{3, 5}, map[string]string{"highway": "track"})
	u.PutWay(ctx, 102, []int64{5, 3}, nil)
	u.DeleteWay(ctx, 100)
	if lon, _, ok, _ := u.Node(ctx, 3); !ok || lon != 30 {
		t.Errorf("moved node: %v %v", lon, ok)
	}
	if _, _, ok, _ := u.Node(ctx, 4); ok {
		t.Error("deleted node found")
	}
	if lon, _, ok, _ := u.Node(ctx, 5); !ok || lon != 5 {
		t.Errorf("untouched node: %v %v", lon, ok)
	}
	if w, _ := u.Way(ctx, 100); w != nil {
		t.Errorf("deleted way %+v", w)
	}
	if w, _ := u.Way(ctx, 101); w == nil || w.Tags["highway"] != "track" {
		t.Errorf("changed way %+v", w)
	}
	if ws, _ := u.WaysOfNode(ctx, 3); !slices.Equal(ws, []int64{101, 102}) {
		t.Errorf("ways of node 3 after the change: %v", ws)
	}
	if rs, _ := u.RelationsOf(ctx, osm.TypeWay, 100); !slices.Equal(rs, []int64{200}) {
		t.Errorf("relations of way 100: %v", rs)
	}
	u.PutRelation(ctx, 200, osm.Members{{Type: osm.TypeWay, Ref: 101}}, nil)
	if rs, _ := u.RelationsOf(ctx, osm.TypeWay, 100); len(rs) != 0 {
		t.Errorf("relations of way 100 after the change: %v", rs)
	}
	if err := u.Commit(); err != nil {
		t.Fatal(err)
	}
	// The changes were kept.
	u, _ = OpenUpdate(ctx, dir, "g1")
	defer u.Abort()
	if w, _ := u.Way(ctx, 102); w == nil {
		t.Error("created way lost")
	}
	if _, err := OpenUpdate(ctx, dir, "g2"); !errors.Is(err, ErrMissing) {
		t.Errorf("missing generation: %v", err)
	}
	os.Remove(FilesOf(dir, "g1").Ways)
	if _, err := OpenUpdate(ctx, dir, "g1"); !errors.Is(err, ErrMissing) {
		t.Errorf("missing way store: %v", err)
	}
}
