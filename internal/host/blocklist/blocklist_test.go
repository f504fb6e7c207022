package blocklist_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jitssh/jitssh/internal/host/blocklist"
)

func TestParse(t *testing.T) {
	t.Parallel()
	names, err := blocklist.Parse([]byte("# comment\n\nalice\n  bob  \nec2-user\nUpper@corp\n"))
	if err != nil || len(names) != 4 || !names["alice"] || !names["bob"] || !names["ec2-user"] || !names["Upper@corp"] {
		t.Errorf("Parse = %v, %v", names, err)
	}
	for _, bad := range []string{"a b\n", "a:b\n", "a/b\n", "a\x00b\n", "a\tb\n", "é\n", strings.Repeat("a", 300) + "\n"} {
		if _, err := blocklist.Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestAddRemove(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "etc", "blocked")
	if b, err := blocklist.Blocked(path, "alice"); b || err != nil {
		t.Errorf("missing list: %v, %v", b, err)
	}
	if b, err := blocklist.Blocked("", "alice"); b || err != nil {
		t.Errorf("no list: %v, %v", b, err)
	}
	if ch, err := blocklist.Add(path, "alice", "bob"); err != nil || strings.Join(ch, ",") != "alice,bob" {
		t.Fatalf("Add = %v, %v", ch, err)
	}
	if ch, err := blocklist.Add(path, "alice"); err != nil || len(ch) != 0 {
		t.Errorf("Add again = %v, %v", ch, err)
	}
	if b, err := blocklist.Blocked(path, "alice"); !b || err != nil {
		t.Errorf("alice: %v, %v", b, err)
	}
	if ch, err := blocklist.Remove(path, "alice", "carol"); err != nil || strings.Join(ch, ",") != "alice" {
		t.Errorf("Remove = %v, %v", ch, err)
	}
	names, err := blocklist.Read(path)
	if err != nil || len(names) != 1 || !names["bob"] {
		t.Errorf("Read = %v, %v", names, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode: %v, %v", fi, err)
	}
	if _, err := blocklist.Add(path, "bad name"); err == nil {
		t.Error("Add accepted a bad name")
	}
	// A temporary file a crashed writer left goes with the next change.
	stale := filepath.Join(filepath.Dir(path), ".blocked.tmp-123")
	os.WriteFile(stale, []byte("x"), 0o600)
	blocklist.Add(path, "dave")
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary file kept: %v", err)
	}
	// Untrusted lists block everybody.
	os.Chmod(path, 0o666)
	if b, err := blocklist.Blocked(path, "nobody-listed"); !b || err == nil {
		t.Errorf("world-writable list: %v, %v", b, err)
	}
	os.Chmod(path, 0o644)
	os.WriteFile(path, []byte("a b\n"), 0o644)
	if b, err := blocklist.Blocked(path, "nobody-listed"); !b || err == nil {
		t.Errorf("malformed list: %v, %v", b, err)
	}
}

func TestConcurrentChanges(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "blocked")
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := blocklist.Add(path, "u"+strings.Repeat("x", i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	names, err := blocklist.Read(path)
	if err != nil || len(names) != 20 {
		t.Errorf("%d names, %v; want 20", len(names), err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"alice\n", "# c\n\nbob\n", "a b\n", "a:b", "\x00", "#\n#x\n  \n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		names, err := blocklist.Parse(data)
		if err != nil {
			return
		}
		for n := range names {
			if n == "" || len(n) > blocklist.MaxName || strings.ContainsAny(n, " \t\n:/\x00") || n[0] == '#' {
				t.Fatalf("Parse accepted %q", n)
			}
		}
	})
}
