package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/buildinfo"
	"github.com/jitssh/jitssh/internal/handoff"
)

// A proxy that fails before connecting still leaves its (empty) report for
// `jitssh ssh`, which otherwise waited reportWait (4 s) after every failed
// connection for an explanation that never came.
func TestProxyFailureLeavesReport(t *testing.T) {
	report := filepath.Join(t.TempDir(), "report.json")
	h := handoff.Handoff{V: handoff.Version, User: "developer", Host: "i-0123456789abcdef0", Report: report}
	t.Setenv(handoff.Var, h.Encode())
	var errOut bytes.Buffer
	code := Main(context.Background(), []string{"proxy", "developer", "i-0123456789abcdef0", "0"}, IOStreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &errOut})
	if code == 0 {
		t.Fatalf("proxy to port 0 succeeded: %s", errOut.String())
	}
	if _, err := os.Stat(report); err != nil {
		t.Fatalf("no report after a failed proxy (jitssh ssh would wait %v): %v", reportWait, err)
	}
	if e, ok := readReport(report, 0); !ok || e.Login != "" || e.Ended != "" {
		t.Errorf("report %+v, %v: want an empty one", e, ok)
	}

	// An explanation already written is kept.
	report2 := filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(report2, []byte(`{"ended":"the instance stopped"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	reportDone(report2)
	if e, ok := readReport(report2, 0); !ok || e.Ended != "the instance stopped" {
		t.Errorf("reportDone replaced an explanation: %+v", e)
	}
}

// jitssh --version prints the binary's version (internal/buildinfo).
func TestVersionFlag(t *testing.T) {
	var out bytes.Buffer
	if code := Main(context.Background(), []string{"--version"}, IOStreams{In: strings.NewReader(""), Out: &out, Err: &bytes.Buffer{}}); code != 0 {
		t.Fatalf("--version exited %d", code)
	}
	if got, want := out.String(), buildinfo.Text("jitssh"); got != want || !strings.HasPrefix(got, "jitssh version "+buildinfo.Version()+"\ncommit ") {
		t.Errorf("--version printed %q, want %q", got, want)
	}
}
