package sshd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// SafeBinaryDir is where InstallSafeBinary puts binaries.
const SafeBinaryDir = "/run/jitssh-sandbox"

// InstallSafeBinary copies the executable src into a fresh directory under
// SafeBinaryDir that is root-owned and mode 0755, as sshd requires of an
// AuthorizedKeysCommand and every directory above it (so a binary under
// /tmp or a build directory cannot be used in place). It returns the new
// path and a cleanup function that removes the directory. Root only.
func InstallSafeBinary(src string) (string, func(), error) {
	if os.Geteuid() != 0 {
		return "", nil, errors.New("install safe binary: needs root (sshd wants a root-owned AuthorizedKeysCommand)")
	}
	in, err := os.Open(src)
	if err != nil {
		return "", nil, fmt.Errorf("install safe binary: %w", err)
	}
	defer in.Close()
	if err := os.MkdirAll(SafeBinaryDir, 0o755); err != nil {
		return "", nil, fmt.Errorf("install safe binary: %w", err)
	}
	dir, err := os.MkdirTemp(SafeBinaryDir, "bin-")
	if err != nil {
		return "", nil, fmt.Errorf("install safe binary: %w", err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	fail := func(err error) (string, func(), error) {
		cleanup()
		return "", nil, fmt.Errorf("install safe binary %s: %w", src, err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return fail(err)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return fail(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fail(err)
	}
	if err := out.Close(); err != nil {
		return fail(err)
	}
	if err := os.Chmod(dst, 0o755); err != nil {
		return fail(err)
	}
	if err := checkRootPath(dst); err != nil {
		return fail(err)
	}
	return dst, cleanup, nil
}

// checkRootPath applies sshd's rule for AuthorizedKeysCommand: the file
// and each directory up to / are owned by root and not writable by group
// or others. It returns a clear error naming the first offender.
func checkRootPath(path string) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%q is not an absolute path", path)
	}
	for p := filepath.Clean(path); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no ownership information", p)
		}
		if st.Uid != 0 {
			return fmt.Errorf("%s is owned by uid %d; sshd requires root ownership of the AuthorizedKeysCommand and its directories", p, st.Uid)
		}
		if fi.Mode().Perm()&0o022 != 0 {
			return fmt.Errorf("%s is writable by group or others (mode %04o); sshd refuses such an AuthorizedKeysCommand path", p, fi.Mode().Perm())
		}
		if p == "/" {
			return nil
		}
	}
}
