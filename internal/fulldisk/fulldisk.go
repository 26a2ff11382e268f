// Package fulldisk gives tests a real file system that fills up: a tiny
// tmpfs mounted for the test (which needs root), so that what kiln does on
// a full disk is tested against the kernel's own ENOSPC, not a fake.
package fulldisk

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// Mount mounts a tmpfs of size bytes on a fresh directory, unmounted when
// the test ends, and returns the directory. It skips the test where
// mounting is not allowed.
func Mount(t testing.TB, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.Itoa(size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	return dir
}
