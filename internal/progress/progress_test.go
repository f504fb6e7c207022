package progress

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Running steps are shown together with the elapsed time, ended ones
// leave the line, and Clear erases it for good.
func TestLineShowsRunningStepsAndClears(t *testing.T) {
	var out lockedBuffer
	l := New(&out, Options{Prefix: "jitssh: web-1: ", Delay: time.Millisecond, Start: time.Now().Add(-2 * time.Second)})
	endA := l.Begin("pushing key for %s", "alice")
	endB := l.Begin("opening ssm connection")
	waitFor(t, func() bool {
		return strings.Contains(out.String(), "jitssh: web-1: pushing key for alice, opening ssm connection… 2.")
	})
	endA()
	endA() // twice is harmless
	waitFor(t, func() bool {
		s := out.String()
		return strings.HasSuffix(s[:strings.LastIndex(s, "…")], "\r\x1b[Kjitssh: web-1: opening ssm connection")
	})
	endB()
	l.Clear()
	l.Clear()
	s := out.String()
	if !strings.HasSuffix(s, "\r\x1b[K") {
		t.Errorf("not erased at the end: %q", s)
	}
	n := len(s)
	time.Sleep(250 * time.Millisecond)
	if len(out.String()) != n {
		t.Errorf("drew after Clear: %q", out.String()[n:])
	}
	if strings.Contains(s, "\n") {
		t.Errorf("the line has a newline: %q", s)
	}
}

// Nothing is drawn before the delay, and nothing at all (not even an
// erase) when the connection finishes first.
func TestLineQuietWhenFast(t *testing.T) {
	var out lockedBuffer
	l := New(&out, Options{Prefix: "x: ", Delay: time.Hour})
	end := l.Begin("resolving")
	time.Sleep(150 * time.Millisecond)
	end()
	l.Clear()
	if out.String() != "" {
		t.Errorf("a fast connection drew %q", out.String())
	}
}

// The line is cut to the terminal's width (a wrapped line cannot be
// erased with a carriage return).
func TestLineFitsTheWidth(t *testing.T) {
	var out lockedBuffer
	l := New(&out, Options{Prefix: "jitssh: a-very-long-instance-name: ", Delay: time.Millisecond, Width: func() int { return 30 }})
	defer l.Clear()
	l.Begin("learning the host key of a-very-long-instance-name over ssm")
	waitFor(t, func() bool { return strings.Contains(out.String(), "…") })
	s := out.String()
	first := strings.Split(strings.TrimPrefix(s, "\r\x1b[K"), "\r\x1b[K")[0]
	if n := len([]rune(first)); n > 29 {
		t.Errorf("line of %d runes on a 30-column terminal: %q", n, first)
	}
}

// A nil line does nothing (progress off).
func TestNilLine(t *testing.T) {
	var l *Line
	l.Begin("x")()
	l.Clear()
}

// Control characters (a Name tag with an escape sequence) never reach the
// terminal.
func TestLineIsPrintable(t *testing.T) {
	var out lockedBuffer
	l := New(&out, Options{Prefix: "jitssh: evil\x1b]0;pwned\x07: ", Delay: time.Millisecond})
	l.Begin("pushing key to \x1b[2Jname\u009b")
	waitFor(t, func() bool { return strings.Contains(out.String(), "…") })
	l.Clear()
	s := strings.ReplaceAll(out.String(), "\r\x1b[K", "")
	if strings.ContainsAny(s, "\x1b\x07\u009b") {
		t.Errorf("control characters drawn: %q", s)
	}
	if !strings.Contains(s, "jitssh: evil?]0;pwned?: pushing key to ?[2Jname?") {
		t.Errorf("line %q", s)
	}
}
