// Package e2e runs jitssh end to end against the sandbox, in process, with
// the real OpenSSH client (ssh, scp) and, when installed and running as
// root, the real OpenSSH sshd on the simulated instances.
//
// Set JITSSH_REQUIRE_SSHD=1 (CI does) to turn a missing sshd into a failure
// instead of a fallback to the embedded SSH server.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/testutil/sandboxenv"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "jitssh-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	for _, cmd := range []string{"jitssh", "jitssh-host", "jitssh-sandbox"} {
		build := exec.Command("go", "build", "-o", filepath.Join(dir, cmd), "../cmd/"+cmd)
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n", cmd, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is a running sandbox plus an isolated client environment.
type env struct {
	t     testing.TB
	sb    *sandbox.Sandbox
	home  string
	vars  []string
	sshCf string
}

func requireSSH(t testing.TB) {
	t.Helper()
	for _, b := range []string{"ssh", "scp"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("OpenSSH client (%s) not installed", b)
		}
	}
}

// eachMode runs f in a subtest per SSH server mode, each with its own sandbox.
func eachMode(t *testing.T, f func(t *testing.T, e *env)) {
	for _, m := range sandboxenv.Modes(t) {
		t.Run(m.String(), func(t *testing.T) { f(t, newEnv(t, m)) })
	}
}

// newEnv starts a sandbox whose instances run mode's SSH server; opts
// adjust the sandbox configuration further.
func newEnv(t testing.TB, mode sshd.Mode, opts ...func(*sandbox.Config)) *env {
	t.Helper()
	requireSSH(t)
	cfg := sandbox.Config{
		StateDir:   t.TempDir(),
		HostBinary: filepath.Join(binDir, "jitssh-host"),
		SSHMode:    mode,
	}
	// HTTPS/WSS with the sandbox's CA unless JITSSH_E2E_TLS=0; a test that
	// must use plain HTTP sets cfg.TLS = false in opts.
	cfg.TLS = sandboxenv.TLS(t)
	for _, o := range opts {
		o(&cfg)
	}
	sb := sandboxenv.Start(t, cfg, false)
	home := t.TempDir()
	e := &env{t: t, sb: sb, home: home}
	// Only the sandbox's credentials: never a developer's real AWS ones.
	e.vars = sandboxenv.Environ(sb, home, binDir)
	e.sshCf = filepath.Join(home, "ssh_config")
	// As root the sandbox's default user is its own non-root account (the
	// default identity cannot push keys for root), not ssh's default.
	if out, err := e.run("jitssh", append([]string{"config", "install", "--file", e.sshCf}, userArgs(t)...)...); err != nil {
		t.Fatalf("jitssh config install: %v\n%s", err, out)
	}
	if got := sb.Instances[0].SSHServer; got != mode.String() {
		t.Fatalf("sandbox runs %s, want %s", got, mode)
	}
	return e
}

