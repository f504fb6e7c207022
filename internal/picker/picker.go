// Package picker is a small interactive chooser for a terminal: the user
// types to narrow a table of rows, moves with the arrow keys or
// Ctrl-N/Ctrl-P, and picks with Enter; Esc, Ctrl-C and Ctrl-D cancel.
//
// Typed text is matched against each row's keys (Options.Keys: for an
// instance its name, then its id, then its addresses), never across them,
// and the matching rows are ranked, best first, with the cursor on the
// best: a key equal to the text, then one starting with it, then one
// containing it, then (the first key only) one holding its characters in
// order; at the same grade an earlier key wins. Typing "web-2" thus puts
// web-2 first and leaves web-1 out, and text that matches nothing leaves
// no row, so Enter picks nothing.
//
// Run does the work over any reader and writer (the tests feed it key
// bytes); Terminal puts a terminal into raw mode around Run.
package picker

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/jitssh/jitssh/internal/term"
	"github.com/jitssh/jitssh/internal/textwidth"
)

// ErrCancelled is returned when the user cancels the choice.
var ErrCancelled = errors.New("no instance chosen")

// Options describe what to show.
type Options struct {
	Title  string     // a line above the table
	Header []string   // column headings
	Rows   [][]string // the choices; Run returns an index into Rows
	// Keys are what typed text is matched against, per row, most
	// important first (see the package doc); nil means each row's cells.
	Keys [][]string
	// Height is how many rows are shown at once (default 10).
	Height int
}

type state struct {
	o        Options
	lines    []string // formatted rows
	header   string
	query    []rune
	matches  []int
	cursor   int
	offset   int
	rendered int // lines drawn last time
}

// Run shows the chooser on w, reads keys from r and returns the index of
// the chosen row. It expects r to deliver raw key bytes (no line
// buffering, no echo).
func Run(r io.Reader, w io.Writer, o Options) (int, error) {
	if len(o.Rows) == 0 {
		return -1, errors.New("picker: nothing to choose from")
	}
	if o.Height <= 0 {
		o.Height = 10
	}
	s := &state{o: o}
	s.format()
	s.filter()
	s.draw(w)
	buf := make([]byte, 64)
	for {
		n, err := r.Read(buf)
		if n == 0 && err != nil {
			s.clear(w)
			if errors.Is(err, io.EOF) {
				return -1, ErrCancelled
			}
			return -1, fmt.Errorf("picker: read keys: %w", err)
		}
		done, idx, cerr := s.keys(buf[:n])
		if done {
			s.clear(w)
			return idx, cerr
		}
		s.draw(w)
	}
}

// keys applies one read's worth of key bytes.
func (s *state) keys(b []byte) (done bool, idx int, err error) {
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '\r' || c == '\n':
			if len(s.matches) == 0 {
				continue
			}
			return true, s.matches[s.cursor], nil
		case c == 3 || c == 4: // Ctrl-C, Ctrl-D
			return true, -1, ErrCancelled
		case c == 0x1b:
			if i+2 < len(b) && (b[i+1] == '[' || b[i+1] == 'O') {
				switch b[i+2] {
				case 'A':
					s.move(-1)
				case 'B':
					s.move(1)
				}
				i += 2
				continue
			}
			return true, -1, ErrCancelled // a lone Esc
		case c == 14: // Ctrl-N
			s.move(1)
		case c == 16: // Ctrl-P
			s.move(-1)
		case c == 0x7f || c == 8: // Backspace
			if len(s.query) > 0 {
				s.query = s.query[:len(s.query)-1]
				s.filter()
			}
		case c == 21: // Ctrl-U
			s.query = s.query[:0]
			s.filter()
		case c >= 0x20 && c < 0x7f:
			s.query = append(s.query, rune(c))
			s.filter()
		case c >= 0xc0: // a character typed in UTF-8 (a non-ASCII name)
			r, n := utf8.DecodeRune(b[i:])
			if r != utf8.RuneError && sanitize(string(r)) != "" {
				s.query = append(s.query, r)
				s.filter()
			}
			i += n - 1
		}
	}
	return false, -1, nil
}

func (s *state) move(d int) {
	if len(s.matches) == 0 {
		return
	}
	s.cursor = (s.cursor + d + len(s.matches)) % len(s.matches)
	if s.cursor < s.offset {
		s.offset = s.cursor
	}
	if s.cursor >= s.offset+s.o.Height {
		s.offset = s.cursor - s.o.Height + 1
	}
}

