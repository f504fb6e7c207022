package e2e

import (
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox"
)

// TestShellIdleTimeoutExplained: Session Manager's idle timeout (3 s in
// the sandbox) ends an idle `jitssh shell`, and jitssh says why on stderr,
// with what keeps a shell session open (not ssh's ServerAliveInterval,
// which a shell session has nothing to do with).
func TestShellIdleTimeoutExplained(t *testing.T) {
	e := newEnv(t, bestMode(t), func(c *sandbox.Config) { c.IdleSessionTimeout = 3 * time.Second })
	stderr, took := runIdleShell(t, e, nil)
	if took > 10*time.Second {
		t.Errorf("the idle shell ended after %s, want about 3 s", took.Round(time.Second))
	}
	for _, want := range []string{"jitssh: the SSM session ended: Session Manager's idle timeout (", "a shell session stays open only while input or output flows", "(idleSessionTimeout)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "config install") {
		t.Errorf("a shell's idle end is explained with ssh's settings:\n%s", stderr)
	}
}

// TestShellMaxDurationExplained: the maximum session duration ends a busy
// `jitssh shell` (a command every half second), and jitssh says so.
func TestShellMaxDurationExplained(t *testing.T) {
	e := newEnv(t, bestMode(t), func(c *sandbox.Config) { c.MaxSessionDuration = 4 * time.Second })
	stderr, took := runIdleShell(t, e, func(w io.Writer) {
		for range time.Tick(500 * time.Millisecond) {
			if _, err := io.WriteString(w, "true\n"); err != nil {
				return
			}
		}
	})
	if took > 12*time.Second {
		t.Errorf("the shell ended after %s, want about 4 s", took.Round(time.Second))
	}
	for _, want := range []string{"jitssh: the SSM session ended: Session Manager's maximum session duration (after ", "keep-alives do not help", "(maxSessionDuration)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// runIdleShell runs `jitssh shell web-1` with a stdin that stays open
// (feed, if not nil, writes to it) until the service ends the session,
// and returns its stderr and how long it ran.
func runIdleShell(t *testing.T, e *env, feed func(io.Writer)) (string, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "jitssh"), "shell", "web-1")
	cmd.Env = e.vars
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	var stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if feed != nil {
		go feed(stdin)
	}
	err = cmd.Wait()
	took := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("jitssh shell still running after 30 s (%v); stderr:\n%s", err, stderr.String())
	}
	t.Logf("jitssh shell ended after %s (%v); stderr:\n%s", took.Round(100*time.Millisecond), err, stderr.String())
	return stderr.String(), took
}

// TestTunnelIdleTimeoutExplained: an SSM port-forwarding session that
// carries no connection's data for the idle timeout (3 s in the sandbox)
// is ended by the service; `jitssh tunnel` exits non-zero saying why,
// and that traffic through the tunnel keeps it open. The same explanation
// for the maximum duration follows with a session kept busy.
func TestTunnelIdleTimeoutExplained(t *testing.T) {
	e := newEnv(t, bestMode(t), func(c *sandbox.Config) { c.IdleSessionTimeout = 3 * time.Second })
	rt := startTunnel(t, e, "web-1", "0:22")
	select {
	case err := <-rt.done:
		if err == nil {
			t.Fatalf("jitssh tunnel exited 0 after the service ended its session; stderr:\n%s", rt.stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("the idle tunnel still runs after 15 s (idle timeout 3 s); stderr:\n%s", rt.stderr.String())
	}
	for _, want := range []string{"jitssh: the SSM session ended: Session Manager's idle timeout (", "no connection through the tunnel carried data", "(idleSessionTimeout)"} {
		if !strings.Contains(rt.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, rt.stderr.String())
		}
	}
}

// TestTunnelMaxDurationExplained: the maximum session duration (4 s) ends
// a tunnel whatever goes through it, and `jitssh tunnel` says so.
func TestTunnelMaxDurationExplained(t *testing.T) {
	e := newEnv(t, bestMode(t), func(c *sandbox.Config) { c.MaxSessionDuration = 4 * time.Second })
	rt := startTunnel(t, e, "web-1", "0:22")
	select {
	case err := <-rt.done:
		if err == nil {
			t.Fatalf("jitssh tunnel exited 0 after the service ended its session; stderr:\n%s", rt.stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("the tunnel still runs after 15 s (maximum duration 4 s); stderr:\n%s", rt.stderr.String())
	}
	for _, want := range []string{"jitssh: the SSM session ended: Session Manager's maximum session duration (after ", "start the tunnel again", "(maxSessionDuration)"} {
		if !strings.Contains(rt.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, rt.stderr.String())
		}
	}
}
