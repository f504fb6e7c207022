//go:build unix

package privfile

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkDirAccess refuses a directory that group or others may write to or
// that another user owns.
func checkDirAccess(dir string, fi fs.FileInfo) error {
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("directory %s is writable by group or others (mode %04o): %w", dir, fi.Mode().Perm(), ErrUnsafe)
	}
	return checkOwner(dir, fi)
}

// CheckPrivate refuses a file (fi is its Lstat) that group or others may
// access in any way: OpenSSH's rule for a private key.
func CheckPrivate(path string, fi fs.FileInfo) error {
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s is accessible by others (mode %04o): %w", path, fi.Mode().Perm(), ErrUnsafe)
	}
	return nil
}

// CreateTemp creates a new file in dir, as os.CreateTemp does, that only
// its user may access (mode 0600).
func CreateTemp(dir, pattern string) (*os.File, error) {
	return os.CreateTemp(dir, pattern) // 0600 by definition
}

func checkOwner(path string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("check owner of %s: no ownership information: %w", path, ErrUnsafe)
	}
	if euid := os.Geteuid(); int(st.Uid) != euid {
		return fmt.Errorf("%s is owned by uid %d, not by the current user (uid %d): %w", path, st.Uid, euid, ErrUnsafe)
	}
	return nil
}
