package varlink

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func serve(t *testing.T, h Handler) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "io.test")
	ln, err := Listen(path, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Server{Handler: h}).Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket left behind: %v", err)
		}
	})
	return path
}

func echo(ctx context.Context, c Call, r Replier) error {
	switch c.Method {
	case "test.Echo":
		var p map[string]any
		if err := json.Unmarshal(c.Parameters, &p); err != nil {
			return InvalidParameter("parameters")
		}
		if !c.More {
			return r.Reply(p, false)
		}
		for i := 0; i < 3; i++ {
			p["i"] = i
			if err := r.Reply(p, i < 2); err != nil {
				return err
			}
		}
		return nil
	case "test.Fail":
		return errors.New("internal")
	}
	return &Error{Name: ErrMethodNotFound, Parameters: map[string]string{"method": c.Method}}
}

func TestInvoke(t *testing.T) {
	path := serve(t, echo)
	ctx := context.Background()
	out, err := Invoke(ctx, path, "test.Echo", map[string]string{"a": "b"}, false)
	if err != nil || len(out) != 1 || string(out[0]) != `{"a":"b"}` {
		t.Fatalf("Echo = %s, %v", out, err)
	}
	out, err = Invoke(ctx, path, "test.Echo", map[string]string{"a": "b"}, true)
	if err != nil || len(out) != 3 || string(out[2]) != `{"a":"b","i":2}` {
		t.Fatalf("Echo more = %s, %v", out, err)
	}
	_, err = Invoke(ctx, path, "test.Nope", struct{}{}, false)
	var re *ReplyError
	if !errors.As(err, &re) || re.Name != ErrMethodNotFound || !strings.Contains(string(re.Parameters), "test.Nope") {
		t.Fatalf("unknown method: %v", err)
	}
	_, err = Invoke(ctx, path, "test.Fail", struct{}{}, false)
	if !errors.As(err, &re) || re.Name != ErrMethodNotImplemented {
		t.Fatalf("failing handler: %v", err)
	}
}

