package filelock

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Two opens of one file conflict as two processes would (flock and
// LockFileEx both lock per open file): shared with shared is fine,
// exclusive with anything is not, and closing releases.
func TestSharedAndExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.lock")
	if _, err := Open(path, false); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open of a missing file without create: %v, want not-exist", err)
	}
	a, err := Open(path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := Lock(a, false, false); err != nil {
		t.Fatalf("shared lock: %v", err)
	}
	if err := Lock(b, false, false); err != nil {
		t.Fatalf("second shared lock: %v", err)
	}
	if err := Unlock(b); err != nil {
		t.Fatal(err)
	}
	if err := Lock(b, true, false); !errors.Is(err, ErrLocked) {
		t.Fatalf("exclusive lock while shared is held: %v, want ErrLocked", err)
	}
	got := make(chan error, 1)
	go func() { got <- Lock(b, true, true) }()
	select {
	case err := <-got:
		t.Fatalf("a waiting exclusive lock returned while the shared one is held: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	a.Close()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("waiting exclusive lock: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("closing the shared holder did not let the exclusive lock through")
	}
	// The content of a locked file stays readable and writable by others,
	// and the holder can remove it.
	if err := os.WriteFile(path, []byte("record"), 0o600); err != nil {
		t.Fatalf("write a locked file's content: %v", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "record" {
		t.Fatalf("read a locked file's content: %q, %v", b, err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatalf("the holder cannot remove the lock file: %v", err)
	}
}
