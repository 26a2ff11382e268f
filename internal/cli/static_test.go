package cli

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStatic(t *testing.T) {
	data := t.TempDir()
	if code, _, stderr := run(t, "", "import", "--data", data, sampleOSM); code != 0 {
		t.Fatalf("import: %d %s", code, stderr)
	}
	out := filepath.Join(t.TempDir(), "li.png")
	code, stdout, stderr := run(t, "", "static", "--data", data, "--bbox", "9.471078,47.04774,9.636217,47.27128",
		"--size", "300x400", "--scale", "2", "-o", out)
	if code != 0 || !strings.HasPrefix(stdout, "kiln static: ") {
		t.Fatalf("static: %d %q %s", code, stdout, stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil || img.Bounds().Dx() != 600 || img.Bounds().Dy() != 800 {
		t.Fatalf("picture: %v %v", img.Bounds(), err)
	}
	if code, _, stderr := run(t, "", "static", "--data", data, "--center", "9.52,47.14", "--zoom", "14", "--size", "100x100", "-o", filepath.Join(t.TempDir(), "v.webp")); code != 0 {
		t.Errorf("centre and zoom to webp: %d %s", code, stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--bbox", "9.64,47.04,9.47,47.27", "--size", "10x10", "-o", out}, "west < east"},
		{[]string{"--bbox", "9.47,47.04,9.64,47.27", "--size", "10x10"}, "-o FILE is required"},
		{[]string{"--bbox", "9.47,47.04,9.64,47.27", "--size", "10", "-o", out}, "want WxH"},
		{[]string{"--center", "9.5,47.1", "--size", "10x10", "-o", out}, "--center needs --zoom"},
		{[]string{"--bbox", "9.47,47.04,9.64,47.27", "--size", "10x10", "-o", "x.gif"}, ".png, .jpg or .webp"},
		{[]string{"--style", "debug", "--bbox", "9.47,47.04,9.64,47.27", "--size", "10x10", "-o", out}, "not a map style"},
		{[]string{"--style", "nope", "--bbox", "9.47,47.04,9.64,47.27", "--size", "10x10", "-o", out}, `no style "nope"`},
	} {
		code, _, stderr := run(t, "", append([]string{"static", "--data", data}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}
