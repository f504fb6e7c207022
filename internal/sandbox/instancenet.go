package sandbox

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox/netns"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// instanceNet gives an instance running the real sshd a network namespace
// of its own (package netns): its loopback carries 127.0.0.1 (the
// instance itself: IMDS on imdsAddr's port, SSH on 22, echo on 7) and the
// private IPs of its VPC's instances (22 and 7, through the sandbox's
// routing, sb.dial), all served by three listeners whatever the VPC's
// size. A managed instance (imds nil) has no IMDS; its "VPC" is the
// managed instances' own network. Nothing else is reachable from inside, so a jump
// through the instance (ssh -J, -W, -L) to a simulated address never
// becomes a real connection on the machine's network.
func (sb *Sandbox) instanceNet(in world.Instance, imdsAddr string, imds http.Handler) (*netns.NS, error) {
	ns, err := netns.New()
	if err != nil {
		return nil, err
	}
	sb.cleanups = append(sb.cleanups, func() { ns.Close() })
	if imds != nil { // not on a managed instance
		_, imdsPort, err := net.SplitHostPort(imdsAddr)
		if err != nil {
			return nil, err
		}
		ln, err := ns.Listen("127.0.0.1:" + imdsPort)
		if err != nil {
			return nil, err
		}
		sb.serve(ln, imds)
	}
	seen := map[string]bool{}
	for _, peer := range sb.worldOf(in.ID).Instances() {
		if peer.Virtual || peer.VpcID != in.VpcID || peer.PrivateIP == "" || seen[peer.PrivateIP] {
			continue
		}
		seen[peer.PrivateIP] = true
		ip, err := netip.ParseAddr(peer.PrivateIP)
		if err != nil || !ip.Is4() {
			continue // only IPv4 private addresses are routed
		}
		if err := ns.AddAddr(ip); err != nil {
			return nil, err
		}
	}
	// One listener per port on every address of the namespace: the
	// address a connection was made to says where it goes.
	for _, port := range []int{22, 7} {
		if err := sb.routeIn(ns, in.ID, port); err != nil {
			return nil, err
		}
	}
	return ns, nil
}

// routeIn listens on port of every address inside ns and connects each
// connection through the sandbox's routing, as instance id would reach
// the address it was made to (127.0.0.1: the instance itself).
func (sb *Sandbox) routeIn(ns *netns.NS, id string, port int) error {
	ln, err := ns.Listen(net.JoinHostPort("0.0.0.0", fmt.Sprint(port)))
	if err != nil {
		return err
	}
	sb.cleanups = append(sb.cleanups, func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				host := "127.0.0.1"
				if a, ok := c.LocalAddr().(*net.TCPAddr); ok && !a.IP.IsLoopback() {
					host = a.IP.String()
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				dst, err := sb.dial(ctx, id, host, port)
				cancel()
				if err != nil {
					// As a peer that is down: the connection ends.
					sb.log.Info("connection inside an instance's network refused", "instance", id, "to", net.JoinHostPort(host, fmt.Sprint(port)), "err", err)
					return
				}
				defer dst.Close()
				go func() {
					io.Copy(dst, c)
					dst.CloseWrite()
				}()
				io.Copy(c, dst)
			}()
		}
	}()
	return nil
}
