package sandbox

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox/fault"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// TestFaultsEndpoint sets faults at run time over HTTP, globally and per
// session, reads them back, and refuses nonsense without changing anything.
func TestFaultsEndpoint(t *testing.T) {
	sb, err := Start(context.Background(), Config{SSHMode: sshd.Embedded, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	put := func(query, body string) int {
		req, _ := http.NewRequest(http.MethodPut, sb.URL+"/_sandbox/faults"+query, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+sb.AdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	get := func(query string) fault.Config {
		req, _ := http.NewRequest(http.MethodGet, sb.URL+"/_sandbox/faults"+query, nil)
		req.Header.Set("Authorization", "Bearer "+sb.AdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var c fault.Config
		if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	if code := put("", `{"drop":0.05,"reorder":0.01,"close_after":"2s"}`); code != http.StatusNoContent {
		t.Fatalf("PUT global: %d", code)
	}
	if code := put("?session=s-1", `{"duplicate":0.02,"delay":"3ms"}`); code != http.StatusNoContent {
		t.Fatalf("PUT session: %d", code)
	}
	if c := get(""); c.Drop != 0.05 || c.Reorder != 0.01 || time.Duration(c.CloseAfter) != 2*time.Second {
		t.Fatalf("global faults %+v", c)
	}
	if c := get("?session=s-1"); c.Duplicate != 0.02 || time.Duration(c.Delay) != 3*time.Millisecond || c.Drop != 0 {
		t.Fatalf("session faults %+v", c)
	}
	if c := get("?session=other"); c.Drop != 0.05 {
		t.Fatalf("a session without its own faults gets %+v, want the global ones", c)
	}
	for _, bad := range []string{`{"drop":0.9}`, `{"drop":-1}`, `{"close_after":"1ms"}`, `{"delay":"soon"}`, `{"drp":0.1}`, `not json`} {
		if code := put("", bad); code != http.StatusBadRequest {
			t.Errorf("PUT %s: %d, want 400", bad, code)
		}
	}
	if c := get(""); c.Drop != 0.05 {
		t.Fatalf("a refused PUT changed the faults: %+v", c)
	}
}
