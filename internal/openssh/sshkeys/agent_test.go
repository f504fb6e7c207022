package sshkeys

import (
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/agent"
)

// serveKeyring serves x/crypto's in-memory agent on a unix socket.
func serveKeyring(t *testing.T) (string, agent.Agent) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	kr := agent.NewKeyring()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); agent.ServeAgent(kr, c) }()
		}
	}()
	return sock, kr
}

func TestAgentAddAndSign(t *testing.T) {
	sock, kr := serveKeyring(t)
	a, err := DialAgent(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	k, _ := Generate("")
	for _, bad := range []time.Duration{0, 500 * time.Millisecond, 2 * time.Hour} {
		if err := a.Add(k, "x", bad); err == nil {
			t.Errorf("lifetime %v accepted", bad)
		}
	}
	if err := a.Add(k, "jitssh-ephemeral alice@i-1", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	keys, _ := kr.List()
	if len(keys) != 1 || keys[0].Comment != "jitssh-ephemeral alice@i-1" || keys[0].Marshal() == nil || string(keys[0].Blob) != string(k.PublicKey().Marshal()) {
		t.Fatalf("agent holds %v", keys)
	}
	s, err := a.Signer(k.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign(nil, []byte("data"))
	if err != nil || k.PublicKey().Verify([]byte("data"), sig) != nil {
		t.Fatalf("the agent's signature does not verify: %v", err)
	}
	other, _ := Generate("")
	if _, err := a.Signer(other.PublicKey()); err == nil {
		t.Fatal("a signer for a key the agent does not hold")
	}
}

func TestDialAgentWithoutAgent(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	if _, err := DialAgent(""); !errors.Is(err, ErrNoAgent) {
		t.Fatalf("no SSH_AUTH_SOCK: %v", err)
	}
	if _, err := DialAgent(filepath.Join(t.TempDir(), "none")); !errors.Is(err, ErrNoAgent) {
		t.Fatalf("dead socket: %v", err)
	}
	// Something that is not an agent.
	sock := filepath.Join(t.TempDir(), "mute.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.Close()
		}
	}()
	if _, err := DialAgent(sock); !errors.Is(err, ErrNoAgent) {
		t.Fatalf("a socket that hangs up: %v", err)
	}
}

func TestWritePublicFile(t *testing.T) {
	k, _ := Generate("")
	p := filepath.Join(t.TempDir(), "keys", "alice@i-1.agent.pub")
	if err := k.WritePublicFile(p); err != nil {
		t.Fatal(err)
	}
	line, err := PublicKeyOf(p)
	if err != nil || line != k.AuthorizedKey() {
		t.Fatalf("PublicKeyOf = %q, %v; want %q", line, err, k.AuthorizedKey())
	}
}
