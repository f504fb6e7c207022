package sshkeys

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/jitssh/jitssh/internal/openssh/privfile"
)

// MaxAgentLifetime bounds the lifetime of a key added to an agent.
const MaxAgentLifetime = time.Hour

// Agent is a connection to a running ssh-agent.
type Agent struct {
	Socket string
	conn   net.Conn
	client agent.ExtendedAgent
}

// ErrNoAgent is returned by DialAgent when no agent is reachable.
var ErrNoAgent = errors.New("no ssh-agent running")

// DialAgent connects to the agent at socket (SSH_AUTH_SOCK when empty)
// and checks that it answers. The error wraps ErrNoAgent when the
// variable is unset or nothing answers on the socket.
func DialAgent(socket string) (*Agent, error) {
	if socket == "" {
		socket = agentSocket() // agentdial_*.go
	}
	if socket == "" {
		return nil, fmt.Errorf("%w: SSH_AUTH_SOCK is not set", ErrNoAgent)
	}
	conn, err := dialAgent(socket, 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("%w at SSH_AUTH_SOCK=%s: %v", ErrNoAgent, socket, err)
	}
	a := &Agent{Socket: socket, conn: conn, client: agent.NewClient(conn)}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := a.client.List(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w at SSH_AUTH_SOCK=%s: it does not answer: %v", ErrNoAgent, socket, err)
	}
	_ = conn.SetDeadline(time.Time{})
	return a, nil
}

// Close ends the connection (keys added stay in the agent until their
// lifetime ends).
func (a *Agent) Close() error { return a.conn.Close() }

// Add adds k to the agent under comment (what `ssh-add -l` shows), to be
// forgotten by the agent after lifetime (1 s to MaxAgentLifetime): the
// private half never touches the disk.
func (a *Agent) Add(k *Key, comment string, lifetime time.Duration) error {
	if lifetime < time.Second || lifetime > MaxAgentLifetime {
		return fmt.Errorf("agent key lifetime %v: want 1s to %v", lifetime, MaxAgentLifetime)
	}
	_ = a.conn.SetDeadline(time.Now().Add(5 * time.Second))
	defer a.conn.SetDeadline(time.Time{})
	err := a.client.Add(agent.AddedKey{PrivateKey: k.priv, Comment: comment, LifetimeSecs: uint32(lifetime / time.Second)})
	if err != nil {
		return &AgentAddError{Socket: a.Socket, Err: err}
	}
	return nil
}

// AgentAddError is an ssh-agent that refused a key (some refuse keys with
// a lifetime).
type AgentAddError struct {
	Socket string // the agent's socket
	Err    error  // the agent's answer
}

func (e *AgentAddError) Error() string {
	return fmt.Sprintf("add the key to the ssh-agent at %s: %v", e.Socket, e.Err)
}

func (e *AgentAddError) Unwrap() error { return e.Err }

// Signer returns a signer for pub held by the agent (for logging in with
// x/crypto/ssh with a key whose private half only the agent has).
func (a *Agent) Signer(pub ssh.PublicKey) (ssh.Signer, error) {
	signers, err := a.client.Signers()
	if err != nil {
		return nil, fmt.Errorf("list the ssh-agent's keys: %w", err)
	}
	want := pub.Marshal()
	for _, s := range signers {
		if string(s.PublicKey().Marshal()) == string(want) {
			return s, nil
		}
	}
	return nil, fmt.Errorf("the ssh-agent at %s does not hold the key %s", a.Socket, ssh.FingerprintSHA256(pub))
}

// WritePublicFile writes the public half as one authorized_keys line to
// path (mode 0600, atomically, inside a private directory), the form
// OpenSSH's IdentityFile takes for a key whose private half is in the
// agent.
func (k *Key) WritePublicFile(path string) error {
	if err := privfile.MkdirPrivate(filepath.Dir(path)); err != nil {
		return fmt.Errorf("write public key file %s: %w", path, err)
	}
	if err := privfile.WriteFile(path, []byte(k.AuthorizedKey()+"\n"), privfile.Options{Perm: 0o600}); err != nil {
		return fmt.Errorf("write public key file %s: %w", path, err)
	}
	return nil
}
