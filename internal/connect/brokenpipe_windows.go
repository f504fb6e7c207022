//go:build windows

package connect

import (
	"errors"

	"golang.org/x/sys/windows"
)

// isBrokenPipe reports whether err is a write to a pipe whose reader is
// gone (ssh exited first): ERROR_NO_DATA ("the pipe is being closed") or
// ERROR_BROKEN_PIPE.
func isBrokenPipe(err error) bool {
	return errors.Is(err, windows.ERROR_NO_DATA) || errors.Is(err, windows.ERROR_BROKEN_PIPE)
}
