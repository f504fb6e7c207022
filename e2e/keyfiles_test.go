package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

var (
	shortOnce sync.Once
	shortBin  string
	shortErr  error
)

// shortKeysJitssh builds jitssh with the jitssh_shortkeys tag (a push
// window of 8 s, never in production builds), once per test run.
func shortKeysJitssh(t *testing.T) string {
	t.Helper()
	shortOnce.Do(func() {
		shortBin = filepath.Join(binDir, "short", "jitssh")
		out, err := exec.Command("go", "build", "-tags", "jitssh_shortkeys", "-o", shortBin, "../cmd/jitssh").CombinedOutput()
		if err != nil {
			shortErr = fmt.Errorf("build jitssh with a short key window: %v\n%s", err, out)
		}
	})
	if shortErr != nil {
		t.Fatal(shortErr)
	}
	return shortBin
}

// keyDirFiles lists the key directory, sorted.
func keyDirFiles(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// childOf returns the pid of a process whose parent is ppid.
func childOf(t *testing.T, ppid int) int {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(ppid) {
			return pid
		}
	}
	t.Fatalf("no child of %d", ppid)
	return 0
}

// TestKeyFilesRemoved: the ephemeral key files of plain ssh through the
// config block are gone from the key directory once their push window has
// closed, after an ssh, an scp, an ssh killed with SIGKILL (its proxy sees
// EOF), a failed login (the key was pushed, the server refused it), a
// connection that failed in the proxy (stopped instance), and a proxy
// itself killed with SIGKILL (its files are removed by the next run).
// Within the window the key stays for reuse.
func TestKeyFilesRemoved(t *testing.T) {
	short := shortKeysJitssh(t)
	e := newEnv(t, sshd.ResolveAuto())
	cf := filepath.Join(e.home, "ssh_config_short")
	if out, err := e.run(short, append([]string{"config", "install", "--file", cf}, userArgs(t)...)...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	keyDir := filepath.Join(e.home, ".cache", "jitssh", "keys")
	user := currentUser(t)
	byName := map[string]string{}
	for _, in := range e.sb.Instances {
		byName[in.Name] = in.ID
	}
	ssh := func(ctx context.Context, args ...string) *exec.Cmd {
		c := exec.CommandContext(ctx, "ssh", append([]string{"-F", cf, "-o", "BatchMode=yes"}, args...)...)
		c.Env = e.vars
		return c
	}
	// startSleeper starts ssh running a remote sleep and waits until it
	// is logged in.
	startSleeper := func(id string) *exec.Cmd {
		c := ssh(context.Background(), id, "echo up; exec sleep 60")
		out, err := c.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		c.Stderr = &stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
		line, _ := bufio.NewReader(out).ReadString('\n')
		if strings.TrimSpace(line) != "up" {
			t.Fatalf("ssh %s: %q\n%s", id, line, stderr.String())
		}
		return c
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// A proxy killed with SIGKILL leaves its files behind.
	crashed := startSleeper(byName["db-1"])
	if err := syscall.Kill(childOf(t, crashed.Process.Pid), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	crashed.Wait()
	crashedKey := user + "@" + byName["db-1"]
	if _, err := os.Stat(filepath.Join(keyDir, crashedKey)); err != nil {
		t.Fatalf("the killed proxy's key file: %v", err)
	}

	// ssh and scp.
	if out, err := ssh(ctx, byName["web-1"], "true").CombinedOutput(); err != nil {
		t.Fatalf("ssh: %v\n%s", err, out)
	}
	local := filepath.Join(t.TempDir(), "f")
	os.WriteFile(local, []byte("x"), 0o600)
	remote := filepath.Join(remoteDir(t), "f")
	scp := exec.CommandContext(ctx, "scp", "-q", "-F", cf, "-o", "BatchMode=yes", local, byName["web-2"]+":"+remote)
	scp.Env = e.vars
	if out, err := scp.CombinedOutput(); err != nil {
		t.Fatalf("scp: %v\n%s", err, out)
	}
	os.Remove(remote)
	// Within the window the key stays, for the next ssh to reuse.
	if _, err := os.Stat(filepath.Join(keyDir, user+"@"+byName["web-1"])); err != nil {
		t.Fatalf("key file gone within its window: %v", err)
	}
	// ssh killed with SIGKILL: its proxy sees EOF.
	killed := startSleeper(byName["bastion-1"])
	killed.Process.Kill()
	killed.Wait()
	// A login the server refuses (legacy-1's sshd never asks for pushed
	// keys), and a proxy that fails (a stopped instance).
	if out, err := ssh(ctx, byName["legacy-1"], "true").CombinedOutput(); err == nil {
		t.Fatalf("ssh to legacy-1 succeeded:\n%s", out)
	}
	if out, err := ssh(ctx, byName["old-1"], "true").CombinedOutput(); err == nil {
		t.Fatalf("ssh to the stopped old-1 succeeded:\n%s", out)
	}

	// Once the windows have closed, only the killed proxy's files remain.
	waitFor := func(what string, ok func([]string) bool) {
		t.Helper()
		deadline := time.Now().Add(40 * time.Second)
		for {
			files := keyDirFiles(keyDir)
			if ok(files) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: key directory holds %v", what, files)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitFor("after the push windows closed", func(files []string) bool {
		for _, f := range files {
			if !strings.HasPrefix(f, crashedKey+".") && f != crashedKey {
				return false
			}
		}
		return true
	})
	// The next run removes them (its window is closed: nobody uses them).
	if out, err := ssh(ctx, byName["web-1"], "true").CombinedOutput(); err != nil {
		t.Fatalf("ssh: %v\n%s", err, out)
	}
	waitFor("after the next run", func(files []string) bool { return len(files) == 0 })
}
