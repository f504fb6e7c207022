// Package progress owns the one status line jitssh draws on a terminal
// while a connection is being set up ("jitssh: web-1: pushing key,
// starting SSM session… 1.4s"): steps begin and end concurrently, the line
// shows those still running with the time since the connection began,
// appears only once that time passes a delay (fast connections show
// nothing), and is erased, never left behind, before anyone else writes
// to the terminal (ssh's own session, an error message).
//
// A nil *Line is valid and draws nothing: callers need not check whether
// progress is on.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Delay is how long a connection may take before the line appears.
const Delay = 300 * time.Millisecond

// tick is how often the line is redrawn while shown.
const tick = 100 * time.Millisecond

// Line is a status line on a terminal.
type Line struct {
	w      io.Writer
	prefix string
	start  time.Time
	delay  time.Duration
	width  func() int

	mu     sync.Mutex
	steps  []*step
	drawn  bool // something is on the line
	closed bool
	stop   chan struct{}
	wg     sync.WaitGroup
}

type step struct{ text string }

// Options configures New.
type Options struct {
	// Prefix starts the line, e.g. "jitssh: web-1: ".
	Prefix string
	// Start is when the connection began (the delay and the elapsed time
	// count from it); zero means now.
	Start time.Time
	// Delay before the line appears; 0 means Delay.
	Delay time.Duration
	// Width returns the terminal's width (the line is cut to fit, since a
	// wrapped line cannot be erased with a carriage return); nil or 0
	// means 80.
	Width func() int
}

// New starts a line drawn on w. Callers decide whether w is a terminal
// (see Enabled); New draws whatever it is given.
func New(w io.Writer, o Options) *Line {
	l := &Line{w: w, prefix: o.Prefix, start: o.Start, delay: o.Delay, width: o.Width, stop: make(chan struct{})}
	if l.start.IsZero() {
		l.start = time.Now()
	}
	if l.delay == 0 {
		l.delay = Delay
	}
	l.wg.Add(1)
	go l.loop()
	return l
}

// Begin shows text as running until the returned func is called.
func (l *Line) Begin(format string, args ...any) (end func()) {
	if l == nil {
		return func() {}
	}
	s := &step{text: fmt.Sprintf(format, args...)}
	l.mu.Lock()
	l.steps = append(l.steps, s)
	l.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			for i, x := range l.steps {
				if x == s {
					l.steps = append(l.steps[:i], l.steps[i+1:]...)
					break
				}
			}
		})
	}
}

// Clear erases the line and stops drawing for good; it returns once
// nothing more will be written. Safe to call more than once.
func (l *Line) Clear() {
	if l == nil {
		return
	}
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.stop)
		l.erase()
	}
	l.mu.Unlock()
	l.wg.Wait()
}

func (l *Line) loop() {
	defer l.wg.Done()
	if wait := l.delay - time.Since(l.start); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-l.stop:
			t.Stop()
			return
		}
	}
	tk := time.NewTicker(tick)
	defer tk.Stop()
	for {
		l.draw()
		select {
		case <-tk.C:
		case <-l.stop:
			return
		}
	}
}

// draw writes the current line over the previous one.
func (l *Line) draw() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	if len(l.steps) == 0 {
		l.erase()
		return
	}
	texts := make([]string, len(l.steps))
	for i, s := range l.steps {
		texts[i] = s.text
	}
	el := time.Since(l.start).Seconds()
	suffix := fmt.Sprintf("… %.1fs", el)
	width := 80
	if l.width != nil {
		if w := l.width(); w > 0 {
			width = w
		}
	}
	text := cut(Printable(l.prefix+strings.Join(texts, ", ")), width-1-utf8.RuneCountInString(suffix))
	fmt.Fprintf(l.w, "\r\x1b[K%s%s", text, suffix)
	l.drawn = true
}

// erase clears what draw wrote; l.mu is held.
func (l *Line) erase() {
	if l.drawn {
		io.WriteString(l.w, "\r\x1b[K")
		l.drawn = false
	}
}

// Printable replaces control characters (C0, DEL, C1, and invalid UTF-8)
// with '?': names on the line come from EC2 tags and the command line, and
// an escape sequence in a Name tag must not reach the terminal.
func Printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError {
			return '?'
		}
		return r
	}, s)
}

// cut shortens s to at most n runes.
func cut(s string, n int) string {
	if n < 1 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}

// EnvDisable, set to 0, turns the line off (JITSSH_PROGRESS=0).
const EnvDisable = "JITSSH_PROGRESS"

// Enabled reports whether a line may be drawn on f: f is a terminal, TERM
// is not "dumb", and JITSSH_PROGRESS is not 0. isTerminal decides the
// first.
func Enabled(f *os.File, isTerminal func(fd int) bool) bool {
	if f == nil || os.Getenv(EnvDisable) == "0" || os.Getenv("TERM") == "dumb" {
		return false
	}
	return isTerminal(int(f.Fd()))
}
