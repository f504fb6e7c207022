// Package agent plays the SSM service's data-channel endpoint and the SSM
// agent on a simulated instance, merged into one: it accepts the client's
// data-channel websocket for a started session, checks its token, runs the
// agent's side of the handshake, connects the stream to the session's
// destination (the instance's sshd for AWS-StartSSHSession) and, when the
// destination closes or the session is terminated, sends channel_closed as
// the service does.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/jitssh/jitssh/internal/datachannel"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// Version is the agent version the sandbox reports in handshakes.
const Version = "3.3.987.0"

// Conn is a connection to a session's destination. CloseWrite signals that
// the client is done sending (for sshd -i: its stdin is closed).
type Conn interface {
	io.ReadWriteCloser
	CloseWrite() error
}

// Dialer connects to port on an instance (the instance's own view of
// localhost:port).
type Dialer func(ctx context.Context, instanceID string, port int) (Conn, error)

// Handler serves /v1/data-channel/<session-id>.
type Handler struct {
	World  *world.World
	Dial   Dialer
	Logger *slog.Logger
	// MaxPayload is the payload size the agent sends; 0 = the protocol's
	// 1024. The sandbox sends larger messages unless pacing like AWS.
	MaxPayload int
}

// HandshakeTimeout is how long the agent waits for the client's
// HandshakeResponse, as the real agent does.
const HandshakeTimeout = 15 * time.Second

func (h *Handler) log() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// ServeHTTP accepts one data-channel websocket.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/v1/data-channel/")
	sess, ok := h.World.Session(id)
	if !ok || id == "" || strings.Contains(id, "/") {
		http.Error(w, "no such session", http.StatusNotFound)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		h.log().Warn("websocket upgrade failed", "session", id, "err", err)
		return
	}
	ctx := context.Background()
	open, err := datachannel.AcceptOpen(ctx, c)
	if err != nil {
		c.Close(websocket.StatusPolicyViolation, err.Error())
		return
	}
	if !h.World.ValidSessionToken(sess.ID, open.TokenValue) {
		h.log().Warn("data channel refused: bad token", "session", id)
		c.Close(websocket.StatusPolicyViolation, "invalid token")
		return
	}
	log := h.log().With("session", id, "target", sess.Target)
	dc := datachannel.NewSession(datachannel.NewWebSocket(c), datachannel.Config{
		Role: datachannel.RoleAgent, MaxPayload: h.MaxPayload, Logger: log,
	})
	defer dc.Close()
	if err := h.run(ctx, sess, dc, log); err != nil {
		select {
		case <-dc.Done(): // the client is gone; nobody to tell
			log.Debug("session ended after the client left", "err", err)
		default:
			log.Info("session ended with error", "err", err)
			_ = dc.SendChannelClosed(sess.ID, sess.Target, err.Error())
		}
		return
	}
	log.Info("session ended")
}

func (h *Handler) run(ctx context.Context, sess *world.Session, dc *datachannel.Session, log *slog.Logger) error {
	if sess.DocumentName != "AWS-StartSSHSession" {
		return fmt.Errorf("the sandbox agent does not run %q sessions yet", sess.DocumentName)
	}
	port := 22
	if p := sess.Parameters["portNumber"]; len(p) == 1 {
		n, err := strconv.Atoi(p[0])
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("invalid portNumber %q", p[0])
		}
		port = n
	}
	hctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	_, err := dc.AgentHandshake(hctx, Version, datachannel.SessionTypePort, datachannel.PortProperties{PortNumber: strconv.Itoa(port)})
	cancel()
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	dst, err := h.Dial(ctx, sess.Target, port)
	if err != nil {
		return fmt.Errorf("connect to port %d: %w", port, err)
	}
	defer dst.Close()
	log.Debug("connected to destination", "port", port)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // client -> destination
		defer wg.Done()
		io.Copy(dst, dc)
		dst.CloseWrite()
	}()
	outDone := make(chan error, 1)
	go func() { // destination -> client
		_, err := io.Copy(dc, dst)
		outDone <- err
	}()
	select {
	case err := <-outDone:
		// Destination closed: drain to the client (the agent waits up
		// to 2 s), then the service tells the client the channel closed.
		fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_ = dc.Flush(fctx)
		cancel()
		if err != nil && !errors.Is(err, io.EOF) {
			log.Debug("destination read ended", "err", err)
		}
		return dc.SendChannelClosed(sess.ID, sess.Target, "")
	case <-sess.Done():
		return dc.SendChannelClosed(sess.ID, sess.Target, "")
	case <-dc.Done():
		// The client went away without a word (as AWS's plugin does on
		// stdin EOF).
		return nil
	}
}
