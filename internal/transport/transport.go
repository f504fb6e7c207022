// Package transport owns the ways jitssh reaches a port of an instance:
// the Transport and Conn abstraction, one file per transport (ssm: an SSM
// Session Manager tunnel; eice: an EC2 Instance Connect Endpoint
// websocket; direct: TCP to the public address; bastion: an SSH jump
// host's direct-tcpip channel), each with the narrow AWS interface it
// needs; the one rule of which transports reach an instance (Reaches),
// which auto, `jitssh ls` and `jitssh doctor` share (Facts, Auto); and
// the deadlines on every network step (Timeouts, TimeoutError). See
// docs/transports.md.
package transport

import (
	"context"
	"net"

	"github.com/jitssh/jitssh/internal/targets"
)

// Conn is a byte stream to a port of an instance: a net.Conn with a
// half-close, so it goes to x/crypto/ssh and the splice as it is.
//
// CloseWrite says no more bytes will be written. Transports whose protocol
// has a half-close (direct TCP, a bastion's SSH channel) keep the read side
// open until the instance closes; SSM and EICE have none, so there it ends
// the connection after what was written has been delivered (the SSM agent
// acknowledged it; the EICE websocket's close handshake).
//
// The tunnels (ssm, eice) have no deadlines: their Set*Deadline methods
// accept and ignore them; the steps that wait bound themselves (Timeouts).
type Conn interface {
	net.Conn
	CloseWrite() error
}

// Transport reaches a port of an instance.
type Transport interface {
	// Name is the transport's name as users write it (--transport).
	Name() string
	// Dial connects to port on inst.
	Dial(ctx context.Context, inst targets.Instance, port int) (Conn, error)
}

// Transport names.
const (
	NameAuto    = "auto"
	NameSSM     = "ssm"
	NameEICE    = "eice"
	NameDirect  = "direct"
	NameBastion = "bastion"
)

// Names are the values --transport and the config file accept.
var Names = []string{NameAuto, NameSSM, NameEICE, NameDirect, NameBastion}

// Valid reports whether name is one of Names.
func Valid(name string) bool {
	for _, n := range Names {
		if n == name {
			return true
		}
	}
	return false
}

// Trusted reports whether a transport's path to the instance is
// authenticated by AWS end to end, so that a host key first seen through
// it may be pinned. Direct and bastion connections cross networks a man
// in the middle can sit on: they never learn a pin themselves.
func Trusted(name string) bool { return name == NameSSM || name == NameEICE }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Addr is the address of one end of a tunnel (ssm, eice): the instance,
// or "local".
type Addr struct{ Net, Name string }

func (a Addr) Network() string { return a.Net }
func (a Addr) String() string  { return a.Name }
