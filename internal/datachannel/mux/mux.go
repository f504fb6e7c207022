// Package mux runs smux (protocol version 1, as AWS's plugin and agent do)
// over an SSM data-channel session, for multiplexed port forwarding: many
// TCP connections over one session. It owns the rule that makes idle
// tunnels survive: both ends must agree on smux keepalive, which AWS's
// endpoints decide from each other's version numbers.
package mux

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/xtaci/smux"
)

// Version thresholds from the agent and plugin (specs/ssm-protocol.md §7.4).
const (
	// MinClientVersion is the lowest client version for which the agent
	// multiplexes LocalPortForwarding sessions.
	MinClientVersion = "1.1.70"
	// MinAgentVersion: the plugin multiplexes when the agent is newer.
	MinAgentVersion = "3.0.196.0"
	// agentKeepaliveOff: the plugin disables smux keepalive when the agent
	// is newer than this.
	agentKeepaliveOff = "3.1.1511.0"
	// clientKeepaliveOff: the agent disables smux keepalive when the client
	// is newer than this.
	clientKeepaliveOff = "1.2.331.0"
)

// ClientMultiplexes reports whether a client should use smux with an agent
// of this version (the plugin's rule: strictly newer than 3.0.196.0).
func ClientMultiplexes(agentVersion string) bool {
	return Compare(agentVersion, MinAgentVersion) > 0
}

// AgentMultiplexes reports whether an agent uses smux with a client of this
// version.
func AgentMultiplexes(clientVersion string) bool {
	return Compare(clientVersion, MinClientVersion) >= 0
}

func config(keepaliveOff bool) *smux.Config {
	c := smux.DefaultConfig() // version 1, 10 s / 30 s keepalive, 4 MiB buffer
	c.KeepAliveDisabled = keepaliveOff
	return c
}

// Client starts the client end over rw (a client data-channel session).
// Keepalive is off exactly when the agent turns its own off for our
// ClientVersion, which is what keeps idle tunnels from dying after 30 s.
func Client(rw io.ReadWriteCloser, agentVersion string) (*smux.Session, error) {
	s, err := smux.Client(rw, config(Compare(agentVersion, agentKeepaliveOff) > 0))
	if err != nil {
		return nil, fmt.Errorf("start smux client: %w", err)
	}
	return s, nil
}

// Server starts the agent end over rw.
func Server(rw io.ReadWriteCloser, clientVersion string) (*smux.Session, error) {
	s, err := smux.Server(rw, config(Compare(clientVersion, clientKeepaliveOff) > 0))
	if err != nil {
		return nil, fmt.Errorf("start smux server: %w", err)
	}
	return s, nil
}

// Compare compares dotted version numbers numerically, component by
// component, as the agent's versionutil does; a version with fewer
// components is smaller when the shared ones are equal. Unparseable
// components compare as 0.
func Compare(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		if i >= len(as) {
			return -1
		}
		if i >= len(bs) {
			return 1
		}
		x, _ := strconv.Atoi(as[i])
		y, _ := strconv.Atoi(bs[i])
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
	}
	return 0
}
