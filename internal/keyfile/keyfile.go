// Package keyfile is the ephemeral key file's lifecycle on the client: a
// key file (ssh's IdentityFile, <keydir>/USER@HOST) and its companions,
// locked shared by every proxy using it (Take, Use.Load, Use.Release),
// its push record so that connections within a push window push once
// (PushOnce, Window, Margin), removed by the last proxy out, or by a
// reaper when the window closes (Reap, ReaperRunning), or swept by the
// next proxy after a kill (Sweep). It knows nothing of AWS: what a push
// is, the caller says.
package keyfile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/jitssh/jitssh/internal/filelock"
	"github.com/jitssh/jitssh/internal/openssh/sshkeys"
)

// The ephemeral key file's lifecycle. A key file K (ssh's IdentityFile,
// <keydir>/USER@HOST) comes with files of its own, all removed together:
//
//	K                       the private key (absent for the user's own key: K is then USER@HOST.own)
//	K.lock                  held shared by every proxy using K, exclusively by whoever removes the set
//	K.pushed, K.push.lock   the push record (push.go), also locked by the reaper
//	                        waiting for K's push window to close; and its lock
//	K.via-ID.pushed, …      the same for the jump host ID
//
// A proxy takes K.lock shared before it reads or writes K and releases it
// when it ends. The last one out (its exclusive lock succeeds) removes the
// set if K's push window has closed; while it is open the set stays, so
// that the next ssh to the same USER@HOST within the window (scp bursts)
// reuses the key without a push, and the proxy hands it to a reaper (see
// Use.Release, Reap): a process that waits for the window to close and
// then removes the set unless it is in use again. A set left by a process
// that was killed is removed by the next proxy (Sweep).
//
// One race is left, as with any removal: ssh reads a key file present
// when it starts before its proxy can take the lock, so a removal falling
// between the two (at the very end of a window) makes that one login
// fail. Proxies take the lock first thing to keep that gap to
// milliseconds.
const (
	keyLockSuffix = ".lock"
	pushLockSuffx = ".push.lock"
)

// viaFileSuffix matches what ViaRecord adds to K: ".via-ID.pushed" and
// ".via-ID.push.lock".
var viaFileSuffix = regexp.MustCompile(`^\.via-(?:i|mi)-[0-9a-f]+(?:\.pushed|\.push\.lock)$`)

// Use is a proxy's shared hold on a key file.
type Use struct {
	path string
	lock *os.File
}

// Take takes the shared lock on the key file path (creating the key
// directory if need be): from then on nobody removes the key file set
// until the Use is released.
func Take(path string) (*Use, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create key directory: %w", err)
	}
	f, err := openLocked(path+keyLockSuffix, lockShared, true)
	if err != nil {
		return nil, fmt.Errorf("lock key file: %w", err)
	}
	return &Use{path: path, lock: f}, nil
}

// Load returns the key at the Use's path if one is there (ssh may already
// have read its public half), or generates and writes a new one.
func (u *Use) Load() (*sshkeys.Key, error) {
	k, _, err := sshkeys.LoadOrCreate(u.path, "jitssh-ephemeral")
	if err != nil {
		return nil, fmt.Errorf("ephemeral key %s: %w", u.path, err)
	}
	return k, nil
}

// Release ends this proxy's use of the key file. If it was the last user
// and the push window is closed, the set is removed now; if the window is
// open, keep (if not nil) is told until when it is, and the set stays;
// with keep nil it is removed now all the same.
func (u *Use) Release(keep func(path string, until time.Time)) {
	defer u.lock.Close()
	if filelock.Lock(u.lock, true, false) != nil {
		return // another proxy uses it: the last one decides
	}
	if r, open := readRecord(u.path, time.Now()); open && keep != nil {
		keep(u.path, r.Expires)
		return
	}
	removeKeySet(u.path)
}

// How openLocked locks.
type lockHow int

const (
	lockShared    lockHow = 0 // a shared lock, waited for
	lockExclusive lockHow = 1 // an exclusive lock, waited for
	lockNow       lockHow = 2 // with either: filelock.ErrLocked at once rather than waiting
)

// openLocked opens (with create, creating) the lock file path and locks
// it as how says. A lock file is removed by whoever holds it exclusively,
// so after locking it is checked to still be the file at path; if not, it
// is opened again.
func openLocked(path string, how lockHow, create bool) (*os.File, error) {
	for {
		f, err := filelock.Open(path, create)
		if err != nil {
			return nil, err
		}
		if err := filelock.Lock(f, how&lockExclusive != 0, how&lockNow == 0); err != nil {
			f.Close()
			return nil, err
		}
		a, err1 := f.Stat()
		b, err2 := os.Lstat(path)
		if err1 == nil && err2 == nil && os.SameFile(a, b) {
			return f, nil
		}
		f.Close()
		if err2 != nil && !errors.Is(err2, fs.ErrNotExist) {
			return nil, err2
		}
		if !create && errors.Is(err2, fs.ErrNotExist) {
			return nil, err2
		}
	}
}

