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
	if _, err := readMessage(bufio.NewReader(bytes.NewReader(append(big, 0)))); err == nil {
		t.Fatal("oversized message accepted")
	}
	if _, err := readMessage(bufio.NewReader(strings.NewReader("abc"))); err == nil {
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
