package expire

import (
	"fmt"
	"strings"
	"testing"

	"kiln/internal/tile"
)

func TestRead(t *testing.T) {
	got, err := Read(strings.NewReader("15/17250/11506\n\n 15/17251/11506 \r\n0/0/0\n20/1048575/0\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []tile.Coord{{Z: 15, X: 17250, Y: 11506}, {Z: 15, X: 17251, Y: 11506}, {Z: 0}, {Z: 20, X: 1048575}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Read = %v, want %v", got, want)
	}
}

func TestReadRejects(t *testing.T) {
	tests := []struct {
		input, err string
	}{
		{"1/0/0\n15 17250 11506\n", "line 2"},
		{"1/2/0\n", "line 1: 1/2/0 is not a tile of the grid"},
		{"21/0/0\n", "line 1"},
		{"1/-1/0\n", "line 1"},
		{"1/+1/0\n", "line 1"},
		{"1/1/0/3\n", "line 1"},
		{"a/b/c\n", "line 1"},
		{strings.Repeat("9", 5000) + "\n", "too long"},
	}
	for _, tc := range tests {
		if _, err := Read(strings.NewReader(tc.input)); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("Read(%.20q) = %v, want an error with %q", tc.input, err, tc.err)
		}
	}
}

func TestMetas(t *testing.T) {
	// One z15 tile, expired from zoom 13 to 18, 8x8 metatiles.
	in := []tile.Coord{{Z: 15, X: 17250, Y: 11506}}
	got := map[int][]tile.Meta{}
	var order []int
	for z, metas := range Metas(in, 13, 18, 8) {
		got[z] = metas
		order = append(order, z)
	}
	if fmt.Sprint(order) != "[18 17 16 15 14 13]" {
		t.Errorf("zooms %v", order)
	}
	want := map[int][]tile.Meta{
		18: {{Z: 18, X: 138000, Y: 92048, N: 8}}, // x 138000-138007, y 92048-92055: one metatile
		17: {{Z: 17, X: 69000, Y: 46024, N: 8}},
		16: {{Z: 16, X: 34496, Y: 23008, N: 8}},
		15: {{Z: 15, X: 17248, Y: 11504, N: 8}},
		14: {{Z: 14, X: 8624, Y: 5752, N: 8}},
		13: {{Z: 13, X: 4312, Y: 2872, N: 8}},
	}
	for z, w := range want {
		if fmt.Sprint(got[z]) != fmt.Sprint(w) {
			t.Errorf("z%d: %v, want %v", z, got[z], w)
		}
	}
	// A low-zoom tile expands to every metatile it covers deeper down.
	n := 0
	for z, metas := range Metas([]tile.Coord{{Z: 10, X: 0, Y: 0}}, 10, 16, 8) {
		if z == 16 {
			n = len(metas) // 64x64 tiles = 8x8 metatiles
		}
	}
	if n != 64 {
		t.Errorf("z10 tile at z16: %d metatiles, want 64", n)
	}
	// Duplicates collapse.
	for _, metas := range Metas([]tile.Coord{{Z: 15, X: 1, Y: 1}, {Z: 15, X: 2, Y: 2}, {Z: 15, X: 1, Y: 1}}, 15, 15, 8) {
		if len(metas) != 1 {
			t.Errorf("duplicates: %v", metas)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add("15/17250/11506\n0/0/0\n")
	f.Add("1/2/0\n")
	f.Fuzz(func(t *testing.T, s string) {
		tiles, err := Read(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, c := range tiles {
			if !c.InGrid() {
				t.Fatalf("accepted %v", c)
			}
		}
	})
}
