// Package privfile writes files that hold secrets or security decisions
// (private keys, host-key pins, ssh_config) the way OpenSSH expects them:
// atomically (temporary file in the same directory, fsync, rename), with a
// chosen mode, never through a symlink, and only into directories that
// nobody but the owner can write to.
//
// Windows has no mode bits: there a private file (a mode without group
// and other bits) is created with a security descriptor that lets only
// the current user access it, and "private" is checked on the DACL, by
// Win32-OpenSSH's rule (acl.go, access_windows.go).
package privfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrUnsafe is wrapped by every error that refuses a path for safety reasons
// (a symlink, a directory others can write to or owned by someone else).
var ErrUnsafe = errors.New("unsafe path")

// CheckDir verifies that dir is a real directory (not a symlink), owned by
// the current effective user, and not writable by group or others (on
// Windows: owned by the user, SYSTEM or the Administrators, and writable
// by nobody else; see acl.go).
func CheckDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("check directory %s: %w", dir, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("directory %s is a symlink: %w", dir, ErrUnsafe)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory: %w", dir, ErrUnsafe)
	}
	return checkDirAccess(dir, fi)
}

// MkdirPrivate creates dir (and missing parents) with mode 0700 and then
// checks it with CheckDir. An existing directory is checked, not changed.
func MkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	return CheckDir(dir)
}

// Options tune WriteFile.
type Options struct {
	// Perm is the mode of the written file. Zero means 0600.
	Perm fs.FileMode
	// AllowUnsafeDir skips CheckDir on the parent directory. Only for files
	// whose directory the user manages themselves (~/.ssh/config's
	// directory is still checked by OpenSSH itself).
	AllowUnsafeDir bool
}

// WriteFile atomically replaces path with data. It refuses to write when
// path is a symlink or anything but a regular file, and (unless
// AllowUnsafeDir) when the parent directory fails CheckDir. Either the old
// contents or the new ones are visible at path at any moment; on error the
// old file is left untouched.
func WriteFile(path string, data []byte, opts Options) error {
	perm := opts.Perm
	if perm == 0 {
		perm = 0o600
	}
	dir := filepath.Dir(path)
	if !opts.AllowUnsafeDir {
		if err := CheckDir(dir); err != nil {
			return err
		}
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("refusing to replace symlink %s: %w", path, ErrUnsafe)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("refusing to replace %s: not a regular file: %w", path, ErrUnsafe)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("stat %s: %w", path, err)
	}

	create := os.CreateTemp
	if perm&0o077 == 0 {
		create = CreateTemp // private: on Windows, a DACL for the user alone
	}
	tmp, err := create(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	// CreateTemp uses 0600; set the wanted mode explicitly (umask does not
	// apply to Chmod).
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("chmod %s: %w", tmpName, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmpName, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmpName, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmpName, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	ok = true
	syncDir(dir)
	return nil
}

// syncDir makes a rename durable; failure is not an error (some file
// systems do not support fsync on directories).
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	d.Close()
}
