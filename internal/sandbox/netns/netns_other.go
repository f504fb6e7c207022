//go:build !linux

package netns

import (
	"errors"
	"net"
	"net/netip"
)

var errUnsupported = errors.New("network namespaces need Linux")

// NS is a network namespace; none can be made on this system.
type NS struct{}

// New fails: network namespaces need Linux.
func New() (*NS, error) { return nil, errUnsupported }

// Probe reports why New fails.
func Probe() error { return errUnsupported }

// Close does nothing.
func (ns *NS) Close() error { return nil }

// Path is empty.
func (ns *NS) Path() string { return "" }

// Do fails.
func (ns *NS) Do(func() error) error { return errUnsupported }

// Enter fails.
func (ns *NS) Enter() error { return errUnsupported }

// AddAddr fails.
func (ns *NS) AddAddr(netip.Addr) error { return errUnsupported }

// Listen fails.
func (ns *NS) Listen(string) (net.Listener, error) { return nil, errUnsupported }
