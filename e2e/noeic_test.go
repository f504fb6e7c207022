package e2e

import (
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// TestInstanceWithoutEIC: legacy-1's image has no EC2 Instance Connect.
// As on AWS, the key push succeeds (EC2 cannot tell) and the login is
// refused by sshd, while the same login works on an instance that has it.
func TestInstanceWithoutEIC(t *testing.T) {
	e := newEnv(t, sshd.ResolveAuto())
	user := currentUser(t)
	_, stderr, err := e.run3(nil, "jitssh", "ssh", "legacy-1", "--", "true")
	if err == nil {
		t.Fatal("logged in to an instance without EC2 Instance Connect")
	}
	if !strings.Contains(stderr, "Permission denied (publickey)") {
		t.Errorf("stderr does not show sshd's refusal:\n%s", stderr)
	}
	if n := len(e.sb.World.ActiveKeys("i-0a1b2c3d4e5f00008", user)); n != 1 {
		t.Errorf("%d keys pushed to legacy-1, want 1 (the push itself succeeds)", n)
	}
	if out, err := e.run("jitssh", "ssh", "db-1", "--", "true"); err != nil {
		t.Fatalf("db-1, which has EC2 Instance Connect: %v\n%s", err, out)
	}
}
