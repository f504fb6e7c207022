package audit_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/host/audit"
)

type memRec struct {
	mu sync.Mutex
	ev []audit.Event
}

func (m *memRec) Record(e audit.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ev = append(m.ev, e)
	return nil
}

func (m *memRec) all() []audit.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]audit.Event(nil), m.ev...)
}

// A flood of refusals for made-up names is recorded as the first few
// events and one summary per window; other events all pass.
func TestLimited(t *testing.T) {
	m := &memRec{}
	l := audit.NewLimited(m, 3, 200*time.Millisecond)
	for i := 0; i < 1000; i++ {
		l.Record(audit.Event{Event: audit.EventRequestRefused, Source: "userdb", OSUser: fmt.Sprintf("x%d", i), Reason: "timeout"})
		if i%100 == 0 {
			l.Record(audit.Event{Event: audit.EventUserCreated, OSUser: "alice"})
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(m.all()) < 3+10+1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	var refused, created, summaries int
	var detail string
	for _, e := range m.all() {
		switch e.Event {
		case audit.EventRequestRefused:
			refused++
		case audit.EventUserCreated:
			created++
		case audit.EventRefusalsSuppressed:
			summaries++
			detail = e.Detail
		}
	}
	if refused != 3 || created != 10 || summaries != 1 {
		t.Fatalf("recorded %d refusals, %d user-created, %d summaries; want 3, 10, 1", refused, created, summaries)
	}
	for _, want := range []string{"997 request-refused events", "timeout 997", "x3, x4, x5, x6, x7 and up to 992 more"} {
		if !strings.Contains(detail, want) {
			t.Errorf("summary %q lacks %q", detail, want)
		}
	}
	// The next window starts afresh.
	time.Sleep(250 * time.Millisecond)
	l.Record(audit.Event{Event: audit.EventRequestRefused, OSUser: "y"})
	if e := m.all(); e[len(e)-1].OSUser != "y" {
		t.Errorf("first refusal of a new window not recorded: %+v", e[len(e)-1])
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
