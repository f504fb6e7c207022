//go:build unix

package awscreds

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// What differs on Windows (platform_windows.go), in one place.

// TTYPath is the controlling terminal.
const TTYPath = "/dev/tty"

// openCacheFlags open a cache entry without following a symlink or
// blocking on a FIFO.
const openCacheFlags = syscall.O_NOFOLLOW | syscall.O_NONBLOCK

// ownerUID returns the uid that owns st's file, if the system says.
func ownerUID(st os.FileInfo) (int, bool) {
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(s.Uid), true
}

// othersMayWrite reports whether group or others may write to st's file.
func othersMayWrite(st os.FileInfo) bool { return st.Mode().Perm()&0o022 != 0 }

// background reports whether this process is in a background process
// group of tty, its controlling terminal: reading it would stop the
// process (SIGTTIN) until someone brings it to the foreground. A terminal
// that is not the controlling one (tests' ptys) is never background.
func background(tty *os.File) bool {
	// not tty.Fd(): it would make the descriptor blocking, and the read
	// deadline would never interrupt the prompt
	rc, err := tty.SyscallConn()
	if err != nil {
		return false
	}
	bg := false
	_ = rc.Control(func(fd uintptr) {
		fg, err := unix.IoctlGetInt(int(fd), unix.TIOCGPGRP)
		bg = err == nil && fg != unix.Getpgrp()
	})
	return bg
}
