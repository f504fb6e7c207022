package mux

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/datachannel"
)

func TestCompare(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"3.3.987.0", "3.1.1511.0", 1},
		{"3.1.1511.0", "3.1.1511.0", 0},
		{"1.2.331.0", "1.2.677.0", -1},
		{"1.2", "1.2.0", -1},
		{"10.0", "9.99", 1},
	}
	for _, c := range cases {
		if got := Compare(c.a, c.b); got != c.want {
			t.Errorf("Compare(%s, %s) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
	// The keepalive rule must agree on both ends for the versions we use.
	if (Compare(datachannel.ClientVersion, clientKeepaliveOff) > 0) != (Compare("3.3.987.0", agentKeepaliveOff) > 0) {
		t.Fatal("client and agent would disagree on smux keepalive")
	}
	if !ClientMultiplexes("3.3.987.0") || !AgentMultiplexes(datachannel.ClientVersion) || AgentMultiplexes("1.1.0") {
		t.Fatal("multiplexing thresholds wrong")
	}
}

// framePipe connects two FrameConns in memory.
type framePipe struct {
	in, out chan []byte
	done    chan struct{}
	once    *sync.Once
}

func (p framePipe) ReadFrame(ctx context.Context) ([]byte, error) {
	select {
	case b := <-p.in:
		return b, nil
	case <-p.done:
		return nil, io.EOF
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
func (p framePipe) WriteFrame(ctx context.Context, b []byte) error {
	select {
	case p.out <- append([]byte(nil), b...):
		return nil
	case <-p.done:
		return io.ErrClosedPipe
	}
}
func (p framePipe) Close() error { p.once.Do(func() { close(p.done) }); return nil }

// sessionPair returns a client and an agent data-channel session joined in
// memory, closed when the test ends.
func sessionPair(t *testing.T) (client, agent *datachannel.Session) {
	ab, ba, done, once := make(chan []byte, 1<<14), make(chan []byte, 1<<14), make(chan struct{}), &sync.Once{}
	client = datachannel.NewSession(framePipe{ba, ab, done, once}, datachannel.Config{Role: datachannel.RoleClient})
	agent = datachannel.NewSession(framePipe{ab, ba, done, once}, datachannel.Config{Role: datachannel.RoleAgent})
	t.Cleanup(func() { client.Close(); agent.Close() })
	return client, agent
}

// TestConcurrentStreamsOverOneSession opens many smux streams over one
// data-channel session and echoes data on each.
func TestConcurrentStreamsOverOneSession(t *testing.T) {
	cs, as := sessionPair(t)
	srv, err := Server(as, datachannel.ClientVersion)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			st, err := srv.AcceptStream()
			if err != nil {
				return
			}
			go func() { io.Copy(st, st); st.Close() }()
		}
	}()
	cli, err := Client(cs, "3.3.987.0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			st, err := cli.OpenStream()
			if err != nil {
				t.Error(err)
				return
			}
			defer st.Close()
			msg := make([]byte, 100000+i)
			for j := range msg {
				msg[j] = byte(i * j)
			}
			go st.Write(msg)
			got := make([]byte, len(msg))
			st.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(st, got); err != nil || string(got) != string(msg) {
				t.Errorf("stream %d: echo mismatch (%v)", i, err)
			}
		}(i)
	}
	wg.Wait()
}

// TestImmediateRefusalClosesTheStream is the regression test for a stream
// left open forever: smux registers a stream after sending its SYN, and an
// agent that refuses at once can get its FIN back first. The server here
// closes every stream the moment it accepts it; every client stream must
// see EOF. In memory the race is rarely won by the FIN, so this guards the
// behaviour rather than reproducing the race every run (the e2e tunnel
// test hit it about once in five full runs before the gate).
func TestImmediateRefusalClosesTheStream(t *testing.T) {
	cs, as := sessionPair(t)
	srv, err := Server(as, datachannel.ClientVersion)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			st, err := srv.AcceptStream()
			if err != nil {
				return
			}
			st.Close()
		}
	}()
	cli, err := Client(cs, "3.3.987.0")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		st.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := st.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("stream %d: read = %v, want EOF from the agent's immediate close", i, err)
		}
		st.Close()
	}
}
