package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/connect"
	"github.com/jitssh/jitssh/internal/datachannel"
)

func TestSSMEndText(t *testing.T) {
	idle := ssmEndText(&connect.SSMEnd{Reason: datachannel.EndIdleTimeout, Idle: 20*time.Minute + 2*time.Second})
	if !strings.HasPrefix(idle, "jitssh: the SSM session ended: Session Manager's idle timeout (20 minutes of no data) — ServerAliveInterval in the Host section keeps sessions alive") {
		t.Errorf("idle: %s", idle)
	}
	long := ssmEndText(&connect.SSMEnd{Reason: datachannel.EndMaxDuration, After: time.Second})
	if !strings.Contains(long, "maximum session duration (after 1 second)") || !strings.Contains(long, "keep-alives do not help") {
		t.Errorf("max duration: %s", long)
	}
	if s := ssmEndText(nil) + ssmEndText(&connect.SSMEnd{}); s != "" {
		t.Errorf("no end: %q", s)
	}
}
