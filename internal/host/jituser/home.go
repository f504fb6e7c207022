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

	"github.com/jitssh/jitssh/internal/host/atomicfile"
)

// HomeMode is the mode of a new home directory (Debian's adduser default).
const HomeMode = 0o700

// stagingPrefix starts the name of a home being built: "." keeps it apart
// from every user name, and "~" (never in a name) ends the user name, so
// one user's leftovers are told from another's.
const stagingPrefix = ".jitssh-new-"

func stagingPattern(name string) string { return stagingPrefix + name + "~" }

// createHome makes base/name (which must not exist, or be a directory
// already owned by uid) from skel, everything owned by uid:gid. It is
// crash-safe: the home is built in a staging directory under base that
// only root can enter (".jitssh-new-NAME~RANDOM", mode 0700), handed over
// to uid:gid, and renamed into place last, so a crash at any step leaves
// either no home (and a staging directory, which the next creation for
// that name removes) or the finished one. The caller serializes creations
// (the state lock). It reports whether it created the directory.
func createHome(base, name, skel string, uid, gid int, chown func(string, int, int) error) (bool, error) {
	home := filepath.Join(base, name)
	if err := os.MkdirAll(base, 0o755); err != nil {
		return false, fmt.Errorf("home: %w", err)
	}
	if err := removeStaging(base, name); err != nil {
		return false, fmt.Errorf("home: remove what a crashed creation left: %w", err)
	}
	if fi, err := os.Lstat(home); err == nil {
		st, _ := fi.Sys().(*syscall.Stat_t)
		if fi.IsDir() && st != nil && int(st.Uid) == uid {
			return false, nil // left by an earlier life of the same user
		}
		return false, fmt.Errorf("home: %s already exists and does not belong to uid %d; not reusing it", home, uid)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("home: %w", err)
	}
	staging, err := os.MkdirTemp(base, stagingPattern(name))
	if err != nil {
		return false, fmt.Errorf("home: %w", err)
	}
	crashPoint("home-staging-made")
	fail := func(err error) (bool, error) {
		os.RemoveAll(staging)
		return false, fmt.Errorf("home: %w", err)
	}
	if skel != "" {
		if err := copyTree(skel, staging); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fail(err)
		}
	}
	crashPoint("home-skel-copied")
	// Hand over, deepest first, the home directory itself last.
	var paths []string
	err = filepath.WalkDir(staging, func(p string, d fs.DirEntry, err error) error {
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
	if err := os.Chmod(staging, HomeMode); err != nil {
		return fail(err)
	}
	crashPoint("home-chowned")
	if err := os.Rename(staging, home); err != nil {
		return fail(err)
	}
	crashPoint("home-renamed")
	if d, err := os.Open(base); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return true, nil
}

// removeStaging deletes staging directories a crashed creation of name
// left under base.
func removeStaging(base, name string) error {
	entries, err := os.ReadDir(base)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if rest, ok := strings.CutPrefix(e.Name(), stagingPattern(name)); ok && rest != "" && !strings.ContainsAny(rest, "/~") {
			if err := os.RemoveAll(filepath.Join(base, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// crashPoint makes the process kill itself at a named step: the crash-safety
// tests run the real service once per step (atomicfile.CrashPoint).
func crashPoint(step string) { atomicfile.CrashPoint(step) }

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
