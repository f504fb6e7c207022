package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sandboxProc is a `jitssh-sandbox up` process.
type sandboxProc struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan error
}

// startSandbox runs jitssh-sandbox up with args (writing envFile) and
// waits for the env file.
func startSandbox(t *testing.T, envFile string, args ...string) *sandboxProc {
	t.Helper()
	os.Remove(envFile)
	p := &sandboxProc{done: make(chan error, 1)}
	p.cmd = exec.Command(filepath.Join(binDir, "jitssh-sandbox"), append([]string{"up", "--env-file", envFile}, args...)...)
	// TMPDIR: its default state directory and log file go there.
	p.cmd.Env = append(cleanEnv(t.TempDir()), "TMPDIR="+t.TempDir())
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.stop(t) })
	deadline := time.After(60 * time.Second)
	for {
		if _, err := os.Stat(envFile); err == nil {
			return p
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("jitssh-sandbox up exited: %v\n%s", err, p.stderr.String())
		case <-deadline:
			t.Fatalf("no env file after 60s:\n%s", p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (p *sandboxProc) stop(t *testing.T) {
	if p.cmd.ProcessState != nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		t.Errorf("jitssh-sandbox did not stop on SIGTERM:\n%s", p.stderr.String())
	}
}

// cleanEnv is this process's environment without AWS, XDG, HOME or agent
// settings, with HOME=home and the test binaries first on PATH.
func cleanEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "XDG_") ||
			strings.HasPrefix(kv, "SSH_AUTH_SOCK=") || strings.HasPrefix(kv, "JITSSH_STATE_DIR=") || strings.HasPrefix(kv, "PATH=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home, "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// sourced runs shell after sourcing envFile, in a user's default
// environment (HOME=home, no XDG variables).
func sourced(t *testing.T, home, envFile, shell string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", `. "$1" && `+shell, "bash", envFile)
	cmd.Env = cleanEnv(home)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestSandboxRestartReconnects: up, connect, stop, up, connect, with the
// user's default HOME. The restarted sandbox has the same instance ids but
// (with a fresh state directory) new host keys and none of the keys pushed
// before; jitssh once kept pins and push records of simulated instances in
// the user's own directories, so the second connection failed with "Host
// key verification failed" (or "Permission denied" within 60 s of the
// first). The env file now gives jitssh the sandbox's own state directory,
// and nothing is written under the user's ~/.config or ~/.cache.
func TestSandboxRestartReconnects(t *testing.T) {
	requireSSH(t)
	for _, tc := range []struct {
		name string
		args func(dir string) []string
	}{
		{"default-state-dir", func(string) []string { return nil }},
		{"kept-state-dir", func(dir string) []string { return []string{"--state-dir", filepath.Join(dir, "state")} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home, dir := t.TempDir(), t.TempDir()
			envFile := filepath.Join(dir, "sandbox.env")
			connect := func(round int) {
				t.Helper()
				out, err := sourced(t, home, envFile, "jitssh ssh web-1 -- echo connected")
				if err != nil || !strings.Contains(out, "connected") {
					t.Fatalf("round %d: jitssh ssh web-1: %v\n%s", round, err, out)
				}
			}
			p := startSandbox(t, envFile, tc.args(dir)...)
			connect(1)
			p.stop(t)
			startSandbox(t, envFile, tc.args(dir)...)
			connect(2)
			for _, d := range []string{".config/jitssh", ".cache/jitssh"} {
				if _, err := os.Stat(filepath.Join(home, d)); err == nil {
					t.Errorf("the sandbox's pins or keys went to the user's ~/%s", d)
				}
			}
		})
	}
}
