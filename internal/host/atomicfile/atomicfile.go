// Package atomicfile owns crash-safe file replacement on the instance
// side (the just-in-time user state, the block list): a temporary file
// in the same directory, fsync, rename, fsync of the directory; the
// removal of temporary files a killed writer left; and the test hook that
// kills a writer at a named step, so the crash-safety tests can run the
// real binary once per step.
package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

func tempPrefix(path string) string { return "." + filepath.Base(path) + ".tmp-" }

// removeTemps deletes temporary files a crashed writer left (the caller
// holds the lock, so no live writer has one open).
func removeTemps(dir, prefix string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) && e.Type().IsRegular() {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// CrashEnv names the test hook that makes a writer kill itself with
// SIGKILL at a named step (crash-safety tests only; see CrashPoint).
const CrashEnv = "JITSSH_TEST_CRASH_AT"

// CrashPoint kills the process with SIGKILL when CrashEnv names step:
// the crash-safety tests run the real binary once per step. It does
// nothing otherwise.
func CrashPoint(step string) {
	if v := os.Getenv(CrashEnv); v != "" && v == step {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}

// Write replaces path with data: a temporary file in the same
// directory (named after path, so RemoveTemps-style cleanup finds it),
// fsync, rename, fsync of the directory. A crash leaves the old file or
// the new one, and at most a temporary file the next writer removes.
func Write(path string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, tempPrefix(path)+"*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	CrashPoint("write-temp-created")
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	CrashPoint("write-temp-synced")
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	CrashPoint("write-renamed")
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// RemoveTemps deletes the temporary files Write left for path after
// a crash. Call it only while holding the lock that serializes writers.
func RemoveTemps(path string) { removeTemps(filepath.Dir(path), tempPrefix(path)) }
