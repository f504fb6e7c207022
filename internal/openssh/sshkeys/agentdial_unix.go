//go:build unix

package sshkeys

import (
	"net"
	"os"
	"time"
)

// agentSocket is where the agent listens when DialAgent is given none:
// SSH_AUTH_SOCK ("" if unset). On macOS launchd sets it for every login
// session, to the socket of the system's ssh-agent, started on demand.
func agentSocket() string {
	return os.Getenv("SSH_AUTH_SOCK")
}

// dialAgent connects to the agent's unix socket.
func dialAgent(socket string, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("unix", socket, timeout)
}
