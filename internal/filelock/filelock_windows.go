//go:build windows

package filelock

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/windows"
)

// Open opens path read-write for locking, creating it if create, shared
// for reading, writing and deletion (so that the holder of an exclusive
// lock can remove it while others have it open). A symbolic link or
// junction at path is opened as itself, not followed.
func Open(path string, create bool) (*os.File, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	disp := uint32(windows.OPEN_EXISTING)
	if create {
		disp = windows.OPEN_ALWAYS
	}
	h, err := windows.CreateFile(p, windows.GENERIC_READ|windows.GENERIC_WRITE,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		nil, disp, windows.FILE_ATTRIBUTE_NORMAL|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}

// Lock locks f, shared or exclusive; unless wait, a conflicting lock held
// elsewhere makes it return ErrLocked at once. The byte at LockOffset is
// locked.
func Lock(f *os.File, exclusive, wait bool) error {
	var flags uint32
	if exclusive {
		flags |= windows.LOCKFILE_EXCLUSIVE_LOCK
	}
	if !wait {
		flags |= windows.LOCKFILE_FAIL_IMMEDIATELY
	}
	ol := lockRange()
	err := windows.LockFileEx(windows.Handle(f.Fd()), flags, 0, 1, 0, &ol)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, windows.ERROR_LOCK_VIOLATION), errors.Is(err, windows.ERROR_IO_PENDING):
		return fmt.Errorf("lock %s: %w", f.Name(), ErrLocked)
	default:
		return fmt.Errorf("lock %s: %w", f.Name(), err)
	}
}

// Unlock releases f's lock (closing f does too).
func Unlock(f *os.File) error {
	ol := lockRange()
	if err := windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, &ol); err != nil {
		return fmt.Errorf("unlock %s: %w", f.Name(), err)
	}
	return nil
}

func lockRange() windows.Overlapped {
	return windows.Overlapped{Offset: uint32(LockOffset & 0xffffffff), OffsetHigh: uint32(LockOffset >> 32)}
}
