package datachannel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/coder/websocket"
	"github.com/google/uuid"
)

// WebSocket adapts a websocket connection to a FrameConn: binary messages
// are frames; a text message after the OpenDataChannel frame is an error.
// Create it with NewWebSocket.
type WebSocket struct {
	C *websocket.Conn

	rbuf []byte // ReadFrame's scratch (one reader at a time)

	mu      sync.Mutex
	watched context.Context // its cancellation closes C (see opCtx)
	quiet   context.Context // watched without its cancellation
	unwatch func() bool     // stops the watch (Close)
}

// NewWebSocket wraps c, raising its read limit to MaxFrameSize.
func NewWebSocket(c *websocket.Conn) *WebSocket {
	c.SetReadLimit(MaxFrameSize)
	return &WebSocket{C: c}
}

// opCtx returns the context to give the websocket library for one read or
// write under ctx. The library arms and disarms a context.AfterFunc for
// every frame, which costs more than the rest of a small frame's
// handling; a Session passes the same context to every call, so the first
// cancellable context is watched once for the connection's life instead
// (its cancellation closes the connection, as the library's per-call
// watch does) and calls under it get one that is never cancelled. Other
// contexts are passed through.
func (w *WebSocket) opCtx(ctx context.Context) context.Context {
	if ctx.Done() == nil {
		return ctx
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.watched == nil {
		w.watched, w.quiet = ctx, context.WithoutCancel(ctx)
		w.unwatch = context.AfterFunc(ctx, func() { w.C.CloseNow() })
	}
	if ctx == w.watched {
		return w.quiet
	}
	return ctx
}

// stopWatch ends opCtx's watch, so that a replaced connection is not kept
// alive by a long-lived session context.
func (w *WebSocket) stopWatch() {
	w.mu.Lock()
	stop := w.unwatch
	w.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// ReadFrame implements FrameConn. The frame is read into a reused buffer
// and returned in a fresh slice of exactly its size.
func (w *WebSocket) ReadFrame(ctx context.Context) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	typ, r, err := w.C.Reader(w.opCtx(ctx))
	if err != nil {
		return nil, err
	}
	if w.rbuf == nil {
		w.rbuf = make([]byte, 0, 64<<10)
	}
	b := w.rbuf[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // grow; the read limit bounds it
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if cap(b) <= 256<<10 {
		w.rbuf = b[:0]
	}
	if typ != websocket.MessageBinary {
		return nil, errors.New("datachannel: unexpected text frame")
	}
	return append([]byte(nil), b...), nil
}

// WriteFrame implements FrameConn.
func (w *WebSocket) WriteFrame(ctx context.Context, b []byte) error {
	return w.C.Write(w.opCtx(ctx), websocket.MessageBinary, b)
}

// Ping implements Pinger.
func (w *WebSocket) Ping(ctx context.Context) error { return w.C.Ping(ctx) }

// Close implements FrameConn with a normal closure.
func (w *WebSocket) Close() error {
	w.stopWatch()
	err := w.C.Close(websocket.StatusNormalClosure, "")
	if err != nil && websocket.CloseStatus(err) == websocket.StatusNormalClosure {
		return nil
	}
	return nil
}

// CloseWithStatus closes with a websocket status code and reason (the
// service closes data channels with 1000 "Bye").
func (w *WebSocket) CloseWithStatus(code int, reason string) error {
	return w.C.Close(websocket.StatusCode(code), reason)
}

// DialOptions configures Dial.
type DialOptions struct {
	// HTTPClient is used for the websocket upgrade; nil = http.DefaultClient.
	HTTPClient *http.Client
	// ClientID identifies this process across reconnects; empty = random.
	ClientID string
	// Resume, when set, is called after the connection is lost: it calls
	// ResumeSession and returns the stream URL (empty = the original) and
	// the new token. The session then reconnects and carries on.
	Resume  func(ctx context.Context) (streamURL, token string, err error)
	Session Config
}

// Dial opens the data channel at streamURL (from StartSession) with token,
// sends OpenDataChannel and returns a client Session. The caller runs
// ClientHandshake next.
func Dial(ctx context.Context, streamURL, token string, opts DialOptions) (*Session, error) {
	clientID := opts.ClientID
	if clientID == "" {
		clientID = uuid.NewString()
	}
	conn, err := DialFrameConn(ctx, streamURL, token, clientID, opts.HTTPClient)
	if err != nil {
		return nil, err
	}
	cfg := opts.Session
	cfg.Role = RoleClient
	if opts.Resume != nil {
		cfg.Reconnect = func(ctx context.Context) (FrameConn, error) {
			url, tok, err := opts.Resume(ctx)
			if err != nil {
				return nil, err
			}
			if url == "" {
				url = streamURL
			}
			return DialFrameConn(ctx, url, tok, clientID, opts.HTTPClient)
		}
	}
	return NewSession(conn, cfg), nil
}

// DialFrameConn dials a data-channel websocket and sends the OpenDataChannel
// frame (a new RequestId each time, the same ClientId across reconnects).
func DialFrameConn(ctx context.Context, streamURL, token, clientID string, hc *http.Client) (*WebSocket, error) {
	c, _, err := websocket.Dial(ctx, streamURL, &websocket.DialOptions{HTTPClient: batchingClient(hc)})
	if err != nil {
		return nil, fmt.Errorf("open data channel: %w", err)
	}
	open, _ := json.Marshal(OpenDataChannelInput{
		MessageSchemaVersion: "1.0",
		RequestID:            uuid.NewString(),
		TokenValue:           token,
		ClientID:             clientID,
		ClientVersion:        ClientVersion,
	})
	if err := c.Write(ctx, websocket.MessageText, open); err != nil {
		c.CloseNow()
		return nil, fmt.Errorf("send OpenDataChannel: %w", err)
	}
	return NewWebSocket(c), nil
}

// AcceptOpen reads the OpenDataChannel frame a client sends first on a
// server-side websocket.
func AcceptOpen(ctx context.Context, c *websocket.Conn) (*OpenDataChannelInput, error) {
	typ, b, err := c.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("read OpenDataChannel: %w", err)
	}
	if typ != websocket.MessageText {
		return nil, errors.New("first data-channel frame must be a text OpenDataChannel request")
	}
	var in OpenDataChannelInput
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("decode OpenDataChannel: %w", err)
	}
	if in.TokenValue == "" || len(in.RequestID) < 16 {
		return nil, errors.New("OpenDataChannel needs a TokenValue and a RequestId of at least 16 characters")
	}
	return &in, nil
}