// TestWire checks the exact bytes, several calls on one connection, and
// that a oneway call gets no answer.
func TestWire(t *testing.T) {
	path := serve(t, echo)
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	msgs := `{"method":"test.Echo","parameters":{"x":1},"oneway":true}` + "\x00" +
		`{"method":"test.Echo","parameters":{"x":2}}` + "\x00" +
		`{"method":"test.Nope"}` + "\x00"
	if _, err := c.Write([]byte(msgs)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for _, want := range []string{`{"parameters":{"x":2}}`, `{"parameters":{"method":"test.Nope"},"error":"org.varlink.service.MethodNotFound"}`} {
		got, err := br.ReadString(0)
		if err != nil || got != want+"\x00" {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
	// A malformed message ends the connection.
	c.Write([]byte("{not json}\x00"))
	if _, err := br.ReadString(0); err == nil {
		t.Fatal("connection still open after a malformed message")
	}
}

func TestListenRefusesLiveSocket(t *testing.T) {
	path := serve(t, echo)
	if _, err := Listen(path, 0o666); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("Listen on a live socket: %v", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := Listen(file, 0o666); err == nil {
		t.Fatal("Listen replaced a regular file")
	}
	// A stale socket is replaced.
	stale := filepath.Join(t.TempDir(), "stale")
	ln, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	ln2, err := Listen(stale, 0o600)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ln2.Close()
}

func TestReadMessageLimit(t *testing.T) {
	big := bytes.Repeat([]byte("a"), MaxMessage+10)
	if _, err := readMessage(bufio.NewReader(bytes.NewReader(append(big, 0))), MaxMessage); err == nil {
		t.Fatal("oversized message accepted")
	}
	if _, err := readMessage(bufio.NewReader(strings.NewReader("abc")), MaxMessage); err == nil {
		t.Fatal("unterminated message accepted")
	}
}

func FuzzDecodeCall(f *testing.F) {
	f.Add([]byte(`{"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"userName":"a","service":"io.jitssh"},"more":true}`))
	f.Add([]byte(`{"method":""}`))
	f.Add([]byte(`{"method":"a","parameters":[1]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCall(b)
		if err != nil {
			return
		}
		if c.Method == "" {
			t.Fatal("accepted a call without a method")
		}
		if len(c.Parameters) > 0 && c.Parameters[0] != '{' && string(c.Parameters) != "null" {
			t.Fatalf("accepted non-object parameters %s", c.Parameters)
		}
	})
}

// serveWith runs s on a new socket and returns its path and a function
// that stops it and returns Serve's result.
func serveWith(t *testing.T, s *Server, wrap func(net.Listener) net.Listener) (string, func() error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "io.test")
	ln, err := Listen(path, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		ln = wrap(ln)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	var once sync.Once
	var serr error
	stop := func() error {
		once.Do(func() { cancel(); serr = <-done })
		return serr
	}
	t.Cleanup(func() { stop() })
	return path, stop
}

// closedByServer reports whether the server closes c (EOF or reset)
// within a second without answering.
func closedByServer(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(time.Second))
	_, err := c.Read(make([]byte, 1))
	return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

// A message over MaxRequest closes the connection at once, and a message
// started but not finished within MessageTimeout too: a peer cannot make
// the server hold a large or never-ending message (issue 10).
func TestServerMessageLimits(t *testing.T) {
	path, _ := serveWith(t, &Server{Handler: echo, MaxRequest: 4096, MessageTimeout: 300 * time.Millisecond, IdleTimeout: time.Minute}, nil)
	// Just under the limit: answered.
	small := `{"method":"test.Echo","parameters":{"a":"` + strings.Repeat("x", 4000) + `"}}`
	if _, err := Invoke(context.Background(), path, "test.Echo", map[string]string{"a": strings.Repeat("x", 4000)}, false); err != nil || len(small) > 4096 {
		t.Fatalf("a message of %d bytes: %v", len(small), err)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte(`{"method":"test.Echo","parameters":{"a":"` + strings.Repeat("x", 5000)))
	if !closedByServer(c) {
		t.Error("connection still open after 5000 bytes without a NUL (MaxRequest 4096)")
	}
	c2, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.Write([]byte(`{"method":"test.Echo"`)) // and never the rest
	start := time.Now()
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c2.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("a message never finished: read = %v after %v, want the server to close it", err, time.Since(start))
	} else if d := time.Since(start); d > 3*time.Second {
		t.Errorf("a message never finished was closed after %v, MessageTimeout 300ms", d)
	}
	// An idle connection (no message started) stays open.
	c3, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	time.Sleep(500 * time.Millisecond)
	c3.Write([]byte(`{"method":"test.Echo","parameters":{"b":1}}` + "\x00"))
	if got, err := bufio.NewReader(c3).ReadString(0); err != nil || got != `{"parameters":{"b":1}}`+"\x00" {
		t.Errorf("idle connection: %q, %v", got, err)
	}
}

// Connections over a cap are closed as soon as accepted; the others keep
// being served, and a closed one frees its place.
func TestServerConnectionCaps(t *testing.T) {
	s := &Server{Handler: echo, MaxConns: 2, MaxConnsPerPeer: 2, MaxRootConns: 2}
	path, _ := serveWith(t, s, nil)
	var conns []net.Conn
	for i := 0; i < 3; i++ {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	if !closedByServer(conns[2]) {
		t.Error("third connection from one peer (cap 2) not closed")
	}
	for i, c := range conns[:2] {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte(`{"method":"test.Echo","parameters":{"i":1}}` + "\x00"))
		if got, err := bufio.NewReader(c).ReadString(0); err != nil || !strings.Contains(got, `"i":1`) {
			t.Errorf("connection %d within the cap: %q, %v", i, got, err)
		}
	}
	conns[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := Invoke(context.Background(), path, "test.Echo", map[string]int{"j": 1}, false); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("no connection admitted after one closed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// flakyListener fails Accept with err for n calls after the first ok.
type flakyListener struct {
	net.Listener
	mu  sync.Mutex
	ok  int
	n   int
	err error
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.ok > 0 {
		l.ok--
		l.mu.Unlock()
		return l.Listener.Accept()
	}
	if l.n > 0 {
		l.n--
		l.mu.Unlock()
		return nil, l.err
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

// EMFILE and the like are retried with back-off, never the end of Serve
// (issue 10: file-descriptor exhaustion made the service exit).
func TestServerAcceptTemporaryErrors(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ECONNABORTED} {
		path, stop := serveWith(t, &Server{Handler: echo}, func(ln net.Listener) net.Listener {
			return &flakyListener{Listener: ln, n: 5, err: &net.OpError{Op: "accept", Net: "unix", Err: os.NewSyscallError("accept4", errno)}}
		})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := Invoke(ctx, path, "test.Echo", map[string]int{"x": 1}, false)
		cancel()
		if err != nil || len(out) != 1 {
			t.Errorf("%v: call after 5 accept errors: %v", errno, err)
		}
		if err := stop(); err != nil {
			t.Errorf("%v: Serve = %v", errno, err)
		}
	}
}

// A server that stops for good closes its listener at once, even with a
// connection open: the socket is gone, so a client sees that nobody serves
// it (and jitssh-authkeys falls back) instead of connecting and waiting for
// a reply that never comes.
func TestServerStopsClosesListener(t *testing.T) {
	fatal := &net.OpError{Op: "accept", Net: "unix", Err: os.NewSyscallError("accept4", syscall.EINVAL)}
	path, stop := serveWith(t, &Server{Handler: echo, IdleTimeout: time.Minute}, func(ln net.Listener) net.Listener {
		return &flakyListener{Listener: ln, ok: 1, n: 1, err: fatal}
	})
	open, err := net.Dial("unix", path) // accepted, then the next Accept fails
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			c, err := net.Dial("unix", path)
			if err == nil {
				c.Close()
			}
			t.Fatalf("socket %s still there after Serve failed (dial: %v)", path, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := stop(); err == nil || !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Serve = %v, want the accept error", err)
	}
	if _, err := net.Dial("unix", path); err == nil {
		t.Error("a client could still connect")
	}
}

// Handlers learn the peer's credentials.
func TestPeerOf(t *testing.T) {
	got := make(chan Peer, 1)
	path, _ := serveWith(t, &Server{Handler: func(ctx context.Context, c Call, r Replier) error {
		p, ok := PeerOf(ctx)
		if !ok {
			return errors.New("no peer")
		}
		got <- p
		return r.Reply(nil, false)
	}}, nil)
	if _, err := Invoke(context.Background(), path, "test.Peer", nil, false); err != nil {
		t.Fatal(err)
	}
	if p := <-got; p.UID != uint32(os.Getuid()) || p.PID != int32(os.Getpid()) {
		t.Errorf("peer = %+v, want uid %d pid %d", p, os.Getuid(), os.Getpid())
	}
}

// readMessage never returns more than its limit, nor a NUL, whatever the
// bytes and the reader's buffer size.
func FuzzReadMessage(f *testing.F) {
	f.Add([]byte("{\"method\":\"a\"}\x00"), uint16(64))
	f.Add(bytes.Repeat([]byte("a"), 100), uint16(16))
	f.Add([]byte("\x00\x00abc\x00"), uint16(1))
	f.Fuzz(func(t *testing.T, b []byte, max uint16) {
		limit := int(max%4096) + 1
		br := bufio.NewReaderSize(bytes.NewReader(b), 16)
		for {
			msg, err := readMessage(br, limit)
			if err != nil {
				return
			}
			if len(msg) > limit || bytes.IndexByte(msg, 0) >= 0 {
				t.Fatalf("readMessage(limit %d) = %d bytes %q", limit, len(msg), msg)
			}
		}
	})
}
