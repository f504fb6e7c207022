package audit

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// EventRefusalsSuppressed sums up request-refused events a Limited
// recorder did not record one by one: Detail gives how many, the reasons
// and the first few names.
const EventRefusalsSuppressed = "refusals-suppressed"

// Limited passes request-refused events to a Recorder at most burst per
// window; the rest of a window's are counted and recorded as one
// EventRefusalsSuppressed event when the window ends (or at Close). Every
// other event passes. It is for refusals anyone can cause in bulk, such
// as lookups of made-up names, so that they cannot flood the trail.
type Limited struct {
	r      Recorder
	burst  int
	window time.Duration
	now    func() time.Time

	mu       sync.Mutex
	start    time.Time // of the current window
	passed   int
	held     *summary
	timer    *time.Timer
	closed   bool
	flushErr error
}

type summary struct {
	source    string
	first     time.Time
	n         int
	reasons   map[string]int
	names     []string // the first few
	namesSeen map[string]bool
	moreNames int
}

// maxSummaryNames is how many names a summary lists.
const maxSummaryNames = 5

// NewLimited returns r limited to burst request-refused events per window.
func NewLimited(r Recorder, burst int, window time.Duration) *Limited {
	return &Limited{r: r, burst: burst, window: window, now: time.Now}
}

// Record records e, or counts it for the window's summary.
func (l *Limited) Record(e Event) error {
	if e.Event != EventRequestRefused {
		return l.r.Record(e)
	}
	now := l.now()
	l.mu.Lock()
	if now.Sub(l.start) >= l.window {
		l.flushLocked()
		l.start, l.passed = now, 0
	}
	if l.passed < l.burst || l.closed {
		l.passed++
		l.mu.Unlock()
		return l.r.Record(e)
	}
	s := l.held
	if s == nil {
		s = &summary{source: e.Source, first: now, reasons: map[string]int{}, namesSeen: map[string]bool{}}
		l.held = s
		l.timer = time.AfterFunc(l.start.Add(l.window).Sub(now), l.flush)
	}
	s.n++
	s.reasons[e.Reason]++
	if !s.namesSeen[e.OSUser] {
		if len(s.names) < maxSummaryNames {
			s.names = append(s.names, Sanitize(e.OSUser, 64))
			s.namesSeen[e.OSUser] = true
		} else {
			s.moreNames++ // an upper bound: names past the first few are not remembered
		}
	}
	l.mu.Unlock()
	return nil
}

func (l *Limited) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked()
}

// flushLocked records the held summary, if any.
func (l *Limited) flushLocked() {
	s := l.held
	if s == nil {
		return
	}
	l.held = nil
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	reasons := make([]string, 0, len(s.reasons))
	for r, n := range s.reasons {
		reasons = append(reasons, fmt.Sprintf("%s %d", r, n))
	}
	sort.Strings(reasons)
	names := strings.Join(s.names, ", ")
	if s.moreNames > 0 {
		names += fmt.Sprintf(" and up to %d more", s.moreNames)
	}
	now := l.now()
	e := Event{
		Time: now, Event: EventRefusalsSuppressed, Source: s.source, Reason: "rate-limited",
		Detail: fmt.Sprintf("%d request-refused events not recorded one by one since %s (more than %d in %s): %s; names: %s",
			s.n, s.first.UTC().Format(time.RFC3339), l.burst, l.window, strings.Join(reasons, ", "), names),
	}
	if err := l.r.Record(e); err != nil && l.flushErr == nil {
		l.flushErr = err
	}
}

// Close records the pending summary and passes every later event; it
// returns the first error recording a summary.
func (l *Limited) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked()
	l.closed = true
	return l.flushErr
}
