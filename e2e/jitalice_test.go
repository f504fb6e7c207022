package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/filelock"
	"github.com/jitssh/jitssh/internal/host/install"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// jitAliceWait is how long jitAliceState waits for another process's
// just-in-time alice to go: a user served for a pushed key lasts as long
// as the key's 60 s in IMDS, or the other sandbox's life.
const jitAliceWait = 2 * time.Minute

// jitAliceState readies a test in which the sandbox's identity alice logs
// in to web-2 as the just-in-time user alice (the real sshd, nss-systemd),
// and returns a fresh state directory alice can reach (homes live there,
// so not under t.TempDir's private parent).
//
// The user alice is machine-wide: while any sandbox on this machine serves
// her through /run/systemd/userdb (another package's test, another
// checkout's), getent finds her and a second such test would log in as the
// wrong one. So the test holds a lock file that every such test on the
// machine takes, for its whole life, and waits until no alice resolves;
// a user alice who stays (one in /etc/passwd) fails the test under
// JITSSH_REQUIRE_SSHD, as CI runs it, and skips it elsewhere.
func jitAliceState(t *testing.T, prefix string) string {
	t.Helper()
	skip := func(why string) {
		t.Helper()
		if os.Getenv("JITSSH_REQUIRE_SSHD") != "" {
			t.Fatalf("JITSSH_REQUIRE_SSHD is set but %s", why)
		}
		t.Skip(why)
	}
	if sshd.ResolveAuto() != sshd.OpenSSH {
		skip("the real sshd cannot run here (needs /usr/sbin/sshd and root)")
	}
	if p := install.CheckNSS("/"); len(p) > 0 {
		skip(p[0].What)
	}
	lock, err := filelock.Open(filepath.Join(os.TempDir(), "jitssh-e2e-jit-alice.lock"), true)
	if err != nil {
		t.Fatal(err)
	}
	if err := filelock.Lock(lock, true, true); err != nil {
		lock.Close()
		t.Fatalf("lock the machine's just-in-time alice: %v", err)
	}
	t.Cleanup(func() { filelock.Unlock(lock); lock.Close() })
	for deadline := time.Now().Add(jitAliceWait); ; time.Sleep(time.Second) {
		if exec.Command("getent", "passwd", "alice").Run() != nil {
			break
		}
		if time.Now().After(deadline) {
			skip("this machine has a user alice (still there after " + jitAliceWait.String() + ")")
		}
	}
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
