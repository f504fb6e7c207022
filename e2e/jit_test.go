package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/host/userdb"
	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// TestJITUserThroughSandbox: with just-in-time users on, the sandbox's
// built-in web-2 resolves unknown users through the jitssh-host userdb
// service it started. The sandbox identity alice logs in as alice, who is
// in no file: created on the spot, with the configured groups, and gone
// (socket, state, homes) when the sandbox stops.
func TestJITUserThroughSandbox(t *testing.T) {
	stateDir := jitAliceState(t, "jitssh-e2e-jit-")
	e := newEnv(t, sshd.OpenSSH, func(c *sandbox.Config) { c.JIT, c.StateDir = sandbox.JITOn, stateDir })
	var web2 sandbox.InstanceInfo
	for _, in := range e.sb.Instances {
		if in.Name == "web-2" {
			web2 = in
		}
	}
	if web2.JITService == "" || !strings.HasPrefix(web2.JITService, "io.jitssh.sandbox-") {
		t.Fatalf("web-2 runs no userdb service: %+v", web2)
	}
	sock := filepath.Join(userdb.Dir, web2.JITService)

	// Log in with the alice profile's credentials: jitssh derives the OS
	// user alice from the role session name.
	var alice []string
	for _, id := range e.sb.World.Identities() {
		if id.Name == "alice" {
			alice = []string{"AWS_ACCESS_KEY_ID=" + id.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + id.SecretAccessKey}
		}
	}
	if alice == nil {
		t.Fatal("the built-in account has no alice identity")
	}
	for _, kv := range e.vars {
		if !strings.HasPrefix(kv, "AWS_ACCESS_KEY_ID=") && !strings.HasPrefix(kv, "AWS_SECRET_ACCESS_KEY=") {
			alice = append(alice, kv)
		}
	}
	e.vars = alice
	out, err := e.run("jitssh", "ssh", "web-2", "--", "id; pwd; echo logged-in")
	if err != nil || !strings.Contains(string(out), "logged-in") {
		t.Fatalf("alice's first login to web-2: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "(alice) gid=") || !strings.Contains(string(out), "(users)") {
		t.Errorf("id lacks user alice or the configured group users:\n%s", out)
	}
	pw, err := exec.Command("getent", "passwd", "alice").Output()
	home := strings.TrimSpace(strings.Split(string(pw)+"::::::", ":")[5])
	if err != nil || !strings.HasPrefix(home, e.sb.StateDir) || !strings.Contains(string(out), "\n"+home+"\n") {
		t.Errorf("getent passwd alice = %q, %v; want a home under %s, the session's directory", pw, err, e.sb.StateDir)
	}
	// A second login keeps the same user.
	out2, err := e.run("jitssh", "ssh", "web-2", "--", "id")
	if err != nil || strings.Fields(string(out2))[0] != strings.Fields(string(out))[0] {
		t.Errorf("second login: %v, id = %q, first %q", err, out2, out)
	}

	e.sb.Close()
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("userdb socket %s left after the sandbox stopped: %v", sock, err)
	}
	if pw, err := exec.Command("getent", "passwd", "alice").Output(); err == nil {
		t.Errorf("alice still resolves after the sandbox stopped: %q", pw)
	}
	if _, err := os.Stat(home); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("home %s left after the sandbox stopped: %v", home, err)
	}
}
