package scope

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCache(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := &Cache{Path: filepath.Join(t.TempDir(), "sub", "locations"), TTL: time.Hour, Now: func() time.Time { return now }}
	if _, ok := c.Get("i-0123456789abcdef0"); ok {
		t.Fatal("hit in a missing file")
	}
	a := Location{Profile: "prod", Account: "111111111111", Region: "eu-west-1"}
	b := Location{Account: "222222222222", Region: "us-east-1"} // default profile
	if err := c.Put(map[string]Location{"i-0123456789abcdef0": a, "i-0123456789abcdef1": b, "i-bad id": a}); err != nil {
		t.Fatal(err)
	}
	if got, ok := c.Get("i-0123456789abcdef0"); !ok || got != a {
		t.Errorf("Get = %+v, %v", got, ok)
	}
	if got, ok := c.Get("i-0123456789abcdef1"); !ok || got != b {
		t.Errorf("Get = %+v, %v", got, ok)
	}
	if _, ok := c.Get("i-0123456789abcdef"); ok { // a prefix of a cached id
		t.Error("prefix hit")
	}
	fi, err := os.Stat(c.Path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v", fi.Mode(), err)
	}
	if di, _ := os.Stat(filepath.Dir(c.Path)); di.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v", di.Mode())
	}
	// expired: a miss, dropped at the next write
	now = now.Add(2 * time.Hour)
	if _, ok := c.Get("i-0123456789abcdef0"); ok {
		t.Error("expired entry used")
	}
	c.Put(map[string]Location{"i-0123456789abcdef2": a})
	data, _ := os.ReadFile(c.Path)
	if strings.Count(string(data), "\n") != 1 {
		t.Errorf("expired entries kept:\n%s", data)
	}
	if err := c.Forget("i-0123456789abcdef2"); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get("i-0123456789abcdef2"); ok {
		t.Error("forgotten entry used")
	}
}

// TestCacheBadFile: a corrupt file is a miss, and the next Put rewrites
// it with only good lines.
func TestCacheBadFile(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	path := filepath.Join(t.TempDir(), "locations")
	good := "v1\ti-0123456789abcdef0\tprod\t111111111111\teu-west-1\t1800000000\n"
	os.WriteFile(path, []byte("garbage\x00\n"+"v1\ti-0123456789abcdef1\tprod\n"+"v9\ti-0123456789abcdef3\tp\t-\teu-west-1\t1800000000\n"+good+"v1\ti-0123456789abcdef4\tp\t-\teu-west-1\tsoon\n"), 0o644)
	c := &Cache{Path: path, Now: func() time.Time { return now }}
	for _, id := range []string{"i-0123456789abcdef1", "i-0123456789abcdef3", "i-0123456789abcdef4", "garbage"} {
		if l, ok := c.Get(id); ok {
			t.Errorf("bad line used for %s: %+v", id, l)
		}
	}
	if l, ok := c.Get("i-0123456789abcdef0"); !ok || l.Profile != "prod" {
		t.Errorf("good line: %+v, %v", l, ok)
	}
	if err := c.Put(nil); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if string(data) != good {
		t.Errorf("rewritten:\n%q", data)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
}

func FuzzCacheLine(f *testing.F) {
	f.Add("v1\ti-0123456789abcdef0\tprod\t111111111111\teu-west-1\t1800000000")
	f.Add("v1\ta\t-\t-\tb\t-1")
	f.Fuzz(func(t *testing.T, s string) {
		e, ok := parseLine(s)
		if !ok {
			return
		}
		again, ok := parseLine(e.line())
		if !ok || again != e {
			t.Fatalf("parseLine(%q) = %+v; its line %q parses as %+v, %v", s, e, e.line(), again, ok)
		}
	})
}
