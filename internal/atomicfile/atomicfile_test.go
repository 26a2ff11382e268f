package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	fail := errors.New("disk on fire")
	tests := []struct {
		name  string
		write func(io.Writer) error
		err   error
		want  string
		perm  os.FileMode
	}{
		{"replaces", func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }, nil, "new", 0o644},
		{"a failed write leaves the old file", func(w io.Writer) error { io.WriteString(w, "half"); return fail }, fail, "new", 0o644},
		{"with its mode", func(w io.Writer) error { _, err := io.WriteString(w, "secret"); return err }, nil, "secret", 0o600},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := Write(path, tc.perm, tc.write); !errors.Is(err, tc.err) {
				t.Fatalf("Write: %v, want %v", err, tc.err)
			}
			b, err := os.ReadFile(path)
			if err != nil || string(b) != tc.want {
				t.Errorf("file holds %q (%v), want %q", b, err, tc.want)
			}
			if st, err := os.Stat(path); err != nil || st.Mode().Perm() != tc.perm {
				t.Errorf("mode %v (%v), want %v", st.Mode().Perm(), err, tc.perm)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("%d files in the directory, want the one written", len(entries))
			}
		})
	}
}

func TestWriteMissingDir(t *testing.T) {
	if err := WriteBytes(filepath.Join(t.TempDir(), "no", "f"), 0o644, []byte("x")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want not exist", err)
	}
}