// removeKeySet removes the key file path and its companions; the caller
// holds path's lock exclusively. The lock file goes last.
func removeKeySet(path string) {
	os.Remove(path)
	os.Remove(path + recordSuffix)
	os.Remove(path + pushLockSuffx)
	dir, base := filepath.Split(path)
	if ents, err := os.ReadDir(filepath.Clean(dir)); err == nil {
		for _, e := range ents {
			if rest, ok := strings.CutPrefix(e.Name(), base); ok && viaFileSuffix.MatchString(rest) {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
	os.Remove(path + keyLockSuffix)
}

// Reap is the reaper of the key file path: it waits for the push
// window to close and removes the key set unless a proxy is using it
// then (that proxy, the last one out, decides again). It holds a lock on
// the push record while it waits, so that there is one reaper per key
// file and push: if another holds it, Reap returns at once. (It never
// creates a file: a key directory being removed stays removable.) It
// returns when the set is gone or ctx ends.
func Reap(ctx context.Context, path string) error {
	for {
		rec, err := lockReap(path)
		switch {
		case errors.Is(err, filelock.ErrLocked):
			return nil // another reaper has it
		case errors.Is(err, fs.ErrNotExist):
			rec = nil // no record: nothing to wait for
		case err != nil:
			return err
		}
		err = reapLoop(ctx, path)
		if rec != nil {
			rec.Close()
		}
		if err != nil {
			return err
		}
		// A proxy may have made the key again while this reaper was
		// removing it, and seen this reaper still there: look again.
		if !keySetExists(path) {
			return nil
		}
	}
}

// lockReap takes the reaper's lock, on the push record. A moment's wait
// lets a ReaperRunning check that holds it in passing finish.
func lockReap(path string) (*os.File, error) {
	for i := 0; ; i++ {
		f, err := openLocked(path+recordSuffix, lockExclusive|lockNow, false)
		if !errors.Is(err, filelock.ErrLocked) || i == 5 {
			return f, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func reapLoop(ctx context.Context, path string) error {
	for {
		if r, ok := readRecordAny(path); ok {
			if err := sleepUntil(ctx, r.Expires); err != nil {
				return err
			}
		}
		lock, err := openLocked(path+keyLockSuffix, lockExclusive, false)
		if errors.Is(err, fs.ErrNotExist) {
			if keySetExists(path) {
				// a set without its lock (an older jitssh): take it
				if lock, err = openLocked(path+keyLockSuffix, lockExclusive, true); err != nil {
					return err
				}
			} else {
				return nil
			}
		} else if err != nil {
			return err
		}
		if r, ok := readRecordAny(path); ok && time.Now().Before(r.Expires) {
			lock.Close() // pushed again: wait for the new window
			continue
		}
		removeKeySet(path)
		lock.Close()
		return nil
	}
}

// readPushRecordAny returns the push record stored with the key file,
// open or not.
func readRecordAny(keyFile string) (Record, bool) {
	r, _ := readRecord(keyFile, time.Time{})
	return r, !r.Expires.IsZero()
}

func keySetExists(path string) bool {
	for _, p := range []string{path, path + recordSuffix, path + keyLockSuffix} {
		if _, err := os.Lstat(p); err == nil {
			return true
		}
	}
	return false
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ReaperRunning reports whether a reaper waits for the key file path.
func ReaperRunning(path string) bool {
	f, err := openLocked(path+recordSuffix, lockExclusive|lockNow, false)
	if err != nil {
		return errors.Is(err, filelock.ErrLocked)
	}
	f.Close()
	return false
}

// Sweep removes what killed processes left in the key directory dir:
// key sets nobody uses whose push window has closed (one still open goes
// to keep if no reaper waits for it), half-written key files
// (".NAME.new*") over a minute old, and the public halves of agent keys
// (".agent.pub") of a `jitssh ssh` killed over an hour ago.
func Sweep(dir string, keep func(path string, until time.Time)) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") && strings.Contains(name, ".new") {
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Minute {
				os.Remove(filepath.Join(dir, name))
			}
			continue
		}
		if strings.HasSuffix(name, ".agent.pub") {
			// `jitssh ssh` removes its agent key's public half when ssh
			// exits; one killed first leaves it. ssh reads it at start,
			// and the agent forgets the key within MaxAgentLifetime.
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > sshkeys.MaxAgentLifetime+time.Minute {
				os.Remove(filepath.Join(dir, name))
			}
			continue
		}
		base, ok := strings.CutSuffix(name, keyLockSuffix)
		if !ok || strings.HasSuffix(name, pushLockSuffx) {
			continue
		}
		path := filepath.Join(dir, base)
		f, err := openLocked(path+keyLockSuffix, lockExclusive|lockNow, false)
		if err != nil {
			continue // in use, or gone
		}
		if r, ok := readRecordAny(path); ok && time.Now().Before(r.Expires) {
			// Still valid: its reaper (or, if it has none, a new one)
			// removes it when the window closes. Removing it earlier
			// would only make the race above likelier.
			if keep != nil && !ReaperRunning(path) {
				keep(path, r.Expires)
			}
			f.Close()
			continue
		}
		removeKeySet(path)
		f.Close()
	}
}

// ViaRecord is where the push to the jump host viaID is recorded, next to
// the key file ("" without a key file).
func ViaRecord(keyFile, viaID string) string {
	if keyFile == "" {
		return ""
	}
	return keyFile + ".via-" + viaID
}
