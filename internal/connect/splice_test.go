package connect

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/targets"
	"github.com/jitssh/jitssh/internal/transport"
)

// splice on a TCP connection: stdin's end half-closes, and what the far
// side sends after that still reaches stdout.
func TestSpliceHalfClose(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		got, _ := io.ReadAll(c) // until our half-close
		c.Write(append([]byte("echo:"), got...))
	}()
	c, err := transport.Direct{}.Dial(context.Background(), targets.Instance{ID: "i-1", PublicIP: "127.0.0.1"}, l.Addr().(*net.TCPAddr).Port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out bytes.Buffer
	if _, err := splice(context.Background(), c, spliceOptions{what: "test"}, strings.NewReader("hello"), &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "echo:hello" {
		t.Fatalf("stdout = %q", out.String())
	}
}
