package jituser_test

import (
	"crypto/rand"
	"encoding/binary"
	"os"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/host/jituser"
	"github.com/jitssh/jitssh/internal/testutil/runas"
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
	runas.KillAllAtCleanup(t, uid)
	beat := runas.StartHoppers(t, uid, 4)
	if _, err := jituser.KillSessions(uid, "nobody-in-particular"); err != nil {
		t.Fatalf("KillSessions: %v", err)
	}
	if runas.Beating(beat, time.Second) {
		t.Fatalf("PID hoppers of uid %d survived KillSessions", uid)
	}
	if _, err := jituser.KillSessions(0, "root"); err == nil {
		t.Error("KillSessions accepted uid 0")
	}
}
