package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/connect"
	"github.com/jitssh/jitssh/internal/datachannel"
)

func TestSSMEndText(t *testing.T) {
	idle := ssmEndText(&connect.SSMEnd{Reason: datachannel.EndIdleTimeout, Idle: 20*time.Minute + 2*time.Second}, ssmForSSH)
	if !strings.HasPrefix(idle, "jitssh: the SSM session ended: Session Manager's idle timeout (20 minutes of no data) — ServerAliveInterval in the Host section keeps sessions alive") {
		t.Errorf("idle: %s", idle)
	}
	long := ssmEndText(&connect.SSMEnd{Reason: datachannel.EndMaxDuration, After: time.Second}, ssmForSSH)
	if !strings.Contains(long, "maximum session duration (after 1 second)") || !strings.Contains(long, "keep-alives do not help") {
		t.Errorf("max duration: %s", long)
	}
	if s := ssmEndText(nil, ssmForShell) + ssmEndText(&connect.SSMEnd{}, ssmForTunnel); s != "" {
		t.Errorf("no end: %q", s)
	}
	shell := ssmEndText(&connect.SSMEnd{Reason: datachannel.EndIdleTimeout, Idle: 3 * time.Second}, ssmForShell)
	if !strings.Contains(shell, "idle timeout (3 seconds of no data)") || !strings.Contains(shell, "input or output") || strings.Contains(shell, "config install") {
		t.Errorf("shell idle: %s", shell)
	}
	tunnel := ssmEndText(&connect.SSMEnd{Reason: datachannel.EndIdleTimeout, Idle: 3 * time.Second}, ssmForTunnel)
	if !strings.Contains(tunnel, "no connection through the tunnel carried data") {
		t.Errorf("tunnel idle: %s", tunnel)
	}
	if long := ssmEndText(&connect.SSMEnd{Reason: datachannel.EndMaxDuration, After: 2 * time.Hour}, ssmForTunnel); !strings.Contains(long, "(after 120 minutes)") || !strings.Contains(long, "start the tunnel again") {
		t.Errorf("tunnel max duration: %s", long)
	}
}
