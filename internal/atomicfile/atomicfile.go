// Package atomicfile writes a file whole or not at all: into a temporary
// file in the same directory, renamed over the target, so that a reader
// sees the old file or the new one and a failed write leaves nothing
// behind: the thumbnail cache's files, renderd's stats file, expire lists,
// the pictures of kiln thumb and kiln static. (The tile cache writes its
// own, to tell a full disk; the key store links rather than renames.)
package atomicfile

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// TempPrefix starts the names of the temporary files, so that code that
// lists a directory can skip a write in progress.
const TempPrefix = ".tmp-"

// Write writes path with write, giving it mode perm.
func Write(path string, perm fs.FileMode, write func(w io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), TempPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	err = write(tmp)
	if err == nil {
		err = tmp.Chmod(perm) // CreateTemp makes 0600
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// WriteBytes writes path with b, giving it mode perm.
func WriteBytes(path string, perm fs.FileMode, b []byte) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}
