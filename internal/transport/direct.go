package transport

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/jitssh/jitssh/internal/targets"
)

// Direct dials the instance's public IPv4 address: the network path is not
// authenticated, so the host key must already be pinned (Proxy makes sure
// of that over a trusted transport first).
type Direct struct {
	// Timeout bounds the TCP connect; 0 means 10 seconds.
	Timeout time.Duration
}

// Name implements Transport.
func (Direct) Name() string { return NameDirect }

// Dial implements Transport.
func (t Direct) Dial(ctx context.Context, inst targets.Instance, port int) (Conn, error) {
	if inst.PublicIP == "" {
		return nil, &NoPublicIPError{Instance: inst}
	}
	timeout := t.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	addr := net.JoinHostPort(inst.PublicIP, strconv.Itoa(port))
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &DirectError{Instance: inst, Addr: addr, Err: err}
	}
	return c.(*net.TCPConn), nil
}

// NoPublicIPError is the direct transport asked to reach an instance
// without a public IPv4 address. The command line adds which transports
// could.
type NoPublicIPError struct {
	Instance targets.Instance
}

func (e *NoPublicIPError) Error() string {
	return fmt.Sprintf("direct: %s (%s) has no public IP address", e.Instance.ID, dash(e.Instance.Name))
}

// DirectError is a TCP connection to an instance's public address (Addr,
// host:port) that failed with Err.
type DirectError struct {
	Instance targets.Instance
	Addr     string
	Err      error
}

func (e *DirectError) Error() string {
	return fmt.Sprintf("direct to %s at %s: %v (a security group or network ACL may block it)", e.Instance.ID, e.Addr, e.Err)
}

func (e *DirectError) Unwrap() error { return e.Err }
