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
		return nil, fmt.Errorf("direct: %s (%s) has no public IP address; reach it with --transport ssm (SSM agent online), eice (an EC2 Instance Connect Endpoint in its VPC) or bastion --via a host that can", inst.ID, dash(inst.Name))
	}
	timeout := t.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	addr := net.JoinHostPort(inst.PublicIP, strconv.Itoa(port))
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("direct to %s at %s: %w (a security group or network ACL may block it; try --transport ssm or eice)", inst.ID, addr, err)
	}
	return c.(*net.TCPConn), nil
}
