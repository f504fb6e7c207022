package connect

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jitssh/jitssh/internal/progress"
	"github.com/jitssh/jitssh/internal/targets"
)

// Explanation is jitssh's account of how a connection ended, for what ssh
// reports badly ("Permission denied (publickey)", "Broken pipe").
type Explanation struct {
	// Login explains a login that was most likely refused: ssh closed the
	// connection soon after the key exchange. It is right when ssh
	// failed (exit status 255); the caller decides whether it did (see
	// LoginRefused). It names no command or flag: the command line adds
	// how to log in as another user.
	Login string `json:"login,omitempty"`
	// Refused is true when the stream itself shows the login refused
	// (an OpenSSH server that sent too little after the key exchange for
	// a login to have succeeded), so Login may be shown without knowing
	// ssh's exit status.
	Refused bool `json:"refused,omitempty"`
	// Ended explains an end on the instance's side: it is no longer
	// running.
	Ended string `json:"ended,omitempty"`
	// SSM is set when Session Manager itself ended the SSM session (idle
	// timeout, maximum session duration); the command line words it.
	SSM *SSMEnd `json:"ssm,omitempty"`
}

// loginBytes is the least an OpenSSH sshd sends after the key exchange
// when a login succeeds: besides the replies every login gets (service
// accept, server-sig-algs, "none" refused), it announces its host keys
// (hostkeys-00@openssh.com) and answers the session channel. Measured
// with OpenSSH 9.6 (docs/transports.md, "When ssh fails after
// connecting"): a refused login (one key offered) 448 bytes, `ssh host
// true` with a single ed25519 host key 1048 bytes; each further key ssh
// offers adds about 80 bytes to a refusal.
const loginBytes = 768

// stateCheckTimeout bounds the look at an instance whose side of the
// connection ended.
const stateCheckTimeout = 3 * time.Second

// explainEnd says what jitssh knows about a connection that may have ended
// badly once it was set up; the zero Explanation for nothing to say.
func (o ProxyOptions) explainEnd(inst targets.Instance, transport string, r *streamReport) Explanation {
	who := inst.ID
	if inst.Name != "" {
		who += " (" + progress.Printable(inst.Name) + ")" // a Name tag reaches the terminal
	}
	var e Explanation
	switch {
	case r.sshClosed && !r.newKeys.IsZero() && r.afterKex > 0 && r.afterKex < authWatchBytes:
		// ssh accepted the host key (the server only speaks after the
		// client's NEWKEYS) and hung up soon after.
		how := "pushed the key for OS user %q with EC2 Instance Connect"
		causes := fmt.Sprintf("there is no user %q on the instance (log in as another user; Amazon Linux: ec2-user, Ubuntu: ubuntu); "+
			"or its image lacks EC2 Instance Connect, so sshd never asks for pushed keys (install the ec2-instance-connect package or jitssh-host, or use an image that has it); "+
			"or sshd's AuthorizedKeysCommand is changed or failing (sshd's log says which)", o.User)
		if inst.Managed {
			how = "placed the key for OS user %q with SSM Run Command"
			causes = fmt.Sprintf("there is no user %q on the server, or its sshd does not read ~/.ssh/authorized_keys", o.User)
		}
		e.Login = fmt.Sprintf("jitssh: ssh closed the connection to %s %v after the key exchange, having had %d bytes from sshd since: "+
			"if ssh said \"Permission denied\", the login was refused. jitssh "+how+" just before it. Likely causes: %s.",
			who, r.end.Sub(r.newKeys).Round(time.Millisecond), r.afterKex, o.User, causes)
		e.Refused = strings.HasPrefix(r.version, "SSH-2.0-OpenSSH_") && r.afterKex < loginBytes
	case !r.sshClosed && !inst.Managed && o.API != nil:
		// The instance's side ended first: say so if it is no longer
		// running (a stopped instance otherwise shows as ssh's "Broken
		// pipe" or "Connection closed").
		ctx, cancel := context.WithTimeout(context.Background(), stateCheckTimeout)
		defer cancel()
		found, err := o.API.DescribeInstances(ctx, []string{inst.ID}, nil)
		if err != nil || len(found) != 1 || found[0].State == "running" {
			return e
		}
		e.Ended = fmt.Sprintf("jitssh: the %s connection to %s ended after %v because the instance is now %s.",
			transport, who, r.end.Sub(r.start).Round(time.Second), found[0].State)
	}
	return e
}