func (e *env) run(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if strings.HasPrefix(name, "jitssh") {
		name = filepath.Join(binDir, name) // exec resolves names with our PATH, not cmd.Env's
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = e.vars
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return append(out, stderr.Bytes()...), fmt.Errorf("%s %s: %w\nstderr: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

func TestJitsshSSHRunsRemoteCommand(t *testing.T) {
	eachMode(t, func(t *testing.T, e *env) {
		in := e.sb.Instances[0]
		// By Name tag, through `jitssh ssh` (real ssh with jitssh as ProxyCommand).
		out, err := e.run("jitssh", "ssh", in.Name, "--", "hostname")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(string(out)); got != in.Hostname {
			t.Fatalf("hostname over jitssh ssh = %q, want %q", got, in.Hostname)
		}
		// The login left an audit line naming the caller and the request.
		audit, err := os.ReadFile(in.AuditLog)
		if err != nil {
			t.Fatalf("read audit log: %v", err)
		}
		if !bytes.Contains(audit, []byte(e.sb.Identity.ARN)) {
			t.Fatalf("audit log does not name the caller %s:\n%s", e.sb.Identity.ARN, audit)
		}
	})
}

func TestPlainSSHThroughConfigBlock(t *testing.T) {
	eachMode(t, func(t *testing.T, e *env) {
		for _, in := range e.sb.Instances[:2] {
			out, err := e.run("ssh", "-F", e.sshCf, in.ID, "echo", "hello from", "$(hostname)")
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.TrimSpace(string(out)), "hello from "+in.Hostname; got != want {
				t.Fatalf("%s: got %q, want %q", in.ID, got, want)
			}
		}
		// The host key was learned over SSM and pinned: a second connection
		// checks against the pin (StrictHostKeyChecking yes) and still works.
		pins, err := os.ReadFile(filepath.Join(e.home, ".config", "jitssh", "known_hosts"))
		if err != nil || !bytes.Contains(pins, []byte(e.sb.Instances[0].ID+" ")) {
			t.Fatalf("no pin for %s: %v\n%s", e.sb.Instances[0].ID, err, pins)
		}
		if _, err := e.run("ssh", "-F", e.sshCf, e.sb.Instances[0].ID, "true"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSCPRoundTripIntegrity(t *testing.T) {
	eachMode(t, func(t *testing.T, e *env) {
		id := e.sb.Instances[1].ID
		local := filepath.Join(t.TempDir(), "payload")
		data := make([]byte, 3<<20+12345)
		rand.Read(data)
		// Lone newlines and CRs must survive (AWS's plugin rewrites a lone \n).
		copy(data, "\n\r\n\n")
		if err := os.WriteFile(local, data, 0o600); err != nil {
			t.Fatal(err)
		}
		remote := filepath.Join(remoteDir(t), "remote-copy")
		back := filepath.Join(t.TempDir(), "back")
		if _, err := e.run("scp", "-q", "-F", e.sshCf, local, id+":"+remote); err != nil {
			t.Fatal(err)
		}
		if _, err := e.run("scp", "-q", "-F", e.sshCf, id+":"+remote, back); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(back)
		if err != nil {
			t.Fatal(err)
		}
		if sha256.Sum256(got) != sha256.Sum256(data) {
			t.Fatalf("scp round trip changed the file: %d bytes back, want %d", len(got), len(data))
		}
	})
}

func TestUnknownTargetFailsWithoutPushingAKey(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	out, err := e.run("jitssh", "ssh", "i-0ffffffffffffffff", "--", "true")
	if err == nil {
		t.Fatal("connected to an instance that does not exist")
	}
	if !strings.Contains(string(out), "i-0ffffffffffffffff") {
		t.Fatalf("error does not name the instance:\n%s", out)
	}
	for _, in := range e.sb.Instances {
		if keys := e.sb.World.ActiveKeys("i-0ffffffffffffffff", "root"); len(keys) > 0 || len(e.sb.World.ActiveKeys(in.ID, currentUser(t))) > 0 {
			t.Fatalf("a key was pushed: %+v", keys)
		}
	}
	if _, err := e.run("jitssh", "ssh", "no-such-name", "--", "true"); err == nil {
		t.Fatal("connected to a Name tag that matches nothing")
	}
}

// userArgs are the `jitssh config install` flags that make ssh log in as
// currentUser: as root with the sandbox's own accounts that is not the
// local user (ssh's default).
func userArgs(t testing.TB) []string {
	if sandbox.OwnAccounts() {
		return []string{"--user", currentUser(t)}
	}
	return nil
}

// remoteDir is a new directory the remote user (currentUser) can write
// files into and the test can read back.
func remoteDir(t testing.TB) string {
	d := t.TempDir()
	for p := d; p != os.TempDir() && p != "/"; p = filepath.Dir(p) {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o001 == 0 {
			os.Chmod(p, fi.Mode().Perm()|0o001)
		}
	}
	if err := os.Chmod(d, 0o1777); err != nil {
		t.Fatal(err)
	}
	return d
}

func currentUser(t testing.TB) string {
	if sandbox.OwnAccounts() {
		return sandbox.LocalUser() // the sandbox's own non-root account, as root
	}
	out, err := exec.Command("id", "-un").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
