package nodestore

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

func build(t testing.TB, ids []int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "nodes")
	w, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := w.Add(id, lonOf(id), latOf(id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

func lonOf(id int64) float64 { return float64(id%3600000)/10000 - 180 }
func latOf(id int64) float64 { return float64(id%1700000)/20000 - 85 }

func TestGet(t *testing.T) {
	for _, n := range []int{0, 1, perBlock - 1, perBlock, perBlock + 1, 10 * perBlock, 5000} {
		ids := make([]int64, n)
		next := int64(1)
		for i := range ids {
			ids[i] = next
			next += 1 + int64(i%7)*1000 // gaps, as in a real extract
		}
		s, err := Open(build(t, ids), 3) // a tiny cache: blocks are evicted
		if err != nil {
			t.Fatal(err)
		}
		if s.Count() != int64(n) {
			t.Errorf("Count %d, want %d", s.Count(), n)
		}
		for _, i := range rand.Perm(n) {
			id := ids[i]
			lon, lat, ok := s.Get(id)
			if !ok || math.Abs(lon-lonOf(id)) > 1e-7 || math.Abs(lat-latOf(id)) > 1e-7 {
				t.Fatalf("n=%d: Get(%d) = %v %v %v", n, id, lon, lat, ok)
			}
			if _, _, ok := s.Get(id + 1); ok && (i+1 >= n || ids[i+1] != id+1) {
				t.Fatalf("n=%d: Get(%d) found a node that is not there", n, id+1)
			}
		}
		for _, missing := range []int64{0, -5, next + 100} {
			if _, _, ok := s.Get(missing); ok {
				t.Errorf("Get(%d) found a node", missing)
			}
		}
		s.Close()
	}
}

func TestUnsorted(t *testing.T) {
	w, _ := Create(filepath.Join(t.TempDir(), "n"))
	defer w.Close()
	w.Add(5, 0, 0)
	if err := w.Add(5, 0, 0); !errors.Is(err, ErrUnsorted) {
		t.Errorf("duplicate id: %v", err)
	}
	if err := w.Add(3, 0, 0); !errors.Is(err, ErrUnsorted) {
		t.Errorf("smaller id: %v", err)
	}
}

func TestOpenRejects(t *testing.T) {
	dir := t.TempDir()
	good, _ := os.ReadFile(build(t, []int64{1, 2, 3}))
	for name, b := range map[string][]byte{
		"empty":     nil,
		"no magic":  make([]byte, 4200),
		"truncated": good[:len(good)-20],
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		if _, err := Open(p, 4); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	ids := make([]int64, 1_000_000)
	for i := range ids {
		ids[i] = int64(i)*3 + 1
	}
	s, _ := Open(build(b, ids), 1024)
	defer s.Close()
	r := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	for b.Loop() {
		// Mostly nearby ids, as a way's nodes are.
		s.Get(ids[(r.IntN(2000)+500_000)%len(ids)])
	}
}

func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	good, _ := os.ReadFile(build(f, []int64{1, 5, 9}))
	f.Add(good)
	f.Add([]byte(footerMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "fuzz")
		os.WriteFile(p, b, 0o644)
		s, err := Open(p, 2)
		if err != nil {
			return
		}
		defer s.Close()
		for _, id := range []int64{-1, 0, 1, 5, 9, 1 << 40} {
			s.Get(id)
		}
	})
}
