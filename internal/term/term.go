// Package term owns the client's local terminal: whether a file is a
// terminal, raw mode with a guaranteed restore, the window size that
// `jitssh shell` sends to the remote pty and its changes, and (on Windows)
// the console's virtual-terminal mode, so escape sequences are
// interpreted rather than printed.
//
// Raw mode and the size come from golang.org/x/term, on every platform.
// What differs per platform lives in one small file each: resize_unix.go
// (SIGWINCH) and resize_windows.go (the console's size, polled by
// poll.go's pollResize, which has no build tag so that it is tested on
// Linux), vt_windows.go (SetConsoleMode) and vt_other.go (nothing to do).
// A file descriptor here is what (*os.File).Fd returns: on Windows, the
// console handle.
package term

import (
	"fmt"

	xterm "golang.org/x/term"
)

// IsTerminal reports whether fd is a terminal (on Windows, a console).
func IsTerminal(fd int) bool {
	return xterm.IsTerminal(fd)
}

// MakeRaw puts the terminal fd in raw mode and returns the function that
// restores its previous state. On unix that is cfmakeraw(3): no echo, no
// line editing, no signals from keys, no output processing. On Windows fd
// is the console's input: no echo, no line editing, Ctrl-C as a key, and
// keys arriving as VT sequences (ENABLE_VIRTUAL_TERMINAL_INPUT); the
// output side is EnableVT's.
func MakeRaw(fd int) (restore func() error, err error) {
	old, err := xterm.MakeRaw(fd)
	if err != nil {
		return nil, fmt.Errorf("set terminal to raw mode: %w", err)
	}
	return func() error {
		if err := xterm.Restore(fd, old); err != nil {
			return fmt.Errorf("restore terminal settings: %w", err)
		}
		return nil
	}, nil
}

// Size returns the terminal's width and height in characters. On Windows
// fd must be the console's output (stdout or stderr): the input handle
// has no size.
func Size(fd int) (cols, rows int, err error) {
	cols, rows, err = xterm.GetSize(fd)
	if err != nil {
		return 0, 0, fmt.Errorf("read terminal size: %w", err)
	}
	return cols, rows, nil
}

// WatchSize calls changed with the terminal's size now and whenever it
// changes, until stop is called; stop waits for a call in progress. fd is
// as for Size. Unix learns of a change from SIGWINCH; a Windows console
// sends no signal, so its size is polled (every PollInterval).
func WatchSize(fd int, changed func(cols, rows int)) (stop func()) {
	send := func() {
		if c, r, err := Size(fd); err == nil {
			changed(c, r)
		}
	}
	send()
	return watchResize(fd, send)
}
