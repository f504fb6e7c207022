package e2e

import (
	"bufio"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/handoff"
	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/targets"
)

// proxyBanner runs `jitssh proxy --transport ssm USER ID 22` with extra
// environment and returns the first line it writes (the SSH banner) or
// its stderr.
func proxyBanner(t *testing.T, e *env, id string, extraEnv ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "jitssh"), "proxy", "--transport", "ssm", currentUser(t), id, "22")
	cmd.Env = append(append([]string{}, e.vars...), extraEnv...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	stdin.Close()
	err := cmd.Wait()
	return line, stderr.String(), err
}

// `jitssh ssh` hands the instance it resolved to the proxy ssh starts (in
// its hand-off), which then does not look it up again; a hint for another
// instance, or an old one, is ignored (the proxy looks the instance up
// itself), and so is a hand-off meant for another connection.
func TestProxyUsesResolvedInstanceHint(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	web1, web2 := infoByName(t, e.sb, "web-1"), infoByName(t, e.sb, "web-2")
	describes := func() int { return e.cloudTrailCount("DescribeInstances", "") }

	n := describes()
	if out, err := e.run("jitssh", "ssh", "--transport", "ssm", "web-1", "--", "true"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := describes() - n; got != 1 {
		t.Errorf("jitssh ssh web-1 made %d DescribeInstances calls, want 1 (the proxy reuses the answer)", got)
	}

	region := sandbox.DefaultRegion
	now := time.Now()
	inst := targets.Instance{ID: web1.ID, Name: "web-1", State: "running", PublicIP: web1.PublicIP}
	for _, c := range []struct {
		name      string
		hint      string
		describes int
	}{
		{"fresh hint", targets.Hint(inst, region, now), 0},
		{"hint for another instance", targets.Hint(targets.Instance{ID: web2.ID, State: "running"}, region, now), 1},
		{"old hint", targets.Hint(inst, region, now.Add(-2*targets.HintMaxAge)), 1},
		{"hint for another region", targets.Hint(inst, "eu-west-1", now), 1},
		{"hint of a stopped instance", targets.Hint(targets.Instance{ID: web1.ID, State: "stopped"}, region, now), 1},
		{"garbage", "{", 1},
	} {
		n := describes()
		h := handoff.Handoff{User: currentUser(t), Host: web1.ID, Instance: c.hint}
		line, stderr, _ := proxyBanner(t, e, web1.ID, handoff.Var+"="+h.Encode())
		if !strings.HasPrefix(line, "SSH-2.0-") {
			t.Errorf("%s: no SSH banner (%q):\n%s", c.name, line, stderr)
		}
		if got := describes() - n; got != c.describes {
			t.Errorf("%s: %d DescribeInstances calls, want %d", c.name, got, c.describes)
		}
	}
	// The hand-off is for one connection: the proxy of another login or
	// host (a ProxyJump's, say, which inherits ssh's environment) ignores
	// it whole, even a fresh hint in it.
	for _, h := range []handoff.Handoff{
		{User: currentUser(t), Host: web2.ID, Instance: targets.Hint(inst, region, now)},
		{User: "someone-else", Host: web1.ID, Instance: targets.Hint(inst, region, now)},
	} {
		n := describes()
		line, stderr, _ := proxyBanner(t, e, web1.ID, handoff.Var+"="+h.Encode())
		if !strings.HasPrefix(line, "SSH-2.0-") {
			t.Errorf("hand-off for %s@%s: no SSH banner (%q):\n%s", h.User, h.Host, line, stderr)
		}
		if got := describes() - n; got != 1 {
			t.Errorf("hand-off for %s@%s used by the proxy of %s: %d DescribeInstances calls, want 1", h.User, h.Host, web1.ID, got)
		}
	}
}

// Over ssm, an instance id's lookup runs alongside the key push and the
// session, and still decides: a stopped or unknown instance is refused
// with the lookup's own explanation, no SSH byte is written and no key is
// left pushed.
func TestProxySSMInstanceIDStillChecked(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	old1 := infoByName(t, e.sb, "old-1")
	for _, c := range []struct{ id, want string }{
		{old1.ID, "is stopped, not running: start it first"},
		{"i-0fffffffffffffff0", "instance id i-0fffffffffffffff0 not found"},
	} {
		line, stderr, err := proxyBanner(t, e, c.id)
		if err == nil || line != "" {
			t.Errorf("proxy to %s: err %v, stdout %q; want a failure and no output", c.id, err, line)
		}
		if !strings.Contains(stderr, c.want) {
			t.Errorf("proxy to %s: stderr lacks %q:\n%s", c.id, c.want, stderr)
		}
	}
	if n := e.pushedKeys(currentUser(t)); n != 0 {
		t.Fatalf("%d keys were pushed for a stopped or unknown instance", n)
	}
}
