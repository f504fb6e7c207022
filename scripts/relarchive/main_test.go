package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The same files give the same archive bytes whatever the files' own
// times and modes say, and the archive holds them with the fixed time,
// normalised modes and the prefix.
func TestArchivesAreReproducible(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "jitssh")
	doc := filepath.Join(dir, "README.md")
	write := func(mode os.FileMode, when time.Time) {
		if err := os.WriteFile(bin, []byte("\x7fELF binary"), mode|0o100); err != nil {
			t.Fatal(err)
		}
		os.Chmod(bin, mode|0o100)
		if err := os.WriteFile(doc, []byte("# jitssh\n"), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(doc, mode)
		for _, f := range []string{bin, doc} {
			if err := os.Chtimes(f, when, when); err != nil {
				t.Fatal(err)
			}
		}
	}
	const epoch = 1764670272
	for _, ext := range []string{".tar.gz", ".zip"} {
		var got [2][]byte
		for i, mode := range []os.FileMode{0o600, 0o664} {
			write(mode, time.Now().Add(time.Duration(i)*time.Hour))
			out := filepath.Join(dir, "a"+ext)
			if err := run(out, epoch, "jitssh_1.2.3_linux_amd64/", []string{bin, doc}); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			got[i] = b
		}
		if !bytes.Equal(got[0], got[1]) {
			t.Fatalf("%s: two archives of the same content differ", ext)
		}
		names, modes := list(t, ext, got[0])
		want := []string{"jitssh_1.2.3_linux_amd64/", "jitssh_1.2.3_linux_amd64/jitssh", "jitssh_1.2.3_linux_amd64/README.md"}
		if len(names) != len(want) {
			t.Fatalf("%s holds %q, want %q", ext, names, want)
		}
		for i := range want {
			if names[i] != want[i] {
				t.Fatalf("%s holds %q, want %q", ext, names, want)
			}
		}
		if modes[1] != 0o755 || modes[2] != 0o644 {
			t.Errorf("%s: modes %o, want 755 for the binary and 644 for the text", ext, modes)
		}
	}
}

func list(t *testing.T, ext string, b []byte) (names []string, modes []int64) {
	t.Helper()
	want := time.Unix(1764670272, 0).UTC()
	if ext == ".zip" {
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			if !f.Modified.Equal(want) {
				t.Errorf("%s: time %v, want %v", f.Name, f.Modified, want)
			}
			names, modes = append(names, f.Name), append(modes, int64(f.Mode().Perm()))
		}
		return
	}
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if gz.Name != "" || !gz.ModTime.IsZero() && gz.ModTime.Unix() != 0 {
		t.Errorf("gzip header records %q, %v", gz.Name, gz.ModTime)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(want) || h.Uid != 0 || h.Gid != 0 || h.Uname != "" {
			t.Errorf("%s: time %v uid %d gid %d %q", h.Name, h.ModTime, h.Uid, h.Gid, h.Uname)
		}
		names, modes = append(names, h.Name), append(modes, h.Mode)
	}
}
