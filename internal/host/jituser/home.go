package jituser

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// HomeMode is the mode of a new home directory (Debian's adduser default).
const HomeMode = 0o700

// createHome makes home (which must not exist, or be an empty directory
// or one already owned by uid) and fills it from skel, everything owned by
// uid:gid. It works as root in a directory nobody else can enter until
// the final chown. It reports whether it created the directory.
func createHome(home, skel string, uid, gid int, chown func(string, int, int) error) (bool, error) {
	if err := os.MkdirAll(filepath.Dir(home), 0o755); err != nil {
		return false, fmt.Errorf("home: %w", err)
	}
	err := os.Mkdir(home, 0o700)
	if errors.Is(err, fs.ErrExist) {
		fi, lerr := os.Lstat(home)
		if lerr != nil {
			return false, fmt.Errorf("home: %w", lerr)
		}
		st, _ := fi.Sys().(*syscall.Stat_t)
		if fi.IsDir() && st != nil && int(st.Uid) == uid {
			return false, nil // left by an earlier life of the same user
		}
		return false, fmt.Errorf("home: %s already exists and does not belong to uid %d; not reusing it", home, uid)
	}
	if err != nil {
		return false, fmt.Errorf("home: %w", err)
	}
	fail := func(err error) (bool, error) {
		os.RemoveAll(home)
		return false, fmt.Errorf("home: %w", err)
	}
	if skel != "" {
		if err := copyTree(skel, home); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fail(err)
		}
	}
	// Hand over, deepest first, the home directory itself last.
	var paths []string
	err = filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		return fail(err)
	}
	for i := len(paths) - 1; i >= 0; i-- {
		if err := chown(paths[i], uid, gid); err != nil {
			return fail(err)
		}
	}
	if err := os.Chmod(home, HomeMode); err != nil {
		return fail(err)
	}
	return true, nil
}

// copyTree copies directories, regular files and symlinks from src into
// the existing directory dst, keeping permission bits (never set-id bits).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || rel == "." {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		perm := info.Mode().Perm()
		switch {
		case d.IsDir():
			return os.Mkdir(target, perm)
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case info.Mode().IsRegular():
			return copyFile(p, target, perm)
		}
		return nil // sockets, devices, fifos: skipped
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// removeHome deletes a home directory created for uid, refusing anything
// that is not a real directory owned by uid directly under base.
func removeHome(base, home string, uid uint32) error {
	if filepath.Dir(home) != filepath.Clean(base) || strings.Contains(filepath.Base(home), "..") {
		return fmt.Errorf("home %s is not directly under %s; remove it by hand", home, base)
	}
	fi, err := os.Lstat(home)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || st == nil || st.Uid != uid {
		return fmt.Errorf("home %s is not a directory owned by uid %s; remove it by hand", home, strconv.FormatUint(uint64(uid), 10))
	}
	return os.RemoveAll(home)
}
