package connect

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/targets"
	"github.com/jitssh/jitssh/internal/transport"
)

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
	c, err := transport.Direct{}.Dial(context.Background(), targets.Instance{ID: "i-1", PublicIP: "127.0.0.1"}, ln.Addr().(*net.TCPAddr).Port)
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
	c, err := transport.Direct{}.Dial(context.Background(), targets.Instance{ID: "i-1", PublicIP: "127.0.0.1"}, ln.Addr().(*net.TCPAddr).Port)
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
