package connect

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/targets"
	"github.com/jitssh/jitssh/internal/testutil/testkeys"
)

// blackHoleJumpHost is an SSH server (x/crypto/ssh) on loopback that lets
// anyone in and never answers a direct-tcpip request, as a jump host whose
// TCP connect to the target hangs (a dropped SYN): OpenSSH's sshd opens
// the forwarding channel only once its connect succeeds or fails.
func blackHoleJumpHost(t *testing.T) (addr string, hostKey ssh.PublicKey) {
	t.Helper()
	signer := testkeys.Signer(t)
	conf := &ssh.ServerConfig{NoClientAuth: true}
	conf.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				_, chans, reqs, err := ssh.NewServerConn(nc, conf)
				if err != nil {
					return
				}
				go ssh.DiscardRequests(reqs)
				for range chans {
					// never accepted, never rejected
				}
			}()
		}
	}()
	return ln.Addr().String(), signer.PublicKey()
}

// A jump host that cannot reach the target fails within the Forward
// deadline, saying what was awaited and why, instead of hanging.
func TestBastionUnreachableTargetTimesOut(t *testing.T) {
	addr, hostKey := blackHoleJumpHost(t)
	host, port, _ := net.SplitHostPort(addr)
	signer := testkeys.Signer(t)
	b := Bastion{
		Via:      targets.Instance{ID: "i-0a1b2c3d4e5f00004", Name: "bastion-1", PublicIP: host},
		Hop:      Direct{},
		Port:     mustAtoi(t, port),
		User:     "u",
		Signer:   signer,
		HostKeys: []ssh.PublicKey{hostKey},
		Timeouts: Timeouts{Forward: 500 * time.Millisecond},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	_, err := b.Dial(ctx, targets.Instance{ID: "i-0a1b2c3d4e5f00005", PrivateIP: "10.0.2.31"}, 22)
	var te *TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial through a jump host that never connects: %v, want a *TimeoutError", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v, want about the 500ms deadline", d)
	}
	for _, want := range []string{"gave up after 500ms", "jump host i-0a1b2c3d4e5f00004 (bastion-1) to connect to 10.0.2.31:22 (i-0a1b2c3d4e5f00005)", "cannot reach the target"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// An open path on which sshd never speaks ends at the banner deadline,
// saying so, rather than leaving ssh waiting forever.
func TestSpliceBannerDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			io.Copy(io.Discard, c) // reads, never writes
		}
	}()
	c, err := Direct{}.Dial(context.Background(), targets.Instance{ID: "i-1", PublicIP: "127.0.0.1"}, ln.Addr().(*net.TCPAddr).Port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stdin, w := io.Pipe() // ssh's side stays open
	defer w.Close()
	var out bytes.Buffer
	want := errors.New("no banner")
	start := time.Now()
	_, err = splice(context.Background(), c, spliceOptions{what: "test", banner: 300 * time.Millisecond, bannerErr: func() error { return want }}, stdin, &out)
	if !errors.Is(err, want) {
		t.Fatalf("splice with a silent server: %v, want the banner error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

// The first byte in time cancels the banner deadline.
func TestSpliceBannerInTime(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			c.Write([]byte("SSH-2.0-test\r\n"))
			time.Sleep(600 * time.Millisecond) // past the deadline
			c.Write([]byte("more"))
		}
	}()
	c, err := Direct{}.Dial(context.Background(), targets.Instance{ID: "i-1", PublicIP: "127.0.0.1"}, ln.Addr().(*net.TCPAddr).Port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stdin, w := io.Pipe()
	defer w.Close()
	var out bytes.Buffer
	rep, err := splice(context.Background(), c, spliceOptions{what: "test", banner: 300 * time.Millisecond, bannerErr: func() error { return errors.New("no banner") }}, stdin, &out)
	if err != nil || out.String() != "SSH-2.0-test\r\nmore" {
		t.Fatalf("splice: %v, out %q", err, out.String())
	}
	if rep.version != "SSH-2.0-test" || rep.firstByte.IsZero() || rep.sshClosed {
		t.Errorf("report %+v", rep)
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
