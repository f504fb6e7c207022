package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// file is one entry of an archive or package payload.
type file struct {
	mode fs.FileMode
	data []byte // regular files only
}

// checkArchive checks a client or host archive: NAME/ holding the
// commands' binaries (0755), README.md and LICENSE (0644), nothing else.
// The linux binaries' hashes go into bins.
func checkArchive(name string, a artifact, s spec, bins map[string][32]byte) []error {
	var files map[string]file
	var err error
	prefix, isZip := strings.CutSuffix(a.name, ".zip")
	if isZip {
		files, err = readZip(name)
	} else {
		prefix = strings.TrimSuffix(a.name, ".tar.gz")
		files, err = readTarGz(name)
	}
	if err != nil {
		return []error{err}
	}
	prefix += "/"
	want := map[string]fs.FileMode{prefix + "README.md": 0o644, prefix + "LICENSE": 0o644}
	for _, cmd := range a.cmds {
		want[prefix+exeName(cmd, a.plat.os)] = 0o755
	}
	var errs []error
	for n, f := range files {
		if _, ok := want[n]; !ok && !(n == prefix && f.mode.IsDir()) {
			errs = append(errs, fmt.Errorf("holds %s, which the release does not put there", n))
		}
	}
	for n, mode := range want {
		f, ok := files[n]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("no %s", n))
			continue
		case !f.mode.IsRegular() || f.mode.Perm() != mode:
			errs = append(errs, fmt.Errorf("%s: mode %v, want a file with %v", n, f.mode, mode))
		case len(f.data) == 0:
			errs = append(errs, fmt.Errorf("%s is empty", n))
		}
	}
	for _, cmd := range a.cmds {
		n := prefix + exeName(cmd, a.plat.os)
		f, ok := files[n]
		if !ok {
			continue
		}
		for _, err := range checkBinary(f.data, cmd, a.plat, s) {
			errs = append(errs, fmt.Errorf("%s: %w", n, err))
		}
		if a.plat.os == "linux" {
			bins[binKey(a.plat, cmd)] = sha256.Sum256(f.data)
		}
	}
	return errs
}

// readTarGz reads a gzip-compressed tar archive's entries by name.
func readTarGz(name string) (map[string]file, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readTar(f, true)
}

// readTar reads a tar archive (gzip-compressed if gz) by name; a name
// starting with "./" (as in a deb) is read without it.
func readTar(r io.Reader, gz bool) (map[string]file, error) {
	if gz {
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer z.Close()
		r = z
	}
	files := map[string]file{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, fmt.Errorf("tar: %w", err)
		}
		n := strings.TrimPrefix(h.Name, "./")
		if _, dup := files[n]; dup {
			return nil, fmt.Errorf("tar: %s stored twice", n)
		}
		f := file{mode: h.FileInfo().Mode()}
		if h.Typeflag == tar.TypeReg {
			if f.data, err = io.ReadAll(tr); err != nil {
				return nil, fmt.Errorf("tar: %s: %w", n, err)
			}
		}
		files[n] = f
	}
}

// readZip reads a zip archive's entries by name.
func readZip(name string) (map[string]file, error) {
	zr, err := zip.OpenReader(name)
	if err != nil {
		return nil, fmt.Errorf("zip: %w", err)
	}
	defer zr.Close()
	files := map[string]file{}
	for _, zf := range zr.File {
		if _, dup := files[zf.Name]; dup {
			return nil, fmt.Errorf("zip: %s stored twice", zf.Name)
		}
		f := file{mode: zf.Mode()}
		if f.mode.IsRegular() {
			rc, err := zf.Open()
			if err != nil {
				return nil, fmt.Errorf("zip: %s: %w", zf.Name, err)
			}
			var buf bytes.Buffer
			_, err = io.Copy(&buf, rc) // checks the CRC at the end
			rc.Close()
			if err != nil {
				return nil, fmt.Errorf("zip: %s: %w", zf.Name, err)
			}
			f.data = buf.Bytes()
		}
		files[zf.Name] = f
	}
	return files, nil
}
