// Package mux runs smux (protocol version 1, as AWS's plugin and agent do)
// over an SSM data-channel session, for multiplexed port forwarding: many
// TCP connections over one session. It owns the rule that makes idle
// tunnels survive: both ends must agree on smux keepalive, which AWS's
// endpoints decide from each other's version numbers.
package mux

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"

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

// Session is the client end of a multiplexed session.
type Session struct {
	*smux.Session
	gate *openGate
}

// Client starts the client end over rw (a client data-channel session).
// Keepalive is off exactly when the agent turns its own off for our
// ClientVersion, which is what keeps idle tunnels from dying after 30 s.
func Client(rw io.ReadWriteCloser, agentVersion string) (*Session, error) {
	g := &openGate{}
	g.cond = sync.NewCond(&g.mu)
	s, err := smux.Client(gatedConn{rw, g}, config(Compare(agentVersion, agentKeepaliveOff) > 0))
	if err != nil {
		return nil, fmt.Errorf("start smux client: %w", err)
	}
	return &Session{Session: s, gate: g}, nil
}

// OpenStream opens a stream. smux registers a new stream only after it has
// sent the stream's SYN, so an agent that refuses the connection at once
// (its FIN back within microseconds on a fast network) could have the FIN
// processed for a stream smux does not know yet, leaving it open forever.
// The gate holds received bytes back from smux until the stream is
// registered.
func (s *Session) OpenStream() (*smux.Stream, error) {
	s.gate.begin()
	defer s.gate.end()
	return s.Session.OpenStream()
}

// Open implements the same as OpenStream, as net.Conn.
func (s *Session) Open() (net.Conn, error) { return s.OpenStream() }

type openGate struct {
	mu      sync.Mutex
	cond    *sync.Cond
	opening int
}

func (g *openGate) begin() { g.mu.Lock(); g.opening++; g.mu.Unlock() }

func (g *openGate) end() {
	g.mu.Lock()
	g.opening--
	g.cond.Broadcast()
	g.mu.Unlock()
}

func (g *openGate) wait() {
	g.mu.Lock()
	for g.opening > 0 {
		g.cond.Wait()
	}
	g.mu.Unlock()
}

// gatedConn hands received bytes to smux only when no OpenStream is in
// progress. Bytes read before an OpenStream began cannot answer its SYN.
type gatedConn struct {
	io.ReadWriteCloser
	g *openGate
}

func (c gatedConn) Read(p []byte) (int, error) {
	n, err := c.ReadWriteCloser.Read(p)
	c.g.wait()
	return n, err
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