func (s *state) format() {
	width := make([]int, len(s.o.Header))
	all := append([][]string{s.o.Header}, s.o.Rows...)
	for _, r := range all {
		for i, c := range r {
			if i >= len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], textwidth.Width(sanitize(c)))
		}
	}
	line := func(r []string) string {
		var b strings.Builder
		for i, c := range r {
			b.WriteString(textwidth.Pad(sanitize(c), width[i]))
			b.WriteString("  ")
		}
		return strings.TrimRight(b.String(), " ")
	}
	s.header = line(s.o.Header)
	for _, r := range s.o.Rows {
		s.lines = append(s.lines, line(r))
	}
}

// sanitize drops control characters, so that a tag value cannot move the
// cursor or change the terminal.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
}

// Grades of a match, best first.
const (
	gradeExact = iota
	gradePrefix
	gradeContains
	gradeInOrder
	gradeNone
)

// Rank grades how well query matches a row's keys (most important first):
// ok is false if it does not match at all; otherwise lower grade and key
// mean a better match. Matching ignores case; an empty query matches
// everything equally.
func Rank(query string, keys []string) (grade, key int, ok bool) {
	q := strings.ToLower(query)
	if q == "" {
		return 0, 0, true
	}
	grade, key = gradeNone, 0
	for i, k := range keys {
		g := gradeNone
		switch k = strings.ToLower(k); {
		case k == q:
			g = gradeExact
		case strings.HasPrefix(k, q):
			g = gradePrefix
		case strings.Contains(k, q):
			g = gradeContains
		case i == 0 && inOrder(q, k):
			g = gradeInOrder
		}
		if g < grade {
			grade, key = g, i
		}
	}
	return grade, key, grade != gradeNone
}

// inOrder reports whether every character of q appears in k, in order.
func inOrder(q, k string) bool {
	for _, c := range q {
		i := strings.IndexRune(k, c)
		if i < 0 {
			return false
		}
		k = k[i+utf8.RuneLen(c):]
	}
	return true
}

func (s *state) keysOf(i int) []string {
	if s.o.Keys != nil && i < len(s.o.Keys) {
		return s.o.Keys[i]
	}
	return s.o.Rows[i]
}

// filter keeps the rows the query matches, best first (ties in the order
// of Rows), and puts the cursor on the best.
func (s *state) filter() {
	type ranked struct{ row, grade, key int }
	var m []ranked
	for i := range s.lines {
		if g, k, ok := Rank(string(s.query), s.keysOf(i)); ok {
			m = append(m, ranked{i, g, k})
		}
	}
	sort.SliceStable(m, func(a, b int) bool {
		if m[a].grade != m[b].grade {
			return m[a].grade < m[b].grade
		}
		return m[a].key < m[b].key
	})
	s.matches = s.matches[:0]
	for _, r := range m {
		s.matches = append(s.matches, r.row)
	}
	s.cursor, s.offset = 0, 0
}

func (s *state) draw(w io.Writer) {
	var b strings.Builder
	s.erase(&b)
	n := 0
	put := func(format string, a ...any) {
		fmt.Fprintf(&b, format, a...)
		b.WriteString("\x1b[K\r\n")
		n++
	}
	put("%s", sanitize(s.o.Title))
	put("> %s", sanitize(string(s.query)))
	put("  %s", s.header)
	end := min(len(s.matches), s.offset+s.o.Height)
	for i := s.offset; i < end; i++ {
		if i == s.cursor {
			put("\x1b[7m> %s\x1b[0m", s.lines[s.matches[i]])
		} else {
			put("  %s", s.lines[s.matches[i]])
		}
	}
	put("  %d/%d  ↑/↓ move · type to filter · Enter pick · Esc cancel", len(s.matches), len(s.lines))
	s.rendered = n
	io.WriteString(w, b.String())
}

func (s *state) erase(b *strings.Builder) {
	if s.rendered > 0 {
		fmt.Fprintf(b, "\x1b[%dA\r\x1b[J", s.rendered)
	}
}

func (s *state) clear(w io.Writer) {
	var b strings.Builder
	s.erase(&b)
	s.rendered = 0
	io.WriteString(w, b.String())
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	return term.IsTerminal(int(f.Fd()))
}

// Terminal runs the chooser on the terminal in (keys) and out (display),
// in raw mode (and, on Windows, with out's virtual-terminal processing
// on), restoring the terminal's settings afterwards.
func Terminal(in, out *os.File, o Options) (int, error) {
	restore, err := term.MakeRaw(int(in.Fd()))
	if err != nil {
		return -1, fmt.Errorf("picker: %s: %w", in.Name(), err)
	}
	defer restore()
	restoreVT, err := term.EnableVT(int(out.Fd()))
	if err != nil {
		return -1, fmt.Errorf("picker: %s: %w", out.Name(), err)
	}
	defer restoreVT()
	return Run(in, out, o)
}
