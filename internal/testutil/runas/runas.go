// Package runas is test support: real processes under another uid, as
// the kernel sets it for a login (root only). The unprivileged user
// `nobody` (its credentials; a copy of the test binary serving a socket as
// nobody), and PID-hopper chains running as a uid together with what
// ends them. Production code never imports it (internal/archtest).
package runas

import (
	"bufio"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Nobody returns the credentials of the user nobody (its own uid and
// gid, no supplementary groups).
func Nobody(t testing.TB) *syscall.Credential {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("look up nobody: %v", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		t.Fatalf("nobody's uid %q: %v", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		t.Fatalf("nobody's gid %q: %v", u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
}

// SharedDir makes a temporary directory every user may write to (0777,
// outside the 0700 t.TempDir), removed when t ends.
func SharedDir(t testing.TB, pattern string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}

// SelfIn copies the running test binary into dir as name (0755), where
// another user can run it, and returns its path.
func SelfIn(t testing.TB, dir, name string) string {
	t.Helper()
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, self, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// NobodyServer runs a copy of the test binary as nobody with
// envVar=<socket path> as its only environment, and returns the socket
// path once the process printed "ready\n" (its TestMain serves the socket
// when envVar is set). The process is killed when t ends.
func NobodyServer(t testing.TB, envVar string) string {
	t.Helper()
	dir := SharedDir(t, "runas-srv")
	sock := filepath.Join(dir, "s")
	srv := exec.Command(SelfIn(t, dir, "server"))
	srv.Env = []string{envVar + "=" + sock}
	srv.SysProcAttr = &syscall.SysProcAttr{Credential: Nobody(t)}
	out, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Process.Kill()
		srv.Wait()
	})
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		t.Fatalf("server as nobody did not start: %q", line)
	}
	return sock
}

// hopScript is a PID hopper: every process appends a byte to $BEAT,
// starts the next one and exits, so the chain's PID changes every few
// milliseconds, forever. $BEAT growing is how a test sees it alive (a
// scan of /proc can miss it).
const hopScript = `printf . >>"$BEAT"; /bin/sh -c "$HOP" & exit 0`

// StartHoppers starts n PID-hopper chains running as uid:uid (setuid by
// the kernel, as for a real login) and returns their heartbeat file once
// they run.
func StartHoppers(t testing.TB, uid uint32, n int) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "jitssh-hop-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	beat := filepath.Join(dir, "beat")
	if err := os.WriteFile(beat, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	os.Chmod(beat, 0o666)
	for i := 0; i < n; i++ {
		cmd := exec.Command("/bin/sh", "-c", hopScript)
		cmd.Env = []string{"HOP=" + hopScript, "BEAT=" + beat, "PATH=/usr/bin:/bin"}
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}, Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go cmd.Wait() // the first of the chain is ours to reap
	}
	if !Beating(beat, 5*time.Second) {
		t.Fatal("the hoppers did not start")
	}
	return beat
}

// Beating reports whether the heartbeat file grows within d.
func Beating(beat string, d time.Duration) bool {
	size := func() int64 {
		fi, err := os.Stat(beat)
		if err != nil {
			return -1
		}
		return fi.Size()
	}
	start := size()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		if size() != start {
			return true
		}
	}
	return false
}

// KillAllAtCleanup ends, when t ends, whatever is left running as uid,
// with the shell's kill builtin run as uid (independent of the code under
// test).
func KillAllAtCleanup(t testing.TB, uid uint32) {
	t.Cleanup(func() {
		for i := 0; i < 100; i++ {
			cmd := exec.Command("/bin/sh", "-c", "kill -9 -1")
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
			if cmd.Run() != nil && i > 5 {
				return // nothing left to signal
			}
		}
	})
}
