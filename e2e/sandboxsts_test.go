package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// TestWebIdentityProfileLists: `jitssh --profile webid ls` signs in with
// the web identity token file the sandbox writes (the SDK chain inside
// jitssh calls AssumeRoleWithWebIdentity at the sandbox, reached through
// the env's AWS_ENDPOINT_URL_STS, never AWS) and lists the fleet as the
// JitsshWebIdentity role session.
func TestWebIdentityProfileLists(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	if err := e.sb.WriteFiles(filepath.Join(t.TempDir(), "env")); err != nil {
		t.Fatal(err)
	}
	files := []string{"AWS_CONFIG_FILE=" + filepath.Join(e.sb.StateDir, "aws-config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(e.sb.StateDir, "aws-credentials")}
	out, stderr, err := e.run3(files, "jitssh", "--profile", "webid", "ls")
	if err != nil {
		t.Fatalf("jitssh --profile webid ls: %v\n%s\n%s", err, out, stderr)
	}
	if !strings.Contains(out, "web-1") {
		t.Errorf("jitssh --profile webid ls lists no web-1:\n%s", out)
	}
	if n := e.cloudTrailCount("AssumeRoleWithWebIdentity", "assumed-role/JitsshWebIdentity/webid"); n != 1 {
		t.Errorf("%d AssumeRoleWithWebIdentity records, want 1", n)
	}
	if n := e.cloudTrailCount("DescribeInstances", "assumed-role/JitsshWebIdentity/webid"); n < 1 {
		t.Error("no DescribeInstances by the web identity session in CloudTrail")
	}
}
