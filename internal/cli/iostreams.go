package cli

import (
	"io"
	"os"

	"github.com/jitssh/jitssh/internal/term"
)

// IOStreams are the streams a command uses, and how it tells whether one
// is a terminal; tests substitute buffers (never a terminal), or a pipe
// and an IsTerminal that says yes.
type IOStreams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
	// IsTerminal reports whether the file descriptor fd is a terminal;
	// nil means term.IsTerminal. Only *os.File streams have one.
	IsTerminal func(fd int) bool
}

// isTerminal reports whether fd is a terminal.
func (s IOStreams) isTerminal(fd int) bool {
	if s.IsTerminal != nil {
		return s.IsTerminal(fd)
	}
	return term.IsTerminal(fd)
}

// terminal returns stream as a file, and whether it is a terminal.
func (s IOStreams) terminal(stream any) (*os.File, bool) {
	f, ok := stream.(*os.File)
	if !ok || f == nil {
		return nil, false
	}
	return f, s.isTerminal(int(f.Fd()))
}
