//go:build unix

package knownhosts

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// asyncWriter lets the server end of a net.Pipe write without waiting for
// the reader: both x/crypto/ssh ends send their version line before
// reading, which deadlocks on an unbuffered net.Pipe.
type asyncWriter struct {
	net.Conn
	mu     sync.Mutex
	closed bool
	ch     chan []byte
}

func newAsyncWriter(c net.Conn) net.Conn {
	a := &asyncWriter{Conn: c, ch: make(chan []byte, 64)}
	go func() {
		for b := range a.ch {
			if _, err := c.Write(b); err != nil {
				c.Close()
				for range a.ch {
				}
				return
			}
		}
		c.Close()
	}()
	return a
}

func (a *asyncWriter) Write(b []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return 0, net.ErrClosed
	}
	a.ch <- append([]byte(nil), b...)
	return len(b), nil
}

func (a *asyncWriter) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.closed {
		a.closed = true
		close(a.ch)
	}
	return nil
}

// serve runs an x/crypto/ssh server handshake with the given host keys on
// conn and reports how it ended.
func serve(conn net.Conn, hostKeys ...ssh.Signer) <-chan error {
	cfg := &ssh.ServerConfig{NoClientAuth: true}
	for _, k := range hostKeys {
		cfg.AddHostKey(k)
	}
	done := make(chan error, 1)
	go func() {
		c, _, _, err := ssh.NewServerConn(conn, cfg)
		if c != nil {
			c.Close()
		}
		conn.Close()
		done <- err
	}()
	return done
}

func TestLearnPrefersStrongestKey(t *testing.T) {
	ed, ec, rs := newSigner(t, "ed25519"), newSigner(t, "ecdsa"), newSigner(t, "rsa")
	tests := []struct {
		name     string
		hostKeys []ssh.Signer
		want     ssh.Signer
	}{
		{"all three", []ssh.Signer{rs, ec, ed}, ed},
		{"ecdsa and rsa", []ssh.Signer{rs, ec}, ec},
		{"rsa only", []ssh.Signer{rs}, rs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := net.Pipe()
			done := serve(newAsyncWriter(server), tt.hostKeys...)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			keys, err := Learn(ctx, client, "root")
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != 1 || ssh.FingerprintSHA256(keys[0]) != ssh.FingerprintSHA256(tt.want.PublicKey()) {
				t.Fatalf("Learn = %v, want the %s key", keys, tt.want.PublicKey().Type())
			}
			select {
			case err := <-done:
				if err == nil {
					t.Error("server handshake completed; Learn should have aborted it")
				}
			case <-time.After(5 * time.Second):
				t.Error("server still waiting after Learn returned (conn not closed)")
			}
		})
	}
}

func TestLearnHonoursContext(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	// The server side never answers.
	go func() {
		buf := make([]byte, 1024)
		for {
			if _, err := server.Read(buf); err != nil {
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Learn(ctx, client, "root")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Learn against a silent server: err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Learn took %v to give up", d)
	}
}

func TestLearnRefusesNonSSH(t *testing.T) {
	client, server := net.Pipe()
	go func() {
		buf := make([]byte, 1024)
		for {
			if _, err := server.Read(buf); err != nil {
				return
			}
		}
	}()
	go func() {
		server.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
		server.Close()
	}()
	if keys, err := Learn(context.Background(), client, "root"); err == nil {
		t.Errorf("Learn from a non-SSH peer = %v, nil", keys)
	}
}

// TestLearnFromRealSSHD learns the host key of the real OpenSSH sshd
// (run as `sshd -i` over a socketpair), which has ed25519, ECDSA and RSA
// host keys, and checks it is the ed25519 one.
func TestLearnFromRealSSHD(t *testing.T) {
	const sshd = "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil {
		t.Skipf("OpenSSH server not installed (%s): %v", sshd, err)
	}
	keygen, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Skip("ssh-keygen not installed")
	}
	dir := t.TempDir()
	cfg := "PidFile none\nAuthorizedKeysFile none\nUsePAM no\n"
	for _, typ := range []string{"rsa", "ecdsa", "ed25519"} {
		p := filepath.Join(dir, "host_"+typ)
		if out, err := exec.Command(keygen, "-q", "-t", typ, "-N", "", "-f", p).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
		cfg += "HostKey " + p + "\n"
	}
	cfgPath := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	syscall.CloseOnExec(fds[0])
	syscall.CloseOnExec(fds[1])
	ours, theirs := os.NewFile(uintptr(fds[0]), "ours"), os.NewFile(uintptr(fds[1]), "theirs")
	conn, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sshd, "-i", "-e", "-f", cfgPath)
	cmd.Stdin, cmd.Stdout = theirs, theirs
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sshd (needs root): %v", err)
	}
	theirs.Close()
	defer cmd.Wait()
	defer cmd.Process.Kill()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	keys, err := Learn(ctx, conn, "root")
	if err != nil {
		t.Fatal(err)
	}
	pubBytes, err := os.ReadFile(filepath.Join(dir, "host_ed25519.pub"))
	if err != nil {
		t.Fatal(err)
	}
	want, _, _, _, err := ssh.ParseAuthorizedKey(pubBytes)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || ssh.FingerprintSHA256(keys[0]) != ssh.FingerprintSHA256(want) {
		t.Errorf("Learn from sshd = %v, want the ed25519 host key %s", keys, ssh.FingerprintSHA256(want))
	}
}
