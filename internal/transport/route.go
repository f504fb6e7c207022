package transport

import (
	"context"
	"fmt"
	"strings"

	"github.com/jitssh/jitssh/internal/targets"
)

// Route settles which transport a connection uses from the name asked for
// ("" is auto) and whether a jump host was given: a jump host means the
// bastion transport (with auto or bastion asked for), and bastion needs a
// jump host. It is the one place these rules live; a violation is a
// *RouteError.
func Route(name string, via bool) (string, error) {
	if name == "" {
		name = NameAuto
	}
	switch {
	case !Valid(name):
		return "", &RouteError{Name: name, Problem: UnknownTransport}
	case via && name != NameAuto && name != NameBastion:
		return "", &RouteError{Name: name, Problem: ViaWithoutBastion}
	case via:
		return NameBastion, nil
	case name == NameBastion:
		return "", &RouteError{Name: name, Problem: BastionWithoutVia}
	}
	return name, nil
}

// RouteProblem says what is wrong with a route (RouteError).
type RouteProblem int

// Route problems.
const (
	// UnknownTransport: Name is none of Names.
	UnknownTransport RouteProblem = iota + 1
	// ViaWithoutBastion: a jump host was given with transport Name,
	// which does not use one.
	ViaWithoutBastion
	// BastionWithoutVia: the bastion transport was asked for without a
	// jump host.
	BastionWithoutVia
)

// RouteError is a transport and jump host that do not go together. Its
// message names no flags; the command line adds how to fix it.
type RouteError struct {
	Name    string // the transport asked for
	Problem RouteProblem
}

func (e *RouteError) Error() string {
	switch e.Problem {
	case UnknownTransport:
		return fmt.Sprintf("unknown transport %q (use one of %s)", e.Name, strings.Join(Names, ", "))
	case ViaWithoutBastion:
		return "a jump host goes with the bastion transport, not " + e.Name
	}
	return "the bastion transport needs a jump host"
}

// Dialer makes the transport called name (ssm, eice or direct; never auto
// or bastion, which the caller settles) to reach inst. Proxy takes one,
// so that what lies under a connection can be chosen by the caller.
type Dialer interface {
	Transport(ctx context.Context, name string, inst targets.Instance) (Transport, error)
}

// KitAPI is what the transports of a Kit ask of AWS.
type KitAPI interface {
	SessionAPI
	EndpointAPI
}

// Kit is the Dialer of jitssh's own transports, sharing one AWS client
// and one set of settings.
type Kit struct {
	API KitAPI
	// Reason is recorded with SSM sessions (CloudTrail).
	Reason string
	// Tunnel tunes SSM tunnels.
	Tunnel TunnelConfig
	// MaxTunnelDuration caps EICE tunnels (seconds; 0: the service's 3600).
	MaxTunnelDuration int
	// Timeouts bound the transports' network steps.
	Timeouts Timeouts
}

// Transport implements Dialer.
func (k Kit) Transport(_ context.Context, name string, _ targets.Instance) (Transport, error) {
	switch name {
	case NameSSM:
		tc := k.Tunnel
		tc.Timeouts = k.Timeouts
		return SSM{API: k.API, Reason: k.Reason, Tunnel: tc}, nil
	case NameEICE:
		return EICE{API: k.API, MaxDuration: k.MaxTunnelDuration, Timeouts: k.Timeouts}, nil
	case NameDirect:
		return Direct{}, nil
	}
	return nil, fmt.Errorf("transport %q cannot be used here", name)
}
