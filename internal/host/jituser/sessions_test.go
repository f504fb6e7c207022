package jituser_test

import (
	"crypto/rand"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/host/jituser"
)

// requireRoot fails in CI (JITSSH_REQUIRE_SSHD=1, run as root) and skips
// elsewhere.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("JITSSH_REQUIRE_SSHD") == "1" {
		t.Fatal("JITSSH_REQUIRE_SSHD=1 but not root: real processes of another uid need root")
	}
	t.Skip("needs root to run processes as another uid")
}

// hopScript is a PID hopper: every process appends a byte to $BEAT,
// starts the next one and exits, so the chain's PID changes every few
// milliseconds, forever. $BEAT growing is how the test sees it alive (a
// scan of /proc can miss it, which is the bug under test).
const hopScript = `printf . >>"$BEAT"; /bin/sh -c "$HOP" & exit 0`

// startHoppers starts n PID-hopper chains running as uid:uid and returns
// the heartbeat file once they run.
func startHoppers(t *testing.T, uid uint32, n int) string {
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
	if !beating(beat, 5*time.Second) {
		t.Fatal("the hoppers did not start")
	}
	return beat
}

// beating reports whether the heartbeat file grows within d.
func beating(beat string, d time.Duration) bool {
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

// cleanupUID ends whatever a failed test left running as uid, with the
// shell's kill builtin run as uid (independent of the code under test).
func cleanupUID(t *testing.T, uid uint32) {
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

func randomUID() uint32 {
	var b [4]byte
	rand.Read(b[:])
	return 2_000_000_000 + binary.LittleEndian.Uint32(b[:])%100_000_000
}

// TestKillSessionsPIDHopper: processes that keep forking and exiting, so
// that their PID changes constantly, do not survive KillSessions.
func TestKillSessionsPIDHopper(t *testing.T) {
	requireRoot(t)
	uid := randomUID()
	cleanupUID(t, uid)
	beat := startHoppers(t, uid, 4)
	if _, err := jituser.KillSessions(uid, "nobody-in-particular"); err != nil {
		t.Fatalf("KillSessions: %v", err)
	}
	if beating(beat, time.Second) {
		t.Fatalf("PID hoppers of uid %d survived KillSessions", uid)
	}
	if _, err := jituser.KillSessions(0, "root"); err == nil {
		t.Error("KillSessions accepted uid 0")
	}
}
