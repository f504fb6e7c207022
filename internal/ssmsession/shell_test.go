package ssmsession

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/datachannel"
	"github.com/jitssh/jitssh/internal/transport"
)

// chanConn is one end of an in-memory frame pipe.
type chanConn struct {
	in, out chan []byte
	done    chan struct{}
	once    *sync.Once
}

func framePipe() (*chanConn, *chanConn) {
	ab, ba := make(chan []byte, 256), make(chan []byte, 256)
	done, once := make(chan struct{}), &sync.Once{}
	return &chanConn{in: ba, out: ab, done: done, once: once}, &chanConn{in: ab, out: ba, done: done, once: once}
}

func (c *chanConn) ReadFrame(ctx context.Context) ([]byte, error) {
	select {
	case b := <-c.in:
		return b, nil
	case <-c.done:
		return nil, errors.New("closed")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *chanConn) WriteFrame(ctx context.Context, b []byte) error {
	select {
	case c.out <- append([]byte(nil), b...):
		return nil
	case <-c.done:
		return errors.New("closed")
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *chanConn) Close() error { c.once.Do(func() { close(c.done) }); return nil }

// terminations is the part of AWS a shell's end touches: TerminateSession.
type terminations struct {
	transport.SessionAPI
	mu  sync.Mutex
	ids []string
}

func (t *terminations) TerminateSession(_ context.Context, id string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ids = append(t.ids, id)
	return nil
}

// TestShellRunReportsExitCodeAndSizes plays the agent with datachannel's
// own agent role: Size messages arrive as {"cols","rows"}, piped stdin
// ends with Ctrl-D, output reaches stdout, and an ExitCode message
// becomes the result.
func TestShellRunReportsExitCodeAndSizes(t *testing.T) {
	cc, ac := framePipe()
	sizes := make(chan [2]uint32, 4)
	agent := datachannel.NewSession(ac, datachannel.Config{Role: datachannel.RoleAgent,
		OnSize: func(c, r uint32) { sizes <- [2]uint32{c, r} }})
	defer agent.Close()
	client := datachannel.NewSession(cc, datachannel.Config{Role: datachannel.RoleClient})
	api := &terminations{}
	sh := NewShell(client, api, "s-1", "i-1")
	if err := sh.Resize(120, 40); err != nil {
		t.Fatal(err)
	}
	if err := sh.Resize(0, 40); err == nil {
		t.Fatal("a zero-width terminal was accepted")
	}
	select {
	case s := <-sizes:
		if s != [2]uint32{120, 40} {
			t.Fatalf("agent got size %v", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no Size message reached the agent")
	}
	go func() { // the agent: read input until Ctrl-D, answer, report 3
		var got bytes.Buffer
		buf := make([]byte, 64)
		for !bytes.Contains(got.Bytes(), []byte{eot}) {
			n, err := agent.Read(buf)
			if err != nil {
				return
			}
			got.Write(buf[:n])
		}
		agent.Write([]byte("you said: " + strings.TrimSuffix(got.String(), "\x04\x04")))
		agent.SendStream(datachannel.PayloadExitCode, []byte("EXIT_CODE: 3"))
		agent.Flush(context.Background())
		agent.SendChannelClosed("s-1", "i-1", "")
	}()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := sh.Run(ctx, strings.NewReader("no newline"), &out)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != "you said: no newline" {
		t.Fatalf("stdout %q", out.String())
	}
	if !res.Reported || res.ExitCode != 3 {
		t.Fatalf("result %+v, want exit code 3 reported", res)
	}
	if len(api.ids) != 1 || api.ids[0] != "s-1" {
		t.Fatalf("TerminateSession calls %v", api.ids)
	}
}
