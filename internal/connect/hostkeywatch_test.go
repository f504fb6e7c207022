package connect

import (
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/testutil/testkeys"
)

// tapHandshake runs an SSH handshake between x/crypto/ssh's client and
// server with kex over loopback TCP, and returns every byte the server
// sent and the server's host key.
func tapHandshake(t testing.TB, kex string) ([]byte, ssh.PublicKey) {
	t.Helper()
	hostKey := testkeys.Signer(t)
	srvConf := &ssh.ServerConfig{NoClientAuth: true}
	srvConf.KeyExchanges = []string{kex}
	srvConf.AddHostKey(hostKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srvErr := make(chan error, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(20 * time.Second))
		c, _, _, err := ssh.NewServerConn(nc, srvConf)
		if err == nil {
			c.Close()
		}
		srvErr <- err
	}()
	srv, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.SetDeadline(time.Now().Add(20 * time.Second))
	var tapped lockedBuffer
	cli, mid := net.Pipe()
	defer cli.Close()
	defer mid.Close()
	go io.Copy(srv, mid)
	go io.Copy(io.MultiWriter(mid, &tapped), srv)
	cliConf := &ssh.ClientConfig{User: "u", HostKeyCallback: ssh.FixedHostKey(hostKey.PublicKey())}
	cliConf.KeyExchanges = []string{kex}
	c, _, _, err := ssh.NewClientConn(cli, "i-0a1b2c3d4e5f00001:22", cliConf)
	if err != nil {
		t.Fatalf("%s: client handshake: %v", kex, err)
	}
	c.Close()
	if err := <-srvErr; err != nil {
		t.Fatalf("%s: server handshake: %v", kex, err)
	}
	return tapped.bytes(), hostKey.PublicKey()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.b.Bytes()...)
}

func TestHostKeyWatchFindsTheServersKey(t *testing.T) {
	for _, kex := range []string{ssh.KeyExchangeCurve25519, ssh.KeyExchangeMLKEM768X25519, ssh.KeyExchangeECDHP256,
		ssh.KeyExchangeDH14SHA256, ssh.KeyExchangeDHGEXSHA256} {
		stream, want := tapHandshake(t, kex)
		// Whole, and one byte at a time, after a line before the version.
		for _, chunk := range []int{len(stream) + 100, 1} {
			var w hostKeyWatch
			in := append([]byte("hello, a line before the version\r\n"), stream...)
			for i := 0; i < len(in) && !w.done; i += chunk {
				w.feed(in[i:min(i+chunk, len(in))])
			}
			if w.key == nil || !bytes.Equal(w.key.Marshal(), want.Marshal()) {
				t.Errorf("%s, chunks of %d: found %v, want the server's %s key", kex, chunk, w.key, want.Type())
			}
			if !w.newKeys || !strings.HasPrefix(w.version, "SSH-2.0-Go") {
				t.Errorf("%s, chunks of %d: newKeys %v, version %q; want the end of the key exchange and the server's version", kex, chunk, w.newKeys, w.version)
			}
		}
	}
}

func TestHostKeyWatchGivesUp(t *testing.T) {
	for name, in := range map[string][]byte{
		"no version line": bytes.Repeat([]byte("x"), watchLimit+1),
		"huge packet":     append([]byte("SSH-2.0-x\r\n"), 0xff, 0xff, 0xff, 0xff, 0),
		"padding too big": append([]byte("SSH-2.0-x\r\n"), 0, 0, 0, 8, 200, 1, 2, 3, 4, 5, 6, 7),
		"newkeys first":   append([]byte("SSH-2.0-x\r\n"), 0, 0, 0, 6, 4, msgNewKeys, 0, 0, 0, 0),
	} {
		var w hostKeyWatch
		w.feed(in)
		if !w.done || w.key != nil {
			t.Errorf("%s: done %v, key %v; want given up, no key", name, w.done, w.key)
		}
	}
}

func FuzzHostKeyWatch(f *testing.F) {
	stream, _ := tapHandshake(f, ssh.KeyExchangeCurve25519)
	f.Add(stream, 7)
	f.Add([]byte("SSH-2.0-x\r\n\x00\x00\x00\x0c\x0a\x1f\x00\x00\x00\x00"), 1)
	f.Fuzz(func(t *testing.T, in []byte, chunk int) {
		if chunk < 1 {
			chunk = 1
		}
		var whole, parts hostKeyWatch
		whole.feed(in)
		for i := 0; i < len(in) && !parts.done; i += chunk {
			parts.feed(in[i:min(i+chunk, len(in))])
		}
		if (whole.key == nil) != (parts.key == nil) || whole.key != nil && !bytes.Equal(whole.key.Marshal(), parts.key.Marshal()) {
			t.Fatalf("fed whole: %v; in chunks of %d: %v", whole.key, chunk, parts.key)
		}
		if whole.newKeys != parts.newKeys || whole.version != parts.version {
			t.Fatalf("fed whole: newKeys %v version %q; in chunks of %d: %v %q", whole.newKeys, whole.version, chunk, parts.newKeys, parts.version)
		}
	})
}
