package datachannel

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"sync"
	"testing"
	"time"
)

// memConn is one end of an in-memory frame pipe with optional faults on the
// frames it sends.
type memConn struct {
	in, out   chan []byte
	closeOnce *sync.Once
	done      chan struct{}

	mu      sync.Mutex
	rng     *mrand.Rand
	drop    float64
	dup     float64
	reorder float64
	held    []byte
	sent    int
	dropped int
}

func memPipe() (*memConn, *memConn) {
	ab, ba := make(chan []byte, 100000), make(chan []byte, 100000)
	once, done := &sync.Once{}, make(chan struct{})
	a := &memConn{in: ba, out: ab, closeOnce: once, done: done, rng: mrand.New(mrand.NewPCG(1, 2))}
	b := &memConn{in: ab, out: ba, closeOnce: once, done: done, rng: mrand.New(mrand.NewPCG(3, 4))}
	return a, b
}

func (c *memConn) ReadFrame(ctx context.Context) ([]byte, error) {
	select {
	case b := <-c.in:
		return b, nil
	case <-c.done:
		return nil, io.EOF
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// droppedCount reads the drop counter under the lock: the sessions'
// resend loops may still be writing frames when the test checks it.
func (c *memConn) droppedCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dropped
}

func (c *memConn) WriteFrame(ctx context.Context, b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
		return io.ErrClosedPipe
	default:
	}
	b = append([]byte(nil), b...)
	c.sent++
	if c.rng.Float64() < c.drop {
		c.dropped++
		return nil
	}
	if c.rng.Float64() < c.reorder && c.held == nil {
		c.held = b
		return nil
	}
	c.out <- b
	if c.rng.Float64() < c.dup {
		c.out <- b
	}
	if c.held != nil {
		c.out <- c.held
		c.held = nil
	}
	return nil
}

func (c *memConn) Close() error { c.closeOnce.Do(func() { close(c.done) }); return nil }

func (c *memConn) faults(drop, dup, reorder float64) {
	c.mu.Lock()
	c.drop, c.dup, c.reorder = drop, dup, reorder
	c.mu.Unlock()
}

