//go:build unix

package connect

import (
	"errors"
	"syscall"
)

// isBrokenPipe reports whether err is a write to a pipe whose reader is
// gone (ssh exited first): EPIPE.
func isBrokenPipe(err error) bool {
	return errors.Is(err, syscall.EPIPE)
}
