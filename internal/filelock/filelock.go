// Package filelock holds advisory locks on whole files, shared or
// exclusive, that last until the file is unlocked or closed: flock(2) on
// unix (filelock_unix.go), LockFileEx on Windows (filelock_windows.go).
//
// The lock files of jitssh's key directory and known_hosts are removed by
// whoever holds them exclusively, while others may have them open: Open
// therefore never follows a symbolic link on unix, and on Windows opens
// with FILE_SHARE_DELETE, so that the holder's os.Remove succeeds there
// too. Windows locks a byte range, and a locked range cannot be read by
// others: the one byte locked lies far past any content (LockOffset), so
// a locked file's content stays readable, as with flock.
package filelock

import "errors"

// ErrLocked is what a non-waiting Lock returns when another holder has a
// lock that conflicts.
var ErrLocked = errors.New("file is locked by another process")

// LockOffset is where the one byte that Windows locks lies: far past the
// end of any file that is locked.
const LockOffset = 1 << 62
