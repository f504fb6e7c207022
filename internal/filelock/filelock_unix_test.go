//go:build unix

package filelock

import (
	"os"
	"path/filepath"
	"testing"
)

// A symbolic link where a lock file should be is refused, not followed.
func TestOpenRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere")
	if err := os.Symlink(target, filepath.Join(dir, "k.lock")); err != nil {
		t.Fatal(err)
	}
	if f, err := Open(filepath.Join(dir, "k.lock"), true); err == nil {
		f.Close()
		t.Fatal("Open followed a symbolic link")
	}
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Fatalf("the link's target was created: %v", err)
	}
}
