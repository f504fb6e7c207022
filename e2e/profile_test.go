package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// TestProfileFlagReachesTheProxy: `jitssh --profile alice ssh` with another
// identity's keys in the environment (as after sourcing the sandbox's env
// file) logs in as alice with alice's credentials in both processes. The
// proxy that ssh starts used to get the profile as AWS_PROFILE, which loses
// to AWS_ACCESS_KEY_ID in the SDK's order, so it pushed alice's key as the
// default identity and the impersonation SCP refused it.
func TestProfileFlagReachesTheProxy(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	// The env file's writer also writes the profiles (one per identity).
	if err := e.sb.WriteFiles(filepath.Join(t.TempDir(), "env")); err != nil {
		t.Fatal(err)
	}
	files := []string{
		"AWS_CONFIG_FILE=" + filepath.Join(e.sb.StateDir, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(e.sb.StateDir, "aws-credentials"),
	}
	// The login itself fails here (no OS user alice on this machine, and
	// no just-in-time users on web-1); what matters is who pushed the key.
	_, stderr, _ := e.run3(files, "jitssh", "--profile", "alice", "ssh", "web-1", "--", "true")
	if n := e.pushedKeys("alice"); n != 1 {
		t.Errorf("%d keys pushed for alice, want 1", n)
	}
	if n := e.cloudTrailCount("SendSSHPublicKey", "assumed-role/JitsshDeveloper/alice"); n != 1 {
		t.Errorf("%d SendSSHPublicKey calls by alice in CloudTrail, want 1", n)
	}
	if strings.Contains(stderr, "service control policy") {
		t.Errorf("the push was refused:\n%s", stderr)
	}
}
