package e2e

import (
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// TestVerboseShortSessionLogsNoReportError: `jitssh ssh -v HOST -- true`
// succeeds; its proxy, which ends after ssh, must not then log that it
// "could not leave the explanation" in the report directory `jitssh ssh`
// has already removed (a success has nothing to explain).
func TestVerboseShortSessionLogsNoReportError(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	for i := 0; i < 3; i++ {
		_, stderr, err := e.run3(nil, "jitssh", "ssh", "-v", "web-1", "--", "true")
		if err != nil {
			t.Fatalf("jitssh ssh -v web-1 -- true: %v\n%s", err, stderr)
		}
		if strings.Contains(stderr, "could not leave the explanation") {
			t.Fatalf("a successful session logged a report error:\n%s", stderr)
		}
	}
}
