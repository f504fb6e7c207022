package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox"
)

// TestSSMIdleTimeoutExplained: Session Manager's idle timeout (3 s in the
// sandbox) ends `jitssh ssh web-1 -- sleep 10` over SSM, which prints
// nothing, and jitssh says why on stderr; with ssh's keep-alives every
// second (data on the stream) the same command outlives it. The end is
// recorded in CloudTrail as the service's TerminateSession.
func TestSSMIdleTimeoutExplained(t *testing.T) {
	e := newEnv(t, bestMode(t), func(c *sandbox.Config) { c.IdleSessionTimeout = 3 * time.Second })
	start := time.Now()
	out, stderr, err := e.run3(nil, "jitssh", "ssh", "--transport", "ssm", "web-1", "--", "sleep", "10; echo SLEPT")
	if err == nil || strings.Contains(out, "SLEPT") {
		t.Fatalf("the idle session was not ended (err %v, stdout %q)", err, out)
	}
	took := time.Since(start)
	t.Logf("the idle session ended after %v", took)
	if took > 7*time.Second {
		t.Fatalf("the idle session ended after %v, want about 3 s", took)
	}
	want := "jitssh: the SSM session ended: Session Manager's idle timeout ("
	if !strings.Contains(stderr, want) || !strings.Contains(stderr, "ServerAliveInterval") {
		t.Fatalf("stderr lacks the idle explanation %q:\n%s", want, stderr)
	}
	trail, rerr := os.ReadFile(e.sb.CloudTrail)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if !strings.Contains(string(trail), `"idle_timeout"`) || !strings.Contains(string(trail), `"AwsServiceEvent"`) {
		t.Fatalf("CloudTrail has no record of the idle termination")
	}

	// `jitssh ssh` with the user's own ServerAliveInterval after --:
	// jitssh leaves its own (30 s, longer than this idle timeout) out,
	// so the user's applies.
	out, stderr, err = e.run3(nil, "jitssh", "ssh", "--transport", "ssm", "web-1", "--", "-o", "ServerAliveInterval=1", "sleep 6; echo SLEPT")
	if err != nil || strings.TrimSpace(out) != "SLEPT" {
		t.Fatalf("jitssh ssh -- -o ServerAliveInterval=1: the session should survive: err %v, stdout %q, stderr:\n%s", err, out, stderr)
	}

	// ssh through the installed Host section (`jitssh proxy` as its
	// ProxyCommand); the command line's ServerAliveInterval comes first.
	ssm := []string{"JITSSH_TRANSPORT=ssm"}
	id := e.sb.Instances[0].ID
	out, stderr, err = e.run3(ssm, "ssh", "-F", e.sshCf, "-o", "ServerAliveInterval=1", id, "sleep 6; echo SLEPT")
	if err != nil || strings.TrimSpace(out) != "SLEPT" {
		t.Fatalf("with keep-alives the session should survive: err %v, stdout %q, stderr:\n%s", err, out, stderr)
	}
	if strings.Contains(stderr, "idle timeout") {
		t.Fatalf("stderr explains an idle end that did not happen:\n%s", stderr)
	}
}

// TestSSMMaxDurationExplained: the maximum session duration ends a
// session however busy (keep-alives every second), and jitssh says so.
func TestSSMMaxDurationExplained(t *testing.T) {
	e := newEnv(t, bestMode(t), func(c *sandbox.Config) { c.MaxSessionDuration = 4 * time.Second })
	// ssh through the installed Host section: `jitssh proxy` itself
	// explains on stderr.
	out, stderr, err := e.run3([]string{"JITSSH_TRANSPORT=ssm"}, "ssh", "-F", e.sshCf, "-o", "ServerAliveInterval=1", e.sb.Instances[0].ID, "sleep 10; echo SLEPT")
	if err == nil || strings.Contains(out, "SLEPT") {
		t.Fatalf("the session outlived its maximum duration (err %v, stdout %q)", err, out)
	}
	want := "jitssh: the SSM session ended: Session Manager's maximum session duration (after "
	if !strings.Contains(stderr, want) || !strings.Contains(stderr, "keep-alives do not help") {
		t.Fatalf("stderr lacks the duration explanation %q:\n%s", want, stderr)
	}
}
