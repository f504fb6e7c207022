package awscreds

import (
	"errors"
	"io"
	"os"
	"time"
)

// ErrBackground is a terminal this process may not read: it runs in a
// background process group of it (reading would stop the process until
// someone brings it to the foreground).
var ErrBackground = errors.New("jitssh runs in the background of its terminal")

// OpenTerminal opens the user's terminal for a question, apart from
// stdin and stdout (under ProxyCommand they are ssh's connection): on
// unix the controlling terminal (/dev/tty), on Windows the console
// (CONIN$ to read, CONOUT$ to write). The terminal takes a read
// deadline (SetReadDeadline) on every platform.
func OpenTerminal() (Terminal, error) { return openTerminal() }

// Terminal is an open terminal: reads, writes and a read deadline.
type Terminal interface {
	io.ReadWriteCloser
	SetReadDeadline(t time.Time) error
}

// deadlineReader gives a reader that takes no deadline of its own (a
// Windows console handle) one: a read runs in a goroutine of its own and
// a read that passes the deadline returns os.ErrDeadlineExceeded, the
// pending read's bytes kept for the next Read.
type deadlineReader struct {
	r        io.Reader
	deadline time.Time
	pending  chan readResult
}

type readResult struct {
	b   []byte
	err error
}

func (d *deadlineReader) SetReadDeadline(t time.Time) error {
	d.deadline = t
	return nil
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if d.pending == nil {
		ch, buf := make(chan readResult, 1), make([]byte, len(p))
		go func() {
			n, err := d.r.Read(buf)
			ch <- readResult{buf[:n], err}
		}()
		d.pending = ch
	}
	var expired <-chan time.Time
	if !d.deadline.IsZero() {
		t := time.NewTimer(time.Until(d.deadline))
		defer t.Stop()
		expired = t.C
	}
	select {
	case r := <-d.pending:
		d.pending = nil
		return copy(p, r.b), r.err
	case <-expired:
		return 0, os.ErrDeadlineExceeded
	}
}
