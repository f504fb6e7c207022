// Command relarchive writes a release archive reproducibly: the same
// files give the same bytes, whoever builds them and whenever.
//
//	go run ./scripts/relarchive -o OUT.tar.gz|OUT.zip -mtime EPOCH -prefix DIR/ FILE...
//
// Each FILE is stored under DIR/ with its base name, in the order given,
// with the modification time EPOCH (SOURCE_DATE_EPOCH: the last commit's
// time), owner and group 0 with no names, and mode 0755 if the file is
// executable by its owner, else 0644. A .tar.gz is a ustar archive in a
// gzip stream with no name or time in its header; a .zip (for Windows)
// deflates each file and records the same time. tar(1) and zip(1) differ
// between systems in what they record; this does not.
package main

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/flate"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	out := flag.String("o", "", "archive to write: NAME.tar.gz or NAME.zip")
	mtime := flag.Int64("mtime", -1, "modification time of every entry, seconds since 1970 (SOURCE_DATE_EPOCH)")
	prefix := flag.String("prefix", "", "directory the files are stored in, ending in /")
	flag.Parse()
	if err := run(*out, *mtime, *prefix, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "relarchive:", err)
		os.Exit(1)
	}
}

// entry is one file to store.
type entry struct {
	name string // in the archive
	mode int64
	data []byte
}

func run(out string, mtime int64, prefix string, files []string) error {
	if out == "" || mtime < 0 || len(files) == 0 {
		return errors.New("usage: relarchive -o OUT.tar.gz|OUT.zip -mtime EPOCH [-prefix DIR/] FILE [FILE]")
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		return fmt.Errorf("-prefix %q must end in /", prefix)
	}
	var entries []entry
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", f)
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		mode := int64(0o644)
		if fi.Mode().Perm()&0o100 != 0 {
			mode = 0o755
		}
		entries = append(entries, entry{name: path.Join(prefix, filepath.Base(f)), mode: mode, data: data})
	}
	t := time.Unix(mtime, 0).UTC()
	tmp := out + ".tmp"
	fh, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(fh)
	switch {
	case strings.HasSuffix(out, ".tar.gz"):
		err = writeTarGz(w, prefix, entries, t)
	case strings.HasSuffix(out, ".zip"):
		err = writeZip(w, prefix, entries, t)
	default:
		err = fmt.Errorf("%s: want a .tar.gz or .zip name", out)
	}
	if err == nil {
		err = w.Flush()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, out)
}

func writeTarGz(w io.Writer, prefix string, entries []entry, t time.Time) error {
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression) // Header zero: no name, no time
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	if prefix != "" {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: prefix, Mode: 0o755, ModTime: t, Format: tar.FormatUSTAR}); err != nil {
			return err
		}
	}
	for _, e := range entries {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: e.mode, Size: int64(len(e.data)), ModTime: t, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("%s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func writeZip(w io.Writer, prefix string, entries []entry, t time.Time) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestCompression)
	})
	if prefix != "" {
		h := &zip.FileHeader{Name: prefix, Method: zip.Store, Modified: t}
		h.SetMode(0o755 | os.ModeDir)
		if _, err := zw.CreateHeader(h); err != nil {
			return err
		}
	}
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: t}
		h.SetMode(os.FileMode(e.mode))
		f, err := zw.CreateHeader(h)
		if err != nil {
			return fmt.Errorf("%s: %w", e.name, err)
		}
		if _, err := f.Write(e.data); err != nil {
			return err
		}
	}
	return zw.Close()
}
