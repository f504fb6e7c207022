package datachannel

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// batchConn coalesces writes: Write queues bytes and returns, and one
// flusher writes everything queued so far in a single system call. Under
// load, the many small frames of the data channel (1024-byte messages and
// their acknowledgements) then cost one syscall per batch instead of one
// each; when idle, a write goes out at once. At most maxPending bytes wait;
// beyond that Write blocks (back-pressure). A write error is returned by
// the next Write or Close.
//
// Reads are buffered too: the websocket library reads through a 4 KiB
// bufio.Reader, one system call per 4 KiB (three or four 1024-byte
// messages); Read fills a larger buffer with whatever the socket has and
// hands it out from there. One reader at a time, as net.Conn users do.
type batchConn struct {
	net.Conn

	rbuf       []byte
	rpos, rend int
	rerr       error // returned once rbuf is drained

	mu       sync.Mutex
	cond     *sync.Cond
	buf      []byte
	spare    []byte
	err      error
	flushing bool
	closed   bool
}

const maxPending = 1 << 20

// readAhead is the most Read asks the socket for at once.
const readAhead = 64 << 10

func (c *batchConn) Read(p []byte) (int, error) {
	if c.rpos < c.rend {
		n := copy(p, c.rbuf[c.rpos:c.rend])
		c.rpos += n
		return n, nil
	}
	if err := c.rerr; err != nil {
		c.rerr = nil
		return 0, err
	}
	if len(p) >= readAhead/2 || len(p) == 0 {
		return c.Conn.Read(p)
	}
	if c.rbuf == nil {
		c.rbuf = make([]byte, readAhead)
	}
	n, err := c.Conn.Read(c.rbuf)
	m := copy(p, c.rbuf[:n])
	c.rpos, c.rend = m, n
	if err != nil && m < n {
		c.rerr, err = err, nil // after the buffered bytes
	}
	return m, err
}

func newBatchConn(c net.Conn) *batchConn {
	b := &batchConn{Conn: c}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.buf) >= maxPending && c.err == nil && !c.closed {
		c.cond.Wait()
	}
	if c.err != nil {
		return 0, c.err
	}
	if c.closed {
		return 0, net.ErrClosed
	}
	c.buf = append(c.buf, p...)
	if !c.flushing {
		c.flushing = true
		go c.flush()
	}
	return len(p), nil
}

func (c *batchConn) flush() {
	c.mu.Lock()
	for len(c.buf) > 0 && c.err == nil {
		out := c.buf
		c.buf = c.spare[:0]
		c.mu.Unlock()
		_, err := c.Conn.Write(out)
		c.mu.Lock()
		c.spare = out
		if err != nil {
			c.err = err
		}
		c.cond.Broadcast()
	}
	c.flushing = false
	c.cond.Broadcast()
	c.mu.Unlock()
}

// Close writes what is queued (for at most a second) and closes.
func (c *batchConn) Close() error {
	c.mu.Lock()
	c.closed = true
	deadline := time.Now().Add(time.Second)
	for c.flushing && time.Now().Before(deadline) {
		c.mu.Unlock()
		time.Sleep(time.Millisecond)
		c.mu.Lock()
	}
	c.cond.Broadcast()
	c.mu.Unlock()
	return c.Conn.Close()
}

// batchingClient returns an HTTP client whose connections coalesce writes,
// for data-channel websockets.
func batchingClient(base *http.Client) *http.Client {
	var t *http.Transport
	if base != nil && base.Transport != nil {
		bt, ok := base.Transport.(*http.Transport)
		if !ok {
			return base // a custom transport: leave it alone
		}
		t = bt.Clone()
	} else {
		t = http.DefaultTransport.(*http.Transport).Clone()
	}
	dial := t.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return newBatchConn(c), nil
	}
	// TLS connections (wss://, as AWS serves) are dialled by DialTLSContext
	// when set; by default the transport wraps DialContext's conn in TLS,
	// so the batching sits under TLS and each batch is one write of records.
	out := &http.Client{Transport: t}
	if base != nil {
		out.CheckRedirect, out.Jar, out.Timeout = base.CheckRedirect, base.Jar, base.Timeout
	}
	return out
}

// BatchListener wraps ln so that accepted connections coalesce writes like
// the client's (the sandbox's data-channel endpoint uses it).
func BatchListener(ln net.Listener) net.Listener { return batchListener{ln} }

type batchListener struct{ net.Listener }

func (l batchListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newBatchConn(c), nil
}

// SetWriteDeadline is ignored: Write only queues (the flusher writes), and
// a deadline passed to the socket would fail the flusher's pending write
// instead. crypto/tls sets one around its close_notify alert (5 s, then
// "now") when it closes: on the socket, it discarded what was queued —
// the last data-channel messages and the alert — so the peer saw a bare
// hang-up. Close bounds the flush by itself.
func (c *batchConn) SetWriteDeadline(time.Time) error { return nil }

// SetDeadline sets the read deadline only (see SetWriteDeadline).
func (c *batchConn) SetDeadline(t time.Time) error { return c.Conn.SetReadDeadline(t) }
