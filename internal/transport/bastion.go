package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/openssh/knownhosts"
	"github.com/jitssh/jitssh/internal/targets"
)

// Bastion reaches an instance's private address through an SSH jump host:
// an SSH client (x/crypto/ssh) to the jump host over its own transport,
// authenticated with the ephemeral key and checked against the jump
// host's pinned host key, then a direct-tcpip channel to the target's
// private IP and port. The target's own host key is checked by ssh, as on
// every transport.
type Bastion struct {
	Via  targets.Instance // the jump host
	Hop  Transport        // how to reach the jump host's sshd
	Port int              // the jump host's SSH port; 0 means 22
	User string           // login on the jump host
	// Signer is the key the jump host accepts for User (the ephemeral key,
	// pushed to it).
	Signer ssh.Signer
	// HostKeys are the jump host's pinned keys; its key must be one of
	// them. Empty is an error: a bastion never learns its own pin.
	HostKeys []ssh.PublicKey
	// Pins, if set, names the pin file in a changed-key error.
	Pins *knownhosts.Store
	// Timeouts bound the login to the jump host (Open) and its
	// connection to the target (Forward).
	Timeouts Timeouts
}

// Name implements Transport.
func (Bastion) Name() string { return NameBastion }

// Dial implements Transport.
func (b Bastion) Dial(ctx context.Context, inst targets.Instance, port int) (Conn, error) {
	if inst.PrivateIP == "" {
		return nil, fmt.Errorf("bastion: %s has no private IP address to forward to", inst.ID)
	}
	if len(b.HostKeys) == 0 {
		return nil, fmt.Errorf("bastion: no pinned host key for the jump host %s; it is learned over SSM or EICE first", b.Via.ID)
	}
	if b.Signer == nil {
		return nil, errors.New("bastion: no key for the jump host")
	}
	hopPort := b.Port
	if hopPort == 0 {
		hopPort = 22
	}
	hc, err := b.Hop.Dial(ctx, b.Via, hopPort)
	if err != nil {
		return nil, fmt.Errorf("bastion: reach jump host %s over %s: %w", b.Via.ID, b.Hop.Name(), err)
	}
	client, err := b.login(ctx, hc)
	if err != nil {
		return nil, err
	}
	return b.forward(ctx, client, inst, port)
}

// login logs in to the jump host over nc within the Open deadline,
// checking its host key against the pins.
func (b Bastion) login(ctx context.Context, nc net.Conn) (*ssh.Client, error) {
	open := b.Timeouts.OpenTimeout()
	lctx, lcancel := context.WithTimeout(ctx, open)
	stop := context.AfterFunc(lctx, func() { nc.Close() })
	cfg := &ssh.ClientConfig{
		User:            b.User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(b.Signer)},
		HostKeyCallback: b.checkHostKey,
	}
	for _, k := range b.HostKeys {
		cfg.HostKeyAlgorithms = append(cfg.HostKeyAlgorithms, algorithmsFor(k)...)
	}
	sc, chans, reqs, err := ssh.NewClientConn(nc, b.Via.ID, cfg)
	if !stop() {
		lcancel()
		if sc != nil {
			sc.Close()
		}
		nc.Close()
		if ctx.Err() == nil {
			return nil, &TimeoutError{Waiting: fmt.Sprintf("the jump host %s to log us in as %s over %s", b.Via.ID, b.User, b.Hop.Name()), After: open,
				Cause: "its sshd accepted the connection but did not finish the SSH handshake and login: it may be overloaded, or its AuthorizedKeysCommand (EC2 Instance Connect) slow"}
		}
		return nil, fmt.Errorf("bastion: %w", ctx.Err())
	}
	lcancel()
	if err != nil {
		nc.Close()
		var ch *knownhosts.ChangedError
		if errors.As(err, &ch) {
			return nil, fmt.Errorf("bastion: jump host %s: %w", b.Via.ID, ch)
		}
		return nil, fmt.Errorf("bastion: log in to jump host %s as %s: %w", b.Via.ID, b.User, err)
	}
	return ssh.NewClient(sc, chans, reqs), nil
}

// forward opens the direct-tcpip channel from the jump host to port on
// inst's private address, within the Forward deadline.
func (b Bastion) forward(ctx context.Context, client *ssh.Client, inst targets.Instance, port int) (Conn, error) {
	addr := net.JoinHostPort(inst.PrivateIP, strconv.Itoa(port))
	type dialed struct {
		c   net.Conn
		err error
	}
	done := make(chan dialed, 1)
	go func() {
		c, err := client.Dial("tcp", addr)
		done <- dialed{c, err}
	}()
	fwd := b.Timeouts.ForwardTimeout()
	t := time.NewTimer(fwd)
	defer t.Stop()
	select {
	case d := <-done:
		if d.err != nil {
			client.Close()
			return nil, fmt.Errorf("bastion: jump host %s could not connect to %s (%s): %w", b.Via.ID, addr, inst.ID, d.err)
		}
		cw, ok := d.c.(interface{ CloseWrite() error })
		if !ok {
			client.Close()
			return nil, errors.New("bastion: forwarded channel has no half-close")
		}
		return &bastionConn{Conn: d.c, cw: cw, client: client}, nil
	case <-t.C:
		client.Close()
		return nil, &TimeoutError{Waiting: fmt.Sprintf("the jump host %s (%s) to connect to %s (%s)", b.Via.ID, dash(b.Via.Name), addr, inst.ID), After: fwd,
			Cause: fmt.Sprintf("the jump host cannot reach the target: check that %s is in a network %s can route to (same VPC, or peered), that the target's security group allows port %d from the jump host, and that its sshd is running", inst.ID, b.Via.ID, port)}
	case <-ctx.Done():
		client.Close()
		return nil, fmt.Errorf("bastion: %w", ctx.Err())
	}
}

func (b Bastion) checkHostKey(_ string, _ net.Addr, key ssh.PublicKey) error {
	for _, k := range b.HostKeys {
		if bytes.Equal(k.Marshal(), key.Marshal()) {
			return nil
		}
	}
	e := &knownhosts.ChangedError{Alias: b.Via.ID, Pinned: b.HostKeys, Presented: []ssh.PublicKey{key}}
	if b.Pins != nil {
		e.File, e.ForgetCommand = b.Pins.Path, b.Pins.ForgetCommand
	}
	return e
}

// algorithmsFor are the host-key algorithms that verify with k, so the
// jump host presents the pinned key type.
func algorithmsFor(k ssh.PublicKey) []string {
	if k.Type() == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}
	}
	return []string{k.Type()}
}

// bastionConn is a direct-tcpip channel; closing it ends the SSH
// connection to the jump host (and the hop beneath it).
type bastionConn struct {
	net.Conn
	cw     interface{ CloseWrite() error }
	client *ssh.Client
	once   sync.Once
}

func (c *bastionConn) CloseWrite() error { return c.cw.CloseWrite() }

func (c *bastionConn) Close() error {
	c.once.Do(func() {
		c.Conn.Close()
		c.client.Close()
	})
	return nil
}