// handshaken returns a client and an agent session that completed a Port
// handshake over an in-memory pipe.
func handshaken(t *testing.T, ca, cb *memConn) (client, agent *Session) {
	t.Helper()
	client = NewSession(ca, Config{Role: RoleClient})
	agent = NewSession(cb, Config{Role: RoleAgent})
	t.Cleanup(func() { client.Close(); agent.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var res *ClientHandshakeResult
	var cerr error
	done := make(chan struct{})
	go func() { res, cerr = client.ClientHandshake(ctx); close(done) }()
	if _, err := agent.AgentHandshake(ctx, "3.3.987.0", SessionTypePort, PortProperties{PortNumber: "22"}); err != nil {
		t.Fatalf("agent handshake: %v", err)
	}
	<-done
	if cerr != nil {
		t.Fatalf("client handshake: %v", cerr)
	}
	if res.SessionType != SessionTypePort || res.AgentVersion != "3.3.987.0" || string(res.Properties) != `{"portNumber":"22"}` {
		t.Fatalf("handshake result %+v %s", res, res.Properties)
	}
	return client, agent
}

func TestHandshakeAndStreamBothWays(t *testing.T) {
	ca, cb := memPipe()
	client, agent := handshaken(t, ca, cb)
	// A lone "\n" must pass unchanged (AWS's plugin rewrites it to "\r").
	for _, msg := range [][]byte{[]byte("\n"), []byte("SSH-2.0-OpenSSH_9.2\r\n"), bytes.Repeat([]byte{0, 0xff}, 5000)} {
		if _, err := client.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(agent, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("agent read %q (%v), want %q", got, err, msg)
		}
		if _, err := agent.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(client, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("client read %q (%v), want %q", got, err, msg)
		}
	}
}

func TestTerminateFlagEndsAgentStream(t *testing.T) {
	ca, cb := memPipe()
	client, agent := handshaken(t, ca, cb)
	client.Write([]byte("last words"))
	if err := client.SendFlag(FlagTerminateSession); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(agent)
	if err != nil || string(got) != "last words" {
		t.Fatalf("agent read %q, %v", got, err)
	}
	if err := agent.SendChannelClosed("sess-1", "i-0123456789abcdef0", ""); err != nil {
		t.Fatal(err)
	}
	if n, err := client.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("client read after channel_closed: %d %v", n, err)
	}
	if cc := client.ChannelClosed(); cc == nil || cc.SessionID != "sess-1" {
		t.Fatalf("channel closed = %+v", cc)
	}
}

// TestIntegrityUnderFaults streams random data both ways through a pipe that
// drops, duplicates and reorders frames: every byte must arrive, in order.
func TestIntegrityUnderFaults(t *testing.T) {
	ca, cb := memPipe()
	client, agent := handshaken(t, ca, cb)
	ca.faults(0.05, 0.01, 0.05)
	cb.faults(0.05, 0.01, 0.05)
	const size = 2 << 20
	check := func(name string, w io.Writer, r io.Reader) error { return streamCheck(name, size, w, r) }
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Add(2)
	go func() { defer wg.Done(); errs <- check("client->agent", client, agent) }()
	go func() { defer wg.Done(); errs <- check("agent->client", agent, client) }()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if ca.droppedCount() == 0 || cb.droppedCount() == 0 {
		t.Fatal("fault injection dropped nothing; the test proves nothing")
	}
}

// streamCheck writes size random bytes to w in random-sized writes and
// checks that r yields exactly them.
func streamCheck(name string, size int, w io.Writer, r io.Reader) error {
	data := make([]byte, size)
	rand.Read(data)
	want := sha256.Sum256(data)
	errc := make(chan error, 1)
	go func() {
		for p := data; len(p) > 0; {
			n := min(len(p), 1+mrand.IntN(5000))
			if _, err := w.Write(p[:n]); err != nil {
				errc <- err
				return
			}
			p = p[n:]
		}
		errc <- nil
	}()
	h := sha256.New()
	if _, err := io.CopyN(h, r, int64(size)); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := <-errc; err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if !bytes.Equal(h.Sum(nil), want[:]) {
		return errors.New(name + ": checksum mismatch")
	}
	return nil
}

// FuzzSessionInput feeds an agent session well-formed stream messages with
// arbitrary sequence numbers, payload types and payloads (far ahead, far
// behind, negative), acknowledgements of unknown messages, and raw garbage:
// it must not panic, hold more than its bounded out-of-order window, or
// deliver bytes that did not arrive in order.
func FuzzSessionInput(f *testing.F) {
	f.Add(int64(0), uint32(1), []byte("hi"), int64(1), []byte{0, 0, 0, 116})
	f.Add(int64(1<<60), uint32(1), []byte("x"), int64(-5), []byte("garbage"))
	f.Add(int64(-1), uint32(10), []byte{0, 0, 0, 2}, int64(4096), []byte{})
	f.Fuzz(func(t *testing.T, seq int64, pt uint32, payload []byte, seq2 int64, raw []byte) {
		ca, cb := memPipe()
		s := NewSession(cb, Config{Role: RoleAgent, Window: 16})
		defer s.Close()
		if len(payload) > 4096 {
			payload = payload[:4096]
		}
		for _, m := range []*Message{
			{Type: TypeInputStreamData, SequenceNumber: seq, PayloadType: PayloadType(pt), Payload: payload},
			{Type: TypeInputStreamData, SequenceNumber: seq2, PayloadType: PayloadOutput, Payload: payload},
			{Type: TypeAcknowledge, Payload: []byte(fmt.Sprintf(`{"AcknowledgedMessageSequenceNumber":%d}`, seq2))},
		} {
			b, err := m.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			ca.out <- b
		}
		ca.out <- raw
		deadline := time.Now().Add(50 * time.Millisecond)
		for time.Now().Before(deadline) {
			s.mu.Lock()
			pending, buffered, expected := len(s.pending), s.buffered, s.expected
			held := 0
			for _, m := range s.pending {
				held += heldSize(m)
			}
			if held != s.pendingBytes || held > s.cfg.MaxBuffered {
				s.mu.Unlock()
				t.Fatalf("pending holds %d bytes, accounted %d, limit %d", held, s.pendingBytes, s.cfg.MaxBuffered)
			}
			s.mu.Unlock()
			if pending > 4*16 {
				t.Fatalf("pending grew to %d", pending)
			}
			if expected > 2 || expected < 0 {
				t.Fatalf("expected sequence moved to %d after two messages", expected)
			}
			if buffered > 2*len(payload) {
				t.Fatalf("buffered %d bytes from two messages of %d", buffered, len(payload))
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// TestReadCoalescesMessages: data that arrived as many 1024-byte messages
// is handed out in reads as large as the caller's buffer, in order (the
// agent then writes it to sshd in a few system calls, not one a message),
// and a Write of many messages' worth arrives intact.
func TestReadCoalescesMessages(t *testing.T) {
	ca, cb := memPipe()
	client, agent := handshaken(t, ca, cb)
	data := make([]byte, 64<<10)
	rand.Read(data)
	if _, err := client.Write(data); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Flush(ctx); err != nil { // all acknowledged: all queued at the agent
		t.Fatal(err)
	}
	buf := make([]byte, len(data)+1)
	n, err := agent.Read(buf)
	if err != nil || n != len(data) || !bytes.Equal(buf[:n], data) {
		t.Fatalf("one Read returned %d bytes (%v), want all %d in order", n, err, len(data))
	}
}

// TestOutOfOrderBoundedInBytes: a hostile service sends the client many
// large stream messages that all skip sequence number 0. Holding them
// until 0 arrives must cost at most MaxBuffered bytes, not 4*Window
// frames of up to MaxFrameSize each; a dropped one is resent later, so the
// stream still completes once the gap is filled.
func TestOutOfOrderBoundedInBytes(t *testing.T) {
	ca, cb := memPipe()
	s := NewSession(cb, Config{Role: RoleClient})
	defer s.Close()
	payload := make([]byte, MaxFrameSize-headerLength-64)
	const n = 40 // 40 MiB on offer, 8 MiB allowed
	for i := int64(1); i <= n; i++ {
		b, err := (&Message{Type: TypeOutputStreamData, SequenceNumber: i, PayloadType: PayloadOutput, Payload: payload}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		ca.out <- b
	}
	// Wait until the session has read every frame.
	deadline := time.Now().Add(10 * time.Second)
	for len(ca.out) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	s.mu.Lock()
	held, count := 0, len(s.pending)
	for _, m := range s.pending {
		held += len(m.Payload)
	}
	accounted := s.pendingBytes
	s.mu.Unlock()
	if held > DefaultMaxBuffered {
		t.Fatalf("holding %d out-of-order messages of %d bytes (%d MiB), limit %d MiB", count, len(payload), held>>20, DefaultMaxBuffered>>20)
	}
	if count == 0 || accounted != count*(headerLength+len(payload)) {
		t.Fatalf("held %d messages, accounted %d bytes", count, accounted)
	}
	// The gap is filled: what was held is delivered, the accounting empties.
	b, _ := (&Message{Type: TypeOutputStreamData, SequenceNumber: 0, PayloadType: PayloadOutput, Payload: []byte("x")}).Marshal()
	ca.out <- b
	buf := make([]byte, 1+count*len(payload))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() { <-ctx.Done(); s.Close() }()
	if _, err := io.ReadFull(s, buf); err != nil {
		t.Fatalf("read the held data: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pendingBytes != 0 || len(s.pending) != 0 || s.expected != int64(count+1) {
		t.Fatalf("after the gap: pending %d (%d bytes), expected %d", len(s.pending), s.pendingBytes, s.expected)
	}
}
