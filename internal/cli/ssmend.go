package cli

import (
	"fmt"
	"time"

	"github.com/jitssh/jitssh/internal/connect"
	"github.com/jitssh/jitssh/internal/datachannel"
)

// ssmEndText words Session Manager's own end of an SSM session (idle
// timeout, maximum session duration) for stderr; "" for anything else.
func ssmEndText(e *connect.SSMEnd) string {
	if e == nil {
		return ""
	}
	switch e.Reason {
	case datachannel.EndIdleTimeout:
		return fmt.Sprintf("jitssh: the SSM session ended: Session Manager's idle timeout (%s of no data) — "+
			"ServerAliveInterval in the Host section keeps sessions alive (`jitssh config install --server-alive` sets it); "+
			"the account's Session Manager preferences set the timeout (idleSessionTimeout)", spanWords(e.Idle))
	case datachannel.EndMaxDuration:
		return fmt.Sprintf("jitssh: the SSM session ended: Session Manager's maximum session duration (after %s) — "+
			"keep-alives do not help; connect again to carry on; "+
			"the account's Session Manager preferences set the maximum (maxSessionDuration)", spanWords(e.After))
	}
	return ""
}

// spanWords says d in whole minutes, or in seconds below one.
func spanWords(d time.Duration) string {
	if d < time.Minute {
		s := int(d.Round(time.Second) / time.Second)
		return fmt.Sprintf("%d second%s", s, plural(s))
	}
	m := int(d.Round(time.Minute) / time.Minute)
	return fmt.Sprintf("%d minute%s", m, plural(m))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// printSSMEnd writes ssmEndText(e) to w, if there is any.
func (g *globals) printSSMEnd(e *connect.SSMEnd) {
	if s := ssmEndText(e); s != "" {
		fmt.Fprintln(g.io.Err, s)
	}
}
