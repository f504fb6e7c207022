package term

import (
	"errors"
	"fmt"
	"io"
)

// ErrEscapeQuit is what an Escaper's Read returns after the user typed
// the escape character and "." at the start of a line.
var ErrEscapeQuit = errors.New("session ended with the escape sequence")

// NoEscape is ParseEscapeChar's answer for "none": escapes are off.
const NoEscape = -1

// ParseEscapeChar parses an escape character as ssh's -e does: a single
// character, "^" and a letter (or one of @[\]^_) for a control character,
// or "none". It returns the byte, or NoEscape.
func ParseEscapeChar(s string) (int, error) {
	switch {
	case s == "none":
		return NoEscape, nil
	case len(s) == 1 && s[0] >= 0x20 && s[0] < 0x7f:
		return int(s[0]), nil
	case len(s) == 2 && s[0] == '^':
		c := s[1]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c >= '@' && c <= '_' {
			return int(c & 0x1f), nil
		}
	}
	return 0, fmt.Errorf("escape character %q: want one printable character, ^ and a letter (^] is Ctrl-]), or none", s)
}

// EscapeName shows an escape character as ParseEscapeChar reads it.
func EscapeName(c int) string {
	switch {
	case c == NoEscape:
		return "none"
	case c < 0x20:
		return "^" + string(rune(c+'@'))
	}
	return string(rune(c))
}

// Escaper passes what the user types through, minus ssh-style escape
// sequences: the escape character (Char) right after a newline (or at
// the start) followed by
//
//	.  end the session (Read returns ErrEscapeQuit)
//	?  list the escapes (written to Help; nothing is sent)
//	the escape character again: send it once
//
// and followed by anything else, both are sent. Newline is Enter's "\r"
// (a terminal in raw mode) or "\n".
type Escaper struct {
	R    io.Reader
	Char byte
	Help io.Writer

	lineStart bool // the next byte is at the start of a line
	pending   bool // the escape character was typed at a line start
	started   bool
	quit      bool
	err       error  // from R, returned once out is drained
	in, out   []byte // read from R; filtered, not yet returned
}

// Read implements io.Reader.
func (e *Escaper) Read(p []byte) (int, error) {
	if !e.started {
		e.started, e.lineStart = true, true
	}
	for len(e.out) == 0 {
		if e.quit {
			return 0, ErrEscapeQuit
		}
		if e.err != nil {
			return 0, e.err
		}
		if e.in == nil {
			e.in = make([]byte, 32<<10)
		}
		n, err := e.R.Read(e.in)
		e.out = e.filter(e.out[:0], e.in[:n])
		if err != nil && !e.quit {
			if e.pending {
				e.out = append(e.out, e.Char) // input ended after it: it was text
				e.pending = false
			}
			e.err = err
		}
	}
	n := copy(p, e.out)
	e.out = e.out[n:]
	return n, nil
}

// filter appends to out what in carries once escapes are taken out.
func (e *Escaper) filter(out, in []byte) []byte {
	for _, c := range in {
		if e.quit {
			break
		}
		if e.pending {
			e.pending = false
			switch c {
			case '.':
				e.quit = true
				continue
			case '?':
				if e.Help != nil {
					ch := EscapeName(int(e.Char))
					fmt.Fprintf(e.Help, "\r\nSupported escape sequences:\r\n %s.   - end the session\r\n %s?   - this message\r\n %s%s  - send the escape character by typing it twice\r\n(Escapes are only recognized after a newline.)\r\n", ch, ch, ch, ch)
				}
				e.lineStart = true // as ssh: another escape may follow
				continue
			case e.Char:
				out = append(out, c)
				e.lineStart = false
				continue
			default:
				out = append(out, e.Char)
			}
		} else if c == e.Char && e.lineStart {
			e.pending = true
			continue
		}
		out = append(out, c)
		e.lineStart = c == '\r' || c == '\n'
	}
	return out
}
