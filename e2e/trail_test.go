package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/jitssh/jitssh/internal/sandbox/trail"
)

// trailEvents reads the sandbox's CloudTrail log (one JSON record a
// line); a line that is not a record fails the test. A last line without
// its newline is a record still being written and is left out.
func trailEvents(t *testing.T, path string) []trail.Event {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.LastIndexByte(b, '\n'); i+1 < len(b) {
		b = b[:i+1]
	}
	var out []trail.Event
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var ev trail.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatalf("CloudTrail log %s: %v: %s", path, err, line)
		}
		out = append(out, ev)
	}
	return out
}

// trailParam is the request parameter key of ev ("" when it has none).
func trailParam(ev trail.Event, key string) string {
	m, _ := ev.RequestParameters.(map[string]any)
	s, _ := m[key].(string)
	return s
}
