package privfile

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "key")
	for i, content := range []string{"first\n", "second\n"} {
		if err := WriteFile(path, []byte(content), Options{}); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != content {
			t.Errorf("write %d: file holds %q, want %q", i, got, content)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("write %d: mode %04o, want 0600", i, fi.Mode().Perm())
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after writes, want 1 (no leftover temporary files)", len(entries))
	}
}

func TestWriteFileRefusesUnsafe(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the path to write
	}{
		{"symlink target", func(t *testing.T, dir string) string {
			victim := filepath.Join(dir, "victim")
			if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(dir, "link")
			if err := os.Symlink(victim, link); err != nil {
				t.Fatal(err)
			}
			return link
		}},
		{"group-writable directory", func(t *testing.T, dir string) string {
			sub := filepath.Join(dir, "shared")
			if err := os.Mkdir(sub, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(sub, 0o770); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(sub, "key")
		}},
		{"world-writable directory", func(t *testing.T, dir string) string {
			sub := filepath.Join(dir, "tmp")
			if err := os.Mkdir(sub, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(sub, 0o1777); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(sub, "key")
		}},
		{"symlinked directory", func(t *testing.T, dir string) string {
			real := filepath.Join(dir, "real")
			if err := os.Mkdir(real, 0o700); err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(dir, "dirlink")
			if err := os.Symlink(real, link); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(link, "key")
		}},
		{"directory in place of file", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "adir")
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
			return p
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Chmod(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			path := tt.setup(t, dir)
			err := WriteFile(path, []byte("secret"), Options{})
			if !errors.Is(err, ErrUnsafe) {
				t.Fatalf("WriteFile(%s) = %v, want an ErrUnsafe refusal", path, err)
			}
			if got, _ := os.ReadFile(filepath.Join(dir, "victim")); len(got) > 0 && string(got) != "keep" {
				t.Errorf("symlink target was overwritten: %q", got)
			}
		})
	}
}

func TestMkdirPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	if err := MkdirPrivate(dir); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("mode %04o, want 0700", fi.Mode().Perm())
	}
}

// CreateTemp makes a file only its user may access, which CheckPrivate
// accepts, and CheckPrivate refuses one others may read.
func TestCreateTempIsPrivate(t *testing.T) {
	dir := t.TempDir()
	f, err := CreateTemp(dir, ".k.new*")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	fi, err := os.Lstat(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckPrivate(f.Name(), fi); err != nil {
		t.Fatalf("a file from CreateTemp is not private: %v", err)
	}
	if runtime.GOOS == "windows" {
		return // no mode bits: the DACL rule is TestCheckACL's
	}
	if err := os.Chmod(f.Name(), 0o640); err != nil {
		t.Fatal(err)
	}
	fi, _ = os.Lstat(f.Name())
	if err := CheckPrivate(f.Name(), fi); !errors.Is(err, ErrUnsafe) {
		t.Fatalf("a group-readable file passes CheckPrivate: %v", err)
	}
}
