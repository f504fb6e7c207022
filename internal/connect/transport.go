package connect

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jitssh/jitssh/internal/eice"
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

// TransportNames are the values --transport and the config file accept.
var TransportNames = []string{NameAuto, NameSSM, NameEICE, NameDirect, NameBastion}

// ValidTransport reports whether name is one of TransportNames.
func ValidTransport(name string) bool {
	for _, n := range TransportNames {
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

// SSM tunnels through SSM Session Manager (AWS-StartSSHSession).
type SSM struct {
	API    API
	Reason string
	Tunnel TunnelConfig
}

// Name implements Transport.
func (SSM) Name() string { return NameSSM }

// Dial implements Transport.
func (t SSM) Dial(ctx context.Context, inst targets.Instance, port int) (Conn, error) {
	tun, err := OpenTunnelWith(ctx, t.API, inst.ID, port, t.Reason, t.Tunnel)
	if err != nil {
		return nil, err
	}
	return &ssmConn{Tunnel: tun}, nil
}

// ssmConn is a Tunnel as a Conn.
type ssmConn struct {
	*Tunnel
	once sync.Once
}

func (c *ssmConn) CloseWrite() error { return c.Close() }

func (c *ssmConn) LocalAddr() net.Addr              { return Addr{Net: NameSSM, Name: "local"} }
func (c *ssmConn) RemoteAddr() net.Addr             { return Addr{Net: NameSSM, Name: c.InstanceID} }
func (c *ssmConn) SetDeadline(time.Time) error      { return nil }
func (c *ssmConn) SetReadDeadline(time.Time) error  { return nil }
func (c *ssmConn) SetWriteDeadline(time.Time) error { return nil }

// Close shuts the tunnel down politely (see Tunnel.Shutdown), once.
func (c *ssmConn) Close() error {
	c.once.Do(func() { c.Shutdown(context.Background()) })
	return nil
}

// EICE tunnels through an EC2 Instance Connect Endpoint in the instance's
// VPC, chosen as the AWS CLI does; every Dial presigns a fresh URL.
type EICE struct {
	API API
	// MaxDuration is the tunnel's maxTunnelDuration in seconds; 0 is the
	// service's default (3600).
	MaxDuration int
	// Endpoint, if set, is the endpoint to use (skipping discovery).
	Endpoint *eice.Endpoint
	// Timeouts bound the endpoint lookup (API) and the tunnel's opening
	// (Open).
	Timeouts Timeouts
}

// Name implements Transport.
func (EICE) Name() string { return NameEICE }

// Dial implements Transport.
func (t EICE) Dial(ctx context.Context, inst targets.Instance, port int) (Conn, error) {
	ep := t.Endpoint
	if ep == nil {
		var found eice.Endpoint
		err := within(ctx, t.Timeouts.api(), "EC2 to list the Instance Connect Endpoints of "+dash(inst.VpcID), causeAPI, func(ctx context.Context) (err error) {
			found, err = FindEndpoint(ctx, t.API, inst)
			return err
		})
		if err != nil {
			return nil, err
		}
		ep = &found
	}
	s := t.API.EICESigning()
	d := &eice.Dialer{Credentials: s.Credentials, Region: s.Region, BaseEndpoint: s.BaseEndpoint}
	var c Conn
	err := within(ctx, t.Timeouts.open(), fmt.Sprintf("EC2 Instance Connect Endpoint %s to open a tunnel to %s (%s port %d)", ep.ID, inst.ID, inst.PrivateIP, port),
		"the endpoint did not connect: a security group of the endpoint or the instance may not allow it, or the instance is not listening on that port",
		func(ctx context.Context) (err error) {
			c, err = d.Dial(ctx, *ep, eice.Target{PrivateIP: inst.PrivateIP, RemotePort: port, MaxDuration: t.MaxDuration})
			return err
		})
	if err != nil {
		var te *TimeoutError
		if errors.As(err, &te) {
			return nil, err
		}
		return nil, fmt.Errorf("eice to %s: %w", inst.ID, err)
	}
	return c, nil
}

// FindEndpoint returns the EC2 Instance Connect Endpoint the AWS CLI would
// use for inst: a usable one in its subnet, else the first in its VPC.
func FindEndpoint(ctx context.Context, api API, inst targets.Instance) (eice.Endpoint, error) {
	if inst.VpcID == "" {
		return eice.Endpoint{}, fmt.Errorf("%s is in no VPC that EC2 reports: EC2 Instance Connect Endpoints cannot reach it", inst.ID)
	}
	found, err := api.InstanceConnectEndpoints(ctx, map[string][]string{"vpc-id": {inst.VpcID}, "state": eice.UsableStates})
	if err != nil {
		return eice.Endpoint{}, err
	}
	eps := make([]eice.Endpoint, len(found))
	for i, e := range found {
		eps[i] = eice.Endpoint{ID: e.ID, DNSName: e.DNSName, FIPSName: e.FIPSDNSName, VpcID: e.VpcID, SubnetID: e.SubnetID, State: e.State}
	}
	ep, err := eice.Choose(eps, inst.VpcID, inst.SubnetID)
	if err != nil {
		return eice.Endpoint{}, fmt.Errorf("%s: %w: create one (aws ec2 create-instance-connect-endpoint --subnet-id %s) or use another transport", inst.ID, err, inst.SubnetID)
	}
	return ep, nil
}

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

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Facts are what auto decides from.
type Facts struct {
	SSM         string         // SSM agent ping status, "" if not registered
	SSMErr      error          // why SSM could not be asked (SSM is then "")
	Endpoint    *eice.Endpoint // usable EICE endpoint in the instance's VPC, if any
	EndpointErr error          // why there is none, when the lookup failed
	PublicIP    string
}

// GatherFacts asks AWS what auto needs to know about inst: its SSM agent
// status and an EICE endpoint in its VPC, concurrently. With needAll
// false it returns as soon as the SSM agent is known to be online (the
// endpoint lookup is then abandoned).
func GatherFacts(ctx context.Context, api API, inst targets.Instance, needAll bool) (Facts, error) {
	return gatherFacts(ctx, api, inst, needAll, func(ctx context.Context) (string, error) { return ssmStatus(ctx, api, inst.ID) })
}

func ssmStatus(ctx context.Context, api API, id string) (string, error) {
	st, err := Lookup{API: api}.SSMStatus(ctx, []string{id})
	if err != nil {
		return "", fmt.Errorf("ask SSM about %s: %w", id, err)
	}
	return st[id], nil
}

// prefetchSSM starts asking for an instance's SSM agent status now (when
// the id is known before the target is resolved) and returns a func that
// waits for the answer.
func prefetchSSM(ctx context.Context, api API, id string) func(context.Context) (string, error) {
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := ssmStatus(ctx, api, id)
		ch <- res{s, err}
	}()
	return func(wctx context.Context) (string, error) {
		select {
		case r := <-ch:
			return r.s, r.err
		case <-wctx.Done():
			return "", wctx.Err()
		}
	}
}

func gatherFacts(ctx context.Context, api API, inst targets.Instance, needAll bool, status func(context.Context) (string, error)) (f Facts, err error) {
	err = within(ctx, DefaultAPITimeout, "SSM and EC2 to say how "+inst.ID+" can be reached", causeAPI, func(ctx context.Context) (err error) {
		f, err = gatherFactsNow(ctx, api, inst, needAll, status)
		return err
	})
	return f, err
}

func gatherFactsNow(ctx context.Context, api API, inst targets.Instance, needAll bool, status func(context.Context) (string, error)) (Facts, error) {
	f := Facts{PublicIP: inst.PublicIP}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type epResult struct {
		ep  eice.Endpoint
		err error
	}
	epc := make(chan epResult, 1)
	go func() {
		ep, err := FindEndpoint(ctx, api, inst)
		epc <- epResult{ep, err}
	}()
	st, err := status(ctx)
	switch {
	case err != nil && ctx.Err() != nil:
		return f, err
	case err != nil:
		// SSM could not be asked (not allowed, failing): decide from
		// the other facts rather than not at all.
		f.SSMErr = err
	default:
		f.SSM = st
		if f.SSM == "Online" && !needAll {
			return f, nil
		}
	}
	r := <-epc
	if r.err == nil {
		f.Endpoint = &r.ep
	} else {
		f.EndpointErr = r.err
	}
	return f, nil
}

// Reachable lists the transports that can reach an instance with these
// facts, in auto's order of preference.
func (f Facts) Reachable() []string {
	var out []string
	if f.SSM == "Online" {
		out = append(out, NameSSM)
	}
	if f.Endpoint != nil {
		out = append(out, NameEICE)
	}
	if f.PublicIP != "" {
		out = append(out, NameDirect)
	}
	return out
}

// Auto chooses a transport from the facts: SSM when the agent is online
// (for a managed, mi-, instance SSM or nothing), else an EICE endpoint in the VPC, else the public IP directly. The
// reason says why, for `jitssh doctor` and -v; no choice is an error that
// lists the facts and the flags that could help.
func Auto(inst targets.Instance, f Facts) (name, reason string, err error) {
	if inst.Managed {
		if f.SSM == "Online" {
			return NameSSM, "it is an SSM managed instance (only ssm reaches those) and its SSM agent is online", nil
		}
		return "", "", fmt.Errorf("no transport can reach %s (%s): it is an SSM managed instance, which only the ssm transport reaches (EC2 Instance Connect, its endpoints and EC2 addresses do not serve mi- instances), and its SSM agent is %s: "+
			"get the agent online (amazon-ssm-agent running, able to reach the ssm, ssmmessages and ec2messages endpoints; `jitssh doctor %s`)", inst.ID, dash(inst.Name), f.ssmWord(), inst.ID)
	}
	switch {
	case f.SSM == "Online":
		return NameSSM, "the SSM agent is online", nil
	case f.Endpoint != nil:
		return NameEICE, fmt.Sprintf("the SSM agent is %s, and EC2 Instance Connect Endpoint %s serves its VPC %s", f.ssmWord(), f.Endpoint.ID, inst.VpcID), nil
	case f.PublicIP != "":
		return NameDirect, fmt.Sprintf("the SSM agent is %s, no EC2 Instance Connect Endpoint serves its VPC, and it has public IP %s", f.ssmWord(), f.PublicIP), nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "no transport can reach %s (%s): the SSM agent is %s; ", inst.ID, dash(inst.Name), f.ssmWord())
	if f.EndpointErr != nil && !errors.Is(f.EndpointErr, eice.ErrNoEndpoint) {
		fmt.Fprintf(&b, "looking for an EC2 Instance Connect Endpoint failed (%v); ", f.EndpointErr)
	} else {
		fmt.Fprintf(&b, "no EC2 Instance Connect Endpoint in its VPC %s; ", dash(inst.VpcID))
	}
	b.WriteString("it has no public IP address. ")
	b.WriteString("Use --via BASTION (--transport bastion) through a host in its VPC, create an EC2 Instance Connect Endpoint in its subnet, or get its SSM agent online (`jitssh doctor " + inst.ID + "`)")
	return "", "", errors.New(b.String())
}

func (f Facts) ssmWord() string {
	if f.SSMErr != nil {
		return fmt.Sprintf("unknown (%v)", f.SSMErr)
	}
	return ssmWord(f.SSM)
}

func ssmWord(s string) string {
	if s == "" {
		return "not registered"
	}
	return s
}

// Addr is the address of one end of a tunnel (ssm, eice): the instance,
// or "local".
type Addr struct{ Net, Name string }

func (a Addr) Network() string { return a.Net }
func (a Addr) String() string  { return a.Name }
