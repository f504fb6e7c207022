package cli

import (
	"fmt"
	"time"

	"github.com/jitssh/jitssh/internal/connect"
	"github.com/jitssh/jitssh/internal/datachannel"
	"github.com/jitssh/jitssh/internal/ssmsession"
)

// ssmKind is what an SSM session carried, for wording its end: what keeps
// such a session alive differs.
type ssmKind int

const (
	ssmForSSH    ssmKind = iota // ssh through jitssh proxy (jitssh ssh, the Host section)
	ssmForShell                 // jitssh shell
	ssmForTunnel                // jitssh tunnel (port forwarding)
)

// ssmEndText words Session Manager's own end of an SSM session (idle
// timeout, maximum session duration) for stderr; "" for anything else.
func ssmEndText(e *connect.SSMEnd, kind ssmKind) string {
	if e == nil {
		return ""
	}
	switch e.Reason {
	case datachannel.EndIdleTimeout:
		return fmt.Sprintf("jitssh: the SSM session ended: Session Manager's idle timeout (%s of no data) — %s; "+
			"the account's Session Manager preferences set the timeout (idleSessionTimeout)", spanWords(e.Idle), idleAdvice[kind])
	case datachannel.EndMaxDuration:
		again := "connect again to carry on"
		if kind == ssmForTunnel {
			again = "start the tunnel again to carry on"
		}
		return fmt.Sprintf("jitssh: the SSM session ended: Session Manager's maximum session duration (after %s) — "+
			"keep-alives do not help; %s; "+
			"the account's Session Manager preferences set the maximum (maxSessionDuration)", spanWords(e.After), again)
	}
	return ""
}

// idleAdvice is what keeps each kind of session from going idle.
var idleAdvice = map[ssmKind]string{
	ssmForSSH: "ServerAliveInterval in the Host section keeps sessions alive (`jitssh config install --server-alive` sets it)",
	ssmForShell: "a shell session stays open only while input or output flows; " +
		"`jitssh ssh` (SSH over SSM, with ServerAliveInterval) outlives the timeout",
	ssmForTunnel: "no connection through the tunnel carried data; traffic keeps it open " +
		"(the application's own keep-alives, or ServerAliveInterval for ssh through it); start the tunnel again to carry on",
}

// endOf is a shell or tunnel session's Ending as connect.SSMEnd.
func endOf(e *ssmsession.Ending) *connect.SSMEnd {
	if e == nil {
		return nil
	}
	return &connect.SSMEnd{Reason: e.Reason, Idle: e.Idle, After: e.After}
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

// printSSMEnd writes ssmEndText(e) of ssh's session to stderr, if there
// is any.
func (g *globals) printSSMEnd(e *connect.SSMEnd) {
	if s := ssmEndText(e, ssmForSSH); s != "" {
		fmt.Fprintln(g.io.Err, s)
	}
}
