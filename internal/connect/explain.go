package connect

import (
	"context"
	"fmt"
	"time"

	"github.com/jitssh/jitssh/internal/target"
)

// loginBytes is the least a server sends after the key exchange when a
// login succeeds: besides the replies every login gets (service accept,
// server-sig-algs, "none" refused), OpenSSH's sshd announces its host
// keys (hostkeys-00@openssh.com) and confirms the session channel. A
// refused login gets far less: the ssh client gives up after a few
// authentication failures (measured: docs/transports.md, "When ssh fails
// after connecting").
const loginBytes = 1024

// stateCheckTimeout bounds the look at an instance whose side of the
// connection ended.
const stateCheckTimeout = 3 * time.Second

// explainEnd writes what jitssh knows about a connection that ended
// badly once it was set up; it writes nothing for an ordinary end.
func (o ProxyOptions) explainEnd(inst target.Instance, transport string, r *streamReport) {
	who := inst.ID
	if inst.Name != "" {
		who += " (" + inst.Name + ")"
	}
	switch {
	case r.sshClosed && !r.newKeys.IsZero() && r.afterKex < loginBytes:
		how := "pushed the key for OS user %q with EC2 Instance Connect"
		causes := fmt.Sprintf("there is no user %q on the instance (pass another --user or set User; Amazon Linux: ec2-user, Ubuntu: ubuntu), "+
			"or its image lacks EC2 Instance Connect, so sshd never asks for pushed keys (install the ec2-instance-connect package or jitssh-host, or use an image that has it), "+
			"or sshd's AuthorizedKeysCommand is changed or failing (its log says which)", o.User)
		if inst.Managed {
			how = "placed the key for OS user %q with SSM Run Command"
			causes = fmt.Sprintf("there is no user %q on the server, or its sshd does not read ~/.ssh/authorized_keys", o.User)
		}
		fmt.Fprintf(o.Explain, "jitssh: ssh closed the connection to %s %v after the key exchange, having had only %d bytes from sshd since: "+
			"the login was most likely refused. jitssh "+how+" just before. Likely causes: %s.\n",
			who, r.end.Sub(r.newKeys).Round(time.Millisecond), r.afterKex, o.User, causes)
	case !r.sshClosed && !inst.Managed && o.API != nil:
		// The instance's side ended first: say so if it is no longer
		// running (a stopped instance otherwise shows as ssh's "Broken
		// pipe" or "Connection closed").
		ctx, cancel := context.WithTimeout(context.Background(), stateCheckTimeout)
		defer cancel()
		found, err := o.API.DescribeInstances(ctx, []string{inst.ID}, nil)
		if err != nil || len(found) != 1 || found[0].State == "running" {
			return
		}
		fmt.Fprintf(o.Explain, "jitssh: the %s connection to %s ended after %v because the instance is now %s.\n",
			transport, who, r.end.Sub(r.start).Round(time.Second), found[0].State)
	}
}
