package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// startAgent runs a real ssh-agent in the foreground on a socket of its
// own and returns the socket; the agent is killed when the test ends.
func startAgent(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("ssh-agent"); err != nil {
		t.Fatalf("ssh-agent not installed: %v", err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	cmd := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ssh-agent: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(sock); err == nil {
			return sock
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("ssh-agent did not create its socket")
	return ""
}

// agentKeys is `ssh-add -l` against sock: its lines, or none.
func agentKeys(t *testing.T, sock string) []string {
	t.Helper()
	cmd := exec.Command("ssh-add", "-l")
	cmd.Env = []string{"SSH_AUTH_SOCK=" + sock}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "no identities") {
			return nil
		}
		t.Fatalf("ssh-add -l: %v\n%s", err, out)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// privateKeyFiles lists files in the key directory holding a private key.
func privateKeyFiles(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	entries, _ := os.ReadDir(dir)
	for _, en := range entries {
		b, err := os.ReadFile(filepath.Join(dir, en.Name()))
		if err == nil && strings.Contains(string(b), "PRIVATE KEY") {
			found = append(found, en.Name())
		}
	}
	return found
}

// TestEphemeralKeyInAgent: with an ssh-agent running, `jitssh ssh` puts the
// ephemeral key there with a lifetime and writes no private key file; the
// agent lists it with jitssh's comment and forgets it after the lifetime.
// Without an agent, or with --key-store file, the key goes to a file.
func TestEphemeralKeyInAgent(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	web1 := infoByName(t, e.sb, "web-1")
	me := currentUser(t)
	sock := startAgent(t)
	keyDir := filepath.Join(e.home, ".cache", "jitssh", "keys")
	withAgent := []string{"SSH_AUTH_SOCK=" + sock}

	const lifetime = 6 * time.Second
	added := time.Now()
	out, stderr, err := e.run3(withAgent, "jitssh", "ssh", "--agent-lifetime", lifetime.String(), "web-1", "--", "hostname")
	if err != nil || strings.TrimSpace(out) != web1.Hostname {
		t.Fatalf("ssh with the key in the agent: %v %q\n%s", err, out, stderr)
	}
	keys := agentKeys(t, sock)
	if time.Since(added) < lifetime {
		if len(keys) != 1 || !strings.Contains(keys[0], "jitssh-ephemeral "+me+"@"+web1.ID) || !strings.Contains(keys[0], "ED25519") {
			t.Fatalf("ssh-add -l after the login: %q", keys)
		}
	}
	if f := privateKeyFiles(t, keyDir); len(f) != 0 {
		t.Fatalf("private key files in %s with an agent running: %v", keyDir, f)
	}
	if m, _ := filepath.Glob(filepath.Join(keyDir, "*.agent.pub")); len(m) != 0 {
		t.Errorf("public key files left behind: %v", m)
	}
	time.Sleep(time.Until(added.Add(lifetime + time.Second)))
	if keys := agentKeys(t, sock); len(keys) != 0 {
		t.Fatalf("the agent still holds %q after the key's lifetime", keys)
	}

	// The bastion transport signs at the jump host with the agent's key.
	out, stderr, err = e.run3(withAgent, "jitssh", "ssh", "--via", "bastion-1", "db-1", "--", "hostname")
	if err != nil || strings.TrimSpace(out) != infoByName(t, e.sb, "db-1").Hostname {
		t.Fatalf("bastion with the key in the agent: %v %q\n%s", err, out, stderr)
	}
	if f := privateKeyFiles(t, keyDir); len(f) != 0 {
		t.Fatalf("private key files after bastion with an agent: %v", f)
	}

	// --key-store file: the agent is left alone.
	before := len(agentKeys(t, sock))
	if out, stderr, err := e.run3(withAgent, "jitssh", "ssh", "--key-store", "file", "web-2", "--", "true"); err != nil {
		t.Fatalf("--key-store file: %v %s\n%s", err, out, stderr)
	}
	if n := len(agentKeys(t, sock)); n != before {
		t.Errorf("--key-store file added a key to the agent (%d keys, were %d)", n, before)
	}
	// A dead agent socket falls back to the file; --key-store agent refuses.
	dead := []string{"SSH_AUTH_SOCK=" + filepath.Join(t.TempDir(), "gone.sock")}
	if out, stderr, err := e.run3(dead, "jitssh", "ssh", "web-1", "--", "true"); err != nil {
		t.Fatalf("no agent: %v %s\n%s", err, out, stderr)
	}
	_, stderr, err = e.run3(dead, "jitssh", "ssh", "--key-store", "agent", "web-1", "--", "true")
	if err == nil || !strings.Contains(stderr, "no ssh-agent running") || !strings.Contains(stderr, "--key-store file") {
		t.Fatalf("--key-store agent without an agent: %v\n%s", err, stderr)
	}
}
